r"""Exact, differentiable distances between 0-dimensional persistence diagrams.

Every function here takes a diagram in any of these forms:

* a vector ``(n,)`` of death times with births 0 (a Vietoris-Rips diagram),
  e.g. ``rips_h0(x).deaths``;
* an ``(n, 2)`` array of ``[birth, death]`` rows, the format of GUDHI,
  ripser, giotto-ph and torch-topological, e.g. ``rips_h0(x).diagram()``,
  ``cubical_h0(image).diagram()`` or GUDHI's
  ``persistence_intervals_in_dimension(0)``;
* a result of :mod:`corel_jax.persistence` itself (any :class:`~corel_jax.persistence.H0Diagram`:
  a :class:`~corel_jax.persistence.PersistenceH0` or a
  :class:`~corel_jax.persistence.GraphH0`), read through its ``diagram()``.

Non-finite deaths are left out: essential classes (``[b, inf]``; superlevel:
``[b, -inf]``) and padding. A Rips diagram has one essential class, matched to
the other's at no cost (as GUDHI's distances do); those of graphs and images
(one per component) are for the user to compare, e.g. their numbers.
Zero-length pairs and ``[0, 0]`` padding lie on the diagonal and change no
distance; points below it (superlevel filtrations) are measured alike.

Diagrams with births other than 0 (graphs, images) are matched by an exact
assignment solver on the host (SciPy, a ``jax.pure_callback``: it runs under ``jit``
and ``vmap``, on every backend, but synchronises with the host; traced ``(n, 2)``
rows take the path their births select, by ``lax.cond``); the rest of this
docstring is the algorithm for births 0. Each distance is one compiled program,
also when called outside ``jit``.

Between two such diagrams ``a`` (``n`` deaths) and ``b`` (``m`` deaths), with the
l-infinity ground metric, a point ``(0, a_i)`` is ``|a_i - b_j|`` from ``(0, b_j)``
and ``a_i / 2`` from the diagonal (nearest at ``(a_i / 2, a_i / 2)``). The
``q``-Wasserstein distance is the smallest ``(sum of cost^q)^(1/q)`` and the
bottleneck distance the smallest largest cost over all partial matchings of the
points, unmatched points going to the diagonal.

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

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from corel_jax._extras import require
from corel_jax.persistence import H0Diagram, Metric, PersistenceH0, cubical_h0, rips_h0

__all__ = ["bottleneck_distance", "cubical_diagram_loss", "diagram_loss", "wasserstein_distance"]

_Combine = Callable[[jax.Array, jax.Array], jax.Array]


def _points(x, mask, name: str) -> tuple[jax.Array, bool | None]:
    """Checks a diagram in any accepted form; returns it as ``(k,)`` deaths or ``(k, 2)``
    rows, and whether the births of its present points are all 0 where known before
    tracing (None: traced rows)."""
    zero: bool | None = None
    if isinstance(x, H0Diagram):
        zero = isinstance(x, PersistenceH0)
        x = x.diagram()
    rows = jnp.asarray(x)
    if rows.ndim == 1:
        zero = True
    elif rows.ndim != 2 or rows.shape[1] != 2:
        raise ValueError(
            f"{name} must be a vector of death times (n,), an (n, 2) array of [birth, death] "
            f"rows or a corel_jax.persistence result; got shape {rows.shape}."
        )
    if mask is not None and jnp.shape(mask) != rows.shape[:1]:
        raise ValueError(
            f"The mask of {name} must have shape {rows.shape[:1]}; got {jnp.shape(mask)}."
        )
    if zero is None and not any(isinstance(t, jax.core.Tracer) for t in (rows, mask)):
        r = np.asarray(rows, np.float64)
        present = np.isfinite(r[:, 1]) & (True if mask is None else np.asarray(mask, bool))
        zero = not np.any(r[present, 0])
    return rows, zero


def _rows(x: jax.Array, mask) -> jax.Array:
    """``(k, 2)`` rows, absent points (masked, non-finite) as ``[0, 0]``: on the diagonal,
    it costs nothing unmatched and is never better matched, so it stands for "no point"."""
    if x.ndim == 1:
        x = jnp.stack([jnp.zeros_like(x), x], axis=-1)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    present = jnp.isfinite(x[:, 1])
    if mask is not None:
        present = present & jnp.asarray(mask, bool)
    return jnp.where(present[:, None], x, 0.0)


def _assign(a: np.ndarray, b: np.ndarray, order: float) -> np.ndarray:
    """An optimal partial matching of two diagrams, on the host: ``a``'s partners in ``b``.

    Points on the diagonal are left out (they are never better matched). The
    rest is an assignment problem on the ``(p + r)``-square cost matrix of
    ``p`` points of ``a`` and ``r`` diagonal slots against ``r`` points of
    ``b`` and ``p`` diagonal slots (Edelsbrunner and Harer, 2010, Ch. VIII),
    solved by ``scipy.optimize.linear_sum_assignment`` (Wasserstein) or by a
    binary search over the costs with maximum bipartite matchings
    (bottleneck). Returns ``(n,)`` int32, -1 for points left unmatched.
    """
    partner = np.full(len(a), -1, np.int32)
    half_a, half_b = np.abs(a[:, 1] - a[:, 0]) / 2, np.abs(b[:, 1] - b[:, 0]) / 2
    ia, ib = np.flatnonzero(half_a > 0), np.flatnonzero(half_b > 0)
    p, r = len(ia), len(ib)
    if p == 0 or r == 0:
        return partner
    cost = np.max(np.abs(a[ia, None, :] - b[None, ib, :]), axis=-1)
    full = np.zeros((p + r, r + p))
    full[:p, :r], full[:p, r:], full[p:, :r] = cost, half_a[ia, None], half_b[None, ib]
    if math.isinf(order):
        graph = require("scipy.sparse.csgraph", purpose="distances between diagrams with births")
        sparse = require("scipy.sparse", purpose="distances between diagrams with births")
        values = np.unique(full)

        def match(t):  # the column of each row in a maximum matching by the costs <= t
            below = sparse.csr_matrix(full <= t)
            return graph.maximum_bipartite_matching(below, perm_type="column")

        lo, hi = 0, len(values) - 1
        while lo < hi:  # the smallest threshold with a perfect matching
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if np.all(match(values[mid]) >= 0) else (mid + 1, hi)
        rows, cols = np.arange(p + r), match(values[lo])
    else:
        optimize = require("scipy.optimize", purpose="distances between diagrams with births")
        rows, cols = optimize.linear_sum_assignment(full**order)
    real = (rows < p) & (cols < r)
    partner[ia[rows[real]]] = ib[cols[real]]
    return partner


def _general_costs(a: jax.Array, b: jax.Array, order: float) -> tuple[jax.Array, jax.Array]:
    """Each point's cost in an optimal matching (found on the host): the l-inf distance
    to its partner (counted once, with ``a``) or ``|death - birth| / 2`` to the diagonal.
    Differentiable: the matching is locally constant (Danskin)."""
    partner = jax.pure_callback(
        lambda x, y: _assign(np.asarray(x, np.float64), np.asarray(y, np.float64), order),
        jax.ShapeDtypeStruct(a.shape[:1], jnp.int32),
        lax.stop_gradient(a),
        lax.stop_gradient(b),
        vmap_method="sequential",
    )
    matched = partner >= 0
    to_partner = jnp.max(jnp.abs(a - b[jnp.maximum(partner, 0)]), axis=-1)
    cost_a = jnp.where(matched, to_partner, jnp.abs(a[:, 1] - a[:, 0]) / 2)
    slot = jnp.where(matched, partner, b.shape[0])
    used = jnp.zeros(b.shape[:1], bool).at[slot].set(True, mode="drop")
    cost_b = jnp.where(used, 0.0, jnp.abs(b[:, 1] - b[:, 0]) / 2)
    return cost_a, cost_b


def _distance(a, b, order: float, mask_a, mask_b, *, any_births: bool = False) -> jax.Array:
    """``W_order`` (``inf``: bottleneck) between two diagrams in any accepted form."""
    (a, zero_a), (b, zero_b) = _points(a, mask_a, "a"), _points(b, mask_b, "b")
    return _distance_rows(a, b, mask_a, mask_b, order, False if any_births else zero_a, zero_b)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))  # one program, also called eagerly
def _distance_rows(a, b, mask_a, mask_b, order: float, zero_a, zero_b) -> jax.Array:
    a, b = _rows(a, mask_a), _rows(b, mask_b)
    dtype = jnp.result_type(a.dtype, b.dtype)
    a, b = a.astype(dtype), b.astype(dtype)
    bottleneck = math.isinf(order)
    if a.shape[0] == 0 or b.shape[0] == 0:  # (static shapes) every point to the diagonal
        half = jnp.abs(jnp.concatenate([a[:, 1] - a[:, 0], b[:, 1] - b[:, 0]])) / 2
        if bottleneck:
            return jnp.max(half, initial=0.0)
        total = jnp.sum(jnp.abs(half) ** order)
    else:

        def births_zero():
            da, db = (t[jnp.argsort(lax.stop_gradient(t))] for t in (a[:, 1], b[:, 1]))
            if bottleneck:
                diff = jnp.abs(da[:, None] - db[None, :])
                return _alignment_cost(da, db, da / 2, db / 2, diff, jnp.maximum)
            power = lambda t: jnp.abs(t) ** order
            diff = power(da[:, None] - db[None, :])
            return _alignment_cost(da, db, power(da / 2), power(db / 2), diff, jnp.add)

        def with_births():
            cost_a, cost_b = _general_costs(a, b, order)
            if bottleneck:
                return jnp.maximum(jnp.max(cost_a), jnp.max(cost_b))
            return jnp.sum(jnp.abs(cost_a) ** order) + jnp.sum(jnp.abs(cost_b) ** order)

        if zero_a and zero_b:
            total = births_zero()
        elif zero_a is False or zero_b is False:
            total = with_births()
        else:  # traced rows: decided at run time
            zero = jnp.all(a[:, 0] == 0) & jnp.all(b[:, 0] == 0)
            total = lax.cond(zero, births_zero, with_births)
    if bottleneck or order == 1.0:
        return total
    # The root has an infinite slope at 0 (identical diagrams): give it a zero gradient there.
    positive = total > 0
    return jnp.where(positive, jnp.where(positive, total, 1.0) ** (1.0 / order), 0.0)


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
    r"""The ``q``-Wasserstein distance between two 0-dim diagrams, exactly.

    .. math::
      W_q(a, b) = \Bigl(\min_{\gamma} \sum_{(i, j) \in \gamma} \|a_i - b_j\|_\infty^q
        + \sum_{i \notin \gamma} (|a_i| / 2)^q + \sum_{j \notin \gamma} (|b_j| / 2)^q\Bigr)^{1/q}

    over partial matchings ``γ`` of the finite points (l-infinity ground
    metric; ``|a_i|`` is the point's persistence ``|death - birth|``); equal
    to gudhi's ``wasserstein_distance(..., order=q, internal_p=inf)`` of the
    finite parts. Births 0: the exact dynamic programme of this module's
    docstring; other births: an exact assignment on the host (SciPy).

    Args:
      a: ``(n,)`` death times, e.g. ``rips_h0(x).deaths``, ``(n, 2)``
        ``[birth, death]`` rows, e.g. ``cubical_h0(image).diagram()``, or a
        result such as ``graph_h0(f, edges)``; non-finite deaths
        (padding, essential classes) are ignored.
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
    return _distance(a, b, _check_order(order), mask_a, mask_b)


def bottleneck_distance(
    a: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike,
    *,
    mask_a: jax.typing.ArrayLike | None = None,
    mask_b: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""The bottleneck distance between two 0-dim diagrams, exactly.

    .. math::
      W_\infty(a, b) = \min_{\gamma} \max\Bigl(\max_{(i, j) \in \gamma} \|a_i - b_j\|_\infty,
        \max_{i \notin \gamma} |a_i| / 2, \max_{j \notin \gamma} |b_j| / 2\Bigr)

    (l-infinity ground metric, ``|a_i|`` the persistence); equal to
    ``gudhi.bottleneck_distance`` of the finite parts.

    Args:
      a: ``(n,)`` death times, ``(n, 2)`` ``[birth, death]`` rows or a
        result of :mod:`corel_jax.persistence`; non-finite deaths are ignored.
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
    return _distance(a, b, math.inf, mask_a, mask_b)


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


def _most_persistent(rows: jax.Array, k: int) -> jax.Array:
    """The ``k`` rows of ``(..., n, 2)`` with the largest finite persistence (ties: lower index)."""
    life = jnp.where(jnp.isfinite(rows[..., 1]), jnp.abs(rows[..., 1] - rows[..., 0]), -1.0)
    keep = lax.top_k(lax.stop_gradient(life), k)[1]
    return jnp.take_along_axis(rows, keep[..., None], axis=-2)


def cubical_diagram_loss(
    images: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | H0Diagram,
    *,
    order: float = 1.0,
    superlevel: bool = False,
    connectivity: str = "full",
    top_k: int | None = None,
) -> jax.Array:
    r"""Mean distance from a batch of images' cubical H0 diagrams to target diagrams.

    .. math::
      L(x) = \frac{1}{B} \sum_{b=1}^{B} W_q\bigl(\mathrm{Dgm}_0(x_b), \mathrm{Dgm}_0(t_b)\bigr)

    where ``Dgm_0`` is :func:`~corel_jax.persistence.cubical_h0`'s diagram
    (sublevel or superlevel sets) and ``W_q`` :func:`wasserstein_distance`
    (``order=inf``: :func:`bottleneck_distance`) of the finite pairs, so the
    loss compares the images' blobs (their number, depth and height), not
    their pixels: a topological term for segmentation or denoising maps
    (Hu et al., 2019; Clough et al., 2020). Its gradient reaches the birth
    and death pixels of the matched pairs only (exact where the pixel values
    are distinct). The essential class of each image (one per image: the
    whole grid is connected) is left out.

    Args:
      images: ``(B, H, W)`` or ``(B, H, W, D)`` float, e.g. a model's output
        maps.
      targets: images of the same shape (their diagrams are computed alike;
        gradients reach them too: ``lax.stop_gradient`` for a fixed target),
        ``(B, k, 2)`` ``[birth, death]`` rows, or a batched
        :class:`~corel_jax.persistence.H0Diagram` such as
        ``jax.vmap(cubical_h0)(clean)``.
      order: ``q >= 1``, or ``inf`` for the bottleneck distance.
      superlevel: filter by decreasing values (bright blobs on a dark ground).
      connectivity: "full" (8 / 26 neighbours) or "faces" (4 / 6).
      top_k: compare only the ``top_k`` most persistent pairs of each diagram
        (the others count as on the diagonal: the loss then differs from the
        full distance by at most their half-lifetimes' ``q``-norm); smaller
        assignment problems. None (default): every pair.

    Returns:
      A scalar; the matchings are solved on the host (this module's docstring).

    Raises:
      ValueError: images of another rank, targets of another shape, or
        ``top_k`` outside ``[1, H W (D)]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> two = jnp.array([[[0.0, 1.0, 0.0]]])  # two minima joined at 1
      >>> cubical_diagram_loss(two, jnp.zeros((1, 1, 3)))  # [0, 1] to the diagonal: 1/2
      Array(0.5, dtype=float32)
    """
    order = _check_order(order)
    x = jnp.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (B, H, W) or (B, H, W, D); got shape {x.shape}.")
    one = lambda image: cubical_h0(image, connectivity=connectivity, superlevel=superlevel)
    if isinstance(targets, H0Diagram):
        target_rows = targets.diagram()
    else:
        t = jnp.asarray(targets)
        if t.shape == x.shape:
            target_rows = jax.vmap(one)(t).diagram()
        elif t.ndim == 3 and t.shape[0] == x.shape[0] and t.shape[2] == 2:
            target_rows = t
        else:
            raise ValueError(
                f"targets must be images of the shape of images {x.shape} or (B, k, 2) "
                f"diagrams; got shape {t.shape}."
            )
    if target_rows.ndim != 3 or target_rows.shape[0] != x.shape[0]:
        raise ValueError(f"targets must be a batch of {x.shape[0]} diagrams.")
    rows = jax.vmap(one)(x).diagram()
    if top_k is not None:
        if not 1 <= top_k <= rows.shape[1]:
            raise ValueError(f"top_k must be in [1, {rows.shape[1]}]; got {top_k}.")
        rows = _most_persistent(rows, top_k)
        target_rows = _most_persistent(target_rows, min(top_k, target_rows.shape[1]))
    distance = lambda a, b: _distance(a, b, order, None, None, any_births=True)
    return jnp.mean(jax.vmap(distance)(rows, target_rows))
