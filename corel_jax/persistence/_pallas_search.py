"""Tiled nearest-other-component search as a Pallas kernel (private).

The large-cloud GPU path (4,000 to 100,000+ points, ``O(n d)`` memory) is
Borůvka's algorithm (:mod:`corel_jax.persistence._boruvka`) with this kernel as its
search. Why Borůvka and not Prim with a whole-GPU row search: Prim needs
``n - 1`` dependent steps, each a launch (or a grid-wide barrier, which
Pallas cannot express) over an ``O(n d)`` row, so at ``n = 20,000`` the XLA
Prim loop on an H100 spent ~7 µs per step, mostly launch and sync latency
(``benchmarks/results/persistence_h100.md``: 142 ms); Borůvka needs about
``log2 n`` rounds of one ``O(n^2 d)`` pass each, which is what a GPU does
well (an H100 does ~10^13 simple float operations per second, so a pass at
``n = 20,000``, ``d = 16`` is ~19 * 10^9 operations). On an NVIDIA H200 these
rounds took 1.69 ms and 12.8 ms at ``n = 4,000`` and ``20,000``, the XLA
Borůvka's 1.58 ms and 10.4 ms (``benchmarks/results/persistence_h200.md``);
see ``docs/persistence_algorithms.md``.

One program handles ``ROWS`` vertices and sweeps the column tiles of
``COLS`` vertices, computing each ``(ROWS, COLS)`` tile of distances on the
fly from the transposed ``(d, n)`` points (one coordinate at a time, in
order, so that ``d(a, b)`` and ``d(b, a)`` are bitwise equal, which
Borůvka's strict order on edges needs), masking pairs in the same component
and padded vertices, and keeping the running first minimiser. Ties between
tiles keep the earlier (smaller) column index, so the result is the
first-minimiser argmin over all columns, like the XLA search.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from corel_jax.persistence._compat import out_struct
from corel_jax.persistence._partition import batch_partitioned

ROWS = 32
COLS = 64


def _tile_distances(xt_ref, r0, c0, d: int, kind: str, p: float):
    """The ``(ROWS, COLS)`` distances between rows ``r0:`` and columns ``c0:``."""
    if kind == "precomputed":
        return xt_ref[pl.ds(r0, ROWS), pl.ds(c0, COLS)]

    def diff(k):
        return xt_ref[k, pl.ds(r0, ROWS)][:, None] - xt_ref[k, pl.ds(c0, COLS)][None, :]

    def over_coordinates(fn, init):
        return lax.fori_loop(0, d, lambda k, acc: fn(acc, diff(k)), init)

    zero = jnp.zeros((ROWS, COLS), xt_ref.dtype)
    if kind == "minkowski":  # scaled by the largest coordinate, like _distances.norm
        scale = over_coordinates(lambda acc, t: jnp.maximum(acc, jnp.abs(t)), zero)
        safe = jnp.where(scale > 0, scale, 1.0)
        total = over_coordinates(lambda acc, t: acc + (jnp.abs(t) / safe) ** p, zero)
        return scale * total ** (1.0 / p)
    if kind == "l1":
        return over_coordinates(lambda acc, t: acc + jnp.abs(t), zero)
    if kind == "linf":
        return over_coordinates(lambda acc, t: jnp.maximum(acc, jnp.abs(t)), zero)
    sq = over_coordinates(lambda acc, t: acc + t * t, zero)
    return jnp.sqrt(sq) if kind == "l2" else sq


def _search_kernel(xt_ref, comp_ref, m_ref, bd_ref, bw_ref, *, d: int, kind: str, p: float):
    r0 = pl.program_id(0) * ROWS
    big_n = comp_ref.shape[0]
    rcomp = comp_ref[pl.ds(r0, ROWS)]
    rmask = m_ref[pl.ds(r0, ROWS)] != 0
    col = lax.broadcasted_iota(jnp.int32, (ROWS, COLS), 1)
    inf = jnp.array(jnp.inf, xt_ref.dtype)

    def tile(j, carry):
        bd, bw = carry
        c0 = j * COLS
        dist = _tile_distances(xt_ref, r0, c0, d, kind, p)
        keep = (
            (rcomp[:, None] != comp_ref[pl.ds(c0, COLS)][None, :])
            & (m_ref[pl.ds(c0, COLS)] != 0)[None, :]
            & rmask[:, None]
        )
        dist = jnp.where(keep, dist, inf)
        m = jnp.min(dist, axis=1)
        w = jnp.min(jnp.where(dist == m[:, None], col + c0, big_n), axis=1)
        better = m < bd  # strict: on a tie the earlier tile (smaller index) stays
        return jnp.where(better, m, bd), jnp.where(better, w, bw)

    init = (jnp.full((ROWS,), inf), jnp.zeros((ROWS,), jnp.int32))
    bd, bw = lax.fori_loop(0, big_n // COLS, tile, init)
    bd_ref[...] = bd
    bw_ref[...] = bw


def tiled_search(x: jax.Array, mask: jax.Array, kind: str, p: float, *, interpret: bool):
    """A Borůvka search (see :data:`corel_jax.persistence._boruvka.Search`) as a Pallas kernel.

    Args:
      x: ``(n, d)`` points, or the symmetric ``(n, n)`` matrix for "precomputed".
      mask: ``(n,)`` bool, the real vertices.
      kind, p: the metric.
      interpret: run in Pallas interpret mode instead of Triton.
    """
    n = x.shape[0]
    big_n = -(-n // max(ROWS, COLS)) * max(ROWS, COLS)
    pad = big_n - n
    if kind == "precomputed":
        xt = jnp.pad(x, ((0, pad), (0, pad)))
    else:
        xt = jnp.pad(x, ((0, pad), (0, 0))).T  # (d, N): coordinate rows are contiguous
    m = jnp.pad(mask.astype(jnp.int32), (0, pad))

    def kernel(xt, comp, m):
        return pl.pallas_call(
            functools.partial(_search_kernel, d=x.shape[1], kind=kind, p=p),
            grid=(big_n // ROWS,),
            in_specs=[pl.BlockSpec(memory_space=pl.ANY)] * 3,
            out_specs=[pl.BlockSpec((ROWS,), lambda i: (i,))] * 2,
            out_shape=(
                out_struct((big_n,), x.dtype, xt, comp, m),
                out_struct((big_n,), jnp.int32, xt, comp, m),
            ),
            compiler_params=plt.CompilerParams(num_warps=4, num_stages=1),
            interpret=interpret,
        )(xt, comp, m)

    # A vmapped batch of clouds is one call, partitioned along the batch under jit.
    call = batch_partitioned(kernel, in_ranks=(2, 1, 1), out_ranks=(1, 1))

    def search(comp, stale=None):
        comp = jnp.pad(comp, (0, pad), constant_values=-1)
        bd, bw = call(xt, comp, m)
        return bd[:n], bw[:n]

    return search
