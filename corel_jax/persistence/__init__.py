"""0-dimensional persistent homology, differentiable, on every JAX backend.

:func:`rips_h0` computes the 0-dimensional Vietoris-Rips persistence of a
point cloud (or of a distance matrix): its finite death times are the edge
lengths of a minimum spanning tree, computed with static shapes under
``jit``/``vmap``/``grad`` and differentiated by a ``jax.custom_vjp`` that
sends each cotangent to the one pair of points of its critical edge.

Modules: :mod:`~corel_jax.persistence.rips` (the public entry point,
:class:`PersistenceH0` and the choice of algorithm) and its private backends,
one per algorithm: ``_native`` (Prim's algorithm in C++, an XLA FFI custom
call, on CPUs), ``_prim_xla`` (Prim's algorithm as an XLA loop),
``_boruvka`` (Borůvka's algorithm in plain XLA), ``_pallas_prim`` and
``_pallas_search`` (Pallas kernels for CUDA/ROCm), ``_distances`` (the
metrics and their subgradients, shared by all of them) and ``_partition``
(how the kernel calls partition along their batch axes under ``jit`` with
sharded inputs). How each works, its tie rule and its measured speed:
``docs/persistence_algorithms.md``.
"""

from corel_jax.persistence._distances import METRICS, Metric, pairwise_distances, parse_metric
from corel_jax.persistence.rips import PersistenceH0, rips_h0

__all__ = ["METRICS", "Metric", "PersistenceH0", "pairwise_distances", "parse_metric", "rips_h0"]
