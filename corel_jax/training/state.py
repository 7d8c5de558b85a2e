"""The train state and the pure training step.

The step is a pure function of a :class:`TrainState` (``nnx.split`` of the
model: the graph definition is static, the parameters are a pytree;
``nnx.merge`` inside the loss), so ``jit``, ``pmap`` and ``scan`` handle it.
The loss it minimises is :func:`corel_jax.training.objectives.make_loss_fn`'s.
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

__all__ = ["TrainState", "create_train_state", "make_optimizer", "train_step"]

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


def train_step(
    state: TrainState, batch: jax.Array, *, axis_name: str | None = None
) -> tuple[TrainState, dict]:
    """One Adam step on a batch.

    Args:
      state: the train state.
      batch: ``(B, H, W, C)`` uint8 images (scaled to the model's range here,
        :func:`corel_jax.training.objectives.prepare_inputs`) or float data.
      axis_name: inside ``pmap``, the device axis: the gradients and metrics
        are averaged over it (``lax.pmean``).

    Returns:
      ``(new_state, metrics)``: scalars ``rec``, ``loss`` and the term's
      (:func:`corel_jax.training.objectives.make_loss_fn`).
    """
    x = prepare_inputs(batch, state.config.model)
    loss_fn = make_loss_fn(state.graphdef, state.config, dtype=batch.dtype)
    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, x
    )
    if axis_name is not None:
        grads, metrics, batch_stats = jax.lax.pmean((grads, metrics, batch_stats), axis_name)
    updates, opt_state = make_optimizer(state.config).update(grads, state.opt_state, state.params)
    new_state = dataclasses.replace(
        state,
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        step=state.step + 1,
        batch_stats=batch_stats,
    )
    return new_state, metrics
