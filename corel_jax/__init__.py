"""corel_jax: fast, differentiable 0-dim persistent homology and COREL in JAX.

The top-level package re-exports the persistence core, the losses and the
diagram distances. The other packages are imported explicitly, e.g.
``from corel_jax import models``, so that ``import corel_jax`` stays light.
The package is grouped by layer; each imports only the layers below it:

* ``persistence``: 0-dim persistence (its backends are private modules inside it);
* ``loss``, ``diagrams``, ``embedding_metrics``: losses and measures on top of it;
  ``plots``: figures;
* ``models``: the autoencoders; ``data``: the datasets;
* ``training``: config, objectives, the step, the loop, checkpoints, backbones;
* ``oneclass``: the one-class protocol and its baselines;
* ``paper``: the published numbers and the demo;
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
