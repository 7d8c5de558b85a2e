"""The SPHERES row of the Topological Autoencoders table: plain AE, TopoAE and COREL.

Models, data and hyperparameters are the authors' (docs/topoae.md): their
SPHERES MLP (101-32-32-2, BatchNorm), MSE reconstruction, Adam with L2 weight
decay 1e-5, the best runs' batch size, learning rate and lambda; at most 100
epochs, early stopping after 10 epochs without a lower validation loss
(emulated by experiments/topoae/run.py from per-epoch checkpoints).
COREL (not in the paper's table) uses the same model and optimiser with the
connectivity loss on the 2-d codes (l2 metric, eta = 2, lambda = 0.43 / 28 so
that its weight per MST edge matches TopoAE's); it is not tuned.

Published numbers: the paper's table (5 runs, mean and standard deviation)
could not be retrieved, so ``PUBLISHED`` is None;
the reference printed beside ours is our measure of the test latents the
authors released (one run per method), experiments/topoae/results/authors_latents.json.

Run:     python -m experiments.topoae.run --row spheres
Collect: python -m experiments.topoae.collect
"""

from corel_jax.training.config import TrainConfig
from experiments.configs.common import TOPOAE_MAX_EPOCHS, TOPOAE_PATIENCE, topoae_row

ROW = "spheres"
PUBLISHED = None  # not retrievable here (see the module docstring); never guessed

_COMMON = dict(
    dataset="spheres", model="spheres_mlp", num_branches=1, branch_dim=2, weight_decay=1e-5,
    devices=1, steps_per_dispatch=50, log_every=500, seed=0,
)  # fmt: skip
MAX_EPOCHS = TOPOAE_MAX_EPOCHS
PATIENCE = TOPOAE_PATIENCE


def configs(epochs: int = MAX_EPOCHS) -> dict[str, TrainConfig]:
    """``{method: TrainConfig}`` of the row's autoencoders (the authors' best runs)."""
    return topoae_row(
        _COMMON,
        epochs,
        ae=(84, 0.000640628075404713),
        topoae=(0.43357738971723536, 28, 0.000272683866289072),
    )
