"""Tests for corel_jax.training.parallel: the data mesh, replicated and per-device arrays, host shards."""

import jax
import numpy as np
import pytest

from corel_jax.training import parallel


def test_data_mesh():
    mesh = parallel.data_mesh(1)
    assert mesh.axis_names == ("data",) and list(mesh.devices.flat) == jax.local_devices()[:1]
    assert list(parallel.data_mesh(None).devices.flat) == jax.local_devices()
    n = jax.local_device_count()
    with pytest.raises(
        ValueError, match=rf"TrainConfig.devices must be None or an int in \[1, {n}\]"
    ):
        parallel.data_mesh(n + 1)


def test_replicate_and_host_value():
    mesh = parallel.data_mesh(2 if jax.local_device_count() >= 2 else 1)
    tree = {"a": np.arange(6.0).reshape(2, 3), "b": np.int32(4)}
    rep = parallel.replicate(tree, mesh)
    assert rep["a"].shape == (2, 3) and rep["a"].sharding.is_fully_replicated
    assert {s.device for s in rep["a"].addressable_shards} == set(mesh.devices.flat)
    back = parallel.host_value(rep)
    np.testing.assert_array_equal(back["a"], tree["a"])
    assert int(back["b"]) == 4 and isinstance(back["a"], np.ndarray)


@pytest.mark.multidevice
def test_per_device_rows_and_device_copies():
    if jax.local_device_count() < 4:
        pytest.skip("needs 4 (forced) devices")
    mesh = parallel.data_mesh(4)
    rows = np.arange(4 * 3 * 2).reshape(3, 4, 2)  # the device axis second
    arr = parallel.per_device(rows, mesh, axis=1)
    assert arr.shape == (3, 4, 2)
    for shard in arr.addressable_shards:  # device d holds row d
        d = list(mesh.devices.flat).index(shard.device)
        np.testing.assert_array_equal(np.asarray(shard.data), rows[:, d : d + 1])
    examples = np.arange(10, dtype=np.uint8).reshape(5, 2)
    copies = parallel.device_copies(examples, mesh)
    assert copies.shape == (4, 5, 2)
    for shard in copies.addressable_shards:
        np.testing.assert_array_equal(np.asarray(shard.data)[0], examples)


def test_host_shard_single_process():
    x = np.arange(10)
    np.testing.assert_array_equal(parallel.host_shard(x), x)  # one process holds everything
