"""Data-parallel placement for ``jax.pmap``: which devices, replicated state, per-host shards.

One process drives its local devices; in a multi-host run (``jax.distributed``)
pmap spans the devices of all processes and every process reads its own
contiguous ``1/P`` of the training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["host_shard", "replicate", "select_devices", "unreplicate"]

PyTree = Any


def select_devices(devices: int | None) -> tuple[list[jax.Device], list[jax.Device] | None]:
    """This process's devices for training, and pmap's ``devices`` argument.

    Args:
      devices: use the first ``devices`` local devices (``TrainConfig.devices``);
        None: all of them. Must be None in a multi-process run.

    Returns:
      ``(local devices, pmap devices)``; pmap's is None (all devices of all
      processes) in a multi-process run.

    Raises:
      ValueError: more devices asked for than there are, or a device count in
        a multi-process run.
    """
    if jax.process_count() > 1:
        if devices is not None:
            raise ValueError(
                "TrainConfig.devices must be None in a multi-process run (pmap spans all devices)."
            )
        return jax.local_devices(), None
    n = jax.local_device_count()
    if devices is not None and not 0 < devices <= n:
        raise ValueError(
            f"TrainConfig.devices must be None or an int in [1, {n}]; got {devices!r}."
        )
    local = jax.local_devices()[:devices]
    return local, local


def replicate(tree: PyTree, devices: Sequence[jax.Device]) -> PyTree:
    """Each leaf copied onto each local device, stacked along a new leading axis (pmap's layout).

    Built device by device from the host array, without an ``n``-fold host copy.
    """
    mesh = jax.sharding.Mesh(np.array(devices), ("devices",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("devices"))

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback((len(devices), *x.shape), sharding, lambda _: x[None])

    return jax.tree.map(put, tree)


def unreplicate(tree: PyTree) -> PyTree:
    """The first replica of a pmapped pytree, on the host."""
    return jax.device_get(jax.tree.map(lambda a: a[0], tree))


def host_shard(examples: np.ndarray) -> np.ndarray:
    """This process's contiguous ``1/P`` of the examples (all of them on one host).

    The ``N mod P`` examples past the last whole shard are not used.
    """
    count, index = jax.process_count(), jax.process_index()
    shard = len(examples) // count
    return examples[index * shard : (index + 1) * shard]
