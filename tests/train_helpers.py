"""The short reference run that several training tests reuse, and helpers to compare runs."""

import os

import chex
import jax
import numpy as np
import pytest
from flax import nnx

from corel_jax.training.backbone import load_backbone
from corel_jax.training.config import TrainConfig

# One config, spelled twice: as command-line options and as a TrainConfig.
# A small MLP autoencoder: what these tests check (checkpoints, resumption, the command
# line) does not depend on the model, and it compiles in a fraction of the conv model's
# time (tests/models checks the models; tests/paper/test_demo.py trains the paper's).
ARGS = [
    "--dataset", "digits", "--model", "mlp", "--hidden", "64", "--num-branches", "8",
    "--epochs", "2", "--devices", "1",
    "--checkpoint-every", "8", "--steps-per-dispatch", "4", "--log-every", "5",
    "--keep-checkpoints", "10",
]  # fmt: skip
CONFIG = TrainConfig(
    dataset="digits",
    model="mlp",
    hidden=(64,),
    num_branches=8,
    epochs=2,
    devices=1,
    checkpoint_every=8,
    steps_per_dispatch=4,
    log_every=5,
    keep_checkpoints=10,
)
# On a GPU, float32 convolutions may run in TF32 and reductions in other orders, and runs
# are bitwise reproducible only with XLA's deterministic ops (CPU runs always are).
GPU = jax.default_backend() == "gpu"
TOL = dict(rtol=2e-3, atol=2e-3) if GPU else dict(rtol=1e-5, atol=1e-5)
reproducible = pytest.mark.skipif(
    GPU and "--xla_gpu_deterministic_ops=true" not in os.environ.get("XLA_FLAGS", ""),
    reason="GPU runs are reproducible only with XLA_FLAGS=--xla_gpu_deterministic_ops=true",
)
STEPS_PER_EPOCH = 1348 // 100  # digits' train split, batch 100, last batch dropped
TOTAL = 2 * STEPS_PER_EPOCH


def params_of(workdir, step=None) -> list[np.ndarray]:
    model, _ = load_backbone(workdir, step)
    return [np.asarray(p) for p in jax.tree.leaves(nnx.state(model, nnx.Param))]


def assert_same_params(a, b):
    assert len(a) == len(b)
    chex.assert_trees_all_equal(a, b)


def checkpoint_steps(workdir) -> list[int]:
    return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
