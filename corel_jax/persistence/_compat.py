"""Differences between the JAX versions the package supports (private).

JAX 0.10 renamed the type of a value's variance over ``shard_map``'s manual mesh
axes from ``vma`` (a frozenset of axis names) to ``manual_axis_type`` (whose
``varying`` is that set); both spellings are read and written here, so the
rest of the package works on every JAX version from the declared floor on
(``.ci/floors.sh`` runs the core tests there).
"""

from __future__ import annotations

from typing import Any

import jax

__all__ = ["out_struct", "varying_axes"]


def varying_axes(x: jax.Array) -> frozenset[str]:
    """The ``shard_map`` mesh axes ``x`` varies over (empty outside ``shard_map``)."""
    aval = jax.typeof(x)
    manual = getattr(aval, "manual_axis_type", None)
    if manual is not None:
        return frozenset(manual.varying)
    return frozenset(getattr(aval, "vma", ()))


def out_struct(shape: tuple[int, ...], dtype, *inputs: jax.Array) -> jax.ShapeDtypeStruct:
    """An output type that varies over ``shard_map``'s mesh axes like the most varying input."""
    avals: list[Any] = [jax.typeof(a) for a in inputs]  # Any: typed for one JAX version only
    kwargs: dict[str, Any]
    if hasattr(avals[0], "manual_axis_type"):
        types = [a.manual_axis_type for a in avals]
        kwargs = {"manual_axis_type": max(types, key=lambda t: len(t.varying))}
    else:
        kwargs = {"vma": max((a.vma for a in avals), key=len)}
    return jax.ShapeDtypeStruct(shape, dtype, **kwargs)
