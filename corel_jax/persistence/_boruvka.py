"""Borůvka's minimum spanning tree in plain XLA: O(log n) rounds (private).

Behind ``rips_h0(..., algorithm="boruvka")``, and the round structure of the
large-cloud GPU path (where the search below is a Pallas kernel,
:mod:`corel_jax.persistence._pallas_search`).

Each round is a handful of whole-array operations, so a cloud needs about
``log2 n`` sequential steps instead of Prim's ``n - 1``:

1. *search*: for every vertex ``u``, its nearest vertex ``w`` in another
   component (a masked argmin over a row of distances);
2. *select*: for every component, the least of its vertices' candidates;
3. *hook*: every component points to the component across its edge; the
   two components of a mutual pair (both chose the same edge) resolve it by
   the smaller label staying a root;
4. *jump*: pointer jumping (``ceil(log2 n)`` gathers) relabels every vertex
   by the root of its component.

Every round at least halves the number of components.

Tie rule (its own, documented in ``docs/persistence_algorithms.md``): edges
are ordered strictly by ``(length, min(i, j), max(i, j))``. Under a strict
total order every component's least outgoing edge is in the (then unique)
minimum spanning tree, so the chosen edges never close a cycle, whatever the
ties. For a fixed vertex ``u`` this order on its edges ``(u, w)`` is just
``(length, w)``, so the search is a first-minimiser argmin. Distances are
computed so that ``d(a, b)`` and ``d(b, a)`` are bitwise equal (the same
sum over coordinates in the same order; the matrix is symmetrised), which
the order needs. The tree may differ from Prim's on exact ties (Prim grows
from a root and keeps the earlier parent); the death times never do.

Output: ``(src, dst, root)``. The edge found by a round for a component is
stored at the slot of the component's label (a vertex index); each label
hooks at most once and the final root never does, so every real vertex but
the root holds exactly one edge ``(src[v], dst[v])``, like Prim's
``(parent[v], v)``.

Searches: :func:`dense_search` masks a given ``(n, n)`` matrix every round
(``metric="precomputed"``); :func:`stale_search` computes rows of distances
in blocks of ``block`` vertices (``O(n d + block n)`` memory), and only for
the *stale* vertices: a vertex's nearest other-component vertex stays its
answer while the two stay apart (the other side only shrinks), so a round
searches again only the vertices whose candidate joined their component.
After the first round (all ``n`` rows) that is about a third of them.

Cost on a CPU (``docs/persistence_algorithms.md``): the first round alone
computes all ``n^2 d`` distance terms, as many as the whole XLA Prim loop, so
on XLA:CPU, where that loop is bound by arithmetic rather than by its ``n``
sequential steps, Borůvka stays about 2x slower at every size. It is for
accelerators, where Prim's steps are the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax.persistence import _distances, _prim_xla

# A search: (comp (n,) int32, stale (n,) bool or None) -> (best distance (n,),
# best vertex (n,) int32), exact at least where ``stale`` (None: everywhere).
Search = Callable[..., tuple[jax.Array, jax.Array]]


def _masked_argmin(dist: jax.Array, keep: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Row minima of ``dist`` over ``keep`` and their first column index."""
    masked = jnp.where(keep, dist, jnp.inf)
    w = jnp.argmin(masked, axis=-1).astype(jnp.int32)
    return jnp.take_along_axis(masked, w[:, None], axis=-1)[:, 0], w


def symmetric_matrix(x: jax.Array, kind: str, p: float) -> jax.Array:
    """The ``(n, n)`` distances, bitwise symmetric.

    Precomputed matrices are read from their upper triangle (the entries
    ``rips_h0`` reads for the deaths); a Gram-form matrix (wide Euclidean
    clouds) is symmetrised by taking the smaller of the two entries.
    """
    if kind == "precomputed":
        iota = jnp.arange(x.shape[0])
        return jnp.where(iota[:, None] < iota[None, :], x, x.T)
    dist = _distances.pairwise(x, x, kind, p, gram=True)
    return jnp.minimum(dist, dist.T)


def dense_search(dist: jax.Array, mask: jax.Array) -> Search:
    """Nearest other-component vertex, reading a symmetric matrix."""

    def search(comp, stale=None):
        keep = (comp[:, None] != comp[None, :]) & mask[None, :] & mask[:, None]
        return _masked_argmin(dist, keep)

    return search


def stale_search(x: jax.Array, mask: jax.Array, kind: str, p: float, block: int) -> Search:
    """Nearest other-component vertex of the ``stale`` vertices only.

    The stale rows are gathered to the front (a stable sort of the flags) and
    their distances computed ``block`` rows at a time, for as many blocks as
    there are stale rows: ``O(stale n d)`` work, ``O(n d + block n)`` memory.
    Rows that are not stale get ``(+inf, 0)``.
    """
    n, d = x.shape
    blocks = -(-n // block)
    pad = blocks * block - n
    unroll = d <= _distances.UNROLL_MAX_DIM and kind != "minkowski"
    xt = x.T  # (d, n): each coordinate's pass over the columns is contiguous

    def distances(rows):
        if not unroll:
            return _distances.pairwise(x[rows], x, kind, p)
        r = x[rows]
        return _distances.unrolled_norm([r[:, k, None] - xt[k][None] for k in range(d)], kind, p)

    def search(comp, stale=None):
        stale = mask if stale is None else stale & mask
        # Stale rows first; the padding slots repeat the last vertex.
        order = jnp.argsort(~stale, stable=True).astype(jnp.int32)
        order = jnp.pad(order, (0, pad), mode="edge")
        count = jnp.sum(stale)

        def tile(t, best):
            rows = lax.dynamic_slice_in_dim(order, t * block, block)
            dist = distances(rows)
            keep = (comp[rows][:, None] != comp[None, :]) & mask[None, :]
            bd, bw = _masked_argmin(dist, keep)
            bd = jnp.where(stale[rows], bd, jnp.inf)
            # A non-stale row met here leaves its slot as it was.
            return best[0].at[rows].min(bd), best[1].at[rows].max(jnp.where(stale[rows], bw, 0))

        # An exact zero that varies (under shard_map) like every input does.
        first = x.reshape(-1)[0]
        zero = jnp.where(jnp.isfinite(first), first, 0).astype(jnp.int32) * 0
        zero = zero + (comp[0] + stale[0] + mask[0]) * 0
        init = (jnp.full((n,), jnp.inf, x.dtype) + zero, jnp.zeros((n,), jnp.int32) + zero)
        return lax.fori_loop(0, -(-count // block), tile, init)

    return search


def _select(bd: jax.Array, bw: jax.Array, comp: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each component's least candidate under ``(length, lo, hi)``.

    Returns ``(eu, has)`` indexed by label: the vertex of the component whose
    candidate edge ``(eu, bw[eu])`` was chosen, and whether there was one.
    """
    n = bd.shape[0]
    u = jnp.arange(n, dtype=jnp.int32)
    lo, hi = jnp.minimum(u, bw), jnp.maximum(u, bw)
    seg = lambda v: jax.ops.segment_min(v, comp, num_segments=n)
    cand = bd < jnp.inf
    best = seg(jnp.where(cand, bd, jnp.inf))
    cand &= bd == best[comp]
    # (lo, hi) as one int32 key where it fits: one segment operation fewer.
    keys = [lo * n + hi] if n * n < 2**31 else [lo, hi]
    for key in keys:
        least = seg(jnp.where(cand, key, jnp.iinfo(jnp.int32).max))
        cand &= key == least[comp]
    # Exactly one vertex per component remains: the edge has one end inside.
    eu = jax.ops.segment_max(jnp.where(cand, u, -1), comp, num_segments=n)
    return jnp.maximum(eu, 0), eu >= 0


def boruvka(search: Search, mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Borůvka's MST over the ``mask`` vertices, given a nearest-neighbour search.

    Args:
      search: see :data:`Search`; must return ``+inf`` for vertices without a
        real vertex in another component (and for padded vertices).
      mask: ``(n,)`` bool, the real vertices.

    Returns:
      ``(src, dst, root)``: ``(n,)`` int32 each and the scalar root; every real
      vertex ``v`` but ``root`` holds the tree edge ``(src[v], dst[v])``.
    """
    n = mask.shape[0]
    iota = jnp.arange(n, dtype=jnp.int32)
    jumps = max(1, math.ceil(math.log2(n)))

    def components(comp):
        return jnp.sum(mask & (comp == iota))

    def cond(state):
        comp, _, _, progress, _, _ = state
        return progress & (components(comp) > 1)

    def body(state):
        comp, src, dst, _, bd, bw = state
        # A vertex's nearest other-component vertex stays so while the two
        # remain apart (the other side only shrinks): search again only the
        # vertices whose candidate joined their component.
        stale = (comp[bw] == comp) | (bd == jnp.inf)
        new_bd, new_bw = search(comp, stale)
        bd, bw = jnp.where(stale, new_bd, bd), jnp.where(stale, new_bw, bw)
        eu, has = _select(bd, bw, comp)
        ew = bw[eu]
        target = jnp.where(has, comp[ew], iota)
        # Mutual pairs chose the same edge: the smaller label stays a root.
        hook = has & ~((target[target] == iota) & (iota < target))
        src, dst = jnp.where(hook, eu, src), jnp.where(hook, ew, dst)
        ptr = jnp.where(hook, target, iota)
        for _ in range(jumps):
            ptr = ptr[ptr]
        return ptr[comp], src, dst, jnp.any(hook), bd, bw

    # The first round runs outside the loop, so the loop's carry already
    # varies (under shard_map) like the data it is computed from.
    none = jnp.full((n,), jnp.inf)
    state = body((iota, iota, iota, jnp.array(True), none, iota))
    comp, src, dst, *_ = lax.while_loop(cond, body, state)
    root = comp[_prim_xla.first_real(mask)]
    return src, dst, root


# Rows of distances per block of the search (memory: O(TILE_ROWS n)).
TILE_ROWS = 256


def boruvka_tree(
    x: jax.Array, mask: jax.Array, kind: str, p: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Borůvka's MST of points ``(n, d)`` (or an ``(n, n)`` matrix) in plain XLA."""
    if kind == "precomputed":
        search = dense_search(symmetric_matrix(x, kind, p), mask)
    else:
        search = stale_search(x, mask, kind, p, min(TILE_ROWS, x.shape[0]))
    return boruvka(search, mask)
