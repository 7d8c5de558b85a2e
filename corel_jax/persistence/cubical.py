r"""0-dimensional persistence of images: cubical complexes, sublevel or superlevel.

The sublevel sets ``{p : image[p] <= t}`` of a 2-D or 3-D image, with pixels
(voxels) adjacent through a face (``connectivity="faces"``: 4 / 6
neighbours) or through any face, edge or corner (``"full"``: 8 / 26
neighbours), have the 0-dimensional persistence of the lower-star filtration
of the image's grid graph, which :func:`cubical_h0` computes:

* ``"full"`` equals GUDHI's ``CubicalComplex(top_dimensional_cells=image)``:
  pixels are the top-dimensional cells, two cells touching at a corner are
  connected once both are present;
* ``"faces"`` equals GUDHI's ``CubicalComplex(vertices=image)``: pixels are
  the vertices, the edges between face neighbours enter with their later
  endpoint.

``superlevel=True`` filters by decreasing values (the sublevel sets of
``-image``): components are born at maxima and die at saddles below them.

The grid's edges are never stored: the C++ kernel enumerates each pixel's
neighbours, and the XLA path computes the endpoints of edge ``e = p K + k``
from ``e`` (:func:`grid_edges` returns that numbering for decoding
``death_edge``). Everything else (result, tie rule, gradients, algorithms) is
:mod:`corel_jax.persistence.graph`'s: slot ``p`` is the class born at the
pixel of flat (row-major) index ``p``; its death is the value of the pixel
``death_vertex[p]``, where its component merges into an older one.

References:
  Kaczynski, Mischaikow, Mrozek. Computational Homology. Springer, 2004.
  Wagner, Chen, Vuçini. Efficient computation of persistent homology for
  cubical data. Topological Methods in Data Analysis and Visualization II, 2012.
  The GUDHI Project, Cubical complex (``gudhi.CubicalComplex``).
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence import _graph_boruvka, _union_find
from corel_jax.persistence._distances import as_float
from corel_jax.persistence.graph import GraphH0, check_algorithm, dispatch, result, sanitize

__all__ = ["CONNECTIVITIES", "cubical_h0", "forward_offsets", "grid_edges"]

CONNECTIVITIES = ("full", "faces")


def _check_connectivity(connectivity: str) -> None:
    if connectivity not in CONNECTIVITIES:
        raise ValueError(
            f"Unknown connectivity {connectivity!r}; expected one of {CONNECTIVITIES}."
        )


def forward_offsets(ndim: int, connectivity: str = "full") -> tuple[tuple[int, ...], ...]:
    """The ``K`` neighbour offsets that number a grid's edges, in order.

    The offsets ``delta`` in ``{-1, 0, 1}^ndim`` whose first non-zero entry is
    positive (one direction of each neighbour pair), in lexicographic order;
    ``"faces"`` keeps those with one non-zero entry. ``K`` is 4 / 2 in 2-D and
    13 / 3 in 3-D.

    Examples:
      >>> forward_offsets(2)
      ((0, 1), (1, -1), (1, 0), (1, 1))
    """
    _check_connectivity(connectivity)
    out = []
    for delta in itertools.product((-1, 0, 1), repeat=ndim):
        nonzero = [d for d in delta if d != 0]
        if nonzero and nonzero[0] > 0 and (connectivity == "full" or len(nonzero) == 1):
            out.append(delta)
    return tuple(out)


def _grid(shape: tuple[int, ...], connectivity: str):
    """``(a, b, present)``, ``(n K,)`` each: edge ``p K + k`` joins ``p`` and ``p + delta_k``.

    Computed from the edge index (iota arithmetic, fused by XLA into its
    users); ``present`` is False where ``p + delta_k`` leaves the grid.
    """
    offsets = np.array(forward_offsets(len(shape), connectivity), np.int32)  # (K, ndim)
    n, k = math.prod(shape), offsets.shape[0]
    p = jnp.arange(n * k, dtype=jnp.int32) // k
    kth = jnp.arange(n * k, dtype=jnp.int32) % k
    strides = np.array([math.prod(shape[i + 1 :]) for i in range(len(shape))], np.int32)
    present = jnp.ones((n * k,), bool)
    flat = jnp.zeros((n * k,), jnp.int32)
    for axis, size in enumerate(shape):
        coord = (p // int(strides[axis])) % size + jnp.asarray(offsets[:, axis])[kth]
        present &= (coord >= 0) & (coord < size)
        flat += coord * int(strides[axis])
    return p, jnp.where(present, flat, p), present


def grid_edges(shape: tuple[int, ...], *, connectivity: str = "full") -> jax.Array:
    """The edges of an image's grid in the numbering of ``death_edge``.

    Row ``e = p K + k`` joins the pixel of flat index ``p`` to ``p + delta_k``
    (:func:`forward_offsets`); where that neighbour is outside the image the
    row is the loop ``(p, p)``, which no filtration counts. So
    ``graph_h0(image.ravel(), grid_edges(image.shape, ...))`` equals
    ``cubical_h0(image, ...)``, death edges included.

    Args:
      shape: ``(H, W)`` or ``(H, W, D)``.
      connectivity: "full" or "faces".

    Returns:
      ``(n K, 2)`` int32.

    Examples:
      >>> grid_edges((2, 2), connectivity="faces")  # K = 2: right, down
      Array([[0, 1],
             [0, 2],
             [1, 1],
             [1, 3],
             [2, 3],
             [2, 2],
             [3, 3],
             [3, 3]], dtype=int32)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (H, W, D); got {shape}.")
    a, b, _ = _grid(shape, connectivity)
    return jnp.stack([a, b], axis=-1)


def cubical_h0(
    image: jax.typing.ArrayLike,
    *,
    connectivity: str = "full",
    superlevel: bool = False,
    algorithm: str = "auto",
) -> GraphH0:
    r"""0-dimensional persistence of a 2-D or 3-D image's sublevel (or superlevel) sets.

    Each pixel ``p`` bears one class, born at ``image[p]``; it dies at the
    value of the first pixel whose entry joins its component to one with an
    older pixel (older: a lower value, or an equal value and a lower flat
    index), ``+inf`` for the one essential class (born at the global
    minimum). The pairs with positive persistence are GUDHI's
    (``connectivity="full"``: ``CubicalComplex(top_dimensional_cells=image)``;
    ``"faces"``: ``CubicalComplex(vertices=image)``).

    Gradients: the cotangent of a birth reaches its pixel, that of a death the
    pixel ``death_vertex`` (a saddle, or the pixel itself for a zero-length
    pair); exact where the values are distinct, never NaN on plateaus. Use
    ``jax.vmap`` for batches.

    Args:
      image: ``(H, W)`` or ``(H, W, D)`` float; bf16/fp16/int computed in
        float32.
      connectivity: "full" (8 / 26 neighbours; default) or "faces" (4 / 6).
      superlevel: filter by decreasing values: births at maxima, deaths at
        most births, the essential death ``-inf``.
      algorithm: "auto" (default: the C++ kernel on CPUs, "boruvka"
        elsewhere), "native" or "boruvka" (plain XLA, any backend).

    Returns:
      A :class:`~corel_jax.persistence.GraphH0` with ``H W (D)`` slots, slot
      ``p`` for the pixel of flat (row-major) index ``p``; ``death_edge``
      numbers the grid's edges as :func:`grid_edges` does.

    Raises:
      ValueError: an image of another rank, an unknown connectivity or
        algorithm, or (eagerly) a non-finite pixel. Under ``jit``
        non-finite pixels give NaN births and deaths.

    Examples:
      >>> import jax.numpy as jnp
      >>> image = jnp.array([[0.0, 5.0, 1.0],
      ...                    [5.0, 5.0, 5.0],
      ...                    [2.0, 5.0, 0.5]])
      >>> cubical_h0(image, connectivity="faces").intervals()
      array([[0.5, 5. ],
             [1. , 5. ],
             [2. , 5. ],
             [0. , inf]], dtype=float32)
      >>> cubical_h0(image).intervals()  # 8 neighbours: the same here
      array([[0.5, 5. ],
             [1. , 5. ],
             [2. , 5. ],
             [0. , inf]], dtype=float32)
    """
    check_algorithm(algorithm)
    _check_connectivity(connectivity)
    image = as_float(image)
    if image.ndim not in (2, 3):
        raise ValueError(
            f"image must be (H, W) or (H, W, D); got shape {image.shape}. "
            "Use jax.vmap for batches (and a trailing axis for 3-D volumes)."
        )
    n = math.prod(image.shape)
    k = len(forward_offsets(image.ndim, connectivity))
    if n * k >= 2**31:
        raise ValueError(f"image of shape {image.shape} has too many edges for int32 indices.")
    if not isinstance(image, jax.core.Tracer) and not np.isfinite(np.asarray(image)).all():
        raise ValueError(
            "image contains a non-finite value; persistence is undefined there. "
            "Under jit such inputs give NaN births and deaths."
        )
    return _cubical(image, jnp.asarray(superlevel, bool), connectivity, algorithm)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _cubical(image: jax.Array, superlevel: jax.Array, connectivity: str, algorithm: str) -> GraphH0:
    """:func:`cubical_h0` after its checks (one compiled program per shape and option)."""
    n = math.prod(image.shape)
    x = sanitize(jnp.where(superlevel, -image, image))

    def native(x):
        death_edge, death_vertex = _union_find.cubical_deaths(x, full=connectivity == "full")
        return death_edge.reshape(-1), death_vertex.reshape(-1)

    def xla(x):
        a, b, present = _grid(x.shape, connectivity)
        real = jnp.ones((n,), bool)
        return _graph_boruvka.xla_deaths(x.reshape(-1), a, b, None, real, present)

    death_edge, death_vertex = dispatch(algorithm, native, xla, x)
    values = image.reshape(-1)
    deaths = values[jnp.maximum(death_vertex, 0)]
    finite = jnp.all(jnp.isfinite(image))
    return result(
        values, deaths, death_edge, death_vertex, jnp.ones((n,), bool), finite, superlevel
    )
