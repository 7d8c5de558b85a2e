r"""Exact, differentiable distances between 0-dimensional Rips diagrams.

A 0-dimensional Vietoris-Rips diagram has all births at 0, so it is a vector
of death times. Every function here takes it in either of two forms:

* a vector ``(n,)`` of death times, e.g. ``rips_h0(x).deaths``;
* an ``(n, 2)`` array of ``[birth, death]`` rows with births 0, the format of
  GUDHI, ripser, giotto-ph and torch-topological, e.g.
  ``rips_h0(x).diagram()`` (``rips_h0(x).intervals()`` or GUDHI's
  ``persistence_intervals_in_dimension(0)`` of a Rips complex).

Infinite deaths (the essential class ``[0, inf]``, and the padding of masked
clouds in the first form) are left out: two H0 diagrams of non-empty clouds
have one essential class each, matched to each other at no cost, which is
how GUDHI's distances treat them too. Both forms give the same distances
(tested).

Between two such diagrams ``a`` (``n`` deaths) and ``b``
(``m`` deaths), with the l-infinity ground metric of persistence diagrams,

* a point ``(0, a_i)`` is ``|a_i - b_j|`` from a point ``(0, b_j)``;
* it is ``a_i / 2`` from the diagonal (its nearest diagonal point is
  ``(a_i / 2, a_i / 2)``).

The ``q``-Wasserstein distance is the smallest ``(sum of cost^q)^(1/q)`` and
the bottleneck distance the smallest largest cost, over all partial matchings
of the points, where unmatched points go to the diagonal.

Algorithm
---------
All points lie on one line, and a convex function of ``|a - b|`` (``t^q``,
``q >= 1``, and likewise the maximum) has the Monge property: for
``a_1 <= a_2`` and ``b_1 <= b_2``,

.. math::
  c(a_1, b_1) + c(a_2, b_2) \le c(a_1, b_2) + c(a_2, b_1).

So two crossing matched pairs can always be uncrossed at no extra cost, and
some optimal matching pairs the matched points of ``a`` and ``b`` in sorted
order. Optimal matchings of that form are sequence alignments with gaps, found
exactly by the dynamic programme over sorted deaths

.. math::
  D_{i,j} = \min\bigl(D_{i-1,j} \otimes \delta(a_i),\;
                      D_{i,j-1} \otimes \delta(b_j),\;
                      D_{i-1,j-1} \otimes c(a_i, b_j)\bigr),

with ``⊗ = +`` and ``δ(t) = (t/2)^q``, ``c = |a_i - b_j|^q`` for Wasserstein,
and ``⊗ = max``, ``δ(t) = t/2``, ``c = |a_i - b_j|`` for the bottleneck. The
programme runs row by row (a ``lax.scan`` over ``a``, so shapes are static);
the in-row recurrence ``D_{i,j} = min(u_j, D_{i,j-1} ⊗ δ(b_j))`` is a
composition of maps ``x -> min(u, x ⊗ w)``, which are closed under
composition, so each row is one ``lax.associative_scan`` (``O(m log m)``
work, no subtraction of prefix sums, hence no cancellation).

The value is differentiable almost everywhere (autodiff through ``min``/``max``
picks the optimal matching, Danskin-style): the gradient of a death reaches it
through its matched partner's cost or its diagonal cost only.

References:
  Cohen-Steiner, Edelsbrunner, Harer. Stability of persistence diagrams.
  Discrete Comput. Geom., 2007 (bottleneck distance).
  Burkard, Klinz, Rudolf. Perspectives of Monge properties in optimization.
  Discrete Appl. Math., 1996.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from corel_jax.persistence import Metric, rips_h0

__all__ = ["bottleneck_distance", "diagram_loss", "wasserstein_distance"]

_Combine = Callable[[jax.Array, jax.Array], jax.Array]


def _death_column(diagram: jax.Array, name: str) -> jax.Array:
    """The deaths of an ``(n, 2)`` ``[birth, death]`` diagram; births must be 0.

    Checked eagerly (a JAX tracer is taken as is): a non-zero finite birth is
    not a 0-dim Rips diagram, and these distances would be wrong for it.
    """
    births = diagram[:, 0]
    if not isinstance(births, jax.core.Tracer):
        b = np.asarray(births)
        if np.any(np.isfinite(b) & (b != 0)):
            raise ValueError(
                f"{name} has births other than 0; these distances are for 0-dim Rips diagrams, "
                "whose classes are all born at 0."
            )
    return diagram[:, 1]


def _sorted_deaths(deaths: jax.typing.ArrayLike, mask, name: str) -> jax.Array:
    """Ascending deaths with absent points (masked out or non-finite) set to 0.

    A death of 0 is a point on the diagonal: it costs nothing unmatched and is
    never better matched, so it stands for "no point" without changing shapes.
    """
    d = jnp.asarray(deaths)
    if d.ndim == 2 and d.shape[1] == 2:
        d = _death_column(d, name)
    if d.ndim != 1:
        raise ValueError(
            f"{name} must be a vector of death times (n,) or an (n, 2) array of [birth, death] "
            f"rows; got shape {d.shape}."
        )
    if not jnp.issubdtype(d.dtype, jnp.floating):
        d = d.astype(jnp.float32)
    present = jnp.isfinite(d)
    if mask is not None:
        if jnp.shape(mask) != d.shape:
            raise ValueError(
                f"The mask of {name} must have shape {d.shape}; got {jnp.shape(mask)}."
            )
        present = present & jnp.asarray(mask, bool)
    d = jnp.where(present, d, 0.0)
    return d[jnp.argsort(lax.stop_gradient(d))]


def _alignment_cost(
    a: jax.Array,
    b: jax.Array,
    diag_a: jax.Array,
    diag_b: jax.Array,
    match: jax.Array,
    times: _Combine,
) -> jax.Array:
    """The dynamic programme's ``D[n, m]`` in the semiring ``(min, times)``.

    Args:
      a, b: sorted deaths ``(n,)``, ``(m,)`` (only their sizes are used here).
      diag_a, diag_b: the cost of leaving each point unmatched.
      match: ``(n, m)`` cost of matching ``a_i`` with ``b_j``.
      times: ``jnp.add`` (Wasserstein) or ``jnp.maximum`` (bottleneck).
    """
    n, m = a.shape[0], b.shape[0]
    reduce = jnp.sum if times is jnp.add else jnp.max
    if n == 0 or m == 0:
        rest = diag_b if n == 0 else diag_a
        return reduce(rest) if rest.size else jnp.zeros((), a.dtype)

    # Prefix "products" of diag_b: row 0 (no point of a used yet).
    first_row = lax.associative_scan(times, diag_b)
    first_row = jnp.concatenate([jnp.zeros((1,), a.dtype), first_row])

    def compose(earlier, later):
        # (x -> min(A1, x ⊗ W1)) followed by (x -> min(A2, x ⊗ W2)).
        a1, w1 = earlier
        a2, w2 = later
        return jnp.minimum(a2, times(a1, w2)), times(w1, w2)

    def row(prev, inputs):
        da, cost = inputs
        start = times(prev[0], da)
        reach = jnp.minimum(times(prev[1:], da), times(prev[:-1], cost))
        best, through = lax.associative_scan(compose, (reach, diag_b))
        return jnp.concatenate([start[None], jnp.minimum(best, times(start, through))]), None

    last, _ = lax.scan(row, first_row, (diag_a, match))
    return last[-1]


def _check_order(order: float) -> float:
    if isinstance(order, bool) or not isinstance(order, int | float):
        raise TypeError(f"order must be a number; got {order!r}.")
    if not order >= 1.0:
        raise ValueError(f"order must be >= 1 (or inf for the bottleneck distance); got {order}.")
    return float(order)


def wasserstein_distance(
    a: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike,
    *,
    order: float = 1.0,
    mask_a: jax.typing.ArrayLike | None = None,
    mask_b: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""The ``q``-Wasserstein distance between two 0-dim Rips diagrams, exactly.

    .. math::
      W_q(a, b) = \Bigl(\min_{\gamma} \sum_{(i, j) \in \gamma} |a_i - b_j|^q
        + \sum_{i \notin \gamma} (a_i / 2)^q + \sum_{j \notin \gamma} (b_j / 2)^q\Bigr)^{1/q}

    over partial matchings ``γ`` (births 0, l-infinity ground metric); equal to
    gudhi's ``wasserstein_distance(..., order=q, internal_p=inf)``. Computed
    by the exact dynamic programme of this module's docstring.

    Args:
      a: ``(n,)`` death times, e.g. ``rips_h0(x).deaths``, or ``(n, 2)``
        ``[0, death]`` rows, e.g. ``rips_h0(x).diagram()``; infinite deaths
        (padding, the essential class) are ignored.
      b: likewise, ``(m,)`` or ``(m, 2)``; ``m`` may differ from ``n``.
      order: ``q >= 1``; ``inf`` gives :func:`bottleneck_distance`.
      mask_a: optional ``(n,)`` bool, False for entries (rows) of ``a`` to ignore.
      mask_b: likewise for ``b``.

    Returns:
      A scalar, differentiable in ``a`` and ``b`` (``jax.vmap`` for batches).

    Examples:
      >>> import jax.numpy as jnp
      >>> wasserstein_distance(jnp.array([1.0, 3.0]), jnp.array([2.0]))  # 3-2 and 1/2
      Array(1.5, dtype=float32)
    """
    order = _check_order(order)
    if math.isinf(order):
        return bottleneck_distance(a, b, mask_a=mask_a, mask_b=mask_b)
    a = _sorted_deaths(a, mask_a, "a")
    b = _sorted_deaths(b, mask_b, "b")
    dtype = jnp.result_type(a.dtype, b.dtype)
    a, b = a.astype(dtype), b.astype(dtype)
    power = lambda t: jnp.abs(t) ** order
    total = _alignment_cost(
        a, b, power(a / 2), power(b / 2), power(a[:, None] - b[None, :]), jnp.add
    )
    if order == 1.0:
        return total
    # The root has an infinite slope at 0 (identical diagrams): give it a zero gradient there.
    positive = total > 0
    return jnp.where(positive, jnp.where(positive, total, 1.0) ** (1.0 / order), 0.0)


def bottleneck_distance(
    a: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike,
    *,
    mask_a: jax.typing.ArrayLike | None = None,
    mask_b: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""The bottleneck distance between two 0-dim Rips diagrams, exactly.

    .. math::
      W_\infty(a, b) = \min_{\gamma} \max\Bigl(\max_{(i, j) \in \gamma} |a_i - b_j|,
        \max_{i \notin \gamma} a_i / 2, \max_{j \notin \gamma} b_j / 2\Bigr)

    (births 0, l-infinity ground metric); equal to ``gudhi.bottleneck_distance``.

    Args:
      a: ``(n,)`` death times or ``(n, 2)`` ``[0, death]`` rows; infinite
        deaths are ignored.
      b: likewise, ``(m,)`` or ``(m, 2)``.
      mask_a: optional ``(n,)`` bool, False for entries (rows) of ``a`` to ignore.
      mask_b: likewise for ``b``.

    Returns:
      A scalar; its gradient reaches the one bottleneck pair (or point).

    Examples:
      >>> import jax.numpy as jnp
      >>> bottleneck_distance(jnp.array([1.0, 3.0]), jnp.array([2.0]))  # 3-2, 1/2
      Array(1., dtype=float32)
    """
    a = _sorted_deaths(a, mask_a, "a")
    b = _sorted_deaths(b, mask_b, "b")
    dtype = jnp.result_type(a.dtype, b.dtype)
    a, b = a.astype(dtype), b.astype(dtype)
    return _alignment_cost(a, b, a / 2, b / 2, jnp.abs(a[:, None] - b[None, :]), jnp.maximum)


def diagram_loss(
    z: jax.typing.ArrayLike,
    target_deaths: jax.typing.ArrayLike,
    *,
    metric: Metric = "l2",
    order: float = 1.0,
    mask: jax.typing.ArrayLike | None = None,
    target_mask: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Distance from a batch's 0-dim Rips diagram to a target diagram.

    .. math::
      L(z) = W_q\bigl(\mathrm{deaths}(z), \mathrm{target}\bigr)

    Minimising it moves the codes so that their MST edge lengths match the
    target's death times (e.g. the data batch's diagram, or a fixed
    prescribed one); ``order=inf`` uses the bottleneck distance. The target
    may have any number of deaths.

    Args:
      z: ``(B, d)`` codes.
      target_deaths: ``(m,)`` target death times, or an ``(m, 2)`` diagram
        of ``[0, death]`` rows (e.g. ``rips_h0(x).diagram()`` of a data batch).
      metric: the latent metric, see :func:`corel_jax.persistence.rips_h0`
        ("l2" by default, as there).
      order: ``q >= 1`` or ``inf``.
      mask: optional ``(B,)`` bool marking the real codes of a padded batch.
      target_mask: optional ``(m,)`` bool for the target.

    Returns:
      A scalar; gradients reach ``z`` through the critical edges of its MST.

    Examples:
      >>> import jax.numpy as jnp
      >>> z = jnp.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])  # deaths 1, 2
      >>> diagram_loss(z, jnp.array([1.0, 2.0]))
      Array(0., dtype=float32)
    """
    deaths = rips_h0(z, metric=metric, mask=mask, sort=False).deaths
    return wasserstein_distance(deaths, target_deaths, order=order, mask_b=target_mask)
