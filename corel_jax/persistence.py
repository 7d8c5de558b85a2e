"""0-dimensional Vietoris-Rips persistent homology of point clouds.

For a finite point cloud ``S`` every 0-dimensional class of the Vietoris-Rips
filtration is born at 0, and the ``n - 1`` finite death times are exactly the
edge lengths of a minimum spanning tree (MST) of the complete graph on ``S``
(one class, the essential one, never dies). This module computes that MST with
static shapes, so it runs under ``jit``, ``vmap``, ``grad``, ``pmap`` and
``shard_map`` on any backend, and differentiates the death times with a
``jax.custom_vjp`` that sends each cotangent to the one distance entry (i.e. the
one pair of points) of its critical edge.

Algorithm
---------
Prim's algorithm, which for dense graphs does the optimal O(n^2) work with
O(n) state. Three implementations build the same tree:

* ``"native"``: a C++ kernel registered as an XLA FFI custom call, used
  wherever the computation runs on a CPU (``lax.platform_dependent``). It keeps
  the vertices outside the tree compacted, computes each row of distances on
  the fly in vectorised passes (``O(n d)`` memory) and spreads a vmapped batch
  of clouds over threads. It is built by ``pip install``; without it, and on
  GPU/TPU, the XLA loops below run.
* ``"matrix_free"``: an XLA ``fori_loop`` with a fixed trip count of
  ``n - 1``; each iteration picks the cheapest vertex outside the tree and
  relaxes the keys with one row of distances computed from the points
  (``O(n d)`` memory).
* ``"dense"``: the same loop reading rows of a precomputed ``(n, n)`` matrix.

``algorithm="auto"`` picks by measurement (``benchmarks/bench_persistence.py``).

The MST is computed on ``stop_gradient`` distances; only the integer edge list
leaves it. The death times are then recomputed from the points (or read from
the precomputed matrix) through a ``custom_vjp``, so:

* the cotangent of death ``k`` reaches only the points ``i_k`` and ``j_k`` of
  its critical edge (for ``metric="precomputed"``: only the entry ``D[i_k, j_k]``);
* with the l1 metric, ``d D[i, j] / d x_i = sign(x_i - x_j)`` and the negative
  for ``x_j``;
* coincident points (zero-length edges) get a zero subgradient, never NaN.

Ties between equal edge lengths are broken deterministically by index (the
first vertex in index order wins, and the earlier tree vertex keeps a tied
key), so the same input always routes its gradient the same way.

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
  Prim. Shortest connection networks and some generalizations. Bell System
  Technical Journal, 1957.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from corel_jax import _native

__all__ = ["PersistenceH0", "Metric", "METRICS", "pairwise_distances", "parse_metric", "rips_h0"]

# A metric: a name, a Minkowski exponent p >= 1 (float), or ("minkowski", p).
Metric = str | float | tuple[str, float]

METRICS: tuple[str, ...] = ("l1", "l2", "sqeuclidean", "linf", "minkowski", "precomputed")
_ALIASES = {
    "l1": "l1",
    "manhattan": "l1",
    "cityblock": "l1",
    "l2": "l2",
    "euclidean": "l2",
    "sqeuclidean": "sqeuclidean",
    "linf": "linf",
    "chebyshev": "linf",
    "precomputed": "precomputed",
}
_ALGORITHMS = ("auto", "native", "dense", "matrix_free")
# "auto" switches from "dense" to "matrix_free" above this many matrix entries
# (n = 8192 points); see benchmarks/bench_persistence.py.
_DENSE_MAX_ENTRIES = 8192 * 8192
# Below this width "auto" prefers on-the-fly rows even when the matrix fits.
_FREE_MAX_DIM = 32


class PersistenceH0(NamedTuple):
    """The finite part of a 0-dimensional persistence diagram.

    All births are 0. For a cloud of ``n`` points of which ``m`` are real
    (``mask``), the first ``m - 1`` slots hold the real deaths in ascending
    order; the remaining ``n - m`` slots are padding.

    Attributes:
      deaths: ``(n - 1,)`` float; the death times, ascending. Padding slots
        hold ``+inf`` (so they sort last and cannot pass for a real death).
      edges: ``(n - 1, 2)`` int32; the critical (MST) edge ``(i, j)``, with
        ``i < j``, whose length is each death. Padding slots hold ``(-1, -1)``.
      valid: ``(n - 1,)`` bool; True for the ``m - 1`` real slots.
    """

    deaths: jax.Array
    edges: jax.Array
    valid: jax.Array


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def parse_metric(metric: Metric) -> tuple[str, float]:
    """Returns ``(kind, p)`` for a metric spec; raises ValueError if unknown.

    ``kind`` is one of "l1", "l2", "sqeuclidean", "linf", "minkowski",
    "precomputed"; ``p`` is the Minkowski exponent (meaningful for
    "minkowski" only). Minkowski with p = 1, 2, inf is mapped to l1, l2, linf.
    """
    p: object
    if isinstance(metric, str):
        kind = _ALIASES.get(metric.lower())
        if kind is None:
            raise ValueError(
                f"Unknown metric {metric!r}; expected one of {sorted(_ALIASES)}, a Minkowski "
                "exponent p >= 1 (float), or ('minkowski', p)."
            )
        return kind, 0.0
    if isinstance(metric, tuple) and len(metric) == 2 and metric[0] == "minkowski":
        p = metric[1]
    elif isinstance(metric, int | float | np.floating | np.integer) and not isinstance(
        metric, bool
    ):
        p = metric
    else:
        raise ValueError(
            f"Unknown metric {metric!r}; expected one of {sorted(_ALIASES)}, a Minkowski "
            "exponent p >= 1 (float), or ('minkowski', p)."
        )
    try:
        p = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"Minkowski exponent must be a number, got {p!r}.") from None
    if not p >= 1.0:
        raise ValueError(f"Minkowski exponent must satisfy p >= 1, got p={p}.")
    if p == 1.0:
        return "l1", 0.0
    if p == 2.0:
        return "l2", 0.0
    if math.isinf(p):
        return "linf", 0.0
    return "minkowski", p


def _norm(diff: jax.Array, kind: str, p: float) -> jax.Array:
    """The metric's norm of ``diff`` over its last axis."""
    if kind == "l1":
        return jnp.sum(jnp.abs(diff), axis=-1)
    if kind == "sqeuclidean":
        return jnp.sum(diff * diff, axis=-1)
    if kind == "l2":
        return jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    if kind == "linf":
        return jnp.max(jnp.abs(diff), axis=-1)
    # Minkowski p: scale by the max to avoid overflow / underflow of |d|^p.
    scale = jnp.max(jnp.abs(diff), axis=-1, keepdims=True)
    safe = jnp.where(scale > 0, scale, 1.0)
    return scale[..., 0] * jnp.sum(jnp.abs(diff / safe) ** p, axis=-1) ** (1.0 / p)


def _norm_grad(diff: jax.Array, kind: str, p: float) -> jax.Array:
    """A subgradient of the metric's norm w.r.t. ``diff`` (last axis).

    Zero where ``diff`` is zero (coincident points), never NaN.
    """
    if kind == "l1":
        # d/dx |x| = sign(x), with sign(0) = 0.
        return jnp.sign(diff)
    if kind == "sqeuclidean":
        return 2.0 * diff
    if kind == "l2":
        # d/dx ||x||_2 = x / ||x||_2, and 0 at x = 0.
        norm = jnp.sqrt(jnp.sum(diff * diff, axis=-1, keepdims=True))
        return jnp.where(norm > 0, diff / jnp.where(norm > 0, norm, 1.0), 0.0)
    if kind == "linf":
        # d/dx max_k |x_k| = sign(x_k*) e_k* with k* the first maximiser.
        k = jnp.argmax(jnp.abs(diff), axis=-1)
        onehot = jax.nn.one_hot(k, diff.shape[-1], dtype=diff.dtype)
        return onehot * jnp.sign(diff)
    # d/dx ||x||_p = sign(x) |x|^(p-1) / ||x||_p^(p-1) = sign(x) (|x| / ||x||_p)^(p-1).
    norm = _norm(diff, kind, p)[..., None]
    ratio = jnp.abs(diff) / jnp.where(norm > 0, norm, 1.0)
    return jnp.where(norm > 0, jnp.sign(diff) * ratio ** (p - 1.0), 0.0)


def _pairwise(x: jax.Array, y: jax.Array, kind: str, p: float, gram: bool = False) -> jax.Array:
    """(n, d), (m, d) -> (n, m) distances; no input checks.

    ``gram=True`` computes (squared) Euclidean distances as
    ``|x|^2 + |y|^2 - 2 x.y`` with one matmul: much faster for wide inputs,
    but with absolute errors of about ``eps * |x|^2`` (so ``~1e-3`` instead of
    0 between coincident float32 points after the square root). The MST uses
    it only to choose edges; death values are recomputed exactly.
    """
    if gram and kind in ("l2", "sqeuclidean") and x.shape[-1] > 8:
        sq = (
            jnp.sum(x * x, -1)[:, None]
            + jnp.sum(y * y, -1)[None, :]
            - 2.0 * jnp.matmul(x, y.T, precision=lax.Precision.HIGHEST)
        )
        sq = jnp.maximum(sq, 0.0)
        return sq if kind == "sqeuclidean" else jnp.sqrt(sq)
    return _norm(x[:, None, :] - y[None, :, :], kind, p)


def pairwise_distances(
    x: jax.typing.ArrayLike,
    y: jax.typing.ArrayLike | None = None,
    *,
    metric: Metric = "l1",
) -> jax.Array:
    """Pairwise distances between two point sets.

    Args:
      x: ``(n, d)`` points.
      y: ``(m, d)`` points; defaults to ``x``.
      metric: "l1" (the paper's), "l2" ("euclidean"), "sqeuclidean", "linf"
        ("chebyshev"), a Minkowski exponent ``p >= 1`` given as a float or as
        ``("minkowski", p)``.

    Returns:
      ``(n, m)`` distances, in ``x``'s floating dtype (float32 for half
      precision and integer inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> pairwise_distances(jnp.array([[0.0, 0.0], [1.0, 2.0]]), metric="l1")
      Array([[0., 3.],
             [3., 0.]], dtype=float32)
    """
    kind, p = parse_metric(metric)
    if kind == "precomputed":
        raise ValueError("pairwise_distances needs a real metric, not 'precomputed'.")
    x = _as_float(x, "x")
    y = x if y is None else _as_float(y, "y")
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"x and y must have rank 2 (n, d); got shapes {x.shape} and {y.shape}.")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same width; got {x.shape[1]} and {y.shape[1]}.")
    return _pairwise(x, y, kind, p)


def _as_float(a: jax.typing.ArrayLike, name: str) -> jax.Array:
    """Casts to a float dtype that is at least float32."""
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating) or jnp.finfo(a.dtype).bits < 32:
        a = a.astype(jnp.float32)
    return a


# --------------------------------------------------------------------------
# Prim's algorithm, fixed trip count
# --------------------------------------------------------------------------


def _prim(row_fn, n: int, mask: jax.Array, dtype, unroll: int = 1) -> tuple[jax.Array, jax.Array]:
    """Minimum spanning tree (over the ``mask`` vertices) by Prim's algorithm.

    The loop state is two ``(n,)`` arrays: ``key[v]``, the distance from ``v``
    to the tree (``+inf`` once ``v`` is in the tree, and for padded vertices),
    and ``parent[v]``, the tree vertex that realises it. A vertex's parent is
    frozen when it joins the tree, so the final ``parent`` array *is* the
    tree: ``(parent[v], v)`` for every real vertex ``v`` but the root. Keeping
    no per-step outputs makes the loop body three fused kernels (argmin, row,
    relax), which is what bounds the speed for small clouds.

    Args:
      row_fn: ``v -> (n,)`` finite distances from vertex ``v`` to every vertex.
      n: number of vertices.
      mask: ``(n,)`` bool, the real vertices.
      dtype: distance dtype.
      unroll: ``fori_loop`` unroll factor.

    Returns:
      ``(parent, root)``: ``(n,)`` int32 and the scalar root (first real vertex).
    """
    inf = jnp.array(jnp.inf, dtype)
    iota = jnp.arange(n, dtype=jnp.int32)
    root = jnp.argmax(mask).astype(jnp.int32)
    key = jnp.where(mask & (iota != root), row_fn(root), inf)
    parent = jnp.zeros_like(key, dtype=jnp.int32) + root  # inherits key's shard_map variance

    def body(_, carry):
        key, parent = carry
        # argmin as two plain reductions (first minimiser): XLA:CPU runs a
        # variadic (value, index) reduction 2-3x slower under vmap.
        v = jnp.min(jnp.where(key == jnp.min(key), iota, n - 1))
        # Once every real vertex is in, key is all +inf and argmin returns 0:
        # marking and relaxing are then no-ops, so the trip count can stay n - 1.
        key = jnp.where(iota == v, inf, key)
        row = row_fn(v)
        # Strict '<': on a tie the earlier tree vertex keeps the key.
        closer = (row < key) & (key < inf)
        return jnp.where(closer, row, key), jnp.where(closer, v, parent)

    _, parent = lax.fori_loop(0, n - 1, body, (key, parent), unroll=unroll)
    return parent, root


def _row_fn(x: jax.Array, kind: str, p: float):
    """``v -> (n,)`` distances from point ``v`` to all points, computed on the fly.

    The points are laid out as ``(d, n)`` so each term is a contiguous,
    vectorised pass over ``n``; for narrow clouds (``d <= 32``) the sum over
    ``d`` is unrolled into one fused elementwise kernel, which XLA:CPU runs
    about twice as fast as a minor-axis reduction.
    """
    xt = x.T
    d = xt.shape[0]

    def row(v):
        c = xt[:, v]
        if kind in ("l2", "sqeuclidean") and d > 32:
            sq = jnp.sum(xt * xt, axis=0)
            out = jnp.maximum(sq + sq[v] - 2.0 * jnp.dot(c, xt, precision=lax.Precision.HIGHEST), 0)
            return out if kind == "sqeuclidean" else jnp.sqrt(out)
        if d > 32:
            return _norm((xt - c[:, None]).T, kind, p)
        terms = [xt[k] - c[k] for k in range(d)]
        if kind == "linf":
            return functools.reduce(jnp.maximum, [jnp.abs(t) for t in terms])
        if kind == "l1":
            return functools.reduce(jnp.add, [jnp.abs(t) for t in terms])
        if kind in ("l2", "sqeuclidean"):
            sq = functools.reduce(jnp.add, [t * t for t in terms])
            return sq if kind == "sqeuclidean" else jnp.sqrt(sq)
        return _norm((xt - c[:, None]).T, kind, p)

    return row


def _mst_edges(
    x: jax.Array, mask: jax.Array, kind: str, p: float, algorithm: str
) -> tuple[jax.Array, jax.Array]:
    """MST edges ``(n - 1, 2)`` int32 (``i < j``; padding ``-1``) and validity."""
    n = x.shape[0]
    root = jnp.argmax(mask).astype(jnp.int32)

    def xla_parent(x, mask):
        if kind == "precomputed":
            row_fn = lambda v: x[v]
        elif algorithm == "dense":
            dist = _pairwise(x, x, kind, p, gram=True)
            row_fn = lambda v: dist[v]
        else:
            row_fn = _row_fn(x, kind, p)
        return _prim(row_fn, n, mask, x.dtype)[0]

    if algorithm == "native":
        # The C++ kernel where the computation runs on a CPU, the XLA loop elsewhere.
        native = lambda x, mask: _native.prim_mst(x, mask, kind, p)
        parent = lax.platform_dependent(x, mask, cpu=native, default=xla_parent)
    else:
        parent = xla_parent(x, mask)
    # One edge (parent[v], v) per vertex v but the root: slots in vertex order.
    child = jnp.arange(n - 1, dtype=jnp.int32)
    child = child + (child >= root)
    parent = parent[child]
    valid = mask[child] & mask[root]
    edges = jnp.stack([jnp.minimum(parent, child), jnp.maximum(parent, child)], axis=-1)
    edges = jnp.where(valid[:, None], edges, -1)
    return edges, valid


# --------------------------------------------------------------------------
# Death times with a custom VJP
# --------------------------------------------------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _edge_lengths(
    x: jax.Array, edges: jax.Array, valid: jax.Array, kind: str, p: float
) -> jax.Array:
    """Lengths ``(k,)`` of ``edges`` ``(k, 2)`` between points ``x`` ``(n, d)``.

    Invalid slots are ``+inf``.
    """
    lengths, _ = _edge_lengths_fwd(x, edges, valid, kind, p)
    return lengths


def _edge_lengths_fwd(x, edges, valid, kind, p):
    i, j = _safe_index(edges, valid)
    diff = x[i] - x[j]
    lengths = jnp.where(valid, _norm(diff, kind, p), jnp.inf)
    return lengths, (x.shape[0], diff, i, j, valid)


def _edge_lengths_bwd(kind, p, residuals, g):
    n, diff, i, j, valid = residuals
    # Danskin: the MST is locally constant, so d death_k = d ||x_i - x_j||,
    # whose gradient is J = d||u||/du at u = x_i - x_j, +J on x_i, -J on x_j.
    g = jnp.where(valid, g, 0.0)[:, None] * _norm_grad(diff, kind, p)
    grad_x = jnp.zeros((n, diff.shape[-1]), diff.dtype).at[i].add(g).at[j].add(-g)
    return grad_x, None, None


_edge_lengths.defvjp(_edge_lengths_fwd, _edge_lengths_bwd)


def _safe_index(edges: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Endpoints of ``edges`` with padding slots pointed at vertex 0."""
    i = jnp.where(valid, edges[:, 0], 0)
    j = jnp.where(valid, edges[:, 1], 0)
    return i, j


def _precomputed_lengths(dist: jax.Array, edges: jax.Array, valid: jax.Array) -> jax.Array:
    """``dist[i, j]`` for each edge; the gather's VJP scatters onto ``[i, j]`` only."""
    i, j = _safe_index(edges, valid)
    return jnp.where(valid, dist[i, j], jnp.inf)


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------


def _check_inputs(points: jax.Array, kind: str, mask, algorithm: str) -> None:
    """Static (shape / option) checks; raises ValueError naming the problem."""
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; expected one of {_ALGORITHMS}.")
    if points.ndim != 2:
        what = "(n, n) distance matrix" if kind == "precomputed" else "(n, d) point cloud"
        raise ValueError(
            f"points must be a {what} of rank 2; got rank {points.ndim} (shape {points.shape}). "
            "Use jax.vmap for batches of clouds."
        )
    n = points.shape[0]
    if n < 2:
        raise ValueError(f"points must hold at least 2 points; got n={n}.")
    if kind == "precomputed" and points.shape[0] != points.shape[1]:
        raise ValueError(
            f"metric='precomputed' needs a square (n, n) distance matrix; got shape {points.shape}."
        )
    if mask is not None:
        mask_shape = jnp.shape(mask)
        if mask_shape != (n,):
            raise ValueError(f"mask must have shape (n,) = ({n},); got {mask_shape}.")


def _check_finite_eagerly(points: jax.Array, mask) -> None:
    """Raises ValueError on non-finite real points, unless we are being traced."""
    if isinstance(points, jax.core.Tracer) or isinstance(mask, jax.core.Tracer):
        return
    finite = np.isfinite(np.asarray(points))
    if mask is not None:
        m = np.asarray(mask, bool)
        finite = finite | ~m.reshape((-1,) + (1,) * (finite.ndim - 1))
        if finite.ndim == 2 and finite.shape[0] == finite.shape[1] and m.ndim == 1:
            finite = finite | ~m[None, :]
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise ValueError(
            f"points contain a non-finite value (first at index {tuple(int(b) for b in bad)}); "
            "0-dim persistence is undefined there. Under jit such inputs give NaN deaths."
        )


def _auto_algorithm(n: int, d: int, kind: str) -> str:
    """The fastest available Prim variant for an ``n``-point, ``d``-dim cloud.

    Measured by ``benchmarks/bench_persistence.py``: the native kernel when it
    is built (it falls back to XLA off the CPU); otherwise on-the-fly rows for
    narrow clouds (the row is one fused kernel and no matrix is written) and a
    precomputed matrix for wide ones, until it stops fitting.
    """
    if _native.AVAILABLE:
        return "native"
    if kind == "precomputed":
        return "dense"
    if n * n > _DENSE_MAX_ENTRIES:
        return "matrix_free"
    return "matrix_free" if d <= _FREE_MAX_DIM else "dense"


def rips_h0(
    points: jax.typing.ArrayLike,
    *,
    metric: Metric = "l1",
    mask: jax.typing.ArrayLike | None = None,
    algorithm: str = "auto",
    sort: bool = True,
) -> PersistenceH0:
    r"""0-dimensional Vietoris-Rips persistence of a point cloud.

    The finite death times of the 0-dimensional classes are the edge lengths of
    a minimum spanning tree of the complete graph on the points:

    .. math::
      \mathrm{deaths}(S) = \{\, d(x_i, x_j) : (i, j) \in \mathrm{MST}(S, d) \,\}.

    Shapes never depend on the data: zero-length bars (duplicate points) are
    kept, and padded points (``mask``) fill the tail with ``+inf`` deaths.

    Gradients flow through a ``jax.custom_vjp``: the cotangent of death ``k``
    goes to the distance entry of its critical edge ``(i_k, j_k)`` alone, and
    from there to ``x[i_k]`` (``+``) and ``x[j_k]`` (``-``); coincident points
    get a zero subgradient. Padded slots get no gradient. Reverse mode only
    (``jax.grad``/``vjp``), not ``jax.jvp``.

    Args:
      points: ``(n, d)`` points, or an ``(n, n)`` distance matrix with
        ``metric="precomputed"`` (only the entries ``[i, j]`` with ``i < j``
        of the critical edges are read for the deaths, and only they receive
        gradient). bf16/fp16/int inputs are computed in float32; float64
        stays float64 when x64 is enabled.
      metric: "l1" (the paper's; default), "l2" ("euclidean"),
        "sqeuclidean", "linf" ("chebyshev"), a Minkowski exponent ``p >= 1``
        (float, or ``("minkowski", p)``), or "precomputed".
      mask: optional ``(n,)`` bool marking the real points of a padded cloud
        (so clouds of different sizes batch under ``vmap``). With ``m`` real
        points, slots ``[0, m - 1)`` hold the real deaths ascending, slots
        ``[m - 1, n - 1)`` hold ``deaths = +inf``, ``edges = (-1, -1)``,
        ``valid = False``. With ``m <= 1`` every slot is padding.
      algorithm: "auto" (default: "native" when the C++ kernel is built,
        else the faster XLA loop for the shape), "native" (the C++ kernel
        on CPU, the XLA "matrix_free" loop on other backends), "dense" (XLA
        loop over a precomputed ``(n, n)`` matrix) or "matrix_free" (XLA loop,
        ``O(n d)`` memory, distances computed on the fly). All four build
        the same tree up to floating-point rounding of near-ties.
        Ignored for "precomputed".
      sort: if True (default), slots are in ascending order of death (ties
        in the order of the vertex each edge attached to the tree). If False,
        slot ``k`` is the edge that attached vertex ``k`` (or ``k + 1`` past
        the root) to the tree, with padding
        where the vertex is padded: use it when only a symmetric function of
        the deaths is needed (a sum, a loss); it skips a sort that costs
        about as much as the MST itself for small clouds on CPU.

    Returns:
      A :class:`PersistenceH0` with ``deaths`` ``(n - 1,)``, ``edges``
      ``(n - 1, 2)`` int32 and ``valid`` ``(n - 1,)`` bool.

    Raises:
      ValueError: wrong rank, ``n < 2``, a mask of the wrong shape, a
        non-square precomputed matrix, an unknown metric or algorithm, or (in
        eager mode only) non-finite real points. Under ``jit`` non-finite real
        points give all-NaN deaths instead.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[0.0, 0.0], [1.0, 0.0], [3.0, 1.0]])
      >>> rips_h0(x).deaths  # l1 MST: 1 + 3
      Array([1., 3.], dtype=float32)

    References:
      Hofer et al., Connectivity-Optimized Representation Learning via
      Persistent Homology, ICML 2019, Sec. 3.
    """
    kind, p = parse_metric(metric)
    points = _as_float(points, "points")
    _check_inputs(points, kind, mask, algorithm)
    _check_finite_eagerly(points, mask)
    n = points.shape[0]
    if algorithm == "auto":
        algorithm = _auto_algorithm(n, points.shape[1], kind)
    real = jnp.ones((n,), bool) if mask is None else jnp.asarray(mask).astype(bool)

    x = lax.stop_gradient(points)
    # Non-finite real points: documented NaN output under jit.
    finite = jnp.all(jnp.isfinite(x) | ~real[:, None]) if kind != "precomputed" else None
    if kind == "precomputed":
        finite = jnp.all(jnp.isfinite(x) | ~(real[:, None] & real[None, :]))
    x = jnp.where(jnp.isfinite(x), x, 0.0)

    edges, valid = _mst_edges(x, real, kind, p, algorithm)
    if kind == "precomputed":
        lengths = _precomputed_lengths(points, edges, valid)
    else:
        lengths = _edge_lengths(points, edges, valid, kind, p)

    deaths = jnp.where(finite, lengths, jnp.nan)
    if not sort:
        return PersistenceH0(deaths=deaths, edges=edges, valid=valid)
    # Ascending order; a stable sort keeps ties (and the +inf padding) in
    # slot order, i.e. by the vertex each edge attached to the tree.
    order = jnp.argsort(lax.stop_gradient(lengths), stable=True)
    return PersistenceH0(deaths=deaths[order], edges=edges[order], valid=valid[order])
