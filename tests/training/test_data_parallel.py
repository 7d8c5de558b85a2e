"""The data-parallel step equals the trainer's earlier ``jax.pmap`` step on the same global batches.

``pmap_chunk`` below is a frozen copy of that step (``jax.pmap`` over a
``lax.scan`` of Adam steps, the gradients, metrics and batch statistics
averaged with ``lax.pmean``): each device's ``B`` examples are one batch of the
loss, as the paper trains.
"""

import dataclasses

import jax
import numpy as np
import optax
import pytest

from corel_jax import data
from corel_jax.training import train as T
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import make_loss_fn, prepare_inputs
from corel_jax.training.parallel import replicate
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


def pmap_chunk(devices):
    """The trainer's chunk as it was: ``(state, images, idx)`` per device, ``idx`` ``(steps, B)``."""

    def chunk(state, images, idx):
        return jax.lax.scan(lambda s, i: frozen_pmap_step(s, images[i]), state, idx)

    return jax.pmap(chunk, axis_name="batch", devices=devices)


@pytest.mark.parametrize("model", ["mlp", "branch"])
def test_the_chunk_equals_the_frozen_pmap_chunk(model):
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    devices = jax.local_devices()[:8]
    config = TrainConfig(model=model, hidden=(32,), num_branches=8, batch_size=20)
    images = data.load("digits", "train").images[:400]
    _, state = create_train_state(config, images.shape[1:], jax.random.key(0))
    rng = np.random.default_rng(0)
    idx = np.stack([rng.permutation(400)[:60].reshape(3, 20) for _ in range(8)])  # (8, 3, 20)

    old_state, old_metrics = pmap_chunk(devices)(
        replicate(state, devices), replicate(images, devices), idx
    )
    new_state, new_metrics = T.make_chunk_fn(devices)(
        replicate(state, devices), replicate(images, devices), idx
    )
    for a, b in zip(
        jax.tree.leaves(new_state.params), jax.tree.leaves(old_state.params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a)[0], np.asarray(b)[0], rtol=1e-5, atol=1e-6)
    for k, v in old_metrics.items():
        np.testing.assert_allclose(np.asarray(new_metrics[k])[0], np.asarray(v)[0], rtol=1e-5)
