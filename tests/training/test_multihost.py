"""Multi-host training: two processes on localhost with ``jax.distributed`` (CPU collectives
through gloo), one device each on one mesh, each feeding its own shard of the data, end with
identical parameters, equal to one process running the same global batches on two devices."""

import socket
import subprocess
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from flax import nnx
from multihost_config import CONFIG, NUM_IMAGES

from corel_jax import data
from corel_jax.training import parallel, train as T
from corel_jax.training.backbone import load_backbone
from corel_jax.training.state import create_train_state

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _single_process_reference(images: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The documented multi-host data order, run on two devices of this process.

    Host ``h`` holds the contiguous shard ``images[h * 80 : (h + 1) * 80]``; every host
    orders its shard with the same permutation per epoch; step ``s`` of an epoch takes
    rows ``perm[s * B : (s + 1) * B]`` of each shard, one batch per device.
    """
    mesh = parallel.data_mesh(2)
    shard = NUM_IMAGES // 2
    _, state = create_train_state(CONFIG, images.shape[1:], jax.random.key(CONFIG.seed))
    initial = [np.asarray(leaf) for leaf in jax.tree.leaves(state.params)]
    key_data = np.asarray(state.key)
    chunk = T.make_chunk_fn(mesh)
    state, images_dev = parallel.replicate(state, mesh), parallel.device_copies(images, mesh)
    b = CONFIG.batch_size
    for epoch in range(CONFIG.epochs):
        perm = T.epoch_permutation(key_data, epoch, shard)
        for s in range(shard // b):
            rows = perm[s * b : (s + 1) * b]
            idx = np.stack([h * shard + rows for h in range(2)])[:, None, :]  # (devices, 1, B)
            state, _ = chunk(state, images_dev, idx)
    return initial, jax.tree.leaves(parallel.host_value(state.params))


@pytest.mark.slow
@pytest.mark.multidevice
def test_two_processes_train_like_one_process_on_two_devices(tmp_path):
    if jax.local_device_count() < 2:
        pytest.skip("needs 2 (forced) devices for the single-process reference")
    port, workdir = _free_port(), tmp_path / "run"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "multihost_worker.py"),
                str(i),
                str(port),
                str(workdir),
                str(tmp_path / f"p{i}.npz"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=HERE,
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=480)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]

    runs = [np.load(tmp_path / f"p{i}.npz") for i in range(2)]
    steps = CONFIG.epochs * (NUM_IMAGES // 2 // CONFIG.batch_size)
    assert int(runs[0]["step"]) == int(runs[1]["step"]) == steps
    params = [[r[f"arr_{k}"] for k in range(len(r.files) - 1)] for r in runs]
    chex.assert_trees_all_equal(params[0], params[1])  # both hosts hold the same parameters
    images = data.load("digits", "train").images[:NUM_IMAGES]
    initial, reference = _single_process_reference(images)
    chex.assert_trees_all_equal(params[0], reference)  # the same computation, bit for bit
    assert all(not np.array_equal(a, b) for a, b in zip(params[0], initial, strict=True))
    # the checkpoint the two processes wrote together is the same model
    model, config = load_backbone(workdir)
    assert config == CONFIG
    saved = [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]
    chex.assert_trees_all_equal(saved, params[0])
