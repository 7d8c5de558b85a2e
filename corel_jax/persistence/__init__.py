"""0-dimensional persistent homology, differentiable, on every JAX backend.

:func:`rips_h0` computes the 0-dimensional Vietoris-Rips persistence of a
point cloud (or of a distance matrix): its finite death times are the edge
lengths of a minimum spanning tree, computed with static shapes under
``jit``/``vmap``/``grad`` and differentiated by a ``jax.custom_vjp`` that
sends each cotangent to the one pair of points of its critical edge.

Its default metric is the Euclidean one ("l2"), as in GUDHI, ripser,
giotto-ph and torch-topological; the COREL paper's latent metric is "l1"
(``metric="l1"``; :class:`corel_jax.training.TrainConfig` uses it).
:meth:`PersistenceH0.diagram` gives the ``(n, 2)`` ``[birth, death]`` array
other libraries use.

Modules: :mod:`~corel_jax.persistence.rips` (the public entry point and the
choice of algorithm), :mod:`~corel_jax.persistence.diagram`
(:class:`PersistenceH0`, the result and its diagram formats, and
:class:`H0Diagram`, the protocol every result here satisfies), and the
private backends, one per algorithm: ``_native`` (Prim's algorithm in C++, an
XLA FFI custom call, on CPUs; :func:`native_kernel_available` says whether it
is built), ``_prim_xla`` (Prim's algorithm as an XLA loop), ``_boruvka``
(Borůvka's algorithm in plain XLA), ``_pallas_prim`` and ``_pallas_search``
(Pallas kernels for CUDA/ROCm), ``_distances`` (the metrics and their
subgradients, shared by all of them), ``_partition`` (how the kernel calls
partition along their batch axes under ``jit`` with sharded inputs) and
``_compat`` (differences between JAX versions). How each works, its tie rule and its measured speed:
``docs/persistence_algorithms.md``.

:func:`graph_h0` computes the 0-dimensional persistence of a graph filtered by
values on its vertices (lower-star) or edges, :func:`cubical_h0` that of an
image's sublevel or superlevel sets (cubical complexes, 2-D and 3-D); both
return a :class:`GraphH0` (one slot per vertex or pixel) with gradients to
the critical values. Modules: :mod:`~corel_jax.persistence.graph` (the
result type, the tie rule, ``graph_h0``), :mod:`~corel_jax.persistence.cubical`
(``cubical_h0`` and the grid's edge numbering) and their private backends
``_union_find`` (union-find in C++, ``_native/graph_cpu.cc``, on CPUs) and
``_graph_boruvka`` (Borůvka rounds and a parallel elder rule in plain XLA).
See ``docs/graph_h0.md``.
"""

from corel_jax.persistence._distances import (
    METRICS,
    Metric,
    MetricName,
    pairwise_distances,
    parse_metric,
)
from corel_jax.persistence.cubical import CONNECTIVITIES, cubical_h0, forward_offsets, grid_edges
from corel_jax.persistence.diagram import H0Diagram, PersistenceH0
from corel_jax.persistence.graph import GraphH0, graph_h0
from corel_jax.persistence.rips import ALGORITHMS, Algorithm, native_kernel_available, rips_h0

__all__ = [
    "ALGORITHMS",
    "CONNECTIVITIES",
    "METRICS",
    "Algorithm",
    "GraphH0",
    "H0Diagram",
    "Metric",
    "MetricName",
    "PersistenceH0",
    "cubical_h0",
    "forward_offsets",
    "graph_h0",
    "grid_edges",
    "native_kernel_available",
    "pairwise_distances",
    "parse_metric",
    "rips_h0",
]
