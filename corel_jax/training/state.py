"""The train state and the pure training steps.

The steps are pure functions of a :class:`TrainState` (``nnx.split`` of the
model: the graph definition is static, the parameters are a pytree;
``nnx.merge`` inside the loss), so ``jit``, ``scan``, ``vmap`` and
``shard_map`` handle them. The loss they minimise is
:func:`corel_jax.training.objectives.make_loss_fn`'s.

:func:`train_step` takes one mini-batch; :func:`data_parallel_step` takes
``D`` of them stacked on a leading axis, each one a mini-batch of the loss
(COREL's connectivity loss is defined per batch: one call, one cloud per
branch), and averages their gradients. Under ``jax.jit`` with that axis
sharded over a device mesh, each device computes its own batches and XLA
sums the gradients across devices: the data-parallel step of the trainer
(:mod:`corel_jax.training.train`, ``docs/sharding.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import build_model, make_loss_fn, prepare_inputs

__all__ = ["TrainState", "create_train_state", "data_parallel_step", "make_optimizer", "train_step"]

PyTree = Any


@dataclasses.dataclass(frozen=True)
class TrainState:
    """Everything a training step reads and writes; a pytree.

    Data fields (leaves): ``params``, the model's ``nnx.Param`` state;
    ``opt_state``, optax's Adam state; ``step``, an int32 scalar;
    ``key``, the uint32 key data of the data-order PRNG key; ``batch_stats``,
    the model's other state (BatchNorm statistics; empty for COREL's models).
    Static fields: ``graphdef`` (``nnx.split``'s graph definition) and ``config``.
    """

    params: PyTree
    opt_state: PyTree
    step: jax.Array
    key: jax.Array
    batch_stats: PyTree
    graphdef: nnx.GraphDef
    config: TrainConfig

    def arrays(self) -> dict:
        """The data fields as a dict (what a checkpoint stores; ``batch_stats`` when not empty)."""
        arrays = dict(params=self.params, opt_state=self.opt_state, step=self.step, key=self.key)
        if jax.tree.leaves(self.batch_stats):
            arrays["batch_stats"] = self.batch_stats
        return arrays


jax.tree_util.register_dataclass(
    TrainState,
    data_fields=["params", "opt_state", "step", "key", "batch_stats"],
    meta_fields=["graphdef", "config"],
)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam (default betas) with the constant learning rate of ``config``.

    With ``weight_decay > 0``, ``weight_decay * params`` is first added to the
    gradients (PyTorch Adam's L2 ``weight_decay``, as the TopoAE authors ran).
    """
    adam = optax.adam(config.learning_rate)
    if config.weight_decay == 0:
        return adam
    return optax.chain(optax.add_decayed_weights(config.weight_decay), adam)


def create_train_state(
    config: TrainConfig, input_shape: Sequence[int], key: jax.Array
) -> tuple[nnx.GraphDef, TrainState]:
    """Builds the model, its optimizer state and the data-order key.

    Args:
      config: the training config.
      input_shape: the shape of one example, ``(H, W, C)``.
      key: a PRNG key, split into the initialisation key and the data-order key.

    Returns:
      ``(graphdef, state)``: the model's static structure (also
      ``state.graphdef``) and the initial :class:`TrainState` (step 0).
      ``nnx.merge(graphdef, state.params, state.batch_stats)`` is the model.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}.")
    init_key, data_key = jax.random.split(key)
    seed = int(jax.random.randint(init_key, (), 0, 2**31 - 1))
    model = build_model(config, input_shape, rngs=nnx.Rngs(seed))
    graphdef, params, *rest = nnx.split(model, nnx.Param, ...)
    batch_stats = rest[0]  # every other variable (BatchNorm statistics, ...)
    state = TrainState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(data_key),
        batch_stats=batch_stats,
        graphdef=graphdef,
        config=config,
    )
    return graphdef, state


def _apply(state: TrainState, grads: PyTree, batch_stats: PyTree) -> TrainState:
    """``state`` after one Adam step with ``grads``."""
    updates, opt_state = make_optimizer(state.config).update(grads, state.opt_state, state.params)
    return dataclasses.replace(
        state,
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        step=state.step + 1,
        batch_stats=batch_stats,
    )


def train_step(
    state: TrainState, batch: jax.Array, *, axis_name: str | None = None
) -> tuple[TrainState, dict]:
    """One Adam step on a batch.

    Args:
      state: the train state.
      batch: ``(B, H, W, C)`` uint8 images (scaled to the model's range here,
        :func:`corel_jax.training.objectives.prepare_inputs`) or float data.
      axis_name: inside ``jax.shard_map`` (or ``pmap``), a mesh axis over
        which the gradients and metrics are averaged (``lax.pmean``).

    Returns:
      ``(new_state, metrics)``: scalars ``rec``, ``loss`` and the term's
      (:func:`corel_jax.training.objectives.make_loss_fn`), and
      ``grad_norm``, the global norm of the (averaged) gradient.
    """
    x = prepare_inputs(batch, state.config.model)
    loss_fn = make_loss_fn(state.graphdef, state.config, dtype=batch.dtype)
    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, x
    )
    if axis_name is not None:
        grads, metrics, batch_stats = jax.lax.pmean((grads, metrics, batch_stats), axis_name)
    metrics = {**metrics, "grad_norm": optax.tree.norm(grads)}
    return _apply(state, grads, batch_stats), metrics


def data_parallel_step(state: TrainState, batches: jax.Array) -> tuple[TrainState, dict]:
    """One Adam step on ``D`` mini-batches at once, their gradients averaged.

    The gradient is that of the mean of the ``D`` batch losses, i.e. the mean
    of their gradients, as ``D`` devices running :func:`train_step` on one
    batch each with ``axis_name`` would average them; so are the metrics and
    the model's other state (BatchNorm statistics, computed per batch).

    Args:
      state: the train state.
      batches: ``(D, B, H, W, C)``: ``D`` mini-batches of ``B`` examples
        (uint8 images or float data). Under ``jax.jit`` with ``batches``
        sharded along its first axis over a device mesh (and ``state``
        replicated), each device computes the losses of its own batches.

    Returns:
      ``(new_state, metrics)`` as for :func:`train_step`, averaged over the
      ``D`` batches.
    """
    x = prepare_inputs(batches, state.config.model)
    loss_fn = make_loss_fn(state.graphdef, state.config, dtype=batches.dtype)
    per_batch = jax.vmap(loss_fn, in_axes=(None, None, 0))

    def mean_loss(params):
        losses, aux = per_batch(params, state.batch_stats, x)
        return jnp.mean(losses), aux

    grads, (metrics, batch_stats) = jax.grad(mean_loss, has_aux=True)(state.params)
    metrics, batch_stats = jax.tree.map(lambda a: jnp.mean(a, axis=0), (metrics, batch_stats))
    metrics = {**metrics, "grad_norm": optax.tree.norm(grads)}
    return _apply(state, grads, batch_stats), metrics
