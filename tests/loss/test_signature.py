"""Tests for corel_jax.loss.signature_loss (the TopoAE loss).

References: an independent numpy/scipy implementation (MST by scipy, distances
by cdist), central finite differences in float64, and torch-topological's
``SignatureLoss`` with ``VietorisRipsComplex(dim=0)`` pairings where installed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import needs
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from corel_jax import signature_loss

P_VALUES = [1.0, 2.0, 3.0]


def _cdist(points: np.ndarray, p: float) -> np.ndarray:
    return cdist(points, points, "minkowski", p=p)


def _mst_pairs(dist: np.ndarray) -> np.ndarray:
    mst = minimum_spanning_tree(dist).tocoo()
    return np.stack([mst.row, mst.col], axis=1)


def reference_loss(x, z, *, p=2.0, x_scale=None, z_scale=None, squared=True) -> float:
    """The loss written out from its definition with numpy/scipy, float64."""
    dx, dz = _cdist(x, p), _cdist(z, p)
    ax = dx / (dx.max() if x_scale is None else x_scale)
    az = dz / (dz.max() if z_scale is None else z_scale)
    px, pz = _mst_pairs(dx), _mst_pairs(dz)
    x_to_z = ax[px[:, 0], px[:, 1]] - az[px[:, 0], px[:, 1]]
    z_to_x = az[pz[:, 0], pz[:, 1]] - ax[pz[:, 0], pz[:, 1]]
    if squared:
        return float(np.sum(x_to_z**2) + np.sum(z_to_x**2))
    norm = lambda v: np.sum(np.abs(v) ** p) ** (1.0 / p)
    return float(0.5 * norm(x_to_z) + 0.5 * norm(z_to_x))


def _clouds(rng, b=24, d=7, k=2):
    return rng.normal(size=(b, d)), rng.normal(size=(b, k))


class TestValue:
    @pytest.mark.parametrize("p", P_VALUES)
    @pytest.mark.parametrize("squared", [True, False])
    def test_matches_numpy_reference(self, rng, p, squared):
        x, z = _clouds(rng)
        with jax.enable_x64(True):
            value = signature_loss(x, z, p=p, squared=squared)
            jitted = jax.jit(lambda a, b: signature_loss(a, b, p=p, squared=squared))(x, z)
        expected = reference_loss(x, z, p=p, squared=squared)
        np.testing.assert_allclose(value, expected, rtol=1e-12)
        np.testing.assert_allclose(jitted, expected, rtol=1e-12)

    def test_fixed_scales(self, rng):
        x, z = _clouds(rng)
        with jax.enable_x64(True):
            f = jax.jit(lambda x, z: signature_loss(x, z, x_scale=7.5, z_scale=jnp.asarray(0.3)))
            value = f(x, z)
        np.testing.assert_allclose(
            value, reference_loss(x, z, x_scale=7.5, z_scale=0.3), rtol=1e-12
        )

    def test_float32_close_to_reference(self, rng):
        x, z = _clouds(rng, b=28, d=101)
        value = jax.jit(signature_loss)(x.astype(np.float32), z.astype(np.float32))
        assert value.dtype == jnp.float32
        np.testing.assert_allclose(value, reference_loss(x, z), rtol=1e-4)

    def test_zero_for_a_rescaled_copy(self, rng):
        x = rng.normal(size=(20, 2))
        f = jax.jit(signature_loss, static_argnames="squared")
        assert float(f(x, 3.0 * x)) == pytest.approx(0.0, abs=1e-6)
        assert float(f(x, 3.0 * x, squared=False)) == pytest.approx(0.0, abs=1e-6)

    def test_images_are_flattened(self, rng):
        x = rng.normal(size=(10, 4, 4, 2)).astype(np.float32)
        z = rng.normal(size=(10, 2)).astype(np.float32)
        f = jax.jit(signature_loss)
        np.testing.assert_allclose(f(x, z), f(x.reshape(10, -1), z), rtol=1e-6)

    def test_vmap_equals_loop(self, rng):
        xs = rng.normal(size=(3, 16, 5)).astype(np.float32)
        zs = rng.normal(size=(3, 16, 2)).astype(np.float32)
        batched = jax.jit(jax.vmap(lambda a, b: signature_loss(a, b, squared=False)))(xs, zs)
        single = jax.jit(lambda a, b: signature_loss(a, b, squared=False))
        looped = [single(a, b) for a, b in zip(xs, zs, strict=True)]
        np.testing.assert_allclose(batched, looped, rtol=1e-6)

    def test_docstring_example(self):
        x = jnp.array([[0.0], [1.0], [3.0]])
        assert float(signature_loss(x, 2.0 * x)) == 0.0


class TestGradient:
    @pytest.mark.parametrize("p", P_VALUES)
    @pytest.mark.parametrize("squared", [True, False])
    def test_finite_differences_float64(self, rng, p, squared):
        x, z = _clouds(rng, b=18, d=5)
        scale = 0.7
        with jax.enable_x64(True):

            @jax.jit
            def f(x, z, s):
                return signature_loss(x, z, p=p, z_scale=s, squared=squared)

            args = (jnp.asarray(x), jnp.asarray(z), jnp.asarray(scale))
            grads = jax.grad(f, argnums=(0, 1, 2))(*args)
            for _ in range(2):
                dirs = [jnp.asarray(rng.normal(size=np.shape(a))) for a in args]
                eps = 1e-6
                plus = f(*[a + eps * u for a, u in zip(args, dirs, strict=True)])
                minus = f(*[a - eps * u for a, u in zip(args, dirs, strict=True)])
                fd = (plus - minus) / (2 * eps)
                directional = sum(jnp.vdot(g, u) for g, u in zip(grads, dirs, strict=True))
                np.testing.assert_allclose(directional, fd, rtol=1e-5, atol=1e-8)

    def test_gradient_of_the_batch_diameter(self, rng):
        # scales None: the gradient also flows through the farthest pair of each space.
        x, z = _clouds(rng, b=15, d=3)
        with jax.enable_x64(True):
            f = jax.jit(lambda z: signature_loss(jnp.asarray(x), z))
            g = jax.grad(f)(jnp.asarray(z))
            u = jnp.asarray(rng.normal(size=z.shape))
            fd = (f(z + 1e-6 * u) - f(z - 1e-6 * u)) / 2e-6
            np.testing.assert_allclose(jnp.vdot(g, u), fd, rtol=1e-5)

    def test_zero_gradient_at_a_perfect_match(self, rng):
        x = rng.normal(size=(12, 2)).astype(np.float32)
        g = jax.jit(jax.grad(lambda z: signature_loss(x, z)))(2.0 * x)
        np.testing.assert_allclose(g, 0.0, atol=1e-5)
        # The halved p-norm is not differentiable at 0 (and rounding leaves ~1e-8
        # differences): the gradient there is some bounded subgradient, never NaN.
        g = jax.jit(jax.grad(lambda z: signature_loss(x, z, squared=False)))(x)
        assert np.all(np.isfinite(g))

    def test_coincident_codes_give_finite_gradients(self, rng):
        x = rng.normal(size=(8, 3)).astype(np.float32)
        z = np.zeros((8, 2), np.float32)
        z[1] = 1.0  # six codes coincide: zero-length edges
        g = jax.jit(jax.grad(lambda z: signature_loss(x, z, squared=False)))(z)
        assert np.all(np.isfinite(g))


class TestTorchTopological:
    """Equality with torch-topological's SignatureLoss (value and gradient)."""

    @pytest.mark.parametrize("p", P_VALUES)
    def test_matches_signature_loss(self, rng, p):
        torch = needs("torch", "signature_loss against torch-topological's SignatureLoss")
        tt = needs(
            "torch_topological.nn", "signature_loss against torch-topological's SignatureLoss"
        )
        x, z = _clouds(rng, b=28, d=101)
        xt = torch.tensor(x, requires_grad=True)
        zt = torch.tensor(z, requires_grad=True)
        complex_ = tt.VietorisRipsComplex(dim=0, p=p)
        value_t = tt.SignatureLoss(p=p, normalise=True)((xt, complex_(xt)), (zt, complex_(zt)))
        value_t.backward()
        with jax.enable_x64(True):
            f = lambda a, b: signature_loss(a, b, p=p, squared=False)
            f = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
            value, (gx, gz) = f(jnp.asarray(x), jnp.asarray(z))
            value, gx, gz = float(value), np.asarray(gx), np.asarray(gz)
        np.testing.assert_allclose(value, value_t.item(), rtol=1e-10)
        np.testing.assert_allclose(gz, zt.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-8, atol=1e-12)


class TestChecks:
    def test_shape_mismatch(self, rng):
        with pytest.raises(ValueError, match="same number"):
            signature_loss(rng.normal(size=(5, 3)), rng.normal(size=(4, 2)))

    def test_rank(self, rng):
        with pytest.raises(ValueError, match="z"):
            signature_loss(rng.normal(size=(5, 3)), rng.normal(size=(5,)))

    def test_too_few_points(self, rng):
        with pytest.raises(ValueError, match="B >= 2"):
            signature_loss(rng.normal(size=(1, 3)), rng.normal(size=(1, 2)))

    def test_bad_p(self, rng):
        with pytest.raises(ValueError, match="p >= 1"):
            signature_loss(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), p=0.5)

    @pytest.mark.parametrize("name", ["x_scale", "z_scale"])
    def test_bad_scale(self, rng, name):
        with pytest.raises(ValueError, match=name):
            signature_loss(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), **{name: 0.0})
