"""Tests for the fused connectivity loss against the unfused path.

The unfused reference is the loss written with ``branch_deaths`` (``rips_h0``
per branch, gradients through its custom VJP), differentiated by JAX.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from corel_jax import loss as L
from corel_jax.persistence import _native

needs_native = pytest.mark.skipif(not _native.AVAILABLE, reason="native kernel not built")
KINDS = ["l1", "l2", "sqeuclidean", "linf", ("minkowski", 3.0)]


def unfused(z, eta, *, num_branches, metric):
    deaths = L.branch_deaths(z, num_branches=num_branches, metric=metric, sort=False)
    return jnp.mean(jnp.sum(jnp.abs(eta - deaths), axis=-1))


@functools.partial(jax.jit, static_argnums=(2, 3))
def reference(z, eta, k, metric):
    """(loss, dloss/dz, dloss/deta) of the unfused path."""
    f = lambda z, eta: unfused(z, eta, num_branches=k, metric=metric)
    value, (gz, geta) = jax.value_and_grad(f, argnums=(0, 1))(z, eta)
    return value, gz, geta


@functools.partial(jax.jit, static_argnums=(2, 3))
def fused(z, eta, k, metric):
    f = lambda z, eta: L.connectivity_loss(z, eta=eta, num_branches=k, metric=metric)
    value, (gz, geta) = jax.value_and_grad(f, argnums=(0, 1))(z, eta)
    return value, gz, geta


def assert_same(a, b, rtol=1e-6, atol=1e-6):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


@needs_native
class TestNativeFusedLoss:
    def test_is_one_custom_call(self, rng):
        z = jnp.asarray(rng.normal(size=(20, 8)), jnp.float32)
        f = jax.value_and_grad(lambda z: L.connectivity_loss(z, num_branches=2, metric="l1"))
        hlo = jax.jit(f).lower(z).as_text()
        assert hlo.count("corel_jax_connectivity") == 1
        assert "corel_jax_prim_mst" not in hlo

    @pytest.mark.parametrize("metric,k", [(m, 16) for m in KINDS] + [("l1", 1)])
    def test_values_and_gradients_match_unfused(self, rng, metric, k):
        z = jnp.asarray(rng.normal(scale=0.6, size=(100, 160)), jnp.float32)
        eta = jnp.float32(2.0 if metric != "sqeuclidean" else 0.5)
        assert_same(fused(z, eta, k, metric), reference(z, eta, k, metric))

    def test_ties_give_identical_gradients(self, rng):
        # integer codes: exact, many tied distances, some equal to eta
        z = jnp.asarray(rng.integers(-2, 3, size=(60, 12)), jnp.float32)
        for metric in ("l1", "linf"):
            got, ref = fused(z, 2.0, 4, metric), reference(z, 2.0, 4, metric)
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(a, b)

    def test_float64(self, rng):
        with jax.enable_x64(True):
            z = jnp.asarray(rng.normal(size=(50, 12)))
            got = fused(z, jnp.float64(1.5), 3, "l2")
            assert got[0].dtype == jnp.float64 and got[1].dtype == jnp.float64
            assert_same(got, reference(z, jnp.float64(1.5), 3, "l2"), rtol=1e-12, atol=1e-12)

    def test_vmap_and_low_precision_codes(self, rng):
        z = jnp.asarray(rng.normal(size=(3, 30, 8)), jnp.float32)
        f = jax.vmap(
            jax.value_and_grad(lambda z: L.connectivity_loss(z, num_branches=2, metric="l1"))
        )
        values, grads = jax.jit(f)(z)
        for i in range(3):
            assert_same((values[i], grads[i]), reference(z[i], jnp.float32(2.0), 2, "l1")[:2])
        g16 = jax.grad(lambda z: L.connectivity_loss(z, num_branches=2, metric="l1"))(
            z[0].astype(jnp.bfloat16)
        )
        assert g16.dtype == jnp.bfloat16

    def test_non_finite_codes(self, rng):
        z = np.asarray(rng.normal(size=(20, 8)), np.float32)
        z[0, 5] = np.nan  # branch 1 of 2 (and in the first row)
        with pytest.raises(ValueError, match="non-finite"):
            L.connectivity_loss(z, num_branches=2, metric="l1")
        value, grad = jax.jit(
            jax.value_and_grad(lambda z: L.connectivity_loss(z, num_branches=2, metric="l1"))
        )(z)
        assert np.isnan(value)
        grad = np.asarray(grad)
        assert np.all(grad[:, 4:] == 0) and np.all(np.isfinite(grad))
        # the finite branch gets the unfused gradient (which is NaN on the other)
        ref = reference(jnp.asarray(z), jnp.float32(2.0), 2, "l1")[1]
        np.testing.assert_allclose(grad[:, :4], ref[:, :4], atol=1e-6)

    @pytest.mark.multidevice
    def test_shard_map_over_8_devices(self, rng):
        if jax.device_count() < 8:
            pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
        z = jnp.asarray(rng.normal(size=(8, 20, 8)), jnp.float32)
        mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("d",))
        spec = jax.sharding.PartitionSpec("d")
        step = jax.value_and_grad(lambda z: L.connectivity_loss(z, num_branches=2, metric="l1"))
        sm = jax.shard_map(jax.vmap(step), mesh=mesh, in_specs=spec, out_specs=spec)
        values, grads = jax.jit(sm)(z)
        assert_same((values[5], grads[5]), reference(z[5], jnp.float32(2.0), 2, "l1")[:2])
        # eta is replicated: its gradient is summed over the devices
        local = lambda z, eta: L.connectivity_loss(z[0], eta=eta, num_branches=2, metric="l1")
        replicated = jax.sharding.PartitionSpec()
        grad_eta = jax.shard_map(
            jax.grad(local, argnums=1), mesh=mesh, in_specs=(spec, replicated), out_specs=replicated
        )
        expected = sum(reference(z[i], jnp.float32(2.0), 2, "l1")[2] for i in range(8))
        np.testing.assert_allclose(jax.jit(grad_eta)(z, jnp.float32(2.0)), expected, rtol=1e-6)
