"""Losses on latent codes: COREL's connectivity loss and its relatives.

``import corel_jax.loss`` in any JAX code; everything here is a plain function
of arrays, jit/vmap/grad/pmap friendly, with hyperparameters keyword-only.

Modules: :mod:`~corel_jax.loss.connectivity` (the connectivity loss and total
persistence), :mod:`~corel_jax.loss.branches` (codes split into independent
branches and their death times), :mod:`~corel_jax.loss.signature` (the
Topological Autoencoders signature loss), :mod:`~corel_jax.loss.reconstruction`
(the paper's l1 reconstruction error); ``_fused`` runs the connectivity loss
and its gradient in one C++ kernel call on a CPU.
"""

from corel_jax.loss.branches import branch_deaths, split_branches
from corel_jax.loss.connectivity import REDUCTIONS, Reduction, connectivity_loss, total_persistence
from corel_jax.loss.reconstruction import reconstruction_loss
from corel_jax.loss.signature import signature_loss

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "branch_deaths",
    "connectivity_loss",
    "reconstruction_loss",
    "signature_loss",
    "split_branches",
    "total_persistence",
]
