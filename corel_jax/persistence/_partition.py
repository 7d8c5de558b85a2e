"""Kernel calls that partition along their batch axes under ``jit`` (private).

An XLA custom call (the C++ FFI kernels of :mod:`corel_jax.persistence._native`)
or a ``pallas_call`` has no partitioning rule of its own: under ``jax.jit``
with inputs sharded over a device mesh, XLA's SPMD partitioner gathers every
operand onto every device and runs the whole call on each of them. The
computations here are batched independent problems (one MST per cloud, one
loss per batch of codes), so a batch of calls can run where its shards are.
:func:`batch_partitioned` wraps a kernel written for ONE item so that a batch
of items, however it is formed, is one call that partitions along its batch
axes:

* :class:`jax.custom_batching.custom_vmap` turns every ``jax.vmap`` level
  into a leading batch axis of the call (unbatched arguments are broadcast,
  like ``vmap_method="broadcast_all"``);
* :class:`jax.experimental.custom_partitioning` wraps the batched call with
  a Shardy sharding rule in which the batch axes are factors shared by every
  operand and result (they pass their sharding through) and each item's own
  axes (points, coordinates, a distance row) are ``need_replication``
  factors. The partitioner calls :func:`_partition` at compile time, which
  keeps the shardings it is given and lowers the kernel, ``jax.vmap``-ed over
  the batch axes, on each device's shard: no all-gather, each device runs its
  own items. An item whose own axes are sharded is gathered first, by design
  (an MST needs all of its cloud's points).

A call with no batch axis is the kernel itself. Inside ``jax.shard_map`` (and
``jax.pmap``, which JAX builds on it) the call is lowered directly on the
per-device shard, as ``custom_partitioning`` does under manual axes. A sharded
program holding these calls cannot be serialised with ``jax.export``
(``custom_partitioning``'s partition callback lives in this process); an
unsharded one can, and then holds the plain kernel calls.

See ``docs/persistence_algorithms.md#sharding``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec

__all__ = ["batch_partitioned", "sharding_rule"]


def sharding_rule(
    num_batch: int, in_ranks: Sequence[int], out_ranks: Sequence[int]
) -> tuple[str, tuple[str, ...]]:
    """The Shardy rule of a call with ``num_batch`` leading batch axes.

    Args:
      num_batch: the number of leading batch axes of every operand and result.
      in_ranks: the rank of each operand of ONE item (without batch axes).
      out_ranks: likewise for each result.

    Returns:
      ``(rule, item_factors)``: an einsum-like rule such as
      ``"b0 a b, b0 c -> b0 d"`` and the factors of the items' own axes (to be
      replicated).
    """
    letters = iter(string.ascii_lowercase)
    batch = [f"b{i}" for i in range(num_batch)]
    item: list[str] = []

    def spec(rank: int) -> str:
        own = [next(letters) for _ in range(rank)]
        item.extend(own)
        return " ".join(batch + own)

    lhs = ", ".join(spec(r) for r in in_ranks)
    rhs = ", ".join(spec(r) for r in out_ranks)
    return f"{lhs} -> {rhs}", tuple(item)


def _vmapped(kernel: Callable, num_batch: int) -> Callable:
    """``kernel`` mapped over ``num_batch`` leading axes, jitted (its constants stay inside)."""
    for _ in range(num_batch):
        kernel = jax.vmap(kernel)
    return jax.jit(kernel)


def _item_replicated(sharding, num_batch: int, ranks: Sequence[int]):
    """Shardings with the batch axes of ``sharding`` (a :class:`NamedSharding`) and the
    items' own axes replicated, one per rank; None for another kind of sharding."""
    if not isinstance(sharding, NamedSharding):
        return None
    batch = (*tuple(sharding.spec), *(None,) * num_batch)[:num_batch]
    return [NamedSharding(sharding.mesh, PartitionSpec(*batch)) for _ in ranks]


def _replicated(sharding, ranks: Sequence[int]):
    """Replicated shardings over the devices of ``sharding``, one per rank."""
    devices = np.array(sorted(sharding.device_set, key=lambda d: d.id))
    mesh = jax.sharding.Mesh(devices, ("devices",))
    return [NamedSharding(mesh, PartitionSpec()) for _ in ranks]


def _partition(kernel, num_batch, in_ranks, out_ranks, mesh, arg_shapes, result_shape):
    """``custom_partitioning``'s partition callback: the shardings and the kernel per shard.

    Under Shardy (JAX's default) the sharding rule has already made the
    items' own axes replicated and the batch axes sharded alike in every
    operand and result: the shardings are kept. Under GSPMD the batch axes of
    the first operand are used (everything is replicated when its sharding
    names no mesh).
    """
    arg_shardings = tuple(a.sharding for a in arg_shapes)
    flat_results, tree = jax.tree.flatten(result_shape)
    result_shardings = [r.sharding for r in flat_results]
    if not jax.config.jax_use_shardy_partitioner:
        first = arg_shardings[0]
        arg_shardings = _item_replicated(first, num_batch, in_ranks) or _replicated(first, in_ranks)
        result_shardings = _item_replicated(first, num_batch, out_ranks) or _replicated(
            first, out_ranks
        )
    result_shardings = jax.tree.unflatten(tree, result_shardings)
    return mesh, _vmapped(kernel, num_batch), result_shardings, tuple(arg_shardings)


def _infer(num_batch, out_ranks, mesh, arg_shapes, result_shape):
    """GSPMD's propagation callback: the results take the first operand's batch sharding."""
    first = arg_shapes[0].sharding
    tree = jax.tree.structure(result_shape)
    shardings = _item_replicated(first, num_batch, out_ranks) or _replicated(first, out_ranks)
    return jax.tree.unflatten(tree, shardings)


@functools.lru_cache(maxsize=256)
def _rule_for(num_batch: int, in_ranks: tuple[int, ...], out_ranks: tuple[int, ...]):
    return sharding_rule(num_batch, in_ranks, out_ranks)


def _partitioned_call(kernel: Callable, num_batch: int, in_ranks, out_ranks) -> Callable:
    """The batched call with ``num_batch`` leading axes as a ``custom_partitioning`` op."""
    rule, item = _rule_for(num_batch, tuple(in_ranks), tuple(out_ranks))
    call = custom_partitioning(_vmapped(kernel, num_batch))
    call.def_partition(
        functools.partial(_partition, kernel, num_batch, in_ranks, out_ranks),
        infer_sharding_from_operands=functools.partial(_infer, num_batch, out_ranks),
        sharding_rule=rule,
        need_replication_factors=item,
    )
    return call


def batch_partitioned(
    kernel: Callable[..., Any], in_ranks: Sequence[int], out_ranks: Sequence[int]
) -> Callable[..., Any]:
    """``kernel``, for one item, as a call that partitions along batch axes under ``jit``.

    Args:
      kernel: ``(*arrays) -> array or tuple of arrays`` for ONE item (e.g. a
        cloud and its mask), with ``jax.vmap`` support (an FFI call with
        ``vmap_method="broadcast_all"``, a ``pallas_call``).
      in_ranks: the rank of each argument of one item.
      out_ranks: the rank of each result (flattened) of one item.

    Returns:
      A function with ``kernel``'s signature. Called on arrays with ``k``
      extra leading axes (the same ``k`` for every argument; ``jax.vmap``
      supplies them) it returns results with those ``k`` leading axes,
      computed by one call that a ``jit`` with sharded inputs partitions
      along them (see the module docstring).
    """
    in_ranks, out_ranks = tuple(in_ranks), tuple(out_ranks)

    @custom_vmap
    def call(*args):
        num_batch = jnp.ndim(args[0]) - in_ranks[0]
        if num_batch == 0:
            return kernel(*args)
        return _partitioned_call(kernel, num_batch, in_ranks, out_ranks)(*args)

    @call.def_vmap
    def _batched(axis_size, in_batched, *args):
        args = [
            a if batched else jnp.broadcast_to(a, (axis_size, *jnp.shape(a)))
            for a, batched in zip(args, in_batched, strict=True)
        ]
        out = call(*args)
        return out, jax.tree.map(lambda _: True, out)

    return call
