"""The data-parallel step equals the trainer's earlier ``jax.pmap`` step on the same global batches.

``pmap_chunk`` below is a frozen copy of that step (``jax.pmap`` over a
``lax.scan`` of Adam steps, the gradients, metrics and batch statistics
averaged with ``lax.pmean``): each device's ``B`` examples are one batch of the
loss, as the paper trains.
"""

import dataclasses
import re

import jax
import numpy as np
import optax
import pytest

from corel_jax import data
from corel_jax.persistence import _native
from corel_jax.training import parallel, train as T
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import make_loss_fn, prepare_inputs
from corel_jax.training.state import create_train_state, make_optimizer

pytestmark = pytest.mark.multidevice


def frozen_pmap_step(state, batch):
    """The trainer's step as it was under ``jax.pmap(axis_name="batch")``."""
    x = prepare_inputs(batch, state.config.model)
    loss_fn = make_loss_fn(state.graphdef, state.config, dtype=batch.dtype)
    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, x
    )
    grads, metrics, batch_stats = jax.lax.pmean((grads, metrics, batch_stats), "batch")
    updates, opt_state = make_optimizer(state.config).update(grads, state.opt_state, state.params)
    new_state = dataclasses.replace(
        state,
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        step=state.step + 1,
        batch_stats=batch_stats,
    )
    return new_state, metrics


def pmap_replicate(tree, devices):
    """Each leaf copied onto each device, stacked along a new leading axis (pmap's layout)."""
    mesh = jax.sharding.Mesh(np.array(devices), ("devices",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("devices"))

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback((len(devices), *x.shape), sharding, lambda _: x[None])

    return jax.tree.map(put, tree)


def pmap_chunk(devices):
    """The trainer's chunk as it was: ``(state, images, idx)`` per device, ``idx`` ``(steps, B)``."""

    def chunk(state, images, idx):
        return jax.lax.scan(lambda s, i: frozen_pmap_step(s, images[i]), state, idx)

    return jax.pmap(chunk, axis_name="batch", devices=devices)


def run_chunk(mesh, state, images, idx):
    """``make_chunk_fn(mesh)`` on ``D`` copies of ``images`` and the batch indices ``idx``
    ``(D, steps, B)`` (host arrays, placed by the jitted chunk)."""
    copies = np.broadcast_to(images, (idx.shape[0], *images.shape))
    return T.make_chunk_fn(mesh)(parallel.replicate(state, mesh), copies, idx)


def setup(model: str):
    config = TrainConfig(model=model, hidden=(32,), num_branches=8, batch_size=20)
    images = data.load("digits", "train").images[:400]
    _, state = create_train_state(config, images.shape[1:], jax.random.key(0))
    rng = np.random.default_rng(0)
    idx = np.stack([rng.permutation(400)[:60].reshape(3, 20) for _ in range(8)])  # (8, 3, 20)
    return state, images, idx


@pytest.mark.parametrize("model", ["mlp", "branch"])
def test_the_chunk_equals_the_frozen_pmap_chunk(model):
    """Three steps on 8 devices, each with its own batch of 20, from the same state."""
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    devices = jax.local_devices()[:8]
    state, images, idx = setup(model)
    old_state, old_metrics = pmap_chunk(devices)(
        pmap_replicate(state, devices), pmap_replicate(images, devices), idx
    )
    new_state, new_metrics = run_chunk(parallel.data_mesh(8), state, images, idx)
    assert int(parallel.host_value(new_state.step)) == 3
    old = [np.asarray(a)[0] for a in jax.tree.leaves(old_state.params)]
    new = [np.asarray(a) for a in jax.tree.leaves(new_state.params)]
    for a, b in zip(new, old, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert set(new_metrics) == set(old_metrics) | {"grad_norm"}
    for k, v in old_metrics.items():
        assert new_metrics[k].shape == (3,)
        np.testing.assert_allclose(new_metrics[k], np.asarray(v)[0], rtol=1e-5)


def test_eight_devices_equal_one_device():
    """The same 8 batches per step on a mesh of 8 devices and on a mesh of one."""
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    state, images, idx = setup("branch")
    one_state, one_metrics = run_chunk(parallel.data_mesh(1), state, images, idx)
    eight_state, eight_metrics = run_chunk(parallel.data_mesh(8), state, images, idx)
    for a, b in zip(jax.tree.leaves(eight_state), jax.tree.leaves(one_state), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for k in one_metrics:
        np.testing.assert_allclose(eight_metrics[k], one_metrics[k], rtol=1e-5)


def test_each_device_computes_its_own_batch():
    """The compiled chunk on 8 devices moves no data between them: each gathers its batch
    from its copy of the examples, computes its loss (one fused kernel call on its 20
    codes) and only the gradients are summed (all-reduce)."""
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    state, images, idx = setup("branch")
    mesh = parallel.data_mesh(8)
    copies = np.broadcast_to(images, (8, *images.shape))
    text = T.make_chunk_fn(mesh).lower(state, copies, idx).compile().as_text()
    moves = re.findall(r"\b(all-gather|all-to-all|collective-permute|reduce-scatter)", text)
    assert not moves, moves
    assert "all-reduce" in text
    if _native.AVAILABLE:
        assert "f32[1,20,80]" in "".join(
            line for line in text.splitlines() if "corel_jax_connectivity" in line
        )
