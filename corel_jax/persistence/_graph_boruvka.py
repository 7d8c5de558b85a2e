"""The elder rule on a filtered graph in plain XLA: O(log^2 n) parallel rounds (private).

The portable path of :func:`corel_jax.persistence.graph_h0` and
:func:`corel_jax.persistence.cubical_h0` (GPU, TPU, and CPUs without the C++
kernel). Same filtration order, hence the same pairs, death edges and death
vertices as the C++ union-find (``_native/graph_cpu.cc``):

* vertices by ``(value, index)``; ``rank[v]`` is the position of ``v``;
* edges by ``(edge value, rank of the later endpoint, edge index)``: one sort,
  after which an edge is known by its position ``erank`` in that order.

Two parallel stages:

1. **Borůvka** (:func:`spanning_forest`): each round every component picks
   its least outgoing edge (a segment minimum of ``erank``), hooks to the
   component across it (of a mutual pair the smaller label stays a root), and
   pointer jumping relabels the vertices. Under a strict order the picked
   edges form the unique minimum spanning forest, and each round at least
   halves the number of components: at most ``ceil(log2 n)`` rounds. Only the
   forest's ``n - 1`` edges can kill a class.
2. **Pairing** (:func:`elder_rule`): the elder rule needs, for every forest
   edge ``e = (a, b)``, the oldest vertex of the component of ``a`` and of
   ``b`` among the edges before ``e`` (the younger of the two dies at ``e``).
   With the forest's edges in order, divide and conquer over that order
   computes every such label at once: at the level with blocks of ``s``
   edges, each edge's endpoint labels are the oldest vertices of their
   components after contracting every edge of the blocks before its own; the
   second half of a block then contracts the first half's edges (connected
   components of the first half over the labels, per block, all blocks at
   once), and the halves are the blocks of the next level. After
   ``log2 n`` levels each edge sees exactly the edges before it. A level is
   one sort (the labels of a block made into compact super-vertices, ordered
   by label, so that the least position of a component is its oldest
   vertex) and a FastSV connected-components loop (hooking on grandparents,
   shortcutting; it ends when no grandparent changes).

Cost: ``O(m log n)`` work for Borůvka, ``O(n log^2 n)`` for the pairing, in
``O(log^2 n)`` sequential steps of whole-array operations. On a CPU the C++
union-find (``O(m)`` after an ``O(n)`` radix sort, sequential) is far
faster; this path is meant for accelerators (``docs/graph_h0.md``).

References:
  Borůvka. O jistém problému minimálním. Práce Moravské přírodovědecké
  společnosti, 1926.
  Zhang, Azad, Hu. FastSV: a distributed-memory connected component
  algorithm with fast convergence. SIAM PP, 2020.
  Edelsbrunner, Harer. Computational Topology, Sec. VII.1 (the elder rule).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["edge_order", "elder_rule", "spanning_forest", "vertex_order", "xla_deaths"]


def vertex_order(values: jax.Array, vertex_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(order, rank)``: the real vertices by ``(value, index)``, the masked ones last."""
    n = values.shape[0]
    iota = jnp.arange(n, dtype=jnp.int32)
    _, _, order = lax.sort(((~vertex_mask).astype(jnp.int32), values, iota), num_keys=2)
    rank = jnp.zeros((n,), jnp.int32).at[order].set(iota)
    return order, rank


def edge_order(
    edge_values: jax.Array | None, a: jax.Array, b: jax.Array, valid: jax.Array, rank: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(order, erank, hi)``: valid edges by ``(value, rank of hi, index)``, then the rest.

    ``hi`` is each edge's later endpoint. Lower-star values (``None``) order
    the edges by ``(rank of hi, index)``, the same order.
    """
    m = a.shape[0]
    iota = jnp.arange(m, dtype=jnp.int32)
    hi = jnp.where(rank[a] > rank[b], a, b)
    keys = [(~valid).astype(jnp.int32)]
    if edge_values is not None:
        keys.append(jnp.where(valid, edge_values, 0))
    keys.append(jnp.where(valid, rank[hi], 0))
    *_, order = lax.sort((*keys, iota), num_keys=len(keys))
    erank = jnp.zeros((m,), jnp.int32).at[order].set(iota)
    return order, erank, hi


def _jump(ptr: jax.Array, times: int) -> jax.Array:
    """``times`` rounds of pointer jumping (a loop: one gather in the program)."""
    return lax.fori_loop(0, times, lambda _, p: p[p], ptr)


def spanning_forest(
    a: jax.Array, b: jax.Array, valid: jax.Array, order: jax.Array, erank: jax.Array, n: int
) -> jax.Array:
    """Borůvka's minimum spanning forest under the strict order ``erank``: ``(m,)`` bool."""
    m = a.shape[0]
    iota = jnp.arange(n, dtype=jnp.int32)
    jumps = max(1, math.ceil(math.log2(max(n, 2))))
    none = jnp.int32(m)

    def body(state):
        comp, in_tree, _ = state
        ca, cb = comp[a], comp[b]
        key = jnp.where(valid & (ca != cb), erank, none)
        best = jnp.full((n,), none).at[ca].min(key).at[cb].min(key)
        has = best < none
        e = order[jnp.minimum(best, m - 1)]
        other = jnp.where(comp[a[e]] == iota, comp[b[e]], comp[a[e]])
        target = jnp.where(has, other, iota)
        # A mutual pair picked the same edge: the smaller label stays a root.
        hook = has & ~((target[target] == iota) & (iota < target))
        in_tree = in_tree.at[jnp.where(has, e, m)].set(True, mode="drop")
        ptr = _jump(jnp.where(hook, target, iota), jumps)
        return ptr[comp], in_tree, jnp.any(hook)

    # The first round outside the loop: its carry then varies like the data
    # (under shard_map) as the loop's does.
    state = body((iota, jnp.zeros((m,), bool), jnp.array(True)))
    return lax.while_loop(lambda s: s[2], body, state)[1]


def _components(u: jax.Array, v: jax.Array, size: int) -> jax.Array:
    """FastSV: the least node of each node's connected component, edges ``(u, v)``."""
    iota = jnp.arange(size, dtype=jnp.int32)

    def body(state):
        f, gf, _ = state
        # stochastic hooking: a tree's root takes the least grandparent across an edge
        f = f.at[f[u]].min(gf[v]).at[f[v]].min(gf[u])
        # aggressive hooking and shortcutting
        f = f.at[u].min(gf[v]).at[v].min(gf[u])
        f = jnp.minimum(f, gf)
        new = f[f]
        return f, new, jnp.any(new != gf)

    # (the carry varies over shard_map axes like the edges do)
    zero = (u[0] + v[0]) * 0 if u.shape[0] else jnp.int32(0)
    state = (iota + zero, iota + zero, zero == 0)
    f, _, _ = lax.while_loop(lambda s: s[2], body, state)
    return _jump(f, max(1, math.ceil(math.log2(max(size, 2)))))


def elder_rule(la: jax.Array, lb: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The endpoint labels of each forest edge among the edges before it.

    Args:
      la, lb: ``(M,)`` int32 vertex ranks of the endpoints of the forest's
        edges, in filtration order; ``M`` a power of two.
      valid: ``(M,)`` bool; invalid slots (padding) come last.

    Returns:
      ``(la, lb)``: the oldest rank of each endpoint's component after
      contracting every earlier valid edge (see the module docstring).
    """
    size = la.shape[0]
    levels = int(math.log2(size))
    node_slot = jnp.arange(2 * size, dtype=jnp.int32) // 2
    positions = jnp.arange(2 * size, dtype=jnp.int32)

    def level(k, labels):
        la, lb = labels
        s = jnp.right_shift(jnp.int32(size), k)
        half = s // 2
        lab = jnp.stack([la, lb], axis=-1).reshape(-1)
        block = node_slot // s
        sorted_block, sorted_lab, perm = lax.sort((block, lab, positions), num_keys=2)
        new_run = jnp.concatenate(
            [
                jnp.ones((1,), bool),
                (sorted_block[1:] != sorted_block[:-1]) | (sorted_lab[1:] != sorted_lab[:-1]),
            ]
        )
        start = lax.cummax(jnp.where(new_run, positions, 0))
        node = jnp.zeros((2 * size,), jnp.int32).at[perm].set(start)  # its super-vertex
        first_half = (jnp.arange(size, dtype=jnp.int32) % s) < half
        u, v = node[0::2], node[1::2]
        u = jnp.where(first_half & valid, u, v)  # the other edges are loops here
        root = _components(u, v, 2 * size)
        new = sorted_lab[root[node]]
        return (
            jnp.where(first_half, la, new[0::2]),
            jnp.where(first_half, lb, new[1::2]),
        )

    return lax.fori_loop(0, levels, level, (la, lb))


def xla_deaths(
    values: jax.Array,
    a: jax.Array,
    b: jax.Array,
    edge_values: jax.Array | None,
    vertex_mask: jax.Array,
    valid: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """``(death_edge, death_vertex)`` ``(n,)`` int32 of a graph, ``-1`` where none.

    ``valid`` must already exclude loops, out-of-range and masked endpoints.
    """
    n, m = values.shape[0], a.shape[0]
    none = jnp.full((n,), -1, jnp.int32)
    if m == 0 or n < 2:
        return none, none
    order, rank = vertex_order(values, vertex_mask)
    a, b = jnp.where(valid, a, 0), jnp.where(valid, b, 0)
    eorder, erank, hi = edge_order(edge_values, a, b, valid, rank)
    in_tree = spanning_forest(a, b, valid, eorder, erank, n)
    # The forest's edges in filtration order, padded to a power of two.
    size = 1 << max(0, math.ceil(math.log2(n - 1))) if n > 2 else 1
    flag = in_tree[eorder]
    slot = jnp.where(flag, jnp.cumsum(flag) - 1, size)
    tree = jnp.full((size,), -1, jnp.int32).at[slot].set(eorder, mode="drop")
    present = tree >= 0
    e = jnp.maximum(tree, 0)
    la, lb = elder_rule(
        jnp.where(present, rank[a[e]], 0), jnp.where(present, rank[b[e]], 0), present
    )
    # The younger of the two components dies at the edge.
    younger = jnp.where(present, order[jnp.maximum(la, lb)], n)
    death_edge = none.at[younger].set(tree, mode="drop")
    death_vertex = none.at[younger].set(hi[e], mode="drop")
    return death_edge, death_vertex
