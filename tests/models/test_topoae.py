"""Tests for corel_jax.models.topoae: shapes, parameter counts, and outputs, gradients and
BatchNorm statistics equal to the authors' PyTorch modules with the same weights.

The PyTorch references are the layer stacks of ``MLPAutoencoder_Spheres`` and ``DeepAE``
in ``src/models/submodules.py`` of BorgwardtLab/topological-autoencoders (Linear - BN -
ReLU for SPHERES; Linear - ReLU - BN and a final tanh for DeepAE).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from references import needs

from corel_jax.models import MODELS, create_model, is_topoae
from corel_jax.models.topoae import DeepAutoencoder, SpheresAutoencoder, count_params

# Parameter counts by hand: weights + biases of the linear layers, scale + bias of BatchNorm.
SPHERES_PARAMS = (101 * 32 + 32) + 64 + (32 * 32 + 32) + 64 + (32 * 2 + 2)  # encoder: 4514
SPHERES_PARAMS += (2 * 32 + 32) + 64 + (32 * 32 + 32) + 64 + (32 * 101 + 101)  # decoder: 4613
DEEP_ENCODER = (784 * 1000 + 1000) + 2000 + (1000 * 500 + 500) + 1000 + (500 * 250 + 250) + 500
DEEP_ENCODER += 250 * 2 + 2
DEEP_DECODER = (2 * 250 + 250) + 500 + (250 * 500 + 500) + 1000 + (500 * 1000 + 1000) + 2000
DEEP_DECODER += 1000 * 784 + 784


class TestShapesAndCounts:
    def test_spheres(self):
        model = SpheresAutoencoder(rngs=nnx.Rngs(0))
        x_hat, z = model(jnp.ones((7, 101)))
        assert z.shape == (7, 2) and x_hat.shape == (7, 101)
        assert count_params(model) == SPHERES_PARAMS == 9127
        assert count_params(SpheresAutoencoder(latent_scale=True, rngs=nnx.Rngs(0))) == 9128

    def test_deep(self):
        model = DeepAutoencoder(rngs=nnx.Rngs(0))
        x_hat, z = model(jnp.zeros((3, 28, 28, 1)))
        assert z.shape == (3, 2) and x_hat.shape == (3, 28, 28, 1)
        assert float(jnp.max(jnp.abs(x_hat))) < 1.0  # tanh output
        assert count_params(model) == DEEP_ENCODER + DEEP_DECODER == 2_830_286

    def test_latent_scale_starts_at_one_and_is_trainable(self):
        model = SpheresAutoencoder(latent_scale=True, rngs=nnx.Rngs(0))
        assert float(model.latent_scale[...]) == 1.0
        grads = nnx.grad(lambda m: jnp.sum(m.encode(jnp.ones((4, 101)))) / m.latent_scale[...])(
            model
        )
        assert float(grads.latent_scale[...]) != 0.0
        assert SpheresAutoencoder(rngs=nnx.Rngs(0)).latent_scale is None

    def test_registry(self):
        assert [m for m in MODELS if is_topoae(m)] == ["spheres_mlp", "deep_ae"]
        for name, cls in (("spheres_mlp", SpheresAutoencoder), ("deep_ae", DeepAutoencoder)):
            shape = (101,) if name == "spheres_mlp" else (28, 28, 1)
            model = create_model(name, input_shape=shape, num_branches=1, branch_dim=2,
                                 rngs=nnx.Rngs(0))  # fmt: skip
            assert type(model) is cls

    def test_torch_like_initialisation(self):
        model = DeepAutoencoder(rngs=nnx.Rngs(1))
        kernel = np.asarray(model.encoder.linears[0].kernel[...])
        bias = np.asarray(model.encoder.linears[0].bias[...])
        bound = 1 / np.sqrt(784)
        assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
        # uniform: the variance of U(-b, b) is b^2 / 3.
        assert kernel.var() == pytest.approx(bound**2 / 3, rel=0.02)

    def test_checks(self):
        with pytest.raises(ValueError, match="101"):
            SpheresAutoencoder(rngs=nnx.Rngs(0)).encode(jnp.ones((2, 100)))
        with pytest.raises(ValueError, match="28"):
            DeepAutoencoder(rngs=nnx.Rngs(0)).encode(jnp.ones((2, 784)))
        with pytest.raises(ValueError, match="hidden"):
            SpheresAutoencoder(hidden=(32, 0), rngs=nnx.Rngs(0))


def _torch_spheres(torch):
    nn = torch.nn
    block = lambda a, b: [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
    encoder = nn.Sequential(*block(101, 32), *block(32, 32), nn.Linear(32, 2))
    decoder = nn.Sequential(*block(2, 32), *block(32, 32), nn.Linear(32, 101))
    return encoder, decoder


def _torch_deep(torch):
    nn = torch.nn
    block = lambda a, b: [nn.Linear(a, b), nn.ReLU(), nn.BatchNorm1d(b)]
    encoder = nn.Sequential(
        nn.Flatten(), *block(784, 1000), *block(1000, 500), *block(500, 250), nn.Linear(250, 2)
    )
    decoder = nn.Sequential(
        *block(2, 250), *block(250, 500), *block(500, 1000), nn.Linear(1000, 784), nn.Tanh()
    )
    return encoder, decoder


def torch_reference():
    return needs("torch", "the TopoAE models against the authors' PyTorch modules")


def _copy_weights(torch_seq, stack) -> None:
    """Copies a torch Sequential's Linear/BatchNorm parameters into one of our stacks."""
    torch = torch_reference()
    linears = [m for m in torch_seq if isinstance(m, torch.nn.Linear)]
    norms = [m for m in torch_seq if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(linears) == len(stack.linears) and len(norms) == len(stack.norms)
    for src, dst in zip(linears, stack.linears, strict=True):
        dst.kernel[...] = jnp.asarray(src.weight.detach().numpy().T)
        dst.bias[...] = jnp.asarray(src.bias.detach().numpy())
    for src, dst in zip(norms, stack.norms, strict=True):
        dst.scale[...] = jnp.asarray(src.weight.detach().numpy() + 0.1)
        dst.bias[...] = jnp.asarray(src.bias.detach().numpy() - 0.2)
        with torch.no_grad():
            src.weight += 0.1
            src.bias -= 0.2


def _pair(torch, name, rng, batch=16):
    """(torch encoder, torch decoder, our model with their weights, x, x in torch's layout)."""
    torch.manual_seed(0)
    if name == "spheres":
        encoder, decoder = _torch_spheres(torch)
        model = SpheresAutoencoder(rngs=nnx.Rngs(0))
        x = rng.normal(size=(batch, 101)).astype(np.float32)
        x_torch = torch.tensor(x)
    else:
        encoder, decoder = _torch_deep(torch)
        model = DeepAutoencoder(rngs=nnx.Rngs(0))
        x = rng.uniform(-1, 1, size=(batch, 28, 28, 1)).astype(np.float32)
        x_torch = torch.tensor(x).permute(0, 3, 1, 2)  # NCHW; one channel: same flatten
    assert count_params(model) == sum(
        p.numel() for p in [*encoder.parameters(), *decoder.parameters()]
    )
    _copy_weights(encoder, model.encoder)
    _copy_weights(decoder, model.decoder)
    return encoder, decoder, model, x, x_torch


def _torch_forward(encoder, decoder, x_torch, name):
    z = encoder(x_torch)
    x_hat = decoder(z)
    return (x_hat.reshape(-1, 28, 28, 1) if name == "deep" else x_hat), z


class TestAgainstTorch:
    @pytest.mark.parametrize("name", ["spheres", "deep"])
    @pytest.mark.parametrize("train", [True, False])
    def test_same_outputs_with_the_same_weights(self, rng, name, train):
        torch = torch_reference()
        encoder, decoder, model, x, x_torch = _pair(torch, name, rng)
        for module in (encoder, decoder, model):
            module.train() if train else module.eval()
        with torch.no_grad():
            x_hat_t, z_t = _torch_forward(encoder, decoder, x_torch, name)
        x_hat, z = model(jnp.asarray(x))
        # float32 sums in another order, amplified by BatchNorm over 16 examples.
        np.testing.assert_allclose(z, z_t.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(x_hat, x_hat_t.numpy(), rtol=1e-4, atol=1e-4)

    @pytest.mark.parametrize("name", ["spheres", "deep"])
    def test_batchnorm_running_statistics_and_evaluation(self, rng, name):
        """A training-mode pass updates the running averages as PyTorch does (momentum 0.1;
        the documented difference: flax averages the biased batch variance, PyTorch the
        unbiased one, a factor (B - 1) / B); evaluation mode then normalises with them."""
        torch = torch_reference()
        batch = 16
        encoder, decoder, model, x, x_torch = _pair(torch, name, rng, batch)
        for module in (encoder, decoder, model):
            module.train()
        with torch.no_grad():
            _torch_forward(encoder, decoder, x_torch, name)
        model(jnp.asarray(x))
        torch_norms = [
            m for seq in (encoder, decoder) for m in seq if isinstance(m, torch.nn.BatchNorm1d)
        ]
        ours = [*model.encoder.norms, *model.decoder.norms]
        assert len(ours) == len(torch_norms) == (4 if name == "spheres" else 6)
        for t, o in zip(torch_norms, ours, strict=True):
            np.testing.assert_allclose(o.mean[...], t.running_mean.numpy(), rtol=1e-4, atol=1e-5)
            # from the initial 1: 0.9 + 0.1 v, v the batch variance (unbiased in PyTorch)
            expected = 0.9 + (t.running_var.numpy() - 0.9) * (batch - 1) / batch
            np.testing.assert_allclose(o.var[...], expected, rtol=1e-4, atol=1e-5)
            with torch.no_grad():  # evaluation with the same statistics
                t.running_var.copy_(torch.from_numpy(np.array(o.var[...])))
        for module in (encoder, decoder, model):
            module.eval()
        x2, x2_torch = x[:5] * 1.5 + 0.2, x_torch[:5] * 1.5 + 0.2
        with torch.no_grad():
            x_hat_t, z_t = _torch_forward(encoder, decoder, x2_torch, name)
        x_hat, z = model(jnp.asarray(x2))
        np.testing.assert_allclose(z, z_t.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(x_hat, x_hat_t.numpy(), rtol=1e-4, atol=1e-4)

    def test_jitted_gradients_equal_torch_autograd(self, rng):
        """The reconstruction loss's gradient (training mode, BatchNorm in the graph) under
        ``nnx.jit``: every parameter's gradient equals PyTorch's."""
        torch = torch_reference()
        encoder, decoder, model, x, x_torch = _pair(torch, "spheres", rng, batch=28)
        encoder.train(), decoder.train(), model.train()
        x_hat_t, z_t = _torch_forward(encoder, decoder, x_torch, "spheres")
        (torch.mean((x_torch - x_hat_t) ** 2) + torch.mean(z_t**2)).backward()

        @nnx.jit
        def loss_and_grads(model, x):
            def loss(model):
                x_hat, z = model(x)
                return jnp.mean((x - x_hat) ** 2) + jnp.mean(z**2)

            return nnx.value_and_grad(loss)(model)

        _, grads = loss_and_grads(model, jnp.asarray(x))
        for seq, ours in ((encoder, grads.encoder), (decoder, grads.decoder)):
            linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
            norms = [m for m in seq if isinstance(m, torch.nn.BatchNorm1d)]
            for t, o in zip(linears, [ours.linears[i] for i in range(len(linears))], strict=True):
                np.testing.assert_allclose(
                    o.kernel[...], t.weight.grad.numpy().T, rtol=2e-3, atol=1e-6
                )
                np.testing.assert_allclose(o.bias[...], t.bias.grad.numpy(), rtol=2e-3, atol=1e-6)
            for t, o in zip(norms, [ours.norms[i] for i in range(len(norms))], strict=True):
                np.testing.assert_allclose(
                    o.scale[...], t.weight.grad.numpy(), rtol=2e-3, atol=1e-6
                )
                np.testing.assert_allclose(o.bias[...], t.bias.grad.numpy(), rtol=2e-3, atol=1e-6)
