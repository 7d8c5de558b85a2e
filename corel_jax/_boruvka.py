"""Borůvka's minimum spanning tree in plain XLA: O(log n) rounds (private).

Behind ``rips_h0(..., algorithm="boruvka")``, and the round structure of the
large-cloud GPU path (where the search below is a Pallas kernel,
:mod:`corel_jax._pallas_search`).

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

Search variants: ``"dense"`` computes the ``(n, n)`` matrix once and masks it
every round; ``"tiled"`` recomputes rows of distances in blocks of
``block`` vertices every round (``O(n d + block n)`` memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax import _distances, _prim_xla

# A search: (comp (n,) int32) -> (best distance (n,), best vertex (n,) int32).
Search = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


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

    def search(comp):
        keep = (comp[:, None] != comp[None, :]) & mask[None, :] & mask[:, None]
        return _masked_argmin(dist, keep)

    return search


def tiled_search(x: jax.Array, mask: jax.Array, kind: str, p: float, block: int) -> Search:
    """Nearest other-component vertex, computing rows in blocks of ``block``."""
    n, d = x.shape
    blocks = -(-n // block)
    pad = blocks * block - n
    xb = jnp.pad(x, ((0, pad), (0, 0))).reshape(blocks, block, d)
    mb = jnp.pad(mask, (0, pad)).reshape(blocks, block)

    def search(comp):
        cb = jnp.pad(comp, (0, pad), constant_values=-1).reshape(blocks, block)

        def one(args):
            rows, rmask, rcomp = args
            dist = _distances.pairwise(rows, x, kind, p)
            keep = (rcomp[:, None] != comp[None, :]) & mask[None, :] & rmask[:, None]
            return _masked_argmin(dist, keep)

        bd, bw = lax.map(one, (xb, mb, cb))
        return bd.reshape(-1)[:n], bw.reshape(-1)[:n]

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
        comp, _, _, progress = state
        return progress & (components(comp) > 1)

    def body(state):
        comp, src, dst, _ = state
        bd, bw = search(comp)
        eu, has = _select(bd, bw, comp)
        ew = bw[eu]
        target = jnp.where(has, comp[ew], iota)
        # Mutual pairs chose the same edge: the smaller label stays a root.
        hook = has & ~((target[target] == iota) & (iota < target))
        src, dst = jnp.where(hook, eu, src), jnp.where(hook, ew, dst)
        ptr = jnp.where(hook, target, iota)
        for _ in range(jumps):
            ptr = ptr[ptr]
        return ptr[comp], src, dst, jnp.any(hook)

    # The first round runs outside the loop, so the loop's carry already
    # varies (under shard_map) like the data it is computed from.
    state = body((iota, iota, iota, jnp.array(True)))
    comp, src, dst, _ = lax.while_loop(cond, body, state)
    root = comp[_prim_xla.first_real(mask)]
    return src, dst, root


# Above this many matrix entries the search recomputes rows instead of
# storing the matrix (the same bound as the dense Prim loop).
DENSE_MAX_ENTRIES = 4096 * 4096
TILE_ROWS = 256


def boruvka_tree(
    x: jax.Array, mask: jax.Array, kind: str, p: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Borůvka's MST of points ``(n, d)`` (or an ``(n, n)`` matrix) in plain XLA."""
    n = x.shape[0]
    if kind == "precomputed" or n * n <= DENSE_MAX_ENTRIES:
        search = dense_search(symmetric_matrix(x, kind, p), mask)
    else:
        search = tiled_search(x, mask, kind, p, TILE_ROWS)
    return boruvka(search, mask)
