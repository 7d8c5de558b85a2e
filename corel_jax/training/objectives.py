"""The training objective: a reconstruction loss plus a chosen topological term.

For a mini-batch ``x`` of ``B`` examples with codes ``z = f(x)`` and
reconstructions ``x_hat``, the loss is

.. math::
  \\mathrm{Rec}(x, \\hat x) + \\lambda \\, T(x, z),

where ``config.topo`` picks the topological term ``T``:

* ``"corel"``: COREL's connectivity loss :math:`L_\\eta(z)`
  (:func:`corel_jax.loss.connectivity_loss`; ``docs/method.md``);
* ``"topoae"``: the Topological Autoencoders signature loss of the authors'
  code divided by the batch size,
  :math:`\\mathrm{sig}(x / s_X, z / s_Z) / B`
  (:func:`corel_jax.loss.signature_loss` with ``squared=True``), where
  :math:`s_X` is the largest distance two inputs can have (images: the pixel
  range times :math:`\\sqrt{HWC}`) or, for float data, the batch's largest
  distance, and :math:`s_Z` is the model's learnable latent scale when it has
  one (``spheres_mlp``, ``deep_ae``), else the batch's largest latent distance;
* ``"none"``: no term (a plain autoencoder); ``lam = 0`` does the same.

Each model brings its paper's input range and reconstruction loss:
the COREL models (``branch``, ``mlp``) see uint8 images in [0, 1] and the
summed l1 error (:func:`corel_jax.loss.reconstruction_loss`); the TopoAE models
(``spheres_mlp``, ``deep_ae``) see uint8 images in [-1, 1] (the authors'
normalisation) and the mean squared error over all values. Float data
(SPHERES) enters as it is.

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
  Moor, Horn, Rieck, Borgwardt. Topological Autoencoders. ICML 2020
  (``docs/topoae.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import jax
import jax.numpy as jnp
from flax import nnx

from corel_jax import loss as losses
from corel_jax.models import Autoencoder, create_model, is_topoae
from corel_jax.training.config import TrainConfig

if TYPE_CHECKING:
    from corel_jax.loss.connectivity import Reduction
    from corel_jax.persistence import Metric

__all__ = ["build_model", "data_scale", "make_loss_fn", "prepare_inputs", "reconstruction"]


def prepare_inputs(batch: jax.Array, model: str | nnx.Module) -> jax.Array:
    """Float32 inputs of a batch: uint8 images scaled to ``model``'s range, floats unchanged.

    Args:
      batch: ``(B, H, W, C)`` uint8 images, or float data.
      model: the model name (``TrainConfig.model``) or the model.

    Returns:
      ``(B, H, W, C)`` float32: in [0, 1] (COREL models) or [-1, 1]
      (TopoAE models) for uint8 input.
    """
    if batch.dtype != jnp.uint8:
        return batch.astype(jnp.float32)
    x = batch.astype(jnp.float32) / 255.0
    return 2.0 * x - 1.0 if is_topoae(model) else x


def data_scale(dtype, input_shape: Sequence[int], model: str) -> float | None:
    """The data-space scale of the TopoAE term: the largest distance of two inputs, or None.

    uint8 images: ``(range) * sqrt(H W C)`` (56 for 28x28x1 images in [-1, 1],
    the authors' value); float data: None (the batch's largest distance).
    """
    if jnp.dtype(dtype) != jnp.uint8:
        return None
    return (2.0 if is_topoae(model) else 1.0) * math.sqrt(math.prod(input_shape))


def reconstruction(x: jax.Array, x_hat: jax.Array, model: str) -> jax.Array:
    """The reconstruction loss of ``model``'s paper: mean squared error (TopoAE models) or
    the summed l1 error averaged over the batch (COREL models)."""
    x = x.reshape(x.shape[0], -1)
    x_hat = x_hat.reshape(x_hat.shape[0], -1)
    if is_topoae(model):
        return jnp.mean((x - x_hat) ** 2)
    return losses.reconstruction_loss(x_hat, x)


def _topo_term(config: TrainConfig, model: Autoencoder, x, z, x_scale) -> jax.Array:
    if config.topo == "corel":
        return losses.connectivity_loss(
            z,
            eta=config.eta,
            num_branches=config.num_branches,
            metric=cast("Metric", config.metric),  # validated by TrainConfig
            reduction=cast("Reduction", config.reduction),  # validated likewise
        )
    scale = getattr(model, "latent_scale", None)
    z_scale = None if scale is None else scale[...]
    return losses.signature_loss(x, z, x_scale=x_scale, z_scale=z_scale) / x.shape[0]


def make_loss_fn(graphdef: nnx.GraphDef, config: TrainConfig, *, dtype=jnp.uint8) -> Callable:
    """The training loss as a pure function of the parameters and the other model state.

    Args:
      graphdef: the model's graph definition (``nnx.split(model, nnx.Param, ...)``).
      config: gives ``model``, ``topo``, ``lam`` and the term's settings.
      dtype: the dtype of the raw training data (uint8 images or float data);
        sets the TopoAE term's data scale (:func:`data_scale`).

    Returns:
      ``loss_fn(params, rest, x) -> (loss, (metrics, rest))`` for inputs
      ``x`` of shape ``(B, H, W, C)`` prepared by :func:`prepare_inputs`;
      ``rest`` is the model's non-parameter state (BatchNorm statistics,
      updated by the forward pass; empty for the COREL models). ``metrics``
      holds ``rec``, ``loss = rec + lam * term`` (``lam`` as
      ``config.effective_lam`` gives it) and, when the term is computed
      (``topo != "none"`` and ``lam > 0``), ``conn`` (COREL) or ``topo``
      (TopoAE).
    """

    def loss_fn(params, rest, x):
        model = nnx.merge(graphdef, params, rest, copy=True)
        x_hat, z = model(x)
        rec = reconstruction(x, x_hat, config.model)
        metrics = {"rec": rec}
        total = rec
        if config.topo != "none" and config.lam > 0:
            x_scale = data_scale(dtype, x.shape[1:], config.model)
            term = _topo_term(config, model, x, z, x_scale)
            total = total + config.effective_lam(x.shape[1:]) * term
            metrics["conn" if config.topo == "corel" else "topo"] = term
        metrics["loss"] = total
        return total, (metrics, nnx.state(model, nnx.Not(nnx.Param)))

    return loss_fn


def build_model(config: TrainConfig, input_shape: Sequence[int], *, rngs: nnx.Rngs) -> Autoencoder:
    """The model of ``config`` for inputs of ``input_shape``, with the learnable latent scale
    of the TopoAE term when ``topo == "topoae"`` and the model is a TopoAE model."""
    return create_model(
        config.model,
        input_shape=tuple(int(s) for s in input_shape),
        num_branches=config.num_branches,
        branch_dim=config.branch_dim,
        filters=config.filters,
        hidden=config.hidden,
        latent_scale=config.topo == "topoae" and is_topoae(config.model),
        rngs=rngs,
    )
