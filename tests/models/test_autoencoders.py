"""Tests for corel_jax.models.autoencoders: shapes, parameter counts, branch independence,
the original PyTorch model, bad arguments.

References used: ``lax.conv_general_dilated`` and, when installed, the original
model rebuilt in torch.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax
from references import needs

from corel_jax.models import (
    BranchAutoencoder,
    BranchLinear,
    MLPAutoencoder,
    create_model,
)


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _param_count(module):
    return sum(p.size for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


@nnx.jit
def _forward_all(model, x):
    """``__call__``, ``encode``, ``decode`` and ``features`` in one compiled call."""
    x_hat, z = model(x)
    return x_hat, z, model.encode(x), model.decode(z), model.features(x)


@nnx.jit
def _apply(model, x):
    return model(x)


class TestShapes:
    @pytest.mark.parametrize(
        "shape,sizes",
        [
            ((32, 32, 3), ((32, 32), (16, 16), (8, 8), (4, 4))),
            ((28, 28, 1), ((28, 28), (14, 14), (7, 7), (4, 4))),
            ((8, 8, 1), ((8, 8), (4, 4), (2, 2), (1, 1))),
        ],
    )
    def test_branch_autoencoder(self, shape, sizes):
        model = BranchAutoencoder(input_shape=shape, rngs=nnx.Rngs(0))
        x = jnp.asarray(np.random.default_rng(0).uniform(size=(3, *shape)), jnp.float32)
        x_hat, z, z2, x_hat2, f = _forward_all(model, x)
        assert x_hat.shape == x.shape
        assert z.shape == (3, 160)
        assert model.spatial_sizes == sizes
        assert model.feature_shape == (*sizes[-1], 128)
        assert f.shape == (3, *sizes[-1], 128)
        assert (model.num_branches, model.branch_dim, model.latent_dim) == (16, 10, 160)
        assert model.input_shape == shape
        np.testing.assert_allclose(z2, z, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(x_hat2, x_hat, rtol=1e-6, atol=1e-6)

    def test_configurable_layout(self):
        # non-square input, one conv: 6 -> 3 -> 6 (output_padding 1), 5 -> 3 -> 5 (0)
        model = BranchAutoencoder(
            input_shape=(6, 5, 2), filters=(8,), num_branches=4, branch_dim=3, rngs=nnx.Rngs(0)
        )
        x_hat, z = _apply(model, jnp.ones((2, 6, 5, 2)))
        assert x_hat.shape == (2, 6, 5, 2) and z.shape == (2, 12)
        assert model.spatial_sizes == ((6, 5), (3, 3))
        assert model.to_latent.kernel.shape == (8 * 3 * 3, 12)

    def test_mlp_autoencoder(self):
        model = MLPAutoencoder(
            input_shape=(8, 8, 1), hidden=(32,), num_branches=4, rngs=nnx.Rngs(0)
        )
        x_hat, z = _apply(model, jnp.ones((5, 8, 8, 1)))
        assert x_hat.shape == (5, 8, 8, 1) and z.shape == (5, 40)
        vec = MLPAutoencoder(input_shape=(64,), hidden=(), num_branches=4, rngs=nnx.Rngs(0))
        x_hat, z = _apply(vec, jnp.ones((2, 64)))
        assert x_hat.shape == (2, 64) and z.shape == (2, 40)


class TestParameterCount:
    def test_paper_model_matches_the_original(self):
        # The original PyTorch model; branch linears store the full masked kernel.
        convs = (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (3 * 3 * 64 * 128 + 128)
        deconvs = (3 * 3 * 128 * 64 + 64) + (3 * 3 * 64 * 32 + 32) + (3 * 3 * 32 * 3 + 3)
        linears = (2048 * 160 + 160) + (160 * 2048 + 2048)
        model = BranchAutoencoder(rngs=nnx.Rngs(0))
        assert _param_count(model) == convs + deconvs + linears == 843_939
        assert model.to_latent.kernel.shape == (2048, 160)
        assert model.from_latent.kernel.shape == (160, 2048)

    def test_mlp(self):
        model = MLPAutoencoder(
            input_shape=(8, 8, 1), hidden=(32,), num_branches=4, rngs=nnx.Rngs(0)
        )
        expected = (64 * 32 + 32) + (32 * 40 + 40) + (40 * 32 + 32) + (32 * 64 + 64)
        assert _param_count(model) == expected


class TestBranchIndependence:
    def test_encoder_branch_reads_only_its_channel_group(self):
        model = BranchAutoencoder(rngs=nnx.Rngs(0))
        feats = _normal(1, (1, 4, 4, 128))
        jac = jax.jacobian(lambda f: model.to_latent(model.flatten(f))[0])(feats)[:, 0]
        # (160, h, w, c) -> (branch, dim, h, w, channel group, channel in group)
        jac = np.asarray(jac).reshape(16, 10, 4, 4, 16, 8)
        for i in range(16):
            assert np.all(np.delete(jac[i], i, axis=3) == 0.0), f"branch {i} reads other groups"
            assert np.all(np.abs(jac[i][:, :, :, i]).sum(axis=0) > 0), f"branch {i} ignores inputs"

    def test_encoder_branch_through_the_whole_encoder(self):
        # Perturbing channel group j of the last feature map changes only branch j.
        model = BranchAutoencoder(input_shape=(8, 8, 1), rngs=nnx.Rngs(0))
        f = _normal(2, (2, 1, 1, 128))
        base = model.to_latent(model.flatten(f))
        for j in (0, 5, 15):
            df = jnp.zeros_like(f).at[..., 8 * j : 8 * j + 8].set(1.0)
            diff = np.abs(np.asarray(model.to_latent(model.flatten(f + df)) - base))
            changed = np.flatnonzero(diff.sum(axis=0) > 0)
            np.testing.assert_array_equal(changed, np.arange(10 * j, 10 * j + 10))

    def test_decoder_branch_writes_only_its_channel_group(self):
        model = BranchAutoencoder(rngs=nnx.Rngs(0))
        z = _normal(3, (1, 160))
        base = model.unflatten(model.from_latent(z))
        for i in range(16):
            dz = jnp.zeros_like(z).at[0, 10 * i : 10 * i + 10].set(1.0)
            diff = np.abs(np.asarray(model.unflatten(model.from_latent(z + dz)) - base))[0]
            changed = np.flatnonzero(diff.sum(axis=(0, 1)) > 0)  # channels, (4, 4, 128)
            np.testing.assert_array_equal(changed, np.arange(8 * i, 8 * i + 8))
            assert np.all(diff[..., 8 * i : 8 * i + 8] > 0)  # every position of the group

    def test_mlp_branches(self):
        model = MLPAutoencoder(
            input_shape=(8, 8, 1), hidden=(32,), num_branches=4, rngs=nnx.Rngs(0)
        )
        jac = np.asarray(jax.jacobian(model.to_latent)(_normal(4, (32,))))  # (40, 32)
        block = np.kron(np.eye(4), np.ones((10, 8)))
        assert np.all(jac[block == 0] == 0) and np.all(jac[block == 1] != 0)


class TestEncoderConv:
    def test_encoder_conv_matches_lax_reference(self):
        model = BranchAutoencoder(rngs=nnx.Rngs(0))
        conv = model.encoder_convs[0]
        x = np.random.default_rng(13).uniform(size=(2, 32, 32, 3)).astype(np.float32)
        ref = lax.conv_general_dilated(
            x,
            np.asarray(conv.kernel[...]),
            (2, 2),
            ((1, 1), (1, 1)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ) + np.asarray(conv.bias[...])
        np.testing.assert_allclose(conv(jnp.asarray(x)), ref, rtol=1e-5, atol=1e-5)


@pytest.fixture
def torch_single_thread():
    torch = needs("torch", "the branch autoencoder against the original PyTorch COREL model")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def _torch_reference_model(torch, model):
    """The original COREL autoencoder in PyTorch, with ``model``'s weights copied in."""
    nn = torch.nn

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(np.asarray(a), dtype=np.float64))

    enc = []
    for conv in model.encoder_convs:
        c = nn.Conv2d(conv.in_features, conv.out_features, 3, stride=2, padding=1).double()
        c.weight.data = t(np.asarray(conv.kernel[...]).transpose(3, 2, 0, 1))  # OIHW
        c.bias.data = t(conv.bias[...])
        enc += [c, nn.LeakyReLU(0.01)]
    to_latent = nn.Linear(*model.to_latent.kernel.shape).double()
    to_latent.weight.data = t((model.to_latent.kernel[...] * model.to_latent.mask).T)
    to_latent.bias.data = t(model.to_latent.bias[...])
    from_latent = nn.Linear(*model.from_latent.kernel.shape).double()
    from_latent.weight.data = t((model.from_latent.kernel[...] * model.from_latent.mask).T)
    from_latent.bias.data = t(model.from_latent.bias[...])
    dec = []
    sizes = model.spatial_sizes[::-1]
    for layer, deconv in enumerate(model.decoder_convs):
        cin, cout = deconv.kernel.shape[2:]
        s, target = sizes[layer], sizes[layer + 1]
        op = tuple(o - (2 * i - 1) for i, o in zip(s, target, strict=True))
        d = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=op).double()
        # PyTorch weight (Cin, Cout, kh, kw), scattered: the flax kernel flipped.
        d.weight.data = t(np.asarray(deconv.kernel[...])[::-1, ::-1].transpose(2, 3, 0, 1))
        d.bias.data = t(deconv.bias[...])
        dec += [d, nn.ReLU()]
    h, w, c = model.feature_shape
    encoder = nn.Sequential(*enc, nn.Flatten(), to_latent)  # NCHW flatten, as the original
    decoder = nn.Sequential(from_latent, nn.Unflatten(1, (c, h, w)), *dec[:-1])
    return encoder, decoder


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_whole_model_equals_the_original_pytorch_model(torch_single_thread, shape):
    torch = torch_single_thread
    model = BranchAutoencoder(input_shape=shape, rngs=nnx.Rngs(0))
    # Nonzero biases, so that their placement is checked too.
    for i, layer in enumerate([*model.encoder_convs, *model.decoder_convs]):
        layer.bias[...] = 0.1 * _normal(20 + i, layer.bias.shape)
    for i, layer in enumerate([model.to_latent, model.from_latent]):
        layer.bias[...] = 0.1 * _normal(30 + i, layer.bias.shape)
    x = np.random.default_rng(14).uniform(size=(2, *shape)).astype(np.float32)
    x_hat, z = _apply(model, jnp.asarray(x))
    encoder, decoder = _torch_reference_model(torch, model)
    with torch.no_grad():
        z_ref = encoder(torch.from_numpy(x.transpose(0, 3, 1, 2)).double())
        x_ref = decoder(torch.from_numpy(np.array(z)).double()).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(z, z_ref.numpy(), rtol=1e-4, atol=1e-4)
    assert x_ref.shape == x.shape
    np.testing.assert_allclose(x_hat, x_ref, rtol=1e-4, atol=1e-4)


class TestTrainingFreeSanity:
    @pytest.mark.parametrize("name,shape", [("branch", (28, 28, 1)), ("mlp", (8, 8, 1))])
    def test_jit_and_grad_through_encode_decode(self, name, shape):
        model = create_model(
            name, input_shape=shape, hidden=(32,), num_branches=16, rngs=nnx.Rngs(0)
        )
        assert isinstance(model, {"branch": BranchAutoencoder, "mlp": MLPAutoencoder}[name])
        x = jnp.asarray(np.random.default_rng(15).uniform(size=(4, *shape)), jnp.float32)

        @nnx.jit
        def loss_and_grad(m, x):
            def loss(m):
                z = m.encode(x)
                return jnp.mean(jnp.abs(m.decode(z) - x)) + jnp.mean(z**2)

            return nnx.value_and_grad(loss)(m)

        value, grads = loss_and_grad(model, x)
        assert np.isfinite(value)
        leaves = jax.tree.leaves(nnx.state(grads))
        assert len(leaves) == len(jax.tree.leaves(nnx.state(model, nnx.Param)))
        assert all(np.all(np.isfinite(g)) for g in leaves)
        assert all(np.any(g != 0) for g in leaves)  # every parameter is used


class TestBadArguments:
    @pytest.mark.parametrize(
        "kwargs,error,match",
        [
            (dict(num_branches=12), ValueError, r"filters\[-1\]=128 .* divisible"),
            (dict(input_shape=(32, 32)), ValueError, r"input_shape must be \(H, W, C\)"),
            (dict(input_shape=(32, 0, 3)), ValueError, r"input_shape\[1\] must be a positive int"),
            (dict(filters=()), ValueError, "filters must be non-empty"),
            (dict(branch_dim=0), ValueError, "branch_dim must be a positive int"),
            (dict(branch_dim=2.5), TypeError, "branch_dim must be an int"),
            (dict(num_branches=True), TypeError, "num_branches must be an int"),
            (dict(filters="32"), TypeError, "filters must be a sequence"),
            (dict(rngs=0), TypeError, "rngs must be an nnx.Rngs"),
        ],
    )
    def test_branch_autoencoder(self, kwargs, error, match):
        kwargs = {"rngs": nnx.Rngs(0), **kwargs}
        with pytest.raises(error, match=match):
            BranchAutoencoder(**kwargs)

    def test_mlp_and_factory(self):
        with pytest.raises(ValueError, match=r"hidden\[-1\]=100 must be divisible"):
            MLPAutoencoder(input_shape=(8, 8, 1), hidden=(100,), rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match="flattened input size=63"):
            MLPAutoencoder(input_shape=(63,), hidden=(), num_branches=4, rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match="Unknown model name 'resnet'"):
            create_model("resnet", input_shape=(8, 8, 1), rngs=nnx.Rngs(0))
        with pytest.raises(TypeError, match="name must be a str"):
            create_model(None, input_shape=(8, 8, 1), rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match="out_features=10 is not divisible"):
            BranchLinear(8, 10, num_branches=4, rngs=nnx.Rngs(0))

    def test_wrong_input_shapes(self):
        model = BranchAutoencoder(input_shape=(8, 8, 1), rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match=r"x must have shape \(B, 8, 8, 1\)"):
            model.encode(jnp.ones((2, 8, 8, 3)))
        with pytest.raises(ValueError, match=r"x must have shape \(B, 8, 8, 1\)"):
            model(jnp.ones((8, 8, 1)))
        with pytest.raises(ValueError, match=r"z must have shape \(B, 160\)"):
            model.decode(jnp.ones((2, 80)))
        mlp = MLPAutoencoder(input_shape=(64,), hidden=(), num_branches=4, rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match=r"x must have shape \(B, 64\)"):
            mlp.encode(jnp.ones((2, 8, 8)))
