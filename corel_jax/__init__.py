"""corel_jax: fast, differentiable 0-dim persistent homology and COREL in JAX.

The top-level package re-exports the persistence core and the losses. The
other modules are imported explicitly, e.g. ``from corel_jax import models``,
so that ``import corel_jax`` stays light. From the bottom up:

* ``persistence``, ``loss``: 0-dim persistence and the connectivity loss;
* ``models``: the autoencoders; ``data``: the datasets;
* ``config``, ``checkpoint``, ``parallel``, ``progress``, ``backbone`` and
  ``train``: training, one concept per module;
* ``oneclass``: the one-class protocol; ``plots``: figures;
* ``published``: the paper's numbers; ``study``, ``demo``: the pipeline;
* ``commands``: the ``corel-jax`` command line (the library never imports it).

The method itself is described in ``docs/method.md``.
"""

from corel_jax._lazy import attach

__version__ = "0.1.0"

# Imported on first use, so that the command line (``corel-jax --help``) starts
# without importing JAX.
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "diagrams": "*",
        "loss": "*",
        "persistence": ["PersistenceH0", "pairwise_distances", "rips_h0"],
    },
)
