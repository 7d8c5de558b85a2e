"""Tests for corel_jax.models: shapes, branch independence, PyTorch conv semantics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from corel_jax.models import BranchAutoencoder, BranchLinear, MLPAutoencoder, create_model


@pytest.mark.parametrize(
    "shape,branches,feat",
    [((32, 32, 3), 16, (4, 4, 128)), ((28, 28, 1), 16, (4, 4, 128)), ((8, 8, 1), 8, (1, 1, 128))],
)
def test_shapes(shape, branches, feat):
    model = BranchAutoencoder(input_shape=shape, num_branches=branches, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(3, *shape)), jnp.float32)
    x_hat, z = model(x)
    assert x_hat.shape == x.shape
    assert z.shape == (3, branches * 10)
    assert model.feature_shape == feat
    assert model.latent_dim == branches * 10


def test_parameter_count_matches_the_original_model():
    model = BranchAutoencoder(rngs=nnx.Rngs(0))
    n = sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    convs = (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (3 * 3 * 64 * 128 + 128)
    deconvs = (3 * 3 * 128 * 64 + 64) + (3 * 3 * 64 * 32 + 32) + (3 * 3 * 32 * 3 + 3)
    linears = (2048 * 160 + 160) + (160 * 2048 + 2048)  # full (masked) kernels, as in the original
    assert n == convs + deconvs + linears


def test_encoder_branch_reads_only_its_channel_group():
    model = BranchAutoencoder(rngs=nnx.Rngs(0))
    feats = jnp.asarray(np.random.default_rng(1).normal(size=(1, 4, 4, 128)), jnp.float32)
    jac = jax.jacobian(lambda f: model.to_latent(model.flatten(f))[0])(feats)[:, 0]  # (160,4,4,128)
    jac = np.asarray(jac).reshape(16, 10, 4, 4, 16, 8)  # branch, dim, h, w, group, channel
    for i in range(16):
        outside = np.delete(jac[i], i, axis=3)
        assert np.all(outside == 0.0), f"branch {i} reads channels outside group {i}"
        assert np.any(jac[i][:, :, :, i] != 0.0)


def test_decoder_branch_writes_only_its_channel_group():
    model = BranchAutoencoder(rngs=nnx.Rngs(0))
    z = jnp.asarray(np.random.default_rng(2).normal(size=(1, 160)), jnp.float32)
    base = model.unflatten(model.from_latent(z))
    for i in (0, 7, 15):
        dz = jnp.zeros_like(z).at[0, 10 * i : 10 * i + 10].set(1.0)
        diff = np.asarray(model.unflatten(model.from_latent(z + dz)) - base)[0]  # (4, 4, 128)
        changed = np.flatnonzero(np.abs(diff).sum(axis=(0, 1)) > 0)
        np.testing.assert_array_equal(changed // 8, i)
        assert len(changed) > 0


def test_masked_kernel_entries_get_zero_gradient():
    layer = BranchLinear(12, 6, 3, rngs=nnx.Rngs(0))
    x = jnp.ones((2, 12))
    grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(layer)
    g = np.asarray(grads.kernel[...])
    mask = np.kron(np.eye(3), np.ones((4, 2)))
    assert np.all(g[mask == 0] == 0) and np.all(g[mask == 1] != 0)


def torch_conv_transpose(x, w, b, stride=2, padding=1, output_padding=1):
    """PyTorch ConvTranspose2d written out: scatter every input pixel times the kernel.

    x: (H, W, Cin); w: (3, 3, Cin, Cout) applied as out[s*i + a - p, s*j + c - p] += x[i, j] @ w[a, c].
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


def test_transposed_conv_has_pytorch_semantics():
    model = BranchAutoencoder(rngs=nnx.Rngs(0))
    deconv = model.decoder_convs[0]  # 128 -> 64, 4x4 -> 8x8
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 128)).astype(np.float32)
    ours = np.asarray(deconv(jnp.asarray(x)))[0]
    # flax's ConvTranspose does not flip the kernel; PyTorch's scatter form is
    # equivalent to a flipped kernel, so compare against the flipped weights.
    w = np.asarray(deconv.kernel[...])[::-1, ::-1]
    ref = torch_conv_transpose(x[0], w, np.asarray(deconv.bias[...]))
    assert ours.shape == ref.shape == (8, 8, 64)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_encoder_conv_matches_lax_reference():
    model = BranchAutoencoder(rngs=nnx.Rngs(0))
    conv = model.encoder_convs[0]
    x = np.random.default_rng(4).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    ref = lax.conv_general_dilated(
        x,
        np.asarray(conv.kernel[...]),
        (2, 2),
        ((1, 1), (1, 1)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    ) + np.asarray(conv.bias[...])
    np.testing.assert_allclose(conv(jnp.asarray(x)), ref, rtol=1e-5, atol=1e-5)


def test_mlp_autoencoder_and_factory():
    m = create_model("mlp", input_shape=(8, 8, 1), num_branches=4, branch_dim=5, rngs=nnx.Rngs(0))
    assert isinstance(m, MLPAutoencoder)
    x = jnp.ones((5, 8, 8, 1))
    x_hat, z = m(x)
    assert x_hat.shape == x.shape and z.shape == (5, 20)
    assert isinstance(
        create_model("branch", input_shape=(8, 8, 1), num_branches=8, rngs=nnx.Rngs(0)),
        BranchAutoencoder,
    )


def test_jit_and_grad_without_nan():
    model = BranchAutoencoder(input_shape=(28, 28, 1), rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(5).uniform(size=(4, 28, 28, 1)), jnp.float32)

    @nnx.jit
    def loss(m, x):
        x_hat, z = m(x)
        return jnp.mean(jnp.abs(x_hat - x)) + jnp.mean(z**2)

    grads = nnx.grad(loss)(model, x)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(nnx.state(grads)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_branches=12), "divisible by num_branches"),
        (dict(input_shape=(32, 32)), r"\(H, W, C\)"),
        (dict(filters=()), "non-empty"),
        (dict(branch_dim=0), ">= 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BranchAutoencoder(rngs=nnx.Rngs(0), **kwargs)
    with pytest.raises(ValueError, match="Unknown model"):
        create_model("resnet", input_shape=(8, 8, 1), rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    "src,dst", [((4, 4), (8, 8)), ((4, 4), (7, 7)), ((7, 7), (14, 14)), ((1, 1), (2, 2))]
)
def test_subpixel_transposed_conv_equals_the_dilated_form(src, dst):
    from corel_jax.models import ConvTranspose2x

    layer = ConvTranspose2x(5, 3, dst, rngs=nnx.Rngs(0))
    layer.bias[...] = jnp.arange(3.0)
    x = jnp.asarray(np.random.default_rng(6).normal(size=(2, *src, 5)), jnp.float32)
    op = tuple(d - (2 * s - 1) for s, d in zip(src, dst, strict=True))
    ref = lax.conv_general_dilated(
        x,
        layer.kernel[...],
        (1, 1),
        ((1, 1 + op[0]), (1, 1 + op[1])),
        lhs_dilation=(2, 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    ) + jnp.arange(3.0)
    out = layer(x)
    assert out.shape == ref.shape == (2, *dst, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
