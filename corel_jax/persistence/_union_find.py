"""Union-find over the edges in filtration order, in C++ on the CPU (private).

The C++ kernels of ``_native/graph_cpu.cc`` (linked into the ``_prim_cpu``
extension, see :mod:`corel_jax.persistence._native`) registered as XLA FFI
custom calls: :func:`graph_deaths` for a graph given as an edge list and
:func:`cubical_deaths` for an image, whose grid edges the kernel enumerates
itself. Both return, for every vertex, the edge that kills the class born at
it and that edge's later vertex (``-1`` for essential classes and masked
vertices), under the tie rule of :mod:`corel_jax.persistence.graph`.

Both calls partition along their batch axes under ``jax.jit`` with sharded
inputs (:func:`corel_jax.persistence._partition.batch_partitioned`), like the
Prim kernel.
"""

from __future__ import annotations

import ctypes

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence import _native
from corel_jax.persistence._partition import batch_partitioned

__all__ = ["AVAILABLE", "cubical_deaths", "graph_deaths"]

_GRAPH = "corel_jax_graph_h0"
_CUBICAL = "corel_jax_cubical_h0"


def _register() -> bool:
    """Registers the two handlers; False where the extension (or they) are missing."""
    if not _native.AVAILABLE:
        return False
    try:
        library = ctypes.CDLL(_native._prim_cpu.__file__)
        graph, cubical = library.CorelGraphH0Cpu, library.CorelCubicalH0Cpu
    except (OSError, AttributeError):  # an extension built before these kernels
        return False
    jax.ffi.register_ffi_target(_GRAPH, jax.ffi.pycapsule(graph), platform="cpu")
    jax.ffi.register_ffi_target(_CUBICAL, jax.ffi.pycapsule(cubical), platform="cpu")
    return True


AVAILABLE: bool = _register()


def _check_available() -> None:
    if not AVAILABLE:
        raise RuntimeError("corel_jax's native CPU kernel is not built; reinstall with pip.")


def graph_deaths(
    values: jax.Array,
    edges: jax.Array,
    edge_values: jax.Array | None,
    vertex_mask: jax.Array,
    edge_mask: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """The elder rule over a graph's edges, on the CPU.

    Args:
      values: ``(..., n)`` float32/float64 vertex values, finite.
      edges: ``(..., m, 2)`` int32.
      edge_values: ``(..., m)`` (dtype of ``values``), or None for the
        lower-star values (the larger endpoint value).
      vertex_mask: ``(..., n)`` bool.
      edge_mask: ``(..., m)`` bool; edges out of range, loops and edges with a
        masked endpoint never count.

    Returns:
      ``(death_edge, death_vertex)``, ``(..., n)`` int32 each.
    """
    _check_available()
    if edge_values is None:  # a (..., 0) placeholder: the kernel takes the lower-star values
        edge_values = jnp.zeros((*values.shape[:-1], 0), values.dtype)

    def kernel(values, edges, edge_values, vertex_mask, edge_mask):
        out = jax.ShapeDtypeStruct(values.shape, jnp.int32)
        call = jax.ffi.ffi_call(_GRAPH, (out, out), vmap_method="broadcast_all")
        return tuple(call(values, edges, edge_values, vertex_mask, edge_mask))

    outs = batch_partitioned(kernel, in_ranks=(1, 2, 1, 1, 1), out_ranks=(1, 1))(
        values, edges, edge_values, vertex_mask, edge_mask
    )
    death_edge, death_vertex = (_native._vary_like(o, values) for o in outs)
    return death_edge, death_vertex


def cubical_deaths(image: jax.Array, *, full: bool) -> tuple[jax.Array, jax.Array]:
    """The elder rule over an image's grid (lower-star), on the CPU.

    Args:
      image: ``(..., H, W)`` or ``(..., H, W, D)``; the trailing 2 or 3 axes
        are one image (``jax.vmap`` supplies the leading ones), finite.
      full: all 8 / 26 neighbours (True) or the 4 / 6 face neighbours.

    Returns:
      ``(death_edge, death_vertex)`` with ``image``'s shape, int32: a
      pixel's flat (row-major) index and the grid edge numbering of
      :func:`corel_jax.persistence.cubical.grid_edges`.
    """
    _check_available()
    dims = image.ndim

    def kernel(image):
        out = jax.ShapeDtypeStruct(image.shape, jnp.int32)
        call = jax.ffi.ffi_call(_CUBICAL, (out, out), vmap_method="broadcast_all")
        return tuple(call(image, dims=np.int32(dims), full=np.int32(full)))

    outs = batch_partitioned(kernel, in_ranks=(dims,), out_ranks=(dims, dims))(image)
    death_edge, death_vertex = (_native._vary_like(o, image) for o in outs)
    return death_edge, death_vertex
