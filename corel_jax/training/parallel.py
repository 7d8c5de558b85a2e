"""Data-parallel placement on a device mesh: the ``data`` mesh, replicated state, per-device data.

Training runs one ``jax.jit`` program over a one-axis :class:`jax.sharding.Mesh`
whose axis is ``"data"``: the train state is replicated on every device, and
arrays with a leading device axis (each device's copy of its process's
training examples, each device's batch indices) are sharded along it, so each
device computes the loss of its own batch. In a multi-process run
(``jax.distributed``) the mesh spans the devices of all processes, each
process feeds the rows of its own devices
(:func:`jax.make_array_from_process_local_data`) and reads its own
contiguous ``1/P`` of the training set (:func:`host_shard`).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "AXIS",
    "data_mesh",
    "device_copies",
    "host_shard",
    "host_value",
    "per_device",
    "replicate",
]

PyTree = Any

AXIS = "data"


def data_mesh(devices: int | None = None) -> Mesh:
    """The one-axis ``"data"`` mesh of the devices to train on.

    Args:
      devices: the first ``devices`` local devices (``TrainConfig.devices``);
        None: all devices (of all processes in a multi-process run, where it
        must be None).

    Raises:
      ValueError: more devices asked for than there are, or a device count in
        a multi-process run.
    """
    if jax.process_count() > 1:
        if devices is not None:
            raise ValueError(
                "TrainConfig.devices must be None in a multi-process run (the mesh spans all "
                "devices of all processes)."
            )
        return Mesh(np.array(jax.devices()), (AXIS,))
    n = jax.local_device_count()
    if devices is not None and not 0 < devices <= n:
        raise ValueError(
            f"TrainConfig.devices must be None or an int in [1, {n}]; got {devices!r}."
        )
    return Mesh(np.array(jax.local_devices()[:devices]), (AXIS,))


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Each leaf (a host value, equal on every process) on every device of ``mesh``.

    Built device by device from the host array, without a host copy per device.
    """
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def per_device(local: np.ndarray, mesh: Mesh, *, axis: int = 0) -> jax.Array:
    """A global array sharded along ``axis`` over the ``data`` axis of ``mesh``.

    Args:
      local: this process's rows: ``local.shape[axis]`` is its number of
        devices in ``mesh``, row ``i`` goes to its ``i``-th device.
      mesh: the :func:`data_mesh`.
      axis: the device axis of ``local``.

    Returns:
      The global array (its ``axis`` is the mesh size), from
      :func:`jax.make_array_from_process_local_data`.
    """
    spec = PartitionSpec(*(None,) * axis, AXIS)
    return jax.make_array_from_process_local_data(NamedSharding(mesh, spec), np.asarray(local))


def device_copies(examples: np.ndarray, mesh: Mesh) -> jax.Array:
    """``(devices, N, ...)``: every device of ``mesh`` holds its process's ``examples``."""
    local = len([d for d in mesh.devices.flat if d.process_index == jax.process_index()])
    return per_device(np.broadcast_to(examples, (local, *examples.shape)), mesh)


def host_value(tree: PyTree) -> PyTree:
    """The host value of replicated arrays (each process reads its own copy)."""

    def get(x):
        if isinstance(x, jax.Array):
            return np.asarray(x.addressable_shards[0].data)
        return np.asarray(x)

    return jax.tree.map(get, tree)


def host_shard(examples: np.ndarray) -> np.ndarray:
    """This process's contiguous ``1/P`` of the examples (all of them on one host).

    The ``N mod P`` examples past the last whole shard are not used.
    """
    count, index = jax.process_count(), jax.process_index()
    shard = len(examples) // count
    return examples[index * shard : (index + 1) * shard]
