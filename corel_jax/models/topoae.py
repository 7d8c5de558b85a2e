"""The autoencoders of the Topological Autoencoders paper, in ``flax.nnx``.

Both follow the authors' PyTorch modules layer for layer
(``src/models/submodules.py`` of their repository):

* :class:`SpheresAutoencoder` (their ``MLPAutoencoder_Spheres``), for SPHERES
  (R^101 -> R^2): encoder ``Linear(101, 32) - BatchNorm - ReLU -
  Linear(32, 32) - BatchNorm - ReLU - Linear(32, 2)``, decoder the mirror
  image ``Linear(2, 32) - BatchNorm - ReLU - Linear(32, 32) - BatchNorm - ReLU -
  Linear(32, 101)``, no output activation.
* :class:`DeepAutoencoder` (their ``DeepAE``), for Fashion-MNIST (and MNIST,
  CIFAR): encoder ``flatten - Linear(784, 1000) - ReLU - BatchNorm -
  Linear(1000, 500) - ReLU - BatchNorm - Linear(500, 250) - ReLU - BatchNorm -
  Linear(250, 2)``, decoder ``Linear(2, 250) - ReLU - BatchNorm - ... -
  Linear(1000, 784) - reshape - tanh`` (note: here BatchNorm comes *after*
  the ReLU). Images are expected in [-1, 1] (the authors normalise pixels
  with mean 0.5 and std 0.5).

With ``latent_scale=True`` a model also carries the learnable scalar that
divides the latent distances in the authors' topological loss (initialised to
1, trained with the rest; pass it as ``z_scale`` to
:func:`corel_jax.loss.signature_loss`). The plain autoencoder of the paper has
no such parameter.

Initialisation is PyTorch's default for ``nn.Linear`` (weights and biases
uniform in ``+-1/sqrt(fan_in)``) and for ``BatchNorm1d`` (scale 1, bias 0,
epsilon 1e-5, running-average momentum 0.1, i.e. flax ``momentum=0.9``).
One difference remains: flax updates the running variance with the biased
batch variance, PyTorch with the unbiased one (a factor ``B / (B - 1)``,
which only affects evaluation-mode outputs).

Call ``model.train()`` / ``model.eval()`` to switch BatchNorm between batch
statistics and running averages.

References:
  Moor, Horn, Rieck, Borgwardt. Topological Autoencoders. ICML 2020, Sec. 5
  and supplement; https://github.com/BorgwardtLab/topological-autoencoders.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["DeepAutoencoder", "SpheresAutoencoder", "count_params"]

# PyTorch's BatchNorm1d running-average momentum 0.1, in flax's convention.
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5


def _torch_linear(d_in: int, d_out: int, rngs: nnx.Rngs) -> nnx.Linear:
    """``nn.Linear``'s default init: kernel and bias uniform in +-1/sqrt(d_in)."""
    bound = 1.0 / math.sqrt(d_in)

    def bias_init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    kernel_init = jax.nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
    return nnx.Linear(d_in, d_out, kernel_init=kernel_init, bias_init=bias_init, rngs=rngs)


def _batch_norm(features: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(features, momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, rngs=rngs)


def _check_sizes(values: Sequence[int], name: str) -> tuple[int, ...]:
    values = tuple(values)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must hold positive ints; got {values!r}.")
    return tuple(int(v) for v in values)


class _Stack(nnx.Module):
    """Linear layers with BatchNorm and ReLU between them, none after the last.

    ``bn_after_relu`` picks the order inside a block: ``Linear - ReLU - BN``
    (True, ``DeepAE``) or ``Linear - BN - ReLU`` (False, the SPHERES MLP).
    """

    def __init__(self, sizes: Sequence[int], *, bn_after_relu: bool, rngs: nnx.Rngs) -> None:
        self.bn_after_relu = bn_after_relu
        self.linears = nnx.List(
            [_torch_linear(a, b, rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.norms = nnx.List([_batch_norm(b, rngs) for b in sizes[1:-1]])

    def __call__(self, h: jax.Array) -> jax.Array:
        for linear, norm in zip(self.linears[:-1], self.norms, strict=True):
            h = linear(h)
            h = norm(jax.nn.relu(h)) if self.bn_after_relu else jax.nn.relu(norm(h))
        return self.linears[-1](h)


class _Autoencoder(nnx.Module):
    """``encode`` / ``decode`` / ``__call__`` shared by both models."""

    encoder: _Stack
    decoder: _Stack

    def _init_latent_scale(self, latent_scale: bool) -> None:
        self.latent_scale = nnx.Param(jnp.ones(())) if latent_scale else None

    def encode(self, x: jax.Array) -> jax.Array:
        """``(B, *input_shape)`` -> ``(B, latent_dim)`` codes."""
        return self.encoder(self._flatten(x))

    def decode(self, z: jax.Array) -> jax.Array:
        """``(B, latent_dim)`` -> ``(B, *input_shape)`` reconstructions."""
        return self._unflatten(self.decoder(z))

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Returns ``(reconstructions, codes)``, the order of :mod:`corel_jax.models`."""
        z = self.encode(x)
        return self.decode(z), z

    def _flatten(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _unflatten(self, h: jax.Array) -> jax.Array:
        raise NotImplementedError


class SpheresAutoencoder(_Autoencoder):
    """The paper's SPHERES autoencoder: MLP 101-32-32-2, BatchNorm before ReLU.

    Args:
      in_features: input width (101 for SPHERES).
      input_shape: the shape of one input, whose values are flattened in
        order (``prod(input_shape)`` replaces ``in_features``); the
        reconstructions have this shape. Default ``(in_features,)``.
      hidden: hidden widths of the encoder (the decoder mirrors them).
      latent_dim: code width (2 in the paper).
      latent_scale: add the learnable latent-distance scale of the authors'
        topological autoencoder.
      rngs: ``nnx.Rngs`` for the initialisation.

    Examples:
      >>> from flax import nnx
      >>> model = SpheresAutoencoder(rngs=nnx.Rngs(0))
      >>> count_params(model)
      9127
    """

    def __init__(
        self,
        *,
        in_features: int = 101,
        input_shape: Sequence[int] | None = None,
        hidden: Sequence[int] = (32, 32),
        latent_dim: int = 2,
        latent_scale: bool = False,
        rngs: nnx.Rngs,
    ) -> None:
        if input_shape is not None:
            in_features = math.prod(_check_sizes(input_shape, "input_shape"))
        sizes = _check_sizes((in_features, *hidden, latent_dim), "in_features/hidden/latent_dim")
        self.in_features = sizes[0]
        self.input_shape = (sizes[0],) if input_shape is None else tuple(map(int, input_shape))
        self.latent_dim = sizes[-1]
        self.encoder = _Stack(sizes, bn_after_relu=False, rngs=rngs)
        self.decoder = _Stack(sizes[::-1], bn_after_relu=False, rngs=rngs)
        self._init_latent_scale(latent_scale)

    def _flatten(self, x: jax.Array) -> jax.Array:
        if tuple(x.shape[1:]) != self.input_shape:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(f"x must have shape (B, {shape}); got {x.shape}.")
        return x.reshape(x.shape[0], -1)

    def _unflatten(self, h: jax.Array) -> jax.Array:
        return h.reshape(h.shape[0], *self.input_shape)


class DeepAutoencoder(_Autoencoder):
    """The paper's image autoencoder (``DeepAE``): MLP 784-1000-500-250-2, tanh output.

    Args:
      input_shape: ``(H, W, C)`` of the images (Fashion-MNIST: 28 x 28 x 1).
      hidden: hidden widths of the encoder (the decoder mirrors them).
      latent_dim: code width (2 in the paper).
      latent_scale: add the learnable latent-distance scale of the authors'
        topological autoencoder.
      rngs: ``nnx.Rngs``.

    Inputs are ``(B, H, W, C)`` images in [-1, 1], flattened in ``H, W, C``
    order (the same as PyTorch's ``C, H, W`` order for one channel); outputs
    have the input's shape and lie in (-1, 1).

    Examples:
      >>> from flax import nnx
      >>> count_params(DeepAutoencoder(rngs=nnx.Rngs(0)))
      2830286
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int] = (28, 28, 1),
        hidden: Sequence[int] = (1000, 500, 250),
        latent_dim: int = 2,
        latent_scale: bool = False,
        rngs: nnx.Rngs,
    ) -> None:
        self.input_shape = _check_sizes(input_shape, "input_shape")
        sizes = _check_sizes(
            (math.prod(self.input_shape), *hidden, latent_dim), "hidden/latent_dim"
        )
        self.latent_dim = sizes[-1]
        self.encoder = _Stack(sizes, bn_after_relu=True, rngs=rngs)
        self.decoder = _Stack(sizes[::-1], bn_after_relu=True, rngs=rngs)
        self._init_latent_scale(latent_scale)

    def _flatten(self, x: jax.Array) -> jax.Array:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"x must have shape (B, {', '.join(map(str, self.input_shape))}); got {x.shape}."
            )
        return x.reshape(x.shape[0], -1)

    def _unflatten(self, h: jax.Array) -> jax.Array:
        return jnp.tanh(h.reshape(h.shape[0], *self.input_shape))


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters (``nnx.Param`` entries; BatchNorm running stats excluded)."""
    return sum(int(a.size) for a in jax.tree.leaves(nnx.state(model, nnx.Param)))
