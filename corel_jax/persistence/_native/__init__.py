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

import importlib
import json
import logging
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence._partition import batch_partitioned

__all__ = ["AVAILABLE", "KIND_CODES", "STATUS", "connectivity", "prim_mst"]

logger = logging.getLogger(__name__)

_PRIM = "corel_jax_prim_mst"
_LOSS = "corel_jax_connectivity"
KIND_CODES = {"l1": 0, "l2": 1, "sqeuclidean": 2, "linf": 3, "minkowski": 4, "precomputed": 5}
_REINSTALL = (
    "pip install --force-reinstall --no-deps --no-build-isolation --no-binary corel-jax corel-jax"
)


def _build_record() -> dict | None:
    """What ``setup.py`` wrote about the build (``_build.json``), or None without one."""
    try:
        return json.loads((Path(__file__).parent / "_build.json").read_text())
    except (OSError, ValueError):
        return None


def _jaxlib_version() -> str:
    import jaxlib.version

    return jaxlib.version.__version__


def _runtime_ffi_api() -> tuple[int, int] | None:
    """The XLA FFI API version of the installed jaxlib, from the headers it ships."""
    import jaxlib

    header = Path(jaxlib.__file__).parent / "include" / "xla" / "ffi" / "api" / "c_api.h"
    try:
        text = header.read_text()
    except OSError:
        return None
    found = [re.search(rf"#define XLA_FFI_API_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR")]
    major, minor = (int(m.group(1)) if m else None for m in found)
    return (major, minor) if major is not None and minor is not None else None


def _load():
    """``(the compiled module or None, a sentence on the kernel's state, whether to warn)``."""
    record = _build_record()
    if record is not None and not record.get("built"):  # (a module left by an older build is stale)
        return (
            None,
            f"it failed to build when corel-jax was installed ({record.get('error')})",
            True,
        )
    try:
        _prim_cpu = importlib.import_module(f"{__name__}._prim_cpu")
    except ImportError as err:
        if record is None:  # e.g. a source checkout: python setup.py build_ext --inplace
            return None, "it is not built (no compiled module next to the sources)", False
        return None, f"it was built but cannot be loaded ({err})", True
    built = tuple(record["ffi_api"]) if record and record.get("ffi_api") else None
    runtime = _runtime_ffi_api()
    # A handler of FFI API (a, b) runs on a jaxlib of API (a, c) with c >= b; registering
    # one that is newer than the jaxlib fails when the CPU backend starts, for all of JAX.
    if built and runtime and (built[0] != runtime[0] or built[1] > runtime[1]):
        why = (
            f"it was built against jaxlib {record['jaxlib']} (XLA FFI API "
            f"{built[0]}.{built[1]}), which the installed jaxlib {_jaxlib_version()} "
            f"(API {runtime[0]}.{runtime[1]}) cannot load; rebuild it with {_REINSTALL}"
        )
        return None, why, True
    against = f" against jaxlib {record['jaxlib']}" if record and record.get("jaxlib") else ""
    return _prim_cpu, f"built{against}", False


_prim_cpu, STATUS, _warn = _load()
AVAILABLE: bool = _prim_cpu is not None
if AVAILABLE:
    jax.ffi.register_ffi_target(_PRIM, _prim_cpu.prim_mst, platform="cpu")
    jax.ffi.register_ffi_target(_LOSS, _prim_cpu.connectivity, platform="cpu")
elif _warn:
    logger.warning(
        "corel_jax's C++ CPU kernel is not used: %s. rips_h0 and connectivity_loss use their "
        "XLA paths on CPUs (same results, slower).",
        STATUS,
    )


def _check_available() -> None:
    if not AVAILABLE:
        raise RuntimeError(f"corel_jax's native CPU kernel is not available: {STATUS}.")


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
    loss, deta, grad = (_vary_like(a, z) for a in outs)
    return loss, deta, grad
