"""Training topologically regularised autoencoders, and using the trained backbones.

One concept per module, from the bottom up:

* :mod:`~corel_jax.training.config`: :class:`TrainConfig`, one flat validated
  dataclass whose defaults are the paper's;
* :mod:`~corel_jax.training.objectives`: the loss (a reconstruction error plus
  the chosen topological term) and the model of a config;
* :mod:`~corel_jax.training.state`: the train state and the pure step;
* :mod:`~corel_jax.training.checkpoint`, :mod:`~corel_jax.training.parallel`,
  :mod:`~corel_jax.training.progress`, :mod:`~corel_jax.training.workdir`:
  orbax checkpoints, the device mesh and data placement, progress bars and
  ``metrics.jsonl``, the work directory's rules and lock;
* :mod:`~corel_jax.training.train`: the chunked data-parallel loop on a
  device mesh, :func:`train_and_evaluate`;
* :mod:`~corel_jax.training.backbone`: a trained backbone: load it, encode
  images, measure its held-out death times;
* :mod:`~corel_jax.training.runs`: a backbone in a work directory, trained,
  resumed, extended or reused; :mod:`~corel_jax.training.workers`: several
  trained side by side on a CPU, one worker process per group of cores.

Needs the ``train`` extra (flax, optax, orbax-checkpoint, tqdm):
``pip install "corel-jax[train]"``; without it, importing this package raises
:class:`~corel_jax._extras.MissingExtraError` naming it.
"""

from corel_jax._extras import check_installed
from corel_jax._lazy import attach_stub

check_installed(("flax", "optax", "orbax.checkpoint", "tqdm"), purpose="corel_jax.training")

# Imported on first use (the command line reads the config without JAX):
# the names are the imports of __init__.pyi.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
