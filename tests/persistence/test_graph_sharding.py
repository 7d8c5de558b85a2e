"""Sharded batches of images and graphs: the union-find kernel calls partition along the batch.

With 8 forced CPU devices, ``jax.vmap(cubical_h0)`` and ``jax.vmap(graph_h0)`` on a
batch sharded over a ``data`` mesh axis compile to programs with no all-gather (nor
any other data-moving collective), in which each device's kernel call holds only
its own images or graphs; values and gradients equal the unsharded call. The XLA
path (``algorithm="boruvka"``) partitions by itself and is checked the same way.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from test_sharding import assert_sharded_equals_unsharded, custom_call_operands

from corel_jax.persistence import _union_find, cubical_h0, graph_h0

pytestmark = pytest.mark.multidevice

ALGORITHMS = ["boruvka"] + (["native"] if _union_find.AVAILABLE else [])


@pytest.fixture(scope="module")
def data_sharding():
    """The batch axis over a ``data`` mesh of 8 devices (as in test_sharding.py)."""
    if jax.device_count() < 8:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
    return NamedSharding(Mesh(np.array(jax.devices()[:8]), ("data",)), PartitionSpec("data"))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_vmap_cubical_h0_runs_on_each_devices_images(rng, data_sharding, algorithm):
    images = rng.random((16, 12, 10)).astype(np.float32)

    def pairs(x):
        out = jax.vmap(lambda i: cubical_h0(i, algorithm=algorithm))(x)
        return out.deaths, out.death_edge, out.death_vertex

    text = assert_sharded_equals_unsharded(pairs, data_sharding, images)
    if algorithm == "native":  # one call per device, on its 2 images
        assert custom_call_operands(text, "corel_jax_cubical_h0") == ["f32[2,12,10]"]

    grad = jax.grad(lambda x: jnp.sum(jax.vmap(lambda i: cubical_h0(i, algorithm=algorithm,
                    superlevel=True).persistence() ** 2)(x)))  # fmt: skip
    assert_sharded_equals_unsharded(grad, data_sharding, images)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_vmap_graph_h0_with_a_shared_graph(rng, data_sharding, algorithm):
    """One graph, a batch of signals on it (and of vertex masks): the edges are broadcast."""
    values = rng.random((16, 40)).astype(np.float32)
    masks = rng.random((16, 40)) > 0.1
    edges = rng.integers(0, 40, (90, 2)).astype(np.int32)

    def deaths(values, masks):
        run = lambda f, m: graph_h0(f, edges, vertex_mask=m, algorithm=algorithm)  # noqa: E731
        out = jax.vmap(run)(values, masks)
        return out.deaths, out.death_edge

    text = assert_sharded_equals_unsharded(deaths, data_sharding, values, masks)
    if algorithm == "native":
        calls = custom_call_operands(text, "corel_jax_graph_h0")
        assert calls == ["f32[2,40] s32[2,90,2] f32[2,0] pred[2,40] pred[2,90]"], calls

    grad = jax.grad(
        lambda v: jnp.sum(
            jax.vmap(lambda f: graph_h0(f, edges, algorithm=algorithm).persistence())(v)
        )
    )
    assert_sharded_equals_unsharded(grad, data_sharding, values)


def test_nested_batches_of_volumes(rng, data_sharding):
    volumes = rng.random((3, 8, 5, 6, 4)).astype(np.float32)
    sharding = NamedSharding(data_sharding.mesh, PartitionSpec(None, "data"))
    f = jax.vmap(jax.vmap(lambda v: cubical_h0(v, connectivity="faces").deaths))
    text = assert_sharded_equals_unsharded(f, sharding, volumes)
    if _union_find.AVAILABLE:
        assert custom_call_operands(text, "corel_jax_cubical_h0") == ["f32[3,1,5,6,4]"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_shard_map_and_pmap(rng, data_sharding, algorithm):
    images = rng.random((8, 9, 11)).astype(np.float32)
    f = jax.vmap(lambda i: cubical_h0(i, algorithm=algorithm).deaths)
    spec = PartitionSpec("data")
    sm = jax.shard_map(f, mesh=data_sharding.mesh, in_specs=spec, out_specs=spec)
    np.testing.assert_array_equal(jax.jit(sm)(images), jax.jit(f)(images))
    pmapped = jax.pmap(lambda i: cubical_h0(i, algorithm=algorithm).deaths)
    np.testing.assert_array_equal(pmapped(images), f(images))
