"""Shared test fixtures.

Eight host CPU devices are forced *before* JAX is imported so that the pmap /
shard_map tests can run on a CPU-only machine.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator; each test gets a fresh one."""
    return np.random.default_rng(0)


@pytest.fixture
def tfds():
    """tensorflow_datasets, or a skip where it is not installed."""
    return pytest.importorskip("tensorflow_datasets")


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """A complete 2-epoch run of ``train_helpers.CONFIG`` made with ``corel-jax train``."""
    from train_helpers import ARGS

    from corel_jax import commands

    workdir = tmp_path_factory.mktemp("reference") / "run"
    assert commands.main(["train", "--workdir", str(workdir), *ARGS]) == 0
    return workdir
