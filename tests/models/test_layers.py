"""Tests for corel_jax.models.layers: the branch layer's mask, PyTorch transposed-conv semantics.

References used: a numpy scatter-form transposed conv (PyTorch's definition
written out), ``lax.conv_general_dilated`` with ``lhs_dilation`` and flax's own
``nnx.ConvTranspose``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from corel_jax.models import BranchLinear, ConvTranspose2x, StridedConv3x3


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def torch_conv_transpose(x, w, b, *, stride=2, padding=1, output_padding=1):
    """PyTorch's ConvTranspose2d written out in numpy (scatter form).

    x: (H, W, Cin); w: (k, k, Cin, Cout);
    out[s i + a - p, s j + c - p] += x[i, j] @ w[a, c], output size (H-1) s - 2p + k + op.
    """
    h, wd, _ = x.shape
    k = w.shape[0]
    oh = (h - 1) * stride - 2 * padding + k + output_padding
    ow = (wd - 1) * stride - 2 * padding + k + output_padding
    out = np.zeros((oh, ow, w.shape[3]))
    for i in range(h):
        for j in range(wd):
            for a in range(k):
                for c in range(k):
                    r, s = stride * i + a - padding, stride * j + c - padding
                    if 0 <= r < oh and 0 <= s < ow:
                        out[r, s] += x[i, j] @ w[a, c]
    return out + b


class TestBranchLinear:
    def test_masked_kernel_entries_get_zero_gradient_and_are_irrelevant(self):
        layer = BranchLinear(12, 6, num_branches=3, rngs=nnx.Rngs(0))
        x = _normal(5, (2, 12))
        mask = np.kron(np.eye(3), np.ones((4, 2)))
        np.testing.assert_array_equal(layer.mask, mask)
        grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(layer)
        g = np.asarray(grads.kernel[...])
        assert np.all(g[mask == 0] == 0) and np.all(g[mask == 1] != 0)
        # reference: dense layer with the kernel zeroed off the blocks
        ref = np.asarray(x) @ (np.asarray(layer.kernel[...]) * mask) + np.asarray(layer.bias[...])
        np.testing.assert_allclose(layer(x), ref, rtol=1e-5, atol=1e-5)
        before = np.asarray(layer(x))
        layer.kernel[...] = layer.kernel[...] + jnp.asarray(100.0 * (1 - mask), jnp.float32)
        np.testing.assert_array_equal(layer(x), before)


class TestConvSemantics:
    @pytest.mark.parametrize("src,dst", [((4, 4), (8, 8)), ((4, 4), (7, 7)), ((3, 2), (5, 4))])
    def test_transposed_conv_equals_pytorch_scatter_definition(self, src, dst):
        layer = ConvTranspose2x(6, 4, dst, rngs=nnx.Rngs(0))
        layer.bias[...] = _normal(6, (4,))
        x = np.asarray(_normal(7, (1, *src, 6)))
        ours = np.asarray(layer(jnp.asarray(x)))[0]
        # PyTorch scatters with the kernel, flax correlates: compare with the flipped kernel.
        w = np.asarray(layer.kernel[...])[::-1, ::-1]
        op = tuple(d - (2 * s - 1) for s, d in zip(src, dst, strict=True))
        full = torch_conv_transpose(x[0], w, np.asarray(layer.bias[...]), output_padding=1)
        ref = full[: dst[0], : dst[1]]  # output_padding 0 = the first 2s - 1 rows of op = 1
        if op == (0, 0):
            np.testing.assert_array_equal(
                ref, torch_conv_transpose(x[0], w, np.asarray(layer.bias[...]), output_padding=0)
            )
        assert ours.shape == ref.shape == (*dst, 4)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)

    @pytest.mark.parametrize(
        "src,dst", [((4, 4), (8, 8)), ((4, 4), (7, 7)), ((7, 7), (14, 14)), ((1, 1), (2, 2))]
    )
    def test_subpixel_form_equals_the_dilated_form(self, src, dst):
        layer = ConvTranspose2x(5, 3, dst, rngs=nnx.Rngs(0))
        layer.bias[...] = jnp.arange(3.0)
        x = _normal(8, (2, *src, 5))
        op = tuple(d - (2 * s - 1) for s, d in zip(src, dst, strict=True))
        ref = lax.conv_general_dilated(
            x,
            layer.kernel[...],
            window_strides=(1, 1),
            padding=((1, 1 + op[0]), (1, 1 + op[1])),  # (k - 1 - p, k - 1 - p + op)
            lhs_dilation=(2, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ) + jnp.arange(3.0)
        out = jax.jit(lambda m, x: m(x))(layer, x)
        assert out.shape == ref.shape == (2, *dst, 3)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)

    def test_equals_flax_conv_transpose_with_the_documented_padding(self):
        ours = ConvTranspose2x(8, 4, (8, 8), rngs=nnx.Rngs(0))
        flax_layer = nnx.ConvTranspose(
            8, 4, (3, 3), strides=(2, 2), padding=((1, 2), (1, 2)), rngs=nnx.Rngs(1)
        )
        flax_layer.kernel[...] = ours.kernel[...]
        ours.bias[...] = _normal(9, (4,))
        flax_layer.bias[...] = ours.bias[...]
        x = _normal(10, (2, 4, 4, 8))
        np.testing.assert_allclose(ours(x), flax_layer(x), rtol=1e-5, atol=1e-5)

    def test_gradients_equal_the_dilated_form(self):
        layer = ConvTranspose2x(3, 2, (7, 8), rngs=nnx.Rngs(0))
        x = _normal(11, (2, 4, 4, 3))
        t = _normal(12, (2, 7, 8, 2))

        def ref_fn(w, x):
            y = lax.conv_general_dilated(
                x, w, (1, 1), ((1, 1), (1, 2)), lhs_dilation=(2, 2),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )  # fmt: skip
            return jnp.sum((y - t) ** 2)

        def our_fn(m, x):
            return jnp.sum((m(x) - t) ** 2)

        g_ref = jax.grad(ref_fn, argnums=(0, 1))(layer.kernel[...], x)
        g_layer, g_x = nnx.grad(our_fn, argnums=(0, 1))(layer, x)
        np.testing.assert_allclose(g_layer.kernel[...], g_ref[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(g_x, g_ref[1], rtol=1e-4, atol=1e-4)


class TestStridedConv3x3:
    @pytest.mark.parametrize("size", [(28, 28), (7, 8), (4, 4), (1, 3)])
    def test_values_and_gradients_equal_lax_and_nnx_conv(self, size):
        layer = StridedConv3x3(3, 5, rngs=nnx.Rngs(0))
        layer.bias[...] = _normal(20, (5,))
        x = _normal(21, (2, *size, 3))
        flax_conv = nnx.Conv(3, 5, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                             rngs=nnx.Rngs(1))  # fmt: skip
        nnx.update(flax_conv, nnx.state(layer, nnx.Param))  # same names and shapes
        out = layer(x)
        assert out.shape == (2, (size[0] + 1) // 2, (size[1] + 1) // 2, 5)
        np.testing.assert_allclose(out, flax_conv(x), rtol=1e-5, atol=1e-5)
        t = _normal(22, out.shape)

        def ref_fn(w, b, x):
            y = lax.conv_general_dilated(
                x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            return jnp.sum((y + b - t) ** 2)

        g_ref = jax.grad(ref_fn, argnums=(0, 1, 2))(layer.kernel[...], layer.bias[...], x)
        g_layer, g_x = nnx.grad(lambda m, x: jnp.sum((m(x) - t) ** 2), argnums=(0, 1))(layer, x)
        np.testing.assert_allclose(g_layer.kernel[...], g_ref[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(g_layer.bias[...], g_ref[1], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(g_x, g_ref[2], rtol=1e-4, atol=1e-4)

    def test_rejects_wrong_channels(self):
        with pytest.raises(ValueError, match=r"\(B, h, w, 3\)"):
            StridedConv3x3(3, 5, rngs=nnx.Rngs(0))(jnp.ones((1, 4, 4, 2)))
