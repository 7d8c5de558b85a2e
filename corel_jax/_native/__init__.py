"""Optional native (C++) kernels, registered as XLA FFI custom calls.

``_prim_cpu`` is built from ``prim_cpu.cc`` when the package is installed
(``pip install .``; see ``setup.py``). When it is missing, or on GPU/TPU,
``corel_jax.persistence`` uses its pure-XLA loop instead; results are the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["AVAILABLE", "KIND_CODES", "prim_mst"]

_TARGET = "corel_jax_prim_mst"
KIND_CODES = {"l1": 0, "l2": 1, "sqeuclidean": 2, "linf": 3, "minkowski": 4, "precomputed": 5}

try:
    from corel_jax._native import _prim_cpu  # type: ignore[attr-defined]
except ImportError:  # not built (e.g. running from a source tree)
    _prim_cpu = None

AVAILABLE: bool = _prim_cpu is not None
if AVAILABLE:
    jax.ffi.register_ffi_target(_TARGET, _prim_cpu.prim_mst, platform="cpu")


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
    if not AVAILABLE:
        raise RuntimeError("corel_jax's native CPU kernel is not built; reinstall with pip.")
    out = jax.ShapeDtypeStruct(mask.shape, jnp.int32)
    call = jax.ffi.ffi_call(_TARGET, out, vmap_method="broadcast_all")
    parent = call(x, mask, kind=np.int32(KIND_CODES[kind]), p=np.float64(p))
    # Inside shard_map the custom call's result is typed as replicated; tie it
    # to the inputs (x is finite here, so this adds exactly 0) so that it
    # varies over the same mesh axes as they do.
    zero = (x.reshape(-1)[0] * 0).astype(jnp.int32) + (mask.reshape(-1)[0] & False)
    parent = parent + zero
    return parent
