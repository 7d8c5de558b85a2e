r"""0-dimensional persistence of a filtered graph: lower-star and given edge values.

A graph with a value ``f(v)`` on every vertex and a value ``w(e)`` on every
edge, ``w(e) >= f`` of both endpoints (by default ``w(e) = max(f(a), f(b))``,
the lower-star filtration), is filtered by its sublevel sets: at ``t`` the
vertices with ``f <= t`` and the edges with ``w <= t``. Its 0-dimensional
persistence pairs each vertex's class with the value at which it merges into
an older component (the elder rule); the classes that never merge, one per
connected component, are essential. :func:`graph_h0` computes the pairs with
static shapes under ``jit``/``vmap``/``grad``; :func:`~corel_jax.persistence.cubical_h0`
is the same computation on an image's grid.

Slots
-----
One slot per vertex: slot ``v`` holds the class born at ``v`` (birth
``f(v)``), its death (the value of the edge that merges it into an older
component, ``+inf`` if none: an essential class) and that edge. A vertex that
is not a local minimum joins an older component as it appears: its pair has
zero length (death = birth). Masked vertices are padding slots.

Tie rule
--------
The filtration is refined to a strict order, the same in every back end:
vertices by ``(value, index)``; edges by ``(edge value, rank of the later
endpoint, edge index)``, where the later endpoint is the one later in the
vertex order. Of two merging components, the one whose oldest vertex comes
later in the vertex order dies. Diagrams never depend on the tie rule; death
edges and death vertices on plateaus do, and are deterministic.

Gradients
---------
``births[v] = f(v)`` and ``deaths[v] = f(death_vertex[v])`` (lower-star) or
``w(death_edge[v])`` (given edge values) are gathers at indices computed on
``stop_gradient`` values, so the cotangent of a birth reaches its vertex's
value, that of a death its edge's value (lower-star: the edge's later
endpoint) and nothing else. The pairing is locally constant where the
values are distinct (Danskin), so these are the exact derivatives there;
on plateaus they are the one-sided derivatives of the tie rule's pairing,
never NaN. Essential deaths and padding have zero gradient.

Algorithms
----------
* ``"native"``: union-find over the edges in filtration order, in C++ (an
  XLA FFI custom call, ``_native/graph_cpu.cc``): a radix sort of the values,
  a counting sort of the edges by their later vertex, then one pass;
* ``"boruvka"``: plain XLA (:mod:`corel_jax.persistence._graph_boruvka`):
  Borůvka rounds for the minimum spanning forest, then the elder rule by
  divide and conquer over the forest's edges, ``O(log^2 n)`` parallel
  rounds; the path for GPUs and TPUs.

``algorithm="auto"`` is a ``lax.platform_dependent`` choice: ``native`` on
CPUs (where it was built), ``boruvka`` elsewhere; measured in
``docs/graph_h0.md``.

References:
  Edelsbrunner, Harer. Computational Topology: An Introduction. AMS, 2010,
  Sec. VII.1 (the elder rule).
  Edelsbrunner, Letscher, Zomorodian. Topological persistence and
  simplification. Discrete Comput. Geom., 2002.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from corel_jax.persistence import _graph_boruvka, _union_find
from corel_jax.persistence._distances import as_float

__all__ = ["GraphH0", "graph_h0"]

_ALGORITHMS = ("auto", "native", "boruvka")


class GraphH0(NamedTuple):
    """A 0-dimensional persistence diagram of a filtered graph or image, one slot per vertex.

    Slot ``v`` is the class born at vertex ``v`` (for an image: the pixel of
    flat, row-major index ``v``). A pytree: ``jax.vmap`` gives every field a
    leading batch axis. With a superlevel filtration (``superlevel=True``)
    deaths are at most births and essential deaths are ``-inf``.

    The diagram in the format of GUDHI, ripser, giotto-ph and
    torch-topological (rows ``[birth, death]``): :meth:`diagram` (fixed
    shape, differentiable) and :meth:`intervals` (eager NumPy, as GUDHI's
    ``persistence_intervals_in_dimension(0)``).

    Attributes:
      births: ``(n,)`` float; ``f(v)``; 0 in padding slots.
      deaths: ``(n,)`` float; the value at which the class dies (equal to the
        birth for a vertex that joins an older component as it appears);
        ``+inf`` (superlevel: ``-inf``) for essential classes; 0 in padding
        slots.
      birth_vertex: ``(n,)`` int32; ``v``, or -1 in padding slots.
      death_vertex: ``(n,)`` int32; the later endpoint of the death edge (for
        lower-star filtrations and images: the vertex whose value is the
        death); -1 for essential classes and padding.
      death_edge: ``(n,)`` int32; the index of the edge that kills the class
        (images: the grid edge of :func:`~corel_jax.persistence.grid_edges`);
        -1 for essential classes and padding.
      valid: ``(n,)`` bool; True for the real vertices.
    """

    births: jax.Array
    deaths: jax.Array
    birth_vertex: jax.Array
    death_vertex: jax.Array
    death_edge: jax.Array
    valid: jax.Array

    def persistence(self) -> jax.Array:
        """``|death - birth|`` of the finite pairs, ``(..., n)``; 0 for essential classes and padding.

        Differentiable (the gradient of an essential or padding slot is 0,
        never NaN, whatever function of it follows). A vector that
        :func:`corel_jax.diagrams.wasserstein_distance` and
        :func:`~corel_jax.diagrams.bottleneck_distance` take as a diagram of
        births 0: the distance between two diagrams' lifetimes, a zero entry
        being a point on the diagonal (see ``docs/graph_h0.md``).
        """
        finite = self.valid & jnp.isfinite(self.deaths)
        lifetime = jnp.where(finite, self.deaths, 0.0) - jnp.where(finite, self.births, 0.0)
        return jnp.abs(lifetime)

    def diagram(self) -> jax.Array:
        """The diagram as a fixed-shape ``(..., n, 2)`` array of ``[birth, death]`` rows.

        Row ``v`` is slot ``v``: zero-length pairs included, essential classes
        ``[birth, inf]`` (superlevel: ``[birth, -inf]``), padding ``[0, 0]`` (a
        point on the diagonal, which changes no diagram distance).
        Differentiable like the fields.

        Examples:
          >>> import jax.numpy as jnp
          >>> from corel_jax.persistence import graph_h0
          >>> path = jnp.array([[0, 1], [1, 2]])  # values 0, 2, 1: two minima
          >>> graph_h0(jnp.array([0.0, 2.0, 1.0]), path).diagram()
          Array([[ 0., inf],
                 [ 2.,  2.],
                 [ 1.,  2.]], dtype=float32)
        """
        births = jnp.where(self.valid, self.births, 0.0)
        deaths = jnp.where(self.valid, self.deaths, 0.0)
        return jnp.stack([births, deaths], axis=-1)

    def intervals(self, *, min_persistence: float = 0.0) -> np.ndarray:
        """The diagram as GUDHI gives it: ``persistence_intervals_in_dimension(0)``.

        The finite pairs whose persistence ``|death - birth|`` exceeds
        ``min_persistence`` (the default 0 drops the zero-length pairs, like
        GUDHI's ``persistence()``; ``-1`` keeps them), in ascending order of
        ``(birth, death)``, then the essential pairs by birth. Equal to GUDHI's
        intervals of the same filtration up to the order of rows (tested).
        Eager only (its length depends on the data): use :meth:`diagram` under
        ``jit``.

        Returns:
          ``(k, 2)`` NumPy array in the dtype of the fields.

        Raises:
          TypeError: called under a JAX transformation.
          ValueError: on a batch of diagrams (leading axes from ``vmap``).

        Examples:
          >>> import jax.numpy as jnp
          >>> from corel_jax.persistence import graph_h0
          >>> path = jnp.array([[0, 1], [1, 2]])
          >>> graph_h0(jnp.array([0.0, 2.0, 1.0]), path).intervals()
          array([[ 1.,  2.],
                 [ 0., inf]], dtype=float32)
        """
        if isinstance(self.deaths, jax.core.Tracer):
            raise TypeError(
                "GraphH0.intervals() is eager (its length depends on the data); "
                "use .diagram() under jit, vmap or grad."
            )
        births, deaths = np.asarray(self.births), np.asarray(self.deaths)
        valid = np.asarray(self.valid, bool)
        if births.ndim != 1:
            raise ValueError(
                f"intervals() takes one diagram; got a batch of shape {births.shape[:-1]}: "
                "take one first, e.g. jax.tree.map(lambda a: a[0], result)."
            )
        essential = valid & np.isinf(deaths)
        finite = valid & ~essential & (np.abs(deaths - births) > min_persistence)
        rows = np.stack([births[finite], deaths[finite]], axis=-1)
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
        last = np.stack([births[essential], deaths[essential]], axis=-1)
        return np.concatenate([rows, last[np.argsort(last[:, 0], kind="stable")]])


# --------------------------------------------------------------------------
# Shared by graph_h0 and cubical_h0
# --------------------------------------------------------------------------


def check_algorithm(algorithm: str) -> None:
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; expected one of {_ALGORITHMS}.")


def dispatch(algorithm: str, native, xla, *args):
    """``native`` or ``xla`` on ``args``, chosen per platform for ``"auto"``/``"native"``."""
    if algorithm == "boruvka" or not _union_find.AVAILABLE:
        return xla(*args)
    return lax.platform_dependent(*args, cpu=native, default=xla)


def result(
    values: jax.Array,
    deaths: jax.Array,
    death_edge: jax.Array,
    death_vertex: jax.Array,
    valid: jax.Array,
    finite: jax.Array,
    superlevel: jax.Array,
) -> GraphH0:
    """The :class:`GraphH0` of the kernels' integer output and the gathered deaths.

    Args:
      values: ``(n,)`` the vertex values as given (differentiable).
      deaths: ``(n,)`` the death values gathered at the kernel's indices
        (anything where ``death_edge < 0``).
      death_edge, death_vertex: ``(n,)`` int32 from the kernel.
      valid: ``(n,)`` bool, the real vertices.
      finite: scalar bool; False gives NaN births and deaths (non-finite input
        under ``jit``).
      superlevel: scalar bool; essential deaths are ``-inf`` instead of ``+inf``.
    """
    n = values.shape[0]
    paired = valid & (death_edge >= 0)
    essential = jnp.where(superlevel, -jnp.inf, jnp.inf).astype(values.dtype)
    deaths = jnp.where(paired, deaths, jnp.where(valid, essential, 0.0))
    births = jnp.where(valid, values, 0.0)
    nan = jnp.array(jnp.nan, values.dtype)
    return GraphH0(
        births=jnp.where(finite, births, nan),
        deaths=jnp.where(finite, deaths, nan),
        birth_vertex=jnp.where(valid, jnp.arange(n, dtype=jnp.int32), -1),
        death_vertex=jnp.where(paired, death_vertex, -1),
        death_edge=jnp.where(paired, death_edge, -1),
        valid=valid,
    )


def sanitize(x: jax.Array, keep: jax.Array | None = None) -> jax.Array:
    """``x`` without gradient, non-finite entries (and those not ``keep``) as 0, -0.0 as +0.0."""
    x = lax.stop_gradient(x)
    ok = jnp.isfinite(x) if keep is None else jnp.isfinite(x) & keep
    return jnp.where(ok, x, 0.0) + 0.0


# --------------------------------------------------------------------------
# graph_h0
# --------------------------------------------------------------------------


def _check_graph(values, edges, edge_values, vertex_mask, edge_mask, superlevel: bool) -> None:
    """Shape checks (static) and, eagerly, ranges and the filtration condition."""
    if values.ndim != 1:
        raise ValueError(
            f"vertex_values must have shape (n,); got {values.shape}. Use jax.vmap for batches."
        )
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must have shape (m, 2); got {edges.shape}.")
    if not jnp.issubdtype(edges.dtype, jnp.integer):
        raise TypeError(f"edges must hold integer vertex indices; got dtype {edges.dtype}.")
    n, m = values.shape[0], edges.shape[0]
    if n < 1:
        raise ValueError("vertex_values must hold at least one vertex.")
    for name, arr, size in (("edge_values", edge_values, m), ("vertex_mask", vertex_mask, n),
                            ("edge_mask", edge_mask, m)):  # fmt: skip
        if arr is not None and jnp.shape(arr) != (size,):
            raise ValueError(f"{name} must have shape ({size},); got {jnp.shape(arr)}.")
    arrays = (values, edges, edge_values, vertex_mask, edge_mask)
    if any(isinstance(a, jax.core.Tracer) for a in arrays):
        return
    f = np.asarray(values)
    real = np.ones(n, bool) if vertex_mask is None else np.asarray(vertex_mask, bool)
    if not np.isfinite(f[real]).all():
        raise ValueError(
            "vertex_values contain a non-finite value at a real vertex; persistence is undefined "
            "there. Under jit such inputs give NaN births and deaths."
        )
    e = np.asarray(edges)
    counted = np.ones(m, bool) if edge_mask is None else np.asarray(edge_mask, bool)
    bad = counted & ((e < 0) | (e >= n)).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"edges[{i}] = {e[i].tolist()} is not a pair of vertex indices in [0, {n}); "
            "mask it out with edge_mask."
        )
    if edge_values is None:
        return
    w = np.asarray(edge_values)
    counted &= real[e[:, 0]] & real[e[:, 1]]
    if not np.isfinite(w[counted]).all():
        raise ValueError("edge_values contain a non-finite value at a counted edge.")
    if superlevel:
        bound, word = np.minimum(f[e[:, 0]], f[e[:, 1]]), "above"
        early = counted & (w > bound)
    else:
        bound, word = np.maximum(f[e[:, 0]], f[e[:, 1]]), "below"
        early = counted & (w < bound)
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(
            f"edge_values[{i}] = {w[i]} is {word} the value of its endpoint ({bound[i]}): an edge "
            "enters the filtration after its vertices (sublevel: edge values at least the "
            "endpoints' values; superlevel: at most)."
        )


def graph_h0(
    vertex_values: jax.typing.ArrayLike,
    edges: jax.typing.ArrayLike,
    edge_values: jax.typing.ArrayLike | None = None,
    *,
    vertex_mask: jax.typing.ArrayLike | None = None,
    edge_mask: jax.typing.ArrayLike | None = None,
    superlevel: bool = False,
    algorithm: str = "auto",
) -> GraphH0:
    r"""0-dimensional persistence of a graph filtered by vertex (and edge) values.

    The sublevel filtration ``G_t = ({v : f(v) <= t}, {e : w(e) <= t})`` with
    ``w(e) = max(f(a), f(b))`` by default (lower-star). Each vertex ``v``
    bears one class, born at ``f(v)``; it dies at the value of the first edge
    (in the filtration order) that joins its component to one with an older
    vertex:

    .. math::
      \mathrm{death}(v) = \min_{u \prec v}\ \min_{\text{paths } v \to u}\ \max_{e} w(e),

    ``+inf`` if no older vertex is reachable (an essential class: one per
    connected component). Gradients reach ``f`` at the birth vertices and at
    the death edges' later endpoints (lower-star) or ``w`` at the death edges;
    see the module docstring for the tie rule.

    Args:
      vertex_values: ``(n,)`` float ``f``; bf16/fp16/int computed in float32.
      edges: ``(m, 2)`` integer vertex indices (static ``m``); loops never
        count, repeated edges are allowed.
      edge_values: optional ``(m,)`` ``w``, at least the values of both
        endpoints (superlevel: at most). Default: the lower-star values.
      vertex_mask: optional ``(n,)`` bool marking the real vertices of a
        padded graph; edges with a masked endpoint do not count.
      edge_mask: optional ``(m,)`` bool marking the real edges.
      superlevel: filter by superlevel sets (``f >= t``, decreasing ``t``)
        instead: births are maxima, deaths at most births, essential deaths
        ``-inf``. The same as negating the values and the diagram.
      algorithm: "auto" (default), "native" (C++ on CPUs, "boruvka"
        elsewhere) or "boruvka" (plain XLA). All give the same result.

    Returns:
      A :class:`GraphH0` with ``n`` slots.

    Raises:
      ValueError: wrong shapes, an unknown algorithm; eagerly (not under
        ``jit``) also a non-finite value, an edge index out of range or an edge
        value below its endpoints'. Under ``jit`` edges out of range do not
        count, edge values below their endpoints are used as given, and
        non-finite values give NaN births and deaths.
      TypeError: ``edges`` not integer.

    Examples:
      >>> import jax.numpy as jnp
      >>> f = jnp.array([0.0, 3.0, 1.0, 2.0, 0.5])
      >>> edges = jnp.array([[0, 1], [1, 2], [2, 3], [3, 4]])  # a path
      >>> out = graph_h0(f, edges)
      >>> out.deaths  # 3 joins 2 to the older 4 at 2; 1 joins 4 to the older 0 at 3
      Array([inf,  3.,  2.,  2.,  3.], dtype=float32)
      >>> out.intervals()
      array([[0.5, 3. ],
             [1. , 2. ],
             [0. , inf]], dtype=float32)

    References:
      Edelsbrunner, Harer. Computational Topology: An Introduction. AMS, 2010.
    """
    check_algorithm(algorithm)
    values = as_float(vertex_values)
    edges = jnp.asarray(edges)
    if edge_values is not None:
        edge_values = jnp.asarray(edge_values).astype(values.dtype)
    _check_graph(values, edges, edge_values, vertex_mask, edge_mask, superlevel)
    n, m = values.shape[0], edges.shape[0]
    real = jnp.ones((n,), bool) if vertex_mask is None else jnp.asarray(vertex_mask, bool)
    counted = jnp.ones((m,), bool) if edge_mask is None else jnp.asarray(edge_mask, bool)
    direction = jnp.asarray(superlevel, bool)  # traced: one program for both directions
    return _graph(values, edges.astype(jnp.int32), edge_values, real, counted, direction, algorithm)


@functools.partial(jax.jit, static_argnums=(6,))
def _graph(values, edges, edge_values, real, counted, superlevel, algorithm: str) -> GraphH0:
    """:func:`graph_h0` after its checks (one compiled program per shape and option)."""
    n, m = values.shape[0], edges.shape[0]
    a, b = edges[:, 0], edges[:, 1]
    inside = (a >= 0) & (a < n) & (b >= 0) & (b < n)
    a, b = jnp.where(inside, a, 0), jnp.where(inside, b, 0)
    counted = counted & inside & (a != b) & real[a] & real[b]

    sign = jnp.where(superlevel, -1.0, 1.0).astype(values.dtype)
    f = sanitize(sign * values, real)
    w = None if edge_values is None else sanitize(sign * edge_values, counted)
    finite = jnp.all(jnp.isfinite(values) | ~real)
    if edge_values is not None:
        finite &= jnp.all(jnp.isfinite(edge_values) | ~counted)

    def native(f, a, b, w, real, counted):
        pairs = jnp.stack([a, b], axis=-1)
        return _union_find.graph_deaths(f, pairs, w, real, counted)

    xla = _graph_boruvka.xla_deaths
    if m == 0:  # no edge: every real vertex is a component
        none = jnp.full((n,), -1, jnp.int32)
        return result(values, values, none, none, real, finite, superlevel)
    if w is None:
        death_edge, death_vertex = dispatch(
            algorithm,
            lambda f, a, b, r, c: native(f, a, b, None, r, c),
            lambda f, a, b, r, c: xla(f, a, b, None, r, c),
            f, a, b, real, counted,
        )  # fmt: skip
        deaths = values[jnp.maximum(death_vertex, 0)]
    else:
        death_edge, death_vertex = dispatch(algorithm, native, xla, f, a, b, w, real, counted)
        deaths = edge_values[jnp.maximum(death_edge, 0)]
    return result(values, deaths, death_edge, death_vertex, real, finite, superlevel)
