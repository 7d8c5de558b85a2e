"""The Fashion-MNIST row of the Topological Autoencoders table: plain AE, TopoAE and COREL.

The authors' image MLP "DeepAE" (784-1000-500-250-2, BatchNorm, tanh output,
pixels in [-1, 1]), MSE reconstruction, Adam with L2 weight decay 1e-5, the
best runs' batch size, learning rate and lambda (docs/topoae.md); the data
scale of the TopoAE term is 56, the largest distance of two 28x28 images in
[-1, 1]. The paper trains at most 100 epochs with early stopping (patience
10); on a 2-core CPU it takes about a minute per epoch, so the number of
epochs run (``--epochs``) is stated with the results. COREL (not in the
paper's table) uses TopoAE's model, batch size and optimiser with the
connectivity loss on the 2-d codes (l2 metric, eta = 2, lambda = 2.226 / 95
so that its weight per MST edge matches TopoAE's); it is not tuned.

Published numbers: not retrievable here (``PUBLISHED`` is None); the
reference is our measure of the authors' released test latents.

Run:     python -m experiments.topoae.run --row fashion_mnist --methods topoae --epochs 100
Collect: python -m experiments.topoae.collect
(An epoch takes about 20-25 s per method on one core of a 2-core x86-64 CPU. Fewer
epochs than 100 give the same result when early stopping stops before the last
one: the results note where it stopped.)
"""

from corel_jax.training.config import TrainConfig
from experiments.configs.common import TOPOAE_MAX_EPOCHS, TOPOAE_PATIENCE, topoae_row

ROW = "fashion_mnist"
PUBLISHED = None  # not retrievable here; never guessed

_COMMON = dict(
    dataset="fashion_mnist", model="deep_ae", num_branches=1, branch_dim=2, weight_decay=1e-5,
    devices=1, steps_per_dispatch=20, log_every=100, seed=0,
)  # fmt: skip
MAX_EPOCHS = TOPOAE_MAX_EPOCHS
PATIENCE = TOPOAE_PATIENCE


def configs(epochs: int = MAX_EPOCHS) -> dict[str, TrainConfig]:
    """``{method: TrainConfig}`` of the row's autoencoders (the authors' best runs)."""
    return topoae_row(
        _COMMON,
        epochs,
        ae=(61, 0.0005076818023102327),
        topoae=(2.225779055692325, 95, 0.006514157310805859),
    )
