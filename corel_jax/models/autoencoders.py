"""COREL's autoencoders, with an independent-branches latent space, in ``flax.nnx``.

``BranchAutoencoder`` is the paper's CIFAR model (``docs/method.md#the-autoencoder``):

* encoder: three 3x3 convolutions, stride 2, padding 1, with bias, channels
  ``filters = (32, 64, 128)``, each followed by LeakyReLU(0.01)
  (32 -> 16 -> 8 -> 4 pixels); the last feature map is flattened in
  channel-major (NCHW) order and mapped by an *independent-branches* linear
  layer to ``num_branches x branch_dim`` (16 x 10) codes, no activation;
* decoder: the mirror image: an independent-branches linear layer back to the
  feature map (reshaped channel-major), then three 3x3 transposed convolutions
  with stride 2 (PyTorch's ``padding=1, output_padding=1``: each doubles the
  size), ReLU between them, no output activation.

Each branch of the code reads (and, in the decoder, writes) one group of
channels of the last feature map through a :class:`~corel_jax.models.layers.BranchLinear`
layer: with the channel-major flatten, branch ``i`` of ``K`` is channels
``(C / K) i ... (C / K)(i + 1) - 1`` at every spatial position.

``MLPAutoencoder`` is a small fully connected model for vector or image data
with the same ``encode`` / ``decode`` interface; its last encoder layer and
first decoder layer are independent-branches layers too.

Inputs are float NHWC images in [0, 1]; outputs have the input's shape.
Parameters use flax's default initialisation (LeCun-normal kernels, zero
biases), not PyTorch's; the branch layers use LeCun-normal scaled to their true
(per-block) fan-in.

References:
  Hofer, Kwitt, Dixit, Niethammer, "Connectivity-Optimized Representation
  Learning via Persistent Homology", ICML 2019; https://arxiv.org/abs/1906.09003
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from corel_jax._checks import check_int_tuple, check_positive_int
from corel_jax.models.layers import (
    BranchLinear,
    ConvTranspose2x,
    StridedConv3x3,
    check_batch,
    check_rngs,
)

__all__ = ["BranchAutoencoder", "MLPAutoencoder"]

_LEAKY_SLOPE = 0.01


def _conv_out(size: int) -> int:
    """Spatial size after a 3x3, stride-2, padding-1 convolution: ``ceil(size / 2)``."""
    return (size + 2 - 3) // 2 + 1


class BranchAutoencoder(nnx.Module):
    """The paper's convolutional autoencoder with an independent-branches latent.

    Encoder, for ``filters = (32, 64, 128)`` and a 32x32x3 input::

      (B, 32, 32, 3) -conv-> (B, 16, 16, 32) -conv-> (B, 8, 8, 64) -conv-> (B, 4, 4, 128)
      -> NCHW flatten (B, 2048) -> BranchLinear(2048, 160, K=16) -> z (B, 160)

    each conv 3x3, stride 2, padding ((1, 1), (1, 1)), with bias, followed by
    LeakyReLU(0.01); ``z`` has no activation. Branch ``i`` is
    ``z[:, 10 i : 10 (i + 1)]`` and reads only channels ``8 i ... 8 i + 7`` of
    the last feature map (at all 4x4 positions). Decoder::

      z -> BranchLinear(160, 2048, K=16) -> reshape (B, 128, 4, 4) -> NHWC
      -> ConvTranspose2x(128, 64) -> ReLU -> ConvTranspose2x(64, 32) -> ReLU
      -> ConvTranspose2x(32, 3) -> x_hat (B, 32, 32, 3)

    where branch ``i`` writes only channels ``8 i ... 8 i + 7``. Each conv
    maps size ``s`` to ``ceil(s / 2)`` (28 -> 14 -> 7 -> 4, 8 -> 4 -> 2 -> 1);
    the sizes are recorded in ``spatial_sizes`` and each transposed conv's
    output padding is chosen from them (1 where the encoder halved exactly, 0
    where it rounded up; implemented by cropping), so ``x_hat`` has exactly the
    input's shape. No batch norm, no dropout.

    Args:
      input_shape: ``(H, W, C)``; e.g. 32x32x3 (CIFAR), 28x28x1 (MNIST-like),
        8x8x1 (scikit-learn digits).
      filters: channels of the convs (any number of layers);
        ``filters[-1]`` must be divisible by ``num_branches``.
      num_branches: ``K`` (paper: 16).
      branch_dim: dims per branch (paper: 10); the code has ``K * branch_dim``.
      rngs: ``nnx.Rngs`` for parameter initialisation (flax defaults:
        LeCun-normal kernels, zero biases; the original used PyTorch's
        defaults, which only changes the initial scale).

    Returns:
      A module with ``encode(x) -> z``, ``decode(z) -> x_hat`` and
      ``__call__(x) -> (x_hat, z)``, and attributes ``input_shape``,
      ``num_branches``, ``branch_dim``, ``latent_dim``, ``feature_shape``
      (NHWC of the last conv) and ``spatial_sizes``. Parameter count of the
      paper model: 93,248 (convs) + 93,123 (transposed convs) + 327,840 +
      329,728 (full branch kernels and biases) = 843,939.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> model = BranchAutoencoder(input_shape=(28, 28, 1), rngs=nnx.Rngs(0))
      >>> x_hat, z = model(jnp.zeros((2, 28, 28, 1)))
      >>> x_hat.shape, z.shape, model.spatial_sizes
      ((2, 28, 28, 1), (2, 160), ((28, 28), (14, 14), (7, 7), (4, 4)))

    References:
      Hofer et al., ICML 2019, §5 and the authors' code
      (``docs/method.md#the-autoencoder``).
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int] = (32, 32, 3),
        filters: Sequence[int] = (32, 64, 128),
        num_branches: int = 16,
        branch_dim: int = 10,
        rngs: nnx.Rngs,
    ) -> None:
        input_shape = check_int_tuple(input_shape, "input_shape")
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (H, W, C); got {input_shape}.")
        filters = check_int_tuple(filters, "filters", allow_empty=False)
        num_branches = check_positive_int(num_branches, "num_branches")
        branch_dim = check_positive_int(branch_dim, "branch_dim")
        check_rngs(rngs)
        if filters[-1] % num_branches:
            raise ValueError(
                f"filters[-1]={filters[-1]} (the last conv's channels) must be divisible by "
                f"num_branches={num_branches}, so that each branch reads whole channels."
            )
        self.input_shape = input_shape
        self.num_branches = num_branches
        self.branch_dim = branch_dim
        self.latent_dim = num_branches * branch_dim

        sizes: list[tuple[int, ...]] = [tuple(input_shape[:2])]
        for _ in filters:
            sizes.append(tuple(_conv_out(s) for s in sizes[-1]))
        self.spatial_sizes = tuple(sizes)
        self.feature_shape = (*sizes[-1], filters[-1])
        flat = filters[-1] * sizes[-1][0] * sizes[-1][1]

        chans = (input_shape[2], *filters)
        self.encoder_convs = nnx.List(
            [
                StridedConv3x3(cin, cout, rngs=rngs)
                for cin, cout in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        self.to_latent = BranchLinear(flat, self.latent_dim, num_branches=num_branches, rngs=rngs)
        self.from_latent = BranchLinear(self.latent_dim, flat, num_branches=num_branches, rngs=rngs)
        rchans = chans[::-1]
        self.decoder_convs = nnx.List(
            [
                # back to the encoder's size at this depth: 2 s or 2 s - 1
                ConvTranspose2x(cin, cout, sizes[-2 - layer], rngs=rngs)
                for layer, (cin, cout) in enumerate(zip(rchans[:-1], rchans[1:], strict=True))
            ]
        )

    def features(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C)`` images -> ``(B, h, w, filters[-1])`` last conv features."""
        check_batch(x, self.input_shape, "x")
        for conv in self.encoder_convs:
            x = nnx.leaky_relu(conv(x), negative_slope=_LEAKY_SLOPE)
        return x

    def flatten(self, f: jax.Array) -> jax.Array:
        """Channel-major (NCHW) flatten: ``(B, h, w, C) -> (B, C h w)``, index ``c h w + y w + x``."""
        check_batch(f, self.feature_shape, "f")
        return jnp.transpose(f, (0, 3, 1, 2)).reshape(f.shape[0], -1)

    def unflatten(self, v: jax.Array) -> jax.Array:
        """Inverse of :meth:`flatten`: ``(B, C h w) -> (B, h, w, C)``."""
        h, w, c = self.feature_shape
        check_batch(v, (c * h * w,), "v")
        return jnp.transpose(v.reshape(v.shape[0], c, h, w), (0, 2, 3, 1))

    def encode(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C)`` images in [0, 1] -> ``(B, num_branches * branch_dim)`` codes."""
        return self.to_latent(self.flatten(self.features(x)))

    def decode(self, z: jax.Array) -> jax.Array:
        """``(B, latent_dim)`` codes -> ``(B, H, W, C)`` reconstructions (no output activation)."""
        check_batch(z, (self.latent_dim,), "z")
        x = self.unflatten(self.from_latent(z))
        for i, deconv in enumerate(self.decoder_convs):
            x = deconv(x)
            if i < len(self.decoder_convs) - 1:
                x = nnx.relu(x)
        return x

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(B, H, W, C)`` -> ``(x_hat (B, H, W, C), z (B, latent_dim))``."""
        z = self.encode(x)
        return self.decode(z), z


class MLPAutoencoder(nnx.Module):
    """A small fully connected autoencoder with an independent-branches latent.

    Encoder: ``(B, *input_shape)`` -> flatten ``(B, D)`` -> ``nnx.Linear``
    layers of sizes ``hidden``, each followed by LeakyReLU(0.01) ->
    ``BranchLinear(hidden[-1], K * branch_dim, K)`` -> ``z``, no activation.
    Decoder, mirrored: ``BranchLinear(K * branch_dim, hidden[-1], K)`` ->
    LeakyReLU -> ``nnx.Linear`` layers back to ``D`` with LeakyReLU between
    them -> reshape to ``(B, *input_shape)``, no output activation. Branch
    ``i`` of ``z`` reads only units ``[g i, g (i + 1))`` of the last hidden
    layer (``g = hidden[-1] / K``), which must therefore be divisible by ``K``
    (``D`` when ``hidden`` is empty).

    Args:
      input_shape: shape of one sample, e.g. ``(8, 8, 1)`` or ``(64,)``.
      hidden: sizes of the hidden layers (may be empty).
      num_branches: ``K``.
      branch_dim: dims per branch.
      rngs: ``nnx.Rngs`` (flax default initialisation).

    Returns:
      A module with the same ``encode`` / ``decode`` / ``__call__`` interface
      and attributes as :class:`BranchAutoencoder`.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> model = MLPAutoencoder(input_shape=(8, 8, 1), num_branches=4, branch_dim=5,
      ...                        rngs=nnx.Rngs(0))
      >>> [a.shape for a in model(jnp.zeros((3, 8, 8, 1)))]
      [(3, 8, 8, 1), (3, 20)]
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 128),
        num_branches: int = 16,
        branch_dim: int = 10,
        rngs: nnx.Rngs,
    ) -> None:
        input_shape = check_int_tuple(input_shape, "input_shape", allow_empty=False)
        hidden = check_int_tuple(hidden, "hidden")
        num_branches = check_positive_int(num_branches, "num_branches")
        branch_dim = check_positive_int(branch_dim, "branch_dim")
        check_rngs(rngs)
        dims = (math.prod(input_shape), *hidden)
        if dims[-1] % num_branches:
            what = "hidden[-1]" if hidden else "the flattened input size"
            raise ValueError(
                f"{what}={dims[-1]} must be divisible by num_branches={num_branches}, "
                "so that each branch reads whole groups of units."
            )
        self.input_shape = input_shape
        self.num_branches = num_branches
        self.branch_dim = branch_dim
        self.latent_dim = num_branches * branch_dim
        self.encoder_layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:], strict=True)]
        )
        self.to_latent = BranchLinear(
            dims[-1], self.latent_dim, num_branches=num_branches, rngs=rngs
        )
        self.from_latent = BranchLinear(
            self.latent_dim, dims[-1], num_branches=num_branches, rngs=rngs
        )
        rdims = dims[::-1]
        self.decoder_layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(rdims[:-1], rdims[1:], strict=True)]
        )

    def encode(self, x: jax.Array) -> jax.Array:
        """``(B, *input_shape)`` -> ``(B, latent_dim)``."""
        check_batch(x, self.input_shape, "x")
        h = x.reshape(x.shape[0], -1)
        for layer in self.encoder_layers:
            h = nnx.leaky_relu(layer(h), negative_slope=_LEAKY_SLOPE)
        return self.to_latent(h)

    def decode(self, z: jax.Array) -> jax.Array:
        """``(B, latent_dim)`` -> ``(B, *input_shape)``."""
        check_batch(z, (self.latent_dim,), "z")
        h = self.from_latent(z)
        for layer in self.decoder_layers:
            h = layer(nnx.leaky_relu(h, negative_slope=_LEAKY_SLOPE))
        return h.reshape(z.shape[0], *self.input_shape)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(B, *input_shape)`` -> ``(x_hat (B, *input_shape), z (B, latent_dim))``."""
        z = self.encode(x)
        return self.decode(z), z
