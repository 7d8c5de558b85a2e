"""0-dimensional Vietoris-Rips persistent homology of point clouds.

For a finite point cloud ``S`` every 0-dimensional class of the Vietoris-Rips
filtration is born at 0, and the ``n - 1`` finite death times are exactly the
edge lengths of a minimum spanning tree (MST) of the complete graph on ``S``
(one class, the essential one, never dies; ``docs/method.md#0-dimensional-persistence``).
This module computes that MST with static shapes, so it runs under ``jit``,
``vmap``, ``grad``, ``pmap`` and ``shard_map`` on any backend, and
differentiates the death times with a ``jax.custom_vjp`` that sends each
cotangent to the one distance entry (i.e. the one pair of points) of its
critical edge.

Algorithms
----------
``rips_h0(..., algorithm=...)`` selects one of five implementations (the
details, tie rules and measurements are in ``docs/persistence_algorithms.md``):

* ``"native"``: Prim's algorithm in a C++ kernel registered as an XLA FFI
  custom call (:mod:`corel_jax.persistence._native`), used wherever the computation runs
  on a CPU (``lax.platform_dependent``; elsewhere the XLA loop runs).
* ``"pallas"``: Pallas kernels (:mod:`corel_jax.persistence._pallas_prim`): on CUDA/ROCm
  one Triton program per cloud runs the whole Prim loop on chip (a vmapped
  batch of clouds becomes the grid); clouds larger than
  ``_pallas_prim.PRIM_MAX_POINTS`` use Borůvka rounds whose
  nearest-other-component search is a tiled Pallas kernel (``O(n d)``
  memory). On a CPU the same kernels run in Pallas interpret mode (slow; for
  tests), on a TPU the XLA Borůvka below.
* ``"boruvka"``: Borůvka's algorithm in plain XLA (:mod:`corel_jax.persistence._boruvka`):
  ``O(log n)`` rounds of whole-array operations instead of ``n - 1``
  sequential steps; the portable path for accelerators without a kernel.
* ``"matrix_free"`` / ``"dense"``: Prim's algorithm as an XLA ``fori_loop``
  (:mod:`corel_jax.persistence._prim_xla`) with rows computed on the fly (``O(n d)``
  memory) or read from a precomputed ``(n, n)`` matrix.

``algorithm="auto"`` picks per platform (``lax.platform_dependent``, so the
platform the computation runs on decides) and size:

==============================  ======================  =====================
platform                        points ``n``            choice
==============================  ======================  =====================
CPU with the C++ kernel         any                     ``native``
CPU without it (XLA:CPU)        ``d <= 32`` or          ``matrix_free``
                                ``n > 8192``
CPU without it (XLA:CPU)        ``d > 32``,             ``dense``
                                ``n <= 8192``
CUDA, ROCm                      ``<= 256``              ``pallas`` (Prim)
CUDA, ROCm                      ``> 256``               ``boruvka``
TPU                             any                     ``boruvka``
==============================  ======================  =====================

The CPU rows are measured (``benchmarks/bench_persistence.py``; numbers in
``docs/persistence_algorithms.md`` and ``docs/benchmarks.md``): ``native`` is the fastest
at every size measured (n = 100 to 20,000), and on XLA:CPU the Prim loop
beats Borůvka at every size, because Borůvka's first round alone computes
all ``n^2 d`` distance terms, as many as the whole Prim loop. The GPU rows
were measured on an NVIDIA H200 at n = 100, 1,000, 4,000 and 20,000 (the
Prim kernel fastest at 100, the XLA Borůvka at the other three); the switch
at 256 points is interpolated between 100 and 1,000. The TPU row is a
choice, not a measurement: Prim's ``n - 1`` sequential steps are
launch-bound on accelerators. Clouds wider than the Prim kernel's register
block (``_pallas_prim.fits_on_chip``; e.g. images) feed it rows of an XLA
distance matrix instead.

The Prim implementations build the same tree (same tie rule: the root is the
first real vertex, the first minimiser joins, and a tie never replaces a
parent); Borůvka has its own tie rule (edges ordered by ``(length, i, j)``),
so its edges may differ on exact ties, its death times never.

Gradients
---------
The MST is computed on ``stop_gradient`` distances; only the integer edge list
leaves it. The death times are then recomputed from the points (or read from
the precomputed matrix) through a ``custom_vjp``, so:

* the cotangent of death ``k`` reaches only the points ``i_k`` and ``j_k`` of
  its critical edge (for ``metric="precomputed"``: only the entry ``D[i_k, j_k]``);
* with the l1 metric, ``d D[i, j] / d x_i = sign(x_i - x_j)`` and the negative
  for ``x_j``;
* coincident points (zero-length edges) get a zero subgradient, never NaN.

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
  Prim. Shortest connection networks and some generalizations. Bell System
  Technical Journal, 1957.
  Borůvka. O jistém problému minimálním. Práce Moravské přírodovědecké
  společnosti, 1926.
"""

from __future__ import annotations

import functools
from typing import Literal, TypeAlias, get_args

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax.persistence import _boruvka, _native, _pallas_prim, _pallas_search, _prim_xla
from corel_jax.persistence._distances import (
    Metric,
    as_float,
    check_finite_eagerly,
    norm,
    norm_grad,
    parse_metric,
)
from corel_jax.persistence.diagram import PersistenceH0

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "PersistenceH0",
    "native_kernel_available",
    "rips_h0",
]

Algorithm: TypeAlias = Literal["auto", "native", "pallas", "boruvka", "dense", "matrix_free"]
"""The ``algorithm`` of :func:`rips_h0`."""
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
# "auto" without the native kernel (XLA:CPU), by measurement: the dense Prim
# loop stops fitting above this many matrix entries; below _FREE_MAX_DIM
# coordinates on-the-fly rows are faster even when it fits.
_DENSE_MAX_ENTRIES = 8192 * 8192
_FREE_MAX_DIM = 32


def native_kernel_available() -> bool:
    """Whether the C++ CPU kernel is built and loaded.

    It serves ``rips_h0`` on CPUs (``algorithm="auto"`` or ``"native"``) and
    ``connectivity_loss``'s fused CPU path. Without it everything runs
    through XLA instead, with the same results, slower on CPUs.
    ``corel-jax info`` says why it is missing: not built from a source
    checkout (``python setup.py build_ext --inplace``), a failed compilation
    at install time (which ``pip`` shows only with ``-v``; importing
    :mod:`corel_jax.persistence` then logs a warning), or a kernel built
    against a newer jaxlib than the one installed.

    Examples:
      >>> native_kernel_available() in (True, False)
      True
    """
    return _native.AVAILABLE


# --------------------------------------------------------------------------
# The spanning tree: (src, dst, root), edge (src[v], dst[v]) for v != root
# --------------------------------------------------------------------------


def _xla_choice(n: int, d: int, kind: str) -> str:
    """The fastest XLA-only algorithm on XLA:CPU (measured; see the module doc)."""
    if kind == "precomputed":
        return "dense"
    if n * n > _DENSE_MAX_ENTRIES or d <= _FREE_MAX_DIM:
        return "matrix_free"
    return "dense"


# "auto" on CUDA/ROCm: the Pallas Prim kernel up to this many points, the XLA
# Borůvka above. Measured on an NVIDIA H200 (single clouds, 16 dims): the
# kernel 2.5x faster at n = 100, Borůvka 1.8x faster at n = 1,000 and 1.1x to
# 1.2x faster than the Pallas Borůvka at 4,000 and 20,000. The switch between
# 100 and 1,000 is interpolated from those two sizes, not measured.
GPU_PRIM_MAX_POINTS = 256


def _tree_fn(algorithm: str, n: int, d: int, kind: str, p: float):
    """``(x, mask) -> (src, dst, root)`` for a concrete or ``"auto"`` algorithm."""

    def prim(parent_fn):
        def tree(x, mask):
            parent = parent_fn(x, mask)
            zero = parent * 0  # (varies over shard_map axes like the other branches)
            root = _prim_xla.first_real(mask) + zero[0]
            return parent, jnp.arange(n, dtype=jnp.int32) + zero, root

        return tree

    xla_prim = lambda dense: prim(lambda x, m: _prim_xla.prim_parent(x, m, kind, p, dense=dense))
    boruvka = lambda x, m: _boruvka.boruvka_tree(x, m, kind, p)

    def pallas(interpret):
        if n <= _pallas_prim.PRIM_MAX_POINTS and _pallas_prim.fits_on_chip(n, d, kind):
            return prim(lambda x, m: _pallas_prim.prim_parent(x, m, kind, p, interpret=interpret))
        if n <= _pallas_prim.PRIM_MAX_POINTS:
            # Wide clouds (e.g. images): the kernel reads rows of the XLA distance
            # matrix (one matmul for l2) instead of holding the cloud in registers.
            def wide(x, m):
                dist = _boruvka.symmetric_matrix(x, kind, p)
                return _pallas_prim.prim_parent(dist, m, "precomputed", p, interpret=interpret)

            return prim(wide)

        def tree(x, mask):
            if kind == "precomputed":
                x = _boruvka.symmetric_matrix(x, kind, p)
            search = _pallas_search.tiled_search(x, mask, kind, p, interpret=interpret)
            return _boruvka.boruvka(search, mask)

        return tree

    native = prim(lambda x, m: _native.prim_mst(x, m, kind, p))
    xla_auto = xla_prim(_xla_choice(n, d, kind) == "dense")

    def dispatch(x, mask, **branches):
        return lax.platform_dependent(x, mask, **branches)

    if algorithm == "dense" or algorithm == "matrix_free":
        return xla_prim(algorithm == "dense")
    if algorithm == "boruvka":
        return boruvka
    if algorithm == "native":
        return functools.partial(dispatch, cpu=native, default=xla_prim(False))
    if algorithm == "pallas":
        gpu = pallas(False)
        return functools.partial(dispatch, cpu=pallas(True), cuda=gpu, rocm=gpu, default=boruvka)
    # "auto": measured per platform; see docs/persistence_algorithms.md.
    gpu = pallas(False) if n <= GPU_PRIM_MAX_POINTS else boruvka
    return functools.partial(
        dispatch,
        cpu=native if _native.AVAILABLE else xla_auto,
        cuda=gpu,
        rocm=gpu,
        tpu=boruvka,
        default=xla_auto,
    )


def _mst_edges(
    x: jax.Array, mask: jax.Array, kind: str, p: float, algorithm: str
) -> tuple[jax.Array, jax.Array]:
    """MST edges ``(n - 1, 2)`` int32 (``i < j``; padding ``-1``) and validity."""
    n, d = x.shape
    src, dst, root = _tree_fn(algorithm, n, d, kind, p)(x, mask)
    # One edge per vertex v but the root: slots in vertex order.
    child = jnp.arange(n - 1, dtype=jnp.int32)
    child = child + (child >= root)
    a, b = src[child], dst[child]
    valid = mask[child] & mask[root]
    edges = jnp.stack([jnp.minimum(a, b), jnp.maximum(a, b)], axis=-1)
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
    lengths = jnp.where(valid, norm(diff, kind, p), jnp.inf)
    return lengths, (x.shape[0], diff, i, j, valid)


def _edge_lengths_bwd(kind, p, residuals, g):
    n, diff, i, j, valid = residuals
    # Danskin: the MST is locally constant, so d death_k = d ||x_i - x_j||,
    # whose gradient is J = d||u||/du at u = x_i - x_j, +J on x_i, -J on x_j.
    # (a where, not a product: a padded slot or a non-finite cloud contributes an exact
    # zero, never 0 * NaN)
    g = jnp.where(valid[:, None], g[:, None] * norm_grad(diff, kind, p), 0.0)
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
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}.")
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


def rips_h0(
    points: jax.typing.ArrayLike,
    *,
    metric: Metric = "l2",
    mask: jax.typing.ArrayLike | None = None,
    algorithm: Algorithm = "auto",
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
        ``metric="precomputed"`` (read from its upper triangle, the entries
        ``[i, j]`` with ``i < j``: the lower triangle and the diagonal are
        ignored, so a symmetric matrix and its upper triangle alone give the
        same result; only the entries of the critical edges receive
        gradient). bf16/fp16/int inputs are computed in float32; float64
        stays float64 when x64 is enabled.
      metric: "l2" ("euclidean"; default, as in GUDHI, ripser, giotto-ph
        and torch-topological), "l1" ("manhattan"; the COREL paper's latent
        metric), "sqeuclidean", "linf" ("chebyshev"), a Minkowski exponent
        ``p >= 1`` (float, or ``("minkowski", p)``), or "precomputed"
        (:data:`~corel_jax.persistence.Metric`).
      mask: optional ``(n,)`` bool marking the real points of a padded cloud
        (so clouds of different sizes batch under ``vmap``). With ``m`` real
        points, slots ``[0, m - 1)`` hold the real deaths ascending, slots
        ``[m - 1, n - 1)`` hold ``deaths = +inf``, ``edges = (-1, -1)``,
        ``valid = False``. With ``m <= 1`` every slot is padding.
      algorithm: "auto" (default: picked per platform and size by
        measurement), "native" (the C++ Prim kernel on CPU, the XLA
        "matrix_free" loop elsewhere), "pallas" (the Pallas kernels on
        CUDA/ROCm, interpret mode on CPU, "boruvka" on TPU), "boruvka"
        (``O(log n)`` rounds in plain XLA), "dense" (XLA Prim loop over a
        precomputed ``(n, n)`` matrix) or "matrix_free" (XLA Prim loop,
        ``O(n d)`` memory). The Prim implementations build the same tree up
        to floating-point rounding of near-ties; Borůvka's edges may differ
        on exact ties (its own tie rule), its deaths never. See the module
        docstring.
      sort: if True (default), slots are in ascending order of death (ties
        in slot order). If False, slot ``k`` holds the edge stored for vertex
        ``k`` (or ``k + 1`` past the root: for Prim the edge that attached
        the vertex to the tree, rooted at the first real vertex; for
        Borůvka the edge its component was joined by), with padding where
        the vertex is padded: use it when only a symmetric function of the
        deaths is needed (a sum, a loss); it skips a sort that costs about
        as much as the MST itself for small clouds on CPU.

    Returns:
      A :class:`PersistenceH0` with ``deaths`` ``(n - 1,)``, ``edges``
      ``(n - 1, 2)`` int32 and ``valid`` ``(n - 1,)`` bool; its
      :meth:`~PersistenceH0.diagram` is the ``(n, 2)`` ``[birth, death]``
      array other libraries use.

    Raises:
      ValueError: wrong rank, ``n < 2``, a mask of the wrong shape, a
        non-square precomputed matrix, an unknown metric or algorithm, or (in
        eager mode only) non-finite real points. Under ``jit`` non-finite real
        points give all-NaN deaths and a zero gradient instead.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]])
      >>> rips_h0(x).deaths  # Euclidean MST edges: 3 and 4 (not the 5 between 0 and 2)
      Array([3., 4.], dtype=float32)
      >>> rips_h0(x, metric="l1").deaths  # the COREL paper's metric
      Array([3., 4.], dtype=float32)

    References:
      Hofer et al., Connectivity-Optimized Representation Learning via
      Persistent Homology, ICML 2019, Sec. 3;
      ``docs/method.md#0-dimensional-persistence``.
    """
    kind, p = parse_metric(metric)
    points = as_float(points)
    _check_inputs(points, kind, mask, algorithm)
    check_finite_eagerly(points, mask)
    real = jnp.ones(points.shape[:1], bool) if mask is None else jnp.asarray(mask).astype(bool)
    return _rips_h0(points, real, kind, p, algorithm, sort)


# One compiled program for the whole computation, also when called eagerly (op-by-op
# dispatch would compile each of its ~70 operations separately on the first call).
@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _rips_h0(
    points: jax.Array, real: jax.Array, kind: str, p: float, algorithm: str, sort: bool
) -> PersistenceH0:
    """:func:`rips_h0` on checked inputs: ``points`` ``(n, d)`` (or ``(n, n)``), ``real`` ``(n,)``."""
    n = points.shape[0]
    x = lax.stop_gradient(points)
    # Non-finite real points: documented NaN output under jit.
    if kind == "precomputed":
        # Every algorithm reads the upper triangle only (the diagonal is never an edge).
        iota = jnp.arange(n)
        x = jnp.where(iota[:, None] < iota[None, :], x, x.T)
        pairs = real[:, None] & real[None, :] & (iota[:, None] != iota[None, :])
        finite = jnp.all(jnp.isfinite(x) | ~pairs)
    else:
        finite = jnp.all(jnp.isfinite(x) | ~real[:, None])
    x = jnp.where(jnp.isfinite(x), x, 0.0)

    edges, valid = _mst_edges(x, real, kind, p, algorithm)
    if kind == "precomputed":
        lengths = _precomputed_lengths(points, edges, valid)
    else:
        lengths = _edge_lengths(points, edges, valid & finite, kind, p)

    deaths = jnp.where(finite, lengths, jnp.nan)
    if not sort:
        return PersistenceH0(deaths=deaths, edges=edges, valid=valid)
    # Ascending order; a stable sort keeps ties (and the +inf padding) in
    # slot order.
    order = jnp.argsort(lax.stop_gradient(lengths), stable=True)
    return PersistenceH0(deaths=deaths[order], edges=edges[order], valid=valid[order])
