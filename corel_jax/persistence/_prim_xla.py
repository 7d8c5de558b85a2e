"""Prim's minimum spanning tree as an XLA ``fori_loop`` (private).

The portable Prim implementation behind ``rips_h0(..., algorithm="dense")``
and ``"matrix_free"``, and the fallback of ``"native"`` / ``"pallas"`` where
their kernels do not run. It builds the same tree as the C++ and Pallas
kernels: the tie rule is documented in ``docs/persistence_algorithms.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax.persistence import _distances


def first_real(mask: jax.Array) -> jax.Array:
    """The index of the first True of ``mask`` (0 if none), as int32.

    A plain min-reduction: XLA constant-folds it quickly when the mask is a
    constant (an argmax, a variadic reduction, takes seconds at n = 20,000).
    """
    n = mask.shape[0]
    return jnp.min(jnp.where(mask, jnp.arange(n, dtype=jnp.int32), n)) % n


def prim(
    row: Callable[[jax.Array], jax.Array], n: int, mask: jax.Array, dtype, unroll: int = 1
) -> jax.Array:
    """Minimum spanning tree (over the ``mask`` vertices) by Prim's algorithm.

    The loop state is two ``(n,)`` arrays: ``key[v]``, the distance from ``v``
    to the tree (``+inf`` once ``v`` is in the tree, and for padded vertices),
    and ``parent[v]``, the tree vertex that realises it. A vertex's parent is
    frozen when it joins the tree, so the final ``parent`` array *is* the
    tree: ``(parent[v], v)`` for every real vertex ``v`` but the root. Keeping
    no per-step outputs makes the loop body three fused kernels (argmin, row,
    relax), which is what bounds the speed for small clouds.

    Tie rule: the root is the first real vertex; the vertex that joins is the
    first minimiser of the key (smallest index); a relaxation needs a strictly
    shorter distance, so on a tie the earlier tree vertex stays the parent.

    Args:
      row: ``v -> (n,)`` finite distances from vertex ``v`` to every vertex.
      n: number of vertices.
      mask: ``(n,)`` bool, the real vertices.
      dtype: distance dtype.
      unroll: ``fori_loop`` unroll factor.

    Returns:
      ``parent``: ``(n,)`` int32; the root (first real vertex) is its own parent.
    """
    inf = jnp.array(jnp.inf, dtype)
    iota = jnp.arange(n, dtype=jnp.int32)
    root = first_real(mask)
    key = jnp.where(mask & (iota != root), row(root), inf)
    parent = jnp.zeros_like(key, dtype=jnp.int32) + root  # inherits key's shard_map variance

    def body(_, carry):
        key, parent = carry
        # argmin as two plain reductions (first minimiser): XLA:CPU runs a
        # variadic (value, index) reduction 2-3x slower under vmap.
        v = jnp.min(jnp.where(key == jnp.min(key), iota, n - 1))
        # Once every real vertex is in, key is all +inf and argmin returns 0:
        # marking and relaxing are then no-ops, so the trip count can stay n - 1.
        key = jnp.where(iota == v, inf, key)
        r = row(v)
        # Strict '<': on a tie the earlier tree vertex keeps the key.
        closer = (r < key) & (key < inf)
        return jnp.where(closer, r, key), jnp.where(closer, v, parent)

    _, parent = lax.fori_loop(0, n - 1, body, (key, parent), unroll=unroll)
    return parent


def prim_parent(x: jax.Array, mask: jax.Array, kind: str, p: float, *, dense: bool) -> jax.Array:
    """Prim's ``parent`` array for points ``(n, d)`` (or an ``(n, n)`` matrix).

    ``dense=True`` reads the rows of a precomputed matrix (the Gram form for
    wide Euclidean clouds); otherwise each row is computed from the points.
    """
    n = x.shape[0]
    if kind == "precomputed":
        row = lambda v: x[v]
    elif dense:
        dist = _distances.pairwise(x, x, kind, p, gram=True)
        row = lambda v: dist[v]
    else:
        row = _distances.row_fn(x, kind, p)
    return prim(row, n, mask, x.dtype)
