"""The building blocks of the autoencoders: an independent-branches dense layer, a
stride-2 convolution as patches @ kernel and a stride-2 transposed convolution in
sub-pixel form, in ``flax.nnx``.

An independent-branches linear layer (:class:`BranchLinear`) is a dense layer
whose kernel is masked block-diagonally: branch ``i`` of the output reads only
inputs ``[g i, g (i + 1))`` with ``g = in_features / num_branches``. The full
kernel is stored (as in the original, so the parameter count is that of a
dense layer); the mask is a constant, masked entries get exactly zero gradient
and never influence the output. See ``docs/method.md#the-autoencoder``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from corel_jax._checks import check_int_tuple, check_positive_int

__all__ = ["BranchLinear", "ConvTranspose2x", "StridedConv3x3"]


def check_batch(x: jax.Array, shape: tuple[int, ...], name: str) -> None:
    """Raises ValueError unless ``x`` has shape ``(B, *shape)``."""
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(
            f"{name} must have shape (B, {', '.join(map(str, shape))}); got {x.shape}."
        )


def check_rngs(rngs: object) -> None:
    """Raises TypeError unless ``rngs`` is an ``nnx.Rngs``."""
    if not isinstance(rngs, nnx.Rngs):
        raise TypeError(f"rngs must be an nnx.Rngs; got {type(rngs).__name__}.")


def _block_diagonal_mask(in_features: int, out_features: int, num_branches: int) -> np.ndarray:
    """``(in, out)`` 0/1 mask: input group ``i`` connects to output group ``i`` only."""
    gi, go = in_features // num_branches, out_features // num_branches
    rows = np.arange(in_features)[:, None] // gi
    cols = np.arange(out_features)[None, :] // go
    return (rows == cols).astype(np.float32)


class BranchLinear(nnx.Module):
    """A dense layer whose kernel is masked block-diagonally into ``K`` branches.

    .. math::

      y = x (W \\odot M) + b, \\qquad
      M_{jk} = [\\lfloor j / g_\\text{in} \\rfloor = \\lfloor k / g_\\text{out} \\rfloor],

    with ``g_in = in_features / K`` and ``g_out = out_features / K``: output
    group ``i`` depends only on input group ``i``. The full ``(in, out)`` kernel
    ``W`` and the full-size bias ``b`` are parameters; the mask ``M`` is a
    constant. Since ``dL/dW = (x^T dL/dy) * M``, masked entries get exactly zero
    gradient and never affect ``y``. The kernel is LeCun-normal with the true
    fan-in ``g_in`` (``lecun_normal() * sqrt(K)`` on the full kernel).

    Args:
      in_features: input size, divisible by ``num_branches``.
      out_features: output size, divisible by ``num_branches``.
      num_branches: ``K``.
      rngs: ``nnx.Rngs`` for the kernel.

    Returns:
      A module mapping ``(..., in_features) -> (..., out_features)``.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> layer = BranchLinear(6, 4, num_branches=2, rngs=nnx.Rngs(0))
      >>> layer(jnp.ones((3, 6))).shape
      (3, 4)
    """

    def __init__(
        self, in_features: int, out_features: int, *, num_branches: int, rngs: nnx.Rngs
    ) -> None:
        in_features = check_positive_int(in_features, "in_features")
        out_features = check_positive_int(out_features, "out_features")
        num_branches = check_positive_int(num_branches, "num_branches")
        check_rngs(rngs)
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if value % num_branches:
                raise ValueError(f"{name}={value} is not divisible by num_branches={num_branches}.")
        self.in_features = in_features
        self.out_features = out_features
        self.num_branches = num_branches
        init = nnx.initializers.lecun_normal()
        scale = math.sqrt(num_branches)  # fan-in of one output unit is one block
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features)) * scale)
        self.bias = nnx.Param(jnp.zeros((out_features,)))

    @property
    def mask(self) -> np.ndarray:
        """The constant ``(in_features, out_features)`` 0/1 block-diagonal mask."""
        return _block_diagonal_mask(self.in_features, self.out_features, self.num_branches)

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(..., in_features) -> (..., out_features)``."""
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"x must have last axis {self.in_features}; got shape {x.shape}.")
        return x @ (self.kernel[...] * self.mask) + self.bias[...]


class StridedConv3x3(nnx.Module):
    """3x3 convolution, stride 2, padding 1, with bias, written as patches @ kernel.

    It computes exactly ``nnx.Conv(cin, cout, (3, 3), strides=(2, 2),
    padding=((1, 1), (1, 1)))`` (and PyTorch's ``Conv2d(cin, cout, 3, stride=2,
    padding=1)`` with weight ``kernel.transpose(3, 2, 0, 1)``): output pixel
    ``(m, n)`` reads input rows ``2m - 1 ... 2m + 1`` and columns
    ``2n - 1 ... 2n + 1`` of the zero-padded input, size ``s -> ceil(s / 2)``.
    The nine strided views of the padded input are concatenated into
    ``(B, h, w, 9 cin)`` patches and multiplied by the ``(9 cin, cout)`` kernel,
    so the forward and backward passes are plain matmuls, which XLA:CPU runs
    faster than a strided convolution's weight gradient (on a 2-core AMD EPYC
    without AVX-512, batch 100: 1.4-1.7x faster gradients for each of the
    encoder's three layers; under 10 % of the whole training step). The
    parameters have the names and shapes of ``nnx.Conv``'s, so checkpoints of
    either load into the other.

    Args:
      cin: input channels.
      cout: output channels.
      rngs: ``nnx.Rngs``; kernel ``(3, 3, cin, cout)`` LeCun-normal, zero bias
        (``nnx.Conv``'s defaults).

    Returns:
      A module mapping ``(B, h, w, cin) -> (B, ceil(h / 2), ceil(w / 2), cout)``.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> StridedConv3x3(1, 4, rngs=nnx.Rngs(0))(jnp.ones((2, 7, 8, 1))).shape
      (2, 4, 4, 4)
    """

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs) -> None:
        self.in_features = check_positive_int(cin, "cin")
        self.out_features = check_positive_int(cout, "cout")
        check_rngs(rngs)
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (3, 3, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,)))

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(B, h, w, cin) -> (B, ceil(h / 2), ceil(w / 2), cout)``."""
        if x.ndim != 4 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (B, h, w, {self.in_features}); got {x.shape}.")
        h, w = (x.shape[1] + 1) // 2, (x.shape[2] + 1) // 2
        xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        patches = jnp.concatenate(
            [
                xp[:, i : i + 2 * h - 1 : 2, j : j + 2 * w - 1 : 2]
                for i in range(3)
                for j in range(3)
            ],
            axis=-1,
        )  # (B, h, w, 9 cin), ordered (i, j, cin) like the kernel
        return patches @ self.kernel[...].reshape(-1, self.out_features) + self.bias[...]


# For output phase p of a stride-2 transposed conv (rows 2m + p), which input
# offset di in {0, 1} meets which kernel row (None: no tap); see ConvTranspose2x.
_PHASE_TAPS = {(0, 0): 1, (0, 1): None, (1, 0): 0, (1, 1): 2}


class ConvTranspose2x(nnx.Module):
    """3x3 transposed convolution, stride 2, PyTorch padding 1, cropped to ``out_size``.

    With ``out_size = 2 (h, w)`` it computes exactly

    * ``nnx.ConvTranspose(cin, cout, (3, 3), strides=(2, 2),
      padding=((1, 2), (1, 2)))`` (``transpose_kernel=False``), i.e. the
      stride-1 convolution of the 2x-dilated input padded by ``(k - 1 - p,
      k - 1 - p + output_padding) = (1, 2)``;
    * PyTorch's ``ConvTranspose2d(cin, cout, 3, stride=2, padding=1,
      output_padding=1)`` with weight ``kernel[::-1, ::-1].transpose(2, 3, 0, 1)``
      (PyTorch scatters with the kernel, flax correlates: a spatial flip).

    A smaller ``out_size`` of ``2 h - 1`` is PyTorch's ``output_padding=0``:
    output padding only appends rows/columns, so cropping the doubled output
    gives the same values. This is how the decoder returns to odd encoder sizes
    (28 -> 14 -> 7 -> 4 -> 7 -> 14 -> 28).

    It is written in "sub-pixel" form: output pixel ``(2m + p, 2n + q)`` only
    meets kernel rows ``{1}`` (p = 0) or ``{0, 2}`` (p = 1), and likewise for
    columns, so the layer is one 2x2 stride-1 convolution into ``4 cout``
    channels (as patches @ kernel) followed by a depth-to-space shuffle. No
    multiplications by dilation zeros are done and the backward pass is plain
    matmuls, several times faster on XLA:CPU than the dilated form.

    Args:
      cin: input channels.
      cout: output channels.
      out_size: ``(out_h, out_w)``, each ``2 s - 1`` or ``2 s`` for input size ``s``.
      rngs: ``nnx.Rngs``; kernel ``(3, 3, cin, cout)`` LeCun-normal (flax's
        ``ConvTranspose`` default), zero bias.

    Returns:
      A module mapping ``(B, h, w, cin) -> (B, out_h, out_w, cout)``.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> layer = ConvTranspose2x(4, 2, (7, 8), rngs=nnx.Rngs(0))
      >>> layer(jnp.ones((1, 4, 4, 4))).shape
      (1, 7, 8, 2)
    """

    def __init__(self, cin: int, cout: int, out_size: Sequence[int], *, rngs: nnx.Rngs) -> None:
        cin = check_positive_int(cin, "cin")
        cout = check_positive_int(cout, "cout")
        out_size = check_int_tuple(out_size, "out_size")
        if len(out_size) != 2:
            raise ValueError(f"out_size must be (out_h, out_w); got {out_size}.")
        check_rngs(rngs)
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (3, 3, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,)))
        self.out_size = out_size

    def _phase_kernel(self) -> jax.Array:
        """``(2, 2, cin, 4 cout)``: taps of offset ``(di, dj)`` for the 4 output phases."""
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
        return jnp.stack(rows)

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(B, h, w, cin) -> (B, out_h, out_w, cout)``."""
        if x.ndim != 4 or x.shape[-1] != self.kernel.shape[2]:
            raise ValueError(f"x must have shape (B, h, w, {self.kernel.shape[2]}); got {x.shape}.")
        b, h, w, _ = x.shape
        for s, o in zip((h, w), self.out_size, strict=True):
            if o not in (2 * s - 1, 2 * s):
                raise ValueError(f"out_size {self.out_size} is not 2x-1 or 2x of input {(h, w)}.")
        cout = self.kernel.shape[-1]
        # The 2x2 convolution as patches @ kernel: its gradients are matmuls,
        # which XLA:CPU runs far faster than weight-gradient convolutions.
        xp = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
        patches = jnp.concatenate(
            [xp[:, di : di + h, dj : dj + w] for di in range(2) for dj in range(2)], axis=-1
        )  # (B, h, w, 4 cin), ordered (di, dj, cin) like the kernel
        k = self._phase_kernel()
        y = patches @ k.reshape(-1, k.shape[-1])
        # y: (B, h, w, 4 cout), phases (p, q) of output pixel (2m + p, 2n + q)
        y = (
            y.reshape(b, h, w, 2, 2, cout)
            .transpose(0, 1, 3, 2, 4, 5)
            .reshape(b, 2 * h, 2 * w, cout)
        )
        return y[:, : self.out_size[0], : self.out_size[1]] + self.bias[...]
