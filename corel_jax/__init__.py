"""corel_jax: fast, differentiable 0-dim persistent homology and COREL in JAX.

The top-level package re-exports the persistence core, the losses and the
diagram distances (``pip install corel-jax``: JAX and NumPy only). The other
packages are imported explicitly, e.g. ``from corel_jax import models``, so
that ``import corel_jax`` stays light; they need an extra
(``pip install "corel-jax[train]"`` for ``models`` and ``training``, see
``corel_jax._extras``).

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

from corel_jax._lazy import attach_stub
from corel_jax._version import __version__ as __version__

# Imported on first use, so that the command line (``corel-jax --help``) starts
# without importing JAX; the names are the imports of __init__.pyi.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
