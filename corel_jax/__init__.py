"""corel_jax: fast, differentiable 0-dim persistent homology and COREL in JAX.

The top-level package re-exports the persistence core and the losses. The
other modules (``models``, ``train``, ``data``, ``oneclass``) are imported
explicitly, e.g. ``from corel_jax import models``, so that
``import corel_jax`` stays light.
"""

from corel_jax.diagrams import bottleneck_distance, diagram_loss, wasserstein_distance
from corel_jax.loss import (
    branch_deaths,
    connectivity_loss,
    reconstruction_loss,
    signature_loss,
    split_branches,
    total_persistence,
)
from corel_jax.persistence import PersistenceH0, pairwise_distances, rips_h0

__version__ = "0.1.0"

__all__ = [
    "PersistenceH0",
    "bottleneck_distance",
    "branch_deaths",
    "connectivity_loss",
    "diagram_loss",
    "pairwise_distances",
    "reconstruction_loss",
    "rips_h0",
    "signature_loss",
    "split_branches",
    "total_persistence",
    "wasserstein_distance",
]
