"""Prim's minimum spanning tree as a Pallas kernel, one program per cloud (private).

The training case is a batch of small clouds (e.g. 16 branches x 100-2,000
codes). On a GPU the XLA Prim loop launches a few tiny kernels per step, so
its ``n - 1`` sequential steps are launch-bound. Here one Pallas program runs
the whole loop for one cloud with the cloud held on chip: the padded
``(N, D)`` block of points is loaded once, every step computes its row of
distances on the fly from a dynamically indexed row of the block, and a
vmapped batch of clouds becomes the kernel's grid (Pallas' batching rule), so
one launch serves the whole batch; under ``jit`` with the batch sharded over
devices, each device launches the kernel on its own clouds
(:mod:`corel_jax.persistence._partition`).

Contract: the same as the XLA loop (:func:`corel_jax.persistence._prim_xla.prim`): the
``(n,)`` int32 ``parent`` array of Prim's tree over the ``mask`` vertices,
rooted at the first real vertex, with the same tie rule (the first minimiser
joins; a strictly shorter distance is needed to replace a parent), so on
inputs whose distances are exact (integer coordinates) it returns the same
edges as the C++ and XLA kernels. Every metric of ``rips_h0`` is supported;
``"precomputed"`` reads rows of the padded ``(N, N)`` matrix instead.

Lowering: the kernel uses only block loads, dynamic row loads, elementwise
ops, reductions and ``fori_loop``, which lower to Triton (CUDA, ROCm);
blocks are padded to powers of two (Triton's constraint) with masked
vertices and zero coordinates. With ``interpret=True`` the same kernel runs
on any backend through Pallas' interpreter (used by the CPU tests). Larger
clouds (above :data:`PRIM_MAX_POINTS`) use Borůvka rounds with a tiled
search kernel instead (:mod:`corel_jax.persistence._pallas_search`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from corel_jax.persistence import _distances
from corel_jax.persistence._compat import out_struct
from corel_jax.persistence._partition import batch_partitioned

# Above this many points one program per cloud would hold too large a block
# on chip; "pallas" switches to Borůvka rounds with the tiled search.
PRIM_MAX_POINTS = 2048


def _pow2(k: int, least: int = 1) -> int:
    return max(least, 1 << max(0, k - 1).bit_length())


def padded_shape(n: int, d: int, kind: str) -> tuple[int, int]:
    """The power-of-two block ``(N, D)`` a cloud of ``n`` points in ``d`` dims is padded to."""
    big_n = _pow2(n, 16)
    return big_n, big_n if kind == "precomputed" else _pow2(d)


# The kernels keep the padded (N, D) cloud in registers. ptxas (sm_90) spills
# them to local memory past about 128 block elements per thread or beyond 64
# columns: (2048, 16) with 8 warps and (256, 64) compile without spills,
# (128, 128) with a 1,720-byte and (128, 1024), a batch of 95 Fashion-MNIST
# images, with a 10,944-byte stack frame (docs/persistence_algorithms.md).
MAX_BLOCK_WIDTH = 64
MAX_BLOCK_ELEMENTS_PER_THREAD = 128


def _num_warps(big_n: int) -> int:
    # ptxas (sm_90, d = 16): no register spills for the Prim kernel up to
    # N = 2,048 with 8 warps (16 warps cap the registers per thread at 128).
    return 4 if big_n <= 256 else 8


def _compiler_params(big_n: int) -> plt.CompilerParams:
    return plt.CompilerParams(num_warps=_num_warps(big_n), num_stages=1)


def fits_on_chip(n: int, d: int, kind: str) -> bool:
    """Whether a cloud of ``n`` points in ``d`` dims fits the kernels' register block.

    ``prim_parent`` holds the padded ``(N, D)`` block for the whole loop. Wider
    clouds are better served by reading rows of a distance matrix from
    memory (``prim_parent`` with ``kind="precomputed"``, whose block is one
    row). Precomputed matrices always fit.
    """
    if kind == "precomputed":
        return True
    big_n, big_d = padded_shape(n, d, kind)
    threads = 32 * _num_warps(big_n)
    return big_d <= MAX_BLOCK_WIDTH and big_n * big_d <= MAX_BLOCK_ELEMENTS_PER_THREAD * threads


def _pad(x: jax.Array, mask: jax.Array, kind: str) -> tuple[jax.Array, jax.Array]:
    n, d = x.shape
    big_n, big_d = padded_shape(n, d, kind)
    xp = jnp.zeros((big_n, big_d), x.dtype).at[:n, :d].set(x)
    mp = jnp.zeros((big_n,), jnp.int32).at[:n].set(mask.astype(jnp.int32))
    return xp, mp


def _prim_loop(x_ref, m_ref, kind: str, p: float) -> jax.Array:
    """Prim's loop over the block in ``x_ref``; returns the ``(N,)`` parent array."""
    big_n = m_ref.shape[0]
    mask = m_ref[...] != 0
    inf = jnp.array(jnp.inf, x_ref.dtype)
    iota = lax.broadcasted_iota(jnp.int32, (big_n,), 0)
    if kind == "precomputed":
        row = lambda v: x_ref[v, :]
    else:
        x = x_ref[...]  # the cloud, held on chip for the whole loop
        row = lambda v: _distances.norm(x - x_ref[pl.ds(v, 1), :], kind, p)
    # Root: the first real vertex (0 when there is none; then nothing runs).
    root = jnp.min(jnp.where(mask, iota, big_n)) % big_n
    key = jnp.where(mask & (iota != root), row(root), inf)
    parent = jnp.zeros((big_n,), jnp.int32) + root

    def body(_, carry):
        key, parent = carry
        kv = jnp.min(key)
        v = jnp.min(jnp.where(key == kv, iota, big_n - 1))  # first minimiser
        key = jnp.where(iota == v, inf, key)
        r = row(v)
        closer = (r < key) & (key < inf)  # strict: ties keep the earlier parent
        return jnp.where(closer, r, key), jnp.where(closer, v, parent)

    steps = jnp.sum(mask.astype(jnp.int32)) - 1
    _, parent = lax.fori_loop(0, steps, body, (key, parent))
    return parent


def _parent_kernel(x_ref, m_ref, parent_ref, *, kind: str, p: float):
    parent_ref[...] = _prim_loop(x_ref, m_ref, kind, p)


def prim_parent(
    x: jax.Array, mask: jax.Array, kind: str, p: float, *, interpret: bool
) -> jax.Array:
    """Prim's ``(n,)`` int32 parent array of one cloud (vmap for batches).

    Args:
      x: ``(n, d)`` finite points, or an ``(n, n)`` matrix for "precomputed".
      mask: ``(n,)`` bool, the real vertices.
      kind, p: the metric (see :func:`corel_jax.persistence.parse_metric`).
      interpret: run in Pallas interpret mode (any backend) instead of Triton.
    """

    def kernel(x, mask):
        xp, mp = _pad(x, mask, kind)
        parent = pl.pallas_call(
            functools.partial(_parent_kernel, kind=kind, p=p),
            out_shape=out_struct(mp.shape, jnp.int32, xp, mp),
            compiler_params=_compiler_params(mp.shape[0]),
            interpret=interpret,
        )(xp, mp)
        return parent[: x.shape[0]]

    # A vmapped batch of clouds is one call, partitioned along the batch under jit.
    return batch_partitioned(kernel, in_ranks=(2, 1), out_ranks=(1,))(x, mask)
