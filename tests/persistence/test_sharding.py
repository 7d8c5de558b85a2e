"""Sharded batches: every kernel call partitions along its batch axes under ``jit``.

With 8 forced CPU devices, a batch of clouds (or of diagrams, or of batches of
codes) sharded over a ``data`` mesh axis is computed where it lies: the
compiled program (``jax.jit(f).lower(x).compile().as_text()``) holds no
all-gather (nor any other data-moving collective), each device's kernel call
sees only its own clouds, and values and gradients equal the unsharded call.
The Pallas kernels are checked on this CPU in interpret mode, and their CUDA
lowering is partitioned by XLA's SPMD partitioner here too: the program is
lowered for CUDA and compiled by the CPU compiler, which partitions it and then
stops at the Triton call it cannot run; its partitioned HLO is read from XLA's
dump.
"""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from corel_jax import diagrams
from corel_jax.loss import connectivity_loss, signature_loss
from corel_jax.persistence import _native, _pallas_prim, _partition, rips_h0

pytestmark = pytest.mark.multidevice

CPU_ALGORITHMS = ["auto", "pallas", "boruvka", "dense", "matrix_free"] + (
    ["native"] if _native.AVAILABLE else []
)
# Collectives that move a shard of the data between devices (an all-reduce of a
# scalar loss or of eta's gradient is what a mean over the batch needs).
MOVES = re.compile(r"\b(all-gather|all-to-all|collective-permute|reduce-scatter)(-start)?\(")


@pytest.fixture(scope="module")
def data_sharding():
    if jax.device_count() < 8:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
    mesh = Mesh(np.array(jax.devices()[:8]), ("data",))
    return NamedSharding(mesh, PartitionSpec("data"))


def compiled_text(f, *args) -> str:
    return jax.jit(f).lower(*args).compile().as_text()


def assert_no_data_moved(text: str) -> None:
    moved = MOVES.findall(text)
    assert not moved, f"the partitioned program moves data: {moved}"


def custom_call_operands(text: str, target: str) -> list[str]:
    """The operand shapes of every custom call to ``target`` in an HLO text, e.g.
    ``"f32[2,24,5] pred[2,24]"``."""
    found = []
    for line in text.splitlines():
        if f'custom_call_target="{target}"' in line:
            operands = line.split("operand_layout_constraints=", 1)[1].split("api_version")[0]
            found.append(" ".join(re.findall(r"\w+\[[\d,]*\]", operands)))
    return found


def assert_sharded_equals_unsharded(f, sharding, *arrays, rtol=0.0, atol=0.0) -> str:
    """``jit(f)`` on sharded ``arrays`` vs on host arrays; returns the compiled text."""
    sharded = [jax.device_put(a, sharding) for a in arrays]
    text = compiled_text(f, *sharded)
    assert_no_data_moved(text)
    got, want = jax.jit(f)(*sharded), jax.jit(f)(*arrays)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)
    return text


def test_the_sharding_rule_replicates_each_items_own_axes():
    rule, item = _partition.sharding_rule(2, (2, 1), (1,))
    assert rule == "b0 b1 a b, b0 b1 c -> b0 b1 d" and item == ("a", "b", "c", "d")
    assert _partition.sharding_rule(1, (2, 0), (0, 0, 2)) == ("b0 a b, b0 -> b0, b0, b0 c d",
                                                               ("a", "b", "c", "d"))  # fmt: skip


# ------------------------------------------------------------------ rips_h0


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_vmap_rips_h0_runs_on_each_devices_clouds(rng, data_sharding, algorithm):
    x = rng.normal(size=(16, 24, 5)).astype(np.float32)
    mask = np.ones((16, 24), bool)
    mask[3, 20:] = mask[12, 1:] = False  # a padded cloud and a cloud of one point

    def deaths_and_edges(x, mask):
        out = jax.vmap(lambda c, m: rips_h0(c, mask=m, algorithm=algorithm))(x, mask)
        return out.deaths, out.edges

    text = assert_sharded_equals_unsharded(deaths_and_edges, data_sharding, x, mask)
    if algorithm in ("native", "auto") and _native.AVAILABLE:
        # one call per device, on its 2 clouds
        assert custom_call_operands(text, "corel_jax_prim_mst") == ["f32[2,24,5] pred[2,24]"]

    grad = jax.grad(
        lambda x: jnp.sum(jax.vmap(lambda c: rips_h0(c, algorithm=algorithm, sort=False).deaths)(x))
    )
    assert_sharded_equals_unsharded(grad, data_sharding, x)


@pytest.mark.parametrize("metric", ["l2", "precomputed"])
def test_other_metrics_and_nested_batches(rng, data_sharding, metric):
    x = rng.normal(size=(3, 8, 20, 4)).astype(np.float32)
    if metric == "precomputed":
        x = np.abs(x[..., 0][..., :, None] - x[..., 0][..., None, :])  # (3, 8, 20, 20)
    sharding = NamedSharding(data_sharding.mesh, PartitionSpec(None, "data"))
    f = jax.vmap(jax.vmap(lambda c: rips_h0(c, metric=metric).deaths))
    assert_sharded_equals_unsharded(f, sharding, x)
    grad = jax.grad(lambda x: jnp.sum(f(x) ** 2))
    assert_sharded_equals_unsharded(grad, sharding, x, rtol=1e-6)


def test_a_cloud_split_over_devices_is_gathered_by_design(rng, data_sharding):
    """The MST of one cloud needs all of its points: a cloud sharded along its points
    is gathered first, and the result is still exact."""
    x = rng.normal(size=(64, 3)).astype(np.float32)
    f = lambda x: rips_h0(x, metric="l1").deaths  # (l1: sums of the same terms, bit-exact)
    sharded = jax.device_put(x, data_sharding)
    assert "all-gather" in compiled_text(f, sharded)
    np.testing.assert_array_equal(jax.jit(f)(sharded), jax.jit(f)(x))


def test_under_gspmd_too(rng, data_sharding):
    """With JAX's older GSPMD partitioner the calls partition the same way."""
    x = rng.normal(size=(16, 24, 5)).astype(np.float32)
    f = lambda x: jax.vmap(lambda c: rips_h0(c).deaths)(x)
    jax.config.update("jax_use_shardy_partitioner", False)
    try:
        assert_sharded_equals_unsharded(f, data_sharding, x)
    finally:
        jax.config.update("jax_use_shardy_partitioner", True)


# ------------------------------------------------------------------- losses


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_connectivity_loss_per_device_batches(rng, data_sharding, metric):
    """The paper's step on 8 devices: each device's 100 codes are one batch."""
    z = rng.normal(size=(8, 100, 160)).astype(np.float32)
    step = jax.value_and_grad(
        lambda z, eta: jnp.mean(
            jax.vmap(lambda b: connectivity_loss(b, eta=eta, metric=metric))(z)
        ),
        argnums=(0, 1),
    )
    replicated = NamedSharding(data_sharding.mesh, PartitionSpec())
    sharded = (jax.device_put(z, data_sharding), jax.device_put(np.float32(2.0), replicated))
    text = compiled_text(step, *sharded)
    assert_no_data_moved(text)
    if _native.AVAILABLE:  # one fused call per device, on its own batch
        assert custom_call_operands(text, "corel_jax_connectivity") == ["f32[1,100,160] f32[1]"]
    got, want = jax.jit(step)(*sharded), jax.jit(step)(z, np.float32(2.0))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_signature_loss(rng, data_sharding):
    x = rng.normal(size=(8, 40, 30)).astype(np.float32)
    z = rng.normal(size=(8, 40, 2)).astype(np.float32)
    step = jax.value_and_grad(lambda x, z: jnp.sum(jax.vmap(signature_loss)(x, z)), argnums=(0, 1))
    # per-device batch sizes change XLA:CPU's vectorised sums by a rounding error
    assert_sharded_equals_unsharded(step, data_sharding, x, z, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("order", [1.0, 2.0, np.inf])
def test_diagram_distances(rng, data_sharding, order):
    a = np.abs(rng.normal(size=(8, 30))).astype(np.float32)
    b = np.abs(rng.normal(size=(8, 20))).astype(np.float32)
    distance = lambda a, b: diagrams.wasserstein_distance(a, b, order=order)
    step = jax.value_and_grad(lambda a, b: jnp.sum(jax.vmap(distance)(a, b)), argnums=(0, 1))
    assert_sharded_equals_unsharded(step, data_sharding, a, b, rtol=1e-6)


def test_diagram_loss(rng, data_sharding):
    z = rng.normal(size=(8, 30, 2)).astype(np.float32)
    target = np.linspace(0.1, 1.0, 29, dtype=np.float32)
    f = jax.value_and_grad(
        lambda z: jnp.sum(jax.vmap(lambda c: diagrams.diagram_loss(c, target))(z))
    )
    assert_sharded_equals_unsharded(f, data_sharding, z, rtol=1e-6)


# ---------------------------------------------------- users' pmap / shard_map


def test_pmap_and_shard_map_of_the_losses_still_work(rng, data_sharding):
    z = rng.normal(size=(8, 30, 8)).astype(np.float32)
    x = rng.normal(size=(8, 30, 12)).astype(np.float32)
    conn = jax.value_and_grad(lambda z: connectivity_loss(z, num_branches=2))
    sig = jax.value_and_grad(lambda x, z: signature_loss(x, z[:, :2]), argnums=(0, 1))
    want_conn = jax.jit(jax.vmap(conn))(z)
    want_sig = jax.jit(jax.vmap(sig))(x, z)
    for got in (jax.pmap(conn)(z), jax.jit(jax.shard_map(jax.vmap(conn), mesh=data_sharding.mesh,
                in_specs=PartitionSpec("data"), out_specs=PartitionSpec("data")))(z)):  # fmt: skip
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want_conn), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(jax.pmap(sig)(x, z)), jax.tree.leaves(want_sig), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["auto", "native"])
def test_shard_map_of_vmap_rips_h0(rng, data_sharding, algorithm):
    x = rng.normal(size=(16, 20, 3)).astype(np.float32)
    f = jax.vmap(lambda c: rips_h0(c, algorithm=algorithm).deaths)
    spec = PartitionSpec("data")
    sm = jax.shard_map(f, mesh=data_sharding.mesh, in_specs=spec, out_specs=spec)
    np.testing.assert_allclose(jax.jit(sm)(x), jax.jit(f)(x), rtol=1e-6)


def test_shard_map_of_the_pallas_kernels_lowers_for_cuda(data_sharding):
    f = jax.vmap(lambda c: rips_h0(c, algorithm="pallas").deaths)
    spec = PartitionSpec("data")
    sm = jax.shard_map(f, mesh=data_sharding.mesh, in_specs=spec, out_specs=spec)
    triton = jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")
    exported = jax.export.export(jax.jit(sm), platforms=["cuda"], disabled_checks=[triton])(
        jax.ShapeDtypeStruct((16, 20, 3), jnp.float32)
    )
    assert "__gpu$xla.gpu.triton" in exported.mlir_module()


# --------------------------------------------------- Pallas, lowered for CUDA


def partitioned_for_cuda(f, sharded_specs, tmp_path: Path) -> str:
    """``f`` lowered for CUDA and partitioned by XLA (on this CPU's compiler, which
    stops at the Triton call it cannot run): the HLO after its optimisations."""
    lowered = jax.jit(f).trace(*sharded_specs).lower(lowering_platforms=("cuda",))
    with pytest.raises(Exception, match=r"__gpu\$xla\.gpu\.triton"):
        lowered.compile(compiler_options={"xla_dump_to": str(tmp_path)})
    (dump,) = tmp_path.glob("*cpu_after_optimizations.txt")
    return dump.read_text()


def sharded_spec(shape, dtype, sharding):
    return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)


def test_cuda_lowering_of_the_prim_kernel_partitions(data_sharding, tmp_path):
    f = jax.vmap(lambda c, m: rips_h0(c, mask=m, algorithm="pallas").deaths)
    specs = (sharded_spec((16, 64, 10), jnp.float32, data_sharding),
             sharded_spec((16, 64), jnp.bool_, data_sharding))  # fmt: skip
    text = partitioned_for_cuda(f, specs, tmp_path)
    assert_no_data_moved(text)
    # each device launches the kernel on its 2 clouds (padded to 64 x 16)
    assert custom_call_operands(text, "__gpu$xla.gpu.triton") == ["f32[2,64,16] s32[2,64]"]


def test_cuda_lowering_of_the_loss_partitions(data_sharding, tmp_path):
    paper = lambda z: connectivity_loss(z, num_branches=16, metric="l1")
    step = jax.value_and_grad(lambda z: jnp.mean(jax.vmap(paper)(z)))
    text = partitioned_for_cuda(step, [sharded_spec((8, 100, 160), jnp.float32, data_sharding)],
                                tmp_path)  # fmt: skip
    assert_no_data_moved(text)
    # the 16 branches of each device's one batch of 100 codes (the unit batch axis dropped)
    assert custom_call_operands(text, "__gpu$xla.gpu.triton") == ["f32[16,128,16] s32[16,128]"]


def test_cuda_lowering_of_the_search_kernel_partitions(data_sharding, tmp_path, monkeypatch):
    monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)  # Borůvka with the search kernel
    f = jax.vmap(lambda c: rips_h0(c, metric="l2", algorithm="pallas").deaths)
    text = partitioned_for_cuda(f, [sharded_spec((16, 100, 16), jnp.float32, data_sharding)],
                                tmp_path)  # fmt: skip
    assert_no_data_moved(text)
    # each device searches its 2 clouds (16 coordinates x 128 padded points each)
    calls = custom_call_operands(text, "__gpu$xla.gpu.triton")
    assert calls and all(c == "f32[2,16,128] s32[2,128] s32[2,128]" for c in calls), calls


# ---------------------------------------------------------- the documented idiom


def test_the_documented_sharded_training_step_runs():
    """docs/sharding.md's user-written step (its ```python blocks, which assert that the
    program holds no all-gather and equals the one-device step)."""
    if jax.device_count() < 8:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
    doc = (Path(__file__).parents[2] / "docs" / "sharding.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    assert blocks
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/sharding.md python block {i}", "exec"), namespace)
    assert namespace["new_params"]["w"].sharding.is_fully_replicated
