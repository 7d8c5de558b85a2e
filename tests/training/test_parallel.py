"""Tests for corel_jax.training.parallel: device selection, replication, host shards."""

import jax
import numpy as np
import pytest

from corel_jax.training import parallel


def test_select_devices():
    local, pmap_devices = parallel.select_devices(1)
    assert local == pmap_devices == jax.local_devices()[:1]
    local, _ = parallel.select_devices(None)
    assert local == jax.local_devices()
    n = jax.local_device_count()
    with pytest.raises(
        ValueError, match=rf"TrainConfig.devices must be None or an int in \[1, {n}\]"
    ):
        parallel.select_devices(n + 1)


def test_replicate_and_unreplicate():
    devices = jax.local_devices()[:2]
    tree = {"a": np.arange(6.0).reshape(2, 3), "b": np.int32(4)}
    rep = parallel.replicate(tree, devices)
    assert rep["a"].shape == (len(devices), 2, 3) and rep["b"].shape == (len(devices),)
    assert {s.device for s in rep["a"].addressable_shards} == set(devices)
    back = parallel.unreplicate(rep)
    np.testing.assert_array_equal(back["a"], tree["a"])
    assert int(back["b"]) == 4


def test_host_shard_single_process():
    x = np.arange(10)
    np.testing.assert_array_equal(parallel.host_shard(x), x)  # one process holds everything
