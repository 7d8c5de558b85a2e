"""Autoencoders with an independent-branches latent space, in ``flax.nnx``.

``BranchAutoencoder`` is the paper's CIFAR model (REFERENCE.md §3):

* encoder: three 3x3 convolutions, stride 2, padding 1, with bias, channels
  ``filters = (32, 64, 128)``, each followed by LeakyReLU(0.01)
  (32 -> 16 -> 8 -> 4 pixels); the last feature map is flattened in
  channel-major (NCHW) order and mapped by an *independent-branches* linear
  layer to ``num_branches x branch_dim`` (16 x 10) codes, no activation;
* decoder: the mirror image: an independent-branches linear layer back to the
  feature map, then three 3x3 transposed convolutions with stride 2 that each
  exactly double the size (PyTorch's ``padding=1, output_padding=1``), ReLU
  between them, no output activation.

An independent-branches linear layer is a dense layer whose kernel is masked
block-diagonally: branch ``i`` of the code reads only inputs
``[g i, g (i + 1))`` with ``g = inputs / num_branches``; with the channel-major
flatten that is channels ``(C / K) i ... (C / K)(i + 1) - 1`` at every spatial
position. The full kernel is stored (as in the original); masked entries get
zero gradient and never influence the output.

``MLPAutoencoder`` is a small fully connected model for vector-like data with
the same ``encode`` / ``decode`` interface.

Inputs are float NHWC images in [0, 1]; outputs have the input's shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = [
    "BranchAutoencoder",
    "BranchLinear",
    "ConvTranspose2x",
    "MLPAutoencoder",
    "MODELS",
    "create_model",
]

MODELS: tuple[str, ...] = ("branch", "mlp")


def _conv_out(size: int) -> int:
    """Spatial size after a 3x3, stride-2, padding-1 convolution."""
    return (size + 2 - 3) // 2 + 1


def block_diagonal_mask(in_features: int, out_features: int, num_branches: int) -> np.ndarray:
    """``(in, out)`` 0/1 mask: input group ``i`` connects to output group ``i`` only."""
    gi, go = in_features // num_branches, out_features // num_branches
    return (np.arange(in_features)[:, None] // gi == np.arange(out_features)[None, :] // go).astype(
        np.float32
    )


class BranchLinear(nnx.Module):
    """A dense layer whose kernel is masked block-diagonally into branches.

    Output group ``i`` (``out_features / num_branches`` values) depends only on
    input group ``i`` (``in_features / num_branches`` values). The bias is full
    size. Shapes: ``(..., in_features) -> (..., out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, num_branches: int, *, rngs: nnx.Rngs):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if value % num_branches:
                raise ValueError(f"{name}={value} is not divisible by num_branches={num_branches}.")
        self.in_features = in_features
        self.out_features = out_features
        self.num_branches = num_branches
        init = nnx.initializers.lecun_normal()
        # Fan-in of each output unit is one block, not the full input.
        scale = math.sqrt(num_branches)
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features)) * scale)
        self.bias = nnx.Param(jnp.zeros((out_features,)))

    def __call__(self, x: jax.Array) -> jax.Array:
        mask = block_diagonal_mask(self.in_features, self.out_features, self.num_branches)
        return x @ (self.kernel[...] * mask) + self.bias[...]


# For output phase p of a stride-2 transposed conv (rows 2m + p), which input
# offset di in {0, 1} meets which kernel row (None: no tap); see ConvTranspose2x.
_PHASE_TAPS = {(0, 0): 1, (0, 1): None, (1, 0): 0, (1, 1): 2}


class ConvTranspose2x(nnx.Module):
    """3x3 transposed convolution with stride 2 that doubles the size (then crops).

    Computes exactly what ``nnx.ConvTranspose(cin, cout, (3, 3), strides=(2, 2),
    padding=((1, 1 + op), (1, 1 + op)))`` computes, i.e. PyTorch's
    ``ConvTranspose2d(k=3, s=2, p=1, output_padding=op)`` up to a flip of the
    kernel, but as one stride-1 2x2 convolution into ``4 * cout`` channels
    followed by a depth-to-space shuffle ("sub-pixel" form). Output row
    ``2m + p`` only meets kernel rows ``{1}`` (p = 0) or ``{0, 2}`` (p = 1),
    so no multiplication by the dilation zeros is done, and the backward pass
    is made of plain convolutions. On XLA:CPU this makes the decoder's
    gradient several times faster than the dilated-input form.

    Shapes: ``(B, h, w, cin) -> (B, out_h, out_w, cout)`` with ``out <= 2 h``.
    """

    def __init__(self, cin: int, cout: int, out_size: tuple[int, int], *, rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (3, 3, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,)))
        self.out_size = tuple(int(s) for s in out_size)

    def _phase_kernel(self) -> jax.Array:
        w = self.kernel[...]
        zero = jnp.zeros_like(w[0, 0])
        rows = []
        for di in range(2):
            cols = []
            for dj in range(2):
                phases = []
                for p in range(2):
                    for q in range(2):
                        a, b = _PHASE_TAPS[(p, di)], _PHASE_TAPS[(q, dj)]
                        phases.append(zero if a is None or b is None else w[a, b])
                cols.append(jnp.concatenate(phases, axis=-1))  # (cin, 4 cout), phase-major
            rows.append(jnp.stack(cols))
        return jnp.stack(rows)  # (2, 2, cin, 4 cout)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, _ = x.shape
        cout = self.kernel.shape[-1]
        # The 2x2 convolution as patches @ kernel: its gradients are matmuls,
        # which XLA:CPU runs far faster than weight-gradient convolutions.
        xp = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
        patches = jnp.concatenate(
            [xp[:, di : di + h, dj : dj + w] for di in range(2) for dj in range(2)], axis=-1
        )  # (B, h, w, 4 cin), ordered (di, dj, cin) like the kernel below
        k = self._phase_kernel()
        y = patches @ k.reshape(-1, k.shape[-1])
        # y: (B, h, w, 4 cout), phases (p, q) of output pixel (2m + p, 2n + q)
        y = (
            y.reshape(b, h, w, 2, 2, cout)
            .transpose(0, 1, 3, 2, 4, 5)
            .reshape(b, 2 * h, 2 * w, cout)
        )
        return y[:, : self.out_size[0], : self.out_size[1]] + self.bias[...]


class BranchAutoencoder(nnx.Module):
    """The paper's convolutional autoencoder with an independent-branches latent.

    Args:
      input_shape: ``(H, W, C)``; 32x32x3 (CIFAR), 28x28x1 (MNIST-like) and
        8x8x1 (scikit-learn digits) are all supported. Each conv halves the
        size (rounding up); the decoder's transposed convs choose their output
        padding so the reconstruction has exactly the input's shape.
      filters: channels of the three convs; ``filters[-1]`` must be divisible
        by ``num_branches``.
      num_branches: ``K`` (paper: 16).
      branch_dim: dims per branch (paper: 10); the code has ``K * branch_dim``.
      rngs: ``nnx.Rngs`` for parameter initialisation (flax defaults:
        LeCun-normal kernels, zero biases; the original used PyTorch's
        defaults, which only changes the initial scale).
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int] = (32, 32, 3),
        filters: Sequence[int] = (32, 64, 128),
        num_branches: int = 16,
        branch_dim: int = 10,
        rngs: nnx.Rngs,
    ):
        input_shape = tuple(int(s) for s in input_shape)
        filters = tuple(int(f) for f in filters)
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise ValueError(
                f"input_shape must be (H, W, C) with positive sizes; got {input_shape}."
            )
        if not filters or min(filters) < 1:
            raise ValueError(f"filters must be a non-empty list of positive ints; got {filters}.")
        if num_branches < 1 or branch_dim < 1:
            raise ValueError(
                f"num_branches and branch_dim must be >= 1; got {num_branches}, {branch_dim}."
            )
        if filters[-1] % num_branches:
            raise ValueError(
                f"The last conv's channels ({filters[-1]}) must be divisible by "
                f"num_branches={num_branches}, so each branch reads whole channels."
            )
        self.input_shape = input_shape
        self.num_branches = num_branches
        self.branch_dim = branch_dim
        self.latent_dim = num_branches * branch_dim

        sizes = [input_shape[:2]]
        for _ in filters:
            sizes.append(tuple(_conv_out(s) for s in sizes[-1]))
        self._sizes = tuple(sizes)
        self.feature_shape = (*sizes[-1], filters[-1])  # NHWC of the last conv
        flat = filters[-1] * sizes[-1][0] * sizes[-1][1]

        chans = (input_shape[2], *filters)
        self.encoder_convs = nnx.List(
            [
                nnx.Conv(cin, cout, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), rngs=rngs)
                for cin, cout in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        self.to_latent = BranchLinear(flat, self.latent_dim, num_branches, rngs=rngs)
        self.from_latent = BranchLinear(self.latent_dim, flat, num_branches, rngs=rngs)
        deconvs = []
        for layer, (cin, cout) in enumerate(zip(chans[::-1][:-1], chans[::-1][1:], strict=True)):
            # Each maps the encoder's size back: 2 s (PyTorch's output_padding=1),
            # or 2 s - 1 (output_padding=0) where the encoder rounded up.
            deconvs.append(ConvTranspose2x(cin, cout, sizes[-2 - layer], rngs=rngs))
        self.decoder_convs = nnx.List(deconvs)

    def features(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C)`` images -> ``(B, h, w, filters[-1])`` last conv features."""
        for conv in self.encoder_convs:
            x = nnx.leaky_relu(conv(x), negative_slope=0.01)
        return x

    def flatten(self, f: jax.Array) -> jax.Array:
        """Channel-major (NCHW) flatten of ``(B, h, w, C)`` features, as in the original."""
        return jnp.transpose(f, (0, 3, 1, 2)).reshape(f.shape[0], -1)

    def unflatten(self, v: jax.Array) -> jax.Array:
        """Inverse of :meth:`flatten`: ``(B, C h w)`` -> ``(B, h, w, C)``."""
        h, w, c = self.feature_shape
        return jnp.transpose(v.reshape(v.shape[0], c, h, w), (0, 2, 3, 1))

    def encode(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C)`` images in [0, 1] -> ``(B, num_branches * branch_dim)`` codes."""
        return self.to_latent(self.flatten(self.features(x)))

    def decode(self, z: jax.Array) -> jax.Array:
        """``(B, latent_dim)`` codes -> ``(B, H, W, C)`` reconstructions (no output activation)."""
        x = self.unflatten(self.from_latent(z))
        for i, deconv in enumerate(self.decoder_convs):
            x = deconv(x)
            if i < len(self.decoder_convs) - 1:
                x = nnx.relu(x)
        return x

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Returns ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


class MLPAutoencoder(nnx.Module):
    """A small fully connected autoencoder with the same interface.

    ``(B, *input_shape)`` -> flatten -> ``hidden`` layers with LeakyReLU(0.01)
    -> linear to ``num_branches * branch_dim`` codes; the decoder mirrors it
    and reshapes back to ``input_shape`` (no output activation). Branches are
    the equal splits of the code used by the connectivity loss.
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 128),
        num_branches: int = 16,
        branch_dim: int = 10,
        rngs: nnx.Rngs,
    ):
        input_shape = tuple(int(s) for s in input_shape)
        hidden = tuple(int(h) for h in hidden)
        if not input_shape or min(input_shape) < 1:
            raise ValueError(f"input_shape must have positive sizes; got {input_shape}.")
        if num_branches < 1 or branch_dim < 1:
            raise ValueError(
                f"num_branches and branch_dim must be >= 1; got {num_branches}, {branch_dim}."
            )
        if hidden and min(hidden) < 1:
            raise ValueError(f"hidden sizes must be positive; got {hidden}.")
        self.input_shape = input_shape
        self.num_branches = num_branches
        self.branch_dim = branch_dim
        self.latent_dim = num_branches * branch_dim
        dims = (int(np.prod(input_shape)), *hidden, self.latent_dim)
        self.encoder_layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:], strict=True)]
        )
        rdims = dims[::-1]
        self.decoder_layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(rdims[:-1], rdims[1:], strict=True)]
        )

    @staticmethod
    def _stack(layers, x):
        for i, layer in enumerate(layers):
            x = layer(x)
            if i < len(layers) - 1:
                x = nnx.leaky_relu(x, negative_slope=0.01)
        return x

    def encode(self, x: jax.Array) -> jax.Array:
        """``(B, *input_shape)`` -> ``(B, latent_dim)``."""
        return self._stack(self.encoder_layers, x.reshape(x.shape[0], -1))

    def decode(self, z: jax.Array) -> jax.Array:
        """``(B, latent_dim)`` -> ``(B, *input_shape)``."""
        return self._stack(self.decoder_layers, z).reshape(z.shape[0], *self.input_shape)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Returns ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


def create_model(
    name: str,
    *,
    input_shape: Sequence[int],
    num_branches: int = 16,
    branch_dim: int = 10,
    filters: Sequence[int] = (32, 64, 128),
    hidden: Sequence[int] = (256, 128),
    rngs: nnx.Rngs,
) -> BranchAutoencoder | MLPAutoencoder:
    """Builds ``"branch"`` (:class:`BranchAutoencoder`) or ``"mlp"`` (:class:`MLPAutoencoder`)."""
    if name == "branch":
        return BranchAutoencoder(
            input_shape=input_shape,
            filters=filters,
            num_branches=num_branches,
            branch_dim=branch_dim,
            rngs=rngs,
        )
    if name == "mlp":
        return MLPAutoencoder(
            input_shape=input_shape,
            hidden=hidden,
            num_branches=num_branches,
            branch_dim=branch_dim,
            rngs=rngs,
        )
    raise ValueError(f"Unknown model {name!r}; expected one of {MODELS}.")
