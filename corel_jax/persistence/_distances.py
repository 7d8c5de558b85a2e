"""Metrics, pairwise distances and their subgradients (private).

One definition of every metric for the whole package: the public names
(:data:`Metric`, :data:`METRICS`, :func:`parse_metric`,
:func:`pairwise_distances`) are re-exported by :mod:`corel_jax.persistence`;
the minimum-spanning-tree implementations use :func:`norm` (the metric of a
difference vector), :func:`row_fn` (one row of distances computed on the fly)
and :func:`pairwise` (a block of distances). See ``docs/method.md#0-dimensional-persistence``.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["METRICS", "Metric", "MetricName", "parse_metric", "pairwise_distances"]

MetricName: TypeAlias = Literal[
    "l1", "manhattan", "cityblock", "l2", "euclidean", "sqeuclidean", "linf", "chebyshev",
    "precomputed",
]  # fmt: skip
"""The metrics that have a name (``"l2"`` and ``"euclidean"`` are one metric)."""

Metric: TypeAlias = MetricName | float | tuple[Literal["minkowski"], float]
"""A metric: a name, a Minkowski exponent ``p >= 1`` (a float), or ``("minkowski", p)``."""

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
# Below this width distances are sums unrolled over the coordinates: one fused
# elementwise kernel, about twice as fast on XLA:CPU as a minor-axis reduction.
UNROLL_MAX_DIM = 32


def parse_metric(metric: Metric | str | tuple[str, float]) -> tuple[str, float]:
    """Returns ``(kind, p)`` for a metric spec; raises ValueError if unknown.

    ``kind`` is one of "l1", "l2", "sqeuclidean", "linf", "minkowski",
    "precomputed"; ``p`` is the Minkowski exponent (meaningful for
    "minkowski" only). Minkowski with p = 1, 2, inf is mapped to l1, l2, linf.

    Examples:
      >>> parse_metric("manhattan"), parse_metric(("minkowski", 3))
      (('l1', 0.0), ('minkowski', 3.0))
    """
    p: object
    unknown = (
        f"Unknown metric {metric!r}; expected one of {sorted(_ALIASES)}, a Minkowski "
        "exponent p >= 1 (float), or ('minkowski', p)."
    )
    if isinstance(metric, str):
        kind = _ALIASES.get(metric.lower())
        if kind is None:
            raise ValueError(unknown)
        return kind, 0.0
    if isinstance(metric, tuple) and len(metric) == 2 and metric[0] == "minkowski":
        p = metric[1]
    elif isinstance(metric, int | float | np.floating | np.integer) and not isinstance(
        metric, bool
    ):
        p = metric
    else:
        raise ValueError(unknown)
    try:
        p = float(p)  # type: ignore[arg-type, unused-ignore]
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


def norm(diff: jax.Array, kind: str, p: float) -> jax.Array:
    """The metric's norm of ``diff`` over its last axis."""
    if kind == "l1":
        return jnp.sum(jnp.abs(diff), axis=-1)
    if kind == "sqeuclidean":
        return jnp.sum(diff * diff, axis=-1)
    if kind == "l2":
        return jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    if kind == "linf":
        return jnp.max(jnp.abs(diff), axis=-1)
    # Minkowski p: scale by the max to avoid overflow / underflow of |d|^p. (No slicing:
    # the Pallas kernels use this too, and JAX 0.9.0 and older cannot lower a slice there.)
    scale = jnp.max(jnp.abs(diff), axis=-1)
    safe = jnp.where(scale > 0, scale, 1.0)
    return scale * jnp.sum(jnp.abs(diff / safe[..., None]) ** p, axis=-1) ** (1.0 / p)


def norm_grad(diff: jax.Array, kind: str, p: float) -> jax.Array:
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
        n = jnp.sqrt(jnp.sum(diff * diff, axis=-1, keepdims=True))
        return jnp.where(n > 0, diff / jnp.where(n > 0, n, 1.0), 0.0)
    if kind == "linf":
        # d/dx max_k |x_k| = sign(x_k*) e_k* with k* the first maximiser.
        # (Written with min/where rather than argmax so that it also lowers
        # inside the Pallas kernels.)
        a = jnp.abs(diff)
        col = lax.broadcasted_iota(jnp.int32, diff.shape, diff.ndim - 1)
        first = jnp.min(
            jnp.where(a == jnp.max(a, axis=-1, keepdims=True), col, diff.shape[-1]),
            axis=-1,
            keepdims=True,
        )
        return jnp.where(col == first, jnp.sign(diff), 0.0)
    # d/dx ||x||_p = sign(x) |x|^(p-1) / ||x||_p^(p-1) = sign(x) (|x| / ||x||_p)^(p-1).
    n = norm(diff, kind, p)[..., None]
    ratio = jnp.abs(diff) / jnp.where(n > 0, n, 1.0)
    return jnp.where(n > 0, jnp.sign(diff) * ratio ** (p - 1.0), 0.0)


def unrolled_norm(terms: list[jax.Array], kind: str, p: float) -> jax.Array:
    """The norm of a difference given as one array per coordinate.

    The sum runs over the coordinates in order, so ``d(a, b)`` and ``d(b, a)``
    are bitwise equal (Borůvka's total order on edges relies on it).
    """
    if kind == "linf":
        return functools.reduce(jnp.maximum, [jnp.abs(t) for t in terms])
    if kind == "l1":
        return functools.reduce(jnp.add, [jnp.abs(t) for t in terms])
    if kind in ("l2", "sqeuclidean"):
        sq = functools.reduce(jnp.add, [t * t for t in terms])
        return sq if kind == "sqeuclidean" else jnp.sqrt(sq)
    return norm(jnp.stack(terms, axis=-1), kind, p)


def pairwise(x: jax.Array, y: jax.Array, kind: str, p: float, gram: bool = False) -> jax.Array:
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
    if x.shape[-1] <= UNROLL_MAX_DIM and kind != "minkowski":
        terms = [x[:, None, k] - y[None, :, k] for k in range(x.shape[-1])]
        return unrolled_norm(terms, kind, p)
    return norm(x[:, None, :] - y[None, :, :], kind, p)


def row_fn(x: jax.Array, kind: str, p: float):
    """``v -> (n,)`` distances from point ``v`` to all points, computed on the fly.

    The points are laid out as ``(d, n)`` so each term is a contiguous,
    vectorised pass over ``n``; for narrow clouds (``d <= 32``) the sum over
    ``d`` is unrolled into one fused elementwise kernel.
    """
    xt = x.T
    d = xt.shape[0]

    def row(v):
        c = xt[:, v]
        if kind in ("l2", "sqeuclidean") and d > UNROLL_MAX_DIM:
            sq = jnp.sum(xt * xt, axis=0)
            out = jnp.maximum(sq + sq[v] - 2.0 * jnp.dot(c, xt, precision=lax.Precision.HIGHEST), 0)
            return out if kind == "sqeuclidean" else jnp.sqrt(out)
        if d > UNROLL_MAX_DIM or kind == "minkowski":
            return norm((xt - c[:, None]).T, kind, p)
        return unrolled_norm([xt[k] - c[k] for k in range(d)], kind, p)

    return row


def as_float(a: jax.typing.ArrayLike) -> jax.Array:
    """Casts to a float dtype that is at least float32."""
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating) or jnp.finfo(a.dtype).bits < 32:
        a = a.astype(jnp.float32)
    return a


def pairwise_distances(
    x: jax.typing.ArrayLike,
    y: jax.typing.ArrayLike | None = None,
    *,
    metric: Metric = "l2",
) -> jax.Array:
    """Pairwise distances between two point sets.

    Args:
      x: ``(n, d)`` points.
      y: ``(m, d)`` points; defaults to ``x``.
      metric: "l2" ("euclidean"; default), "l1" ("manhattan", the COREL
        paper's), "sqeuclidean", "linf" ("chebyshev"), a Minkowski exponent
        ``p >= 1`` given as a float or as ``("minkowski", p)``.

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
    x = as_float(x)
    y = x if y is None else as_float(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"x and y must have rank 2 (n, d); got shapes {x.shape} and {y.shape}.")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same width; got {x.shape[1]} and {y.shape[1]}.")
    return pairwise(x, y, kind, p)


def check_finite_eagerly(points: jax.Array, mask) -> None:
    """Raises ValueError on non-finite real points, unless we are being traced.

    ``points`` is ``(..., n, d)`` (or ``(n, n)`` distances); ``mask`` is
    ``None`` or ``(n,)`` bool, and masked-out points (rows and, for a square
    matrix, columns) may hold anything.
    """
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
