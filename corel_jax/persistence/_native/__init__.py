"""Optional native (C++) kernels, registered as XLA FFI custom calls (CPU).

``_prim_cpu`` is built from ``prim_cpu.cc`` when the package is installed
(``pip install .``; see ``setup.py``). It holds Prim's MST
(:func:`prim_mst`) and the fused connectivity loss (:func:`connectivity`,
``docs/method.md#the-connectivity-loss``). When it is missing, or off the
CPU, :mod:`corel_jax.persistence` and :mod:`corel_jax.loss` use their XLA or
Pallas paths instead; results are the same.

Both calls partition along their batch axes under ``jax.jit`` with sharded
inputs (:func:`corel_jax.persistence._partition.batch_partitioned`): a
``jax.vmap``-ed batch of clouds sharded over a mesh runs on each device's own
clouds, forward and backward, without gathering them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence._partition import batch_partitioned

__all__ = ["AVAILABLE", "KIND_CODES", "connectivity", "prim_mst"]

_PRIM = "corel_jax_prim_mst"
_LOSS = "corel_jax_connectivity"
KIND_CODES = {"l1": 0, "l2": 1, "sqeuclidean": 2, "linf": 3, "minkowski": 4, "precomputed": 5}

try:
    from corel_jax.persistence._native import _prim_cpu  # type: ignore[attr-defined]
except ImportError:  # not built (e.g. running from a source tree)
    _prim_cpu = None

AVAILABLE: bool = _prim_cpu is not None
if AVAILABLE:
    jax.ffi.register_ffi_target(_PRIM, _prim_cpu.prim_mst, platform="cpu")
    jax.ffi.register_ffi_target(_LOSS, _prim_cpu.connectivity, platform="cpu")


def _check_available() -> None:
    if not AVAILABLE:
        raise RuntimeError("corel_jax's native CPU kernel is not built; reinstall with pip.")


def _vary_like(out: jax.Array, *inputs: jax.Array) -> jax.Array:
    """Ties a custom call's result to its inputs' shard_map variance.

    Inside shard_map the result is typed as replicated; adding an exact zero
    computed from the inputs makes it vary over the same mesh axes as they do.
    """
    zero = jnp.zeros((), out.dtype)
    for a in inputs:
        first = a.reshape(-1)[0]
        zero = zero + (jnp.where(jnp.isfinite(first), first, 0) * 0).astype(out.dtype)
    return out + zero


def prim_mst(x: jax.Array, mask: jax.Array, kind: str, p: float) -> jax.Array:
    """Prim's MST parent array on the CPU.

    Args:
      x: ``(..., n, d)`` float32/float64 points (``(..., n, n)`` distances
        for ``kind="precomputed"``), all finite.
      mask: ``(..., n)`` bool, the real vertices.
      kind: metric name (see ``KIND_CODES``).
      p: Minkowski exponent (ignored otherwise).

    Returns:
      ``(..., n)`` int32 ``parent``; the tree is ``{(parent[v], v)}`` over the
      real vertices ``v`` but the root (the first real vertex).
    """
    _check_available()

    def kernel(x, mask):
        out = jax.ShapeDtypeStruct(mask.shape, jnp.int32)
        call = jax.ffi.ffi_call(_PRIM, out, vmap_method="broadcast_all")
        return call(x, mask, kind=np.int32(KIND_CODES[kind]), p=np.float64(p))

    mask = jnp.broadcast_to(mask, x.shape[:-1])
    parent = batch_partitioned(kernel, in_ranks=(2, 1), out_ranks=(1,))(x, mask)
    return _vary_like(parent, x, mask.astype(jnp.int32))


def connectivity(
    z: jax.Array, eta: jax.Array, num_branches: int, kind: str, p: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The connectivity loss and its derivatives in one call on the CPU.

    Args:
      z: ``(..., B, D)`` float32/float64 codes; branch ``k`` holds the columns
        ``[k D/K, (k + 1) D/K)`` with ``K = num_branches``.
      eta: ``(...)`` the scale (same dtype as ``z``).
      num_branches: ``K``.
      kind: metric name (not "precomputed").
      p: Minkowski exponent (ignored otherwise).

    Returns:
      ``(loss, dloss_deta, dloss_dz)`` with shapes ``(...)``, ``(...)`` and
      ``(..., B, D)``: ``loss = (1/K) sum_k sum_{MST edges of branch k}
      |eta - d|``. A branch with a non-finite code gives a NaN loss and a
      zero gradient.
    """
    _check_available()

    def kernel(z, eta):
        out = (
            jax.ShapeDtypeStruct((), z.dtype),
            jax.ShapeDtypeStruct((), z.dtype),
            jax.ShapeDtypeStruct(z.shape, z.dtype),
        )
        call = jax.ffi.ffi_call(_LOSS, out, vmap_method="broadcast_all")
        return tuple(
            call(
                z,
                eta,
                branches=np.int64(num_branches),
                kind=np.int32(KIND_CODES[kind]),
                p=np.float64(p),
            )
        )

    eta = jnp.broadcast_to(eta, z.shape[:-2]).astype(z.dtype)
    outs = batch_partitioned(kernel, in_ranks=(2, 0), out_ranks=(0, 0, 2))(z, eta)
    return tuple(_vary_like(a, z) for a in outs)
