"""Tests for the Pallas kernels: interpret mode on CPU, and GPU lowering.

Every kernel runs in Pallas interpret mode against the C++ and XLA
implementations (the same tree, edge for edge, where distances are exact),
scipy and finite differences. Lowering for CUDA and ROCm is checked without a
GPU with ``jax.export`` (the Triton custom call has no compatibility
guarantee, so that safety check is disabled), and the captured Triton IR is
compiled to sm_90 cubins with the ``triton`` package (one subprocess). On a GPU,
``tests/gpu`` executes the kernels.
"""

import importlib.util
import subprocess
import sys

import jax
import jax.export  # older JAX releases do not import this submodule with jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from references import missing
from scipy.spatial.distance import cdist
from test_rips import METRICS, scipy_deaths

from corel_jax.loss import connectivity_loss
from corel_jax.persistence import (
    _boruvka,
    _pallas_prim,
    _pallas_search,
    parse_metric,
    rips,
    rips_h0,
)

# One compilation per call instead of op-by-op dispatch.
jrips = jax.jit(rips_h0, static_argnames=("metric", "algorithm", "sort"))

TRITON_CALL = jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")
# The Prim implementations that must build the identical tree (the tests that use them
# are marked native: without the C++ kernel a skip naming it, under CI=true a failure).
PRIM = ["matrix_free", "native"]


def export_for(platform: str, fn, *shapes) -> jax.export.Exported:
    specs = [jax.ShapeDtypeStruct(s, dt) for s, dt in shapes]
    return jax.export.export(jax.jit(fn), platforms=[platform], disabled_checks=[TRITON_CALL])(
        *specs
    )


def capture_triton_ir(monkeypatch) -> list[str]:
    """The Triton IR of every Pallas kernel lowered from now on (appended to the list)."""
    from jax._src.pallas.triton import pallas_call_registration as registration

    captured = []
    lower = registration.lowering.lower_jaxpr_to_triton_module

    def capture(*args, **kwargs):
        result = lower(*args, **kwargs)
        captured.append(result.module.operation.get_asm(enable_debug_info=False))
        return result

    monkeypatch.setattr(registration.lowering, "lower_jaxpr_to_triton_module", capture)
    return captured


def compile_for_sm90(irs: list[str], warps: list[int], tmp_path) -> list[str]:
    """Compiles Triton IR to sm_90 cubins; returns ptxas' resource report of each.

    In a fresh process: Triton's LLVM next to jaxlib's (and torch's, when an
    earlier test imported it) in one process can crash the interpreter.
    """
    script = (
        "import os, subprocess, sys, triton\n"
        "from triton.backends.compiler import GPUTarget\n"
        "ptxas = os.path.join(os.path.dirname(triton.__file__), 'backends/nvidia/bin/ptxas')\n"
        "for path, warps in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    kernel = triton.compile(path, target=GPUTarget('cuda', 90, 32),\n"
        "                            options={'num_warps': int(warps), 'num_stages': 1})\n"
        "    assert kernel.asm['cubin'], path\n"
        "    open(path + '.ptx', 'w').write(kernel.asm['ptx'])\n"
        "    out = subprocess.run([ptxas, '-v', '--gpu-name', 'sm_90a', path + '.ptx',\n"
        "                          '-o', os.devnull], capture_output=True, text=True, check=True)\n"
        "    print('REPORT', ' '.join(out.stderr.split()))\n"
    )
    args = []
    for i, (ir, w) in enumerate(zip(irs, warps, strict=True)):
        path = tmp_path / f"kernel{i}.ttir"
        path.write_text(ir)
        args += [str(path), str(w)]
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if line.startswith("REPORT")]


def tie_clouds(rng, metric) -> tuple[np.ndarray, np.ndarray]:
    """8 clouds of integer points (exact distances, many ties, duplicates) and masks."""
    x = rng.integers(-2, 3, size=(8, 40, 3)).astype(np.float32)
    x[:, 30:35] = x[:, :5]  # duplicates
    if metric == "precomputed":
        x = np.stack([cdist(c, c, "cityblock") for c in x]).astype(np.float32)
    mask = rng.random((8, 40)) < 0.8
    mask[0] = True
    return x, mask


class TestPrimKernel:
    @pytest.mark.native
    @pytest.mark.parametrize("metric", ["l1", "l2", "sqeuclidean", "linf", 3.0, "precomputed"])
    def test_identical_edges_on_ties_duplicates_and_masks(self, rng, metric):
        x, mask = tie_clouds(rng, metric)
        run = lambda alg: jax.jit(
            jax.vmap(lambda c, m: rips_h0(c, metric=metric, mask=m, algorithm=alg))
        )(x, mask)
        ours = run("pallas")
        for other in PRIM if metric != "precomputed" else ["dense"] + PRIM[1:]:
            ref = run(other)
            np.testing.assert_array_equal(ours.edges, ref.edges)
            np.testing.assert_array_equal(ours.deaths, ref.deaths)
            np.testing.assert_array_equal(ours.valid, ref.valid)

    @pytest.mark.parametrize("metric,kw", [METRICS[1]])
    def test_random_clouds_match_scipy(self, rng, metric, kw):
        x = rng.normal(size=(70, 5)).astype(np.float32)
        res = jrips(x, metric=metric, algorithm="pallas")
        ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **kw))
        np.testing.assert_allclose(res.deaths, ref, rtol=2e-5, atol=1e-5)

    def test_float64_and_gradients(self, rng):
        with jax.enable_x64(True):
            x = jnp.asarray(rng.normal(size=(20, 3)))
            w = jnp.asarray(rng.normal(size=(19,)))
            f = jax.jit(lambda x: jnp.sum(w * rips_h0(x, metric="l2", algorithm="pallas").deaths))
            assert f(x).dtype == jnp.float64
            np.testing.assert_allclose(
                jrips(x, metric="l2", algorithm="pallas").deaths,
                scipy_deaths(cdist(np.asarray(x), np.asarray(x))),
                rtol=1e-12,
            )
            jax.test_util.check_grads(f, (x,), order=1, modes=["rev"], eps=1e-6)

    @pytest.mark.parametrize("metric", ["l2", "linf"])
    def test_duplicates_give_no_nan_gradient(self, rng, metric):
        base = rng.normal(size=(10, 3)).astype(np.float32)
        x = np.concatenate([base, base[:3]])
        loss = lambda x, alg: jnp.sum(rips_h0(x, metric=metric, algorithm=alg).deaths)
        grad = jax.jit(jax.grad(loss), static_argnums=1)
        g = grad(x, "pallas")
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, grad(x, "auto"))


class TestWideClouds:
    """Clouds wider than the register block: rows of an XLA distance matrix feed the kernel."""

    def test_the_register_block_rule(self):
        fits = lambda n, d: _pallas_prim.fits_on_chip(n, d, "l2")
        # Measured with ptxas for sm_90 (the test below compiles three of these).
        assert fits(100, 10) and fits(2048, 16) and fits(256, 64)
        assert not fits(95, 784) and not fits(128, 128) and not fits(2048, 32)
        assert _pallas_prim.fits_on_chip(2048, 2048, "precomputed")

    @pytest.mark.native
    @pytest.mark.parametrize("metric,kw", [METRICS[0], METRICS[1], METRICS[3]])
    def test_wide_clouds_match_scipy_and_the_prim_tree(self, rng, metric, kw):
        x = rng.normal(size=(40, 100)).astype(np.float32)
        assert not _pallas_prim.fits_on_chip(40, 100, parse_metric(metric)[0])
        res = jrips(x, metric=metric, algorithm="pallas")
        ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **kw))
        np.testing.assert_allclose(res.deaths, ref, rtol=2e-6)
        np.testing.assert_array_equal(res.edges, jrips(x, metric=metric, algorithm=PRIM[-1]).edges)
        w = jnp.asarray(rng.normal(size=(39,)).astype(np.float32))
        grad = lambda alg: jax.grad(
            lambda x: jnp.sum(w * rips_h0(x, metric=metric, algorithm=alg).deaths)
        )(x)
        np.testing.assert_allclose(grad("pallas"), grad(PRIM[-1]), rtol=1e-6, atol=1e-7)


class TestTiledSearchKernel:
    @pytest.mark.parametrize("metric", ["l1", "l2", "linf", 3.0, "precomputed"])
    def test_equals_the_xla_search(self, rng, metric):
        kind, p = parse_metric(metric)
        x = rng.integers(-2, 3, size=(100, 3)).astype(np.float32)
        if kind == "precomputed":
            x = cdist(x, x, "cityblock").astype(np.float32)
        x = jnp.asarray(x)
        mask = jnp.asarray(rng.random(100) < 0.9)
        comp = jnp.asarray(rng.integers(0, 9, size=100).astype(np.int32))
        dist = _boruvka.symmetric_matrix(x, kind, p)
        ref = _boruvka.dense_search(dist, mask)(comp)
        xs = dist if kind == "precomputed" else x
        got = jax.jit(lambda c: _pallas_search.tiled_search(xs, mask, kind, p, interpret=True)(c))(
            comp
        )
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)

    def test_large_clouds_use_boruvka_with_the_kernel(self, rng, monkeypatch):
        monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)
        x = rng.normal(size=(100, 4)).astype(np.float32)
        res = jax.jit(lambda x: rips_h0(x, metric="l2", algorithm="pallas"))(x)  # (no cache)
        np.testing.assert_allclose(res.deaths, scipy_deaths(cdist(x, x)), rtol=2e-5, atol=1e-5)
        ref = jrips(x, metric="l2", algorithm="boruvka")
        np.testing.assert_array_equal(res.edges, ref.edges)


class TestGpuLowering:
    """A kernel that cannot lower for the GPU fails here, on a CPU-only machine."""

    @pytest.mark.parametrize(
        "platform,metric",
        [("cuda", m) for m in ("l1", "l2", "linf", 2.5, "precomputed")] + [("rocm", "l1")],
    )
    def test_rips_h0_lowers(self, platform, metric):
        n = 64
        shape = (16, n, n) if metric == "precomputed" else (16, n, 10)
        for alg in ("pallas", "auto"):
            one = lambda x, m, alg=alg: rips_h0(x, metric=metric, mask=m, algorithm=alg).deaths
            fn = jax.vmap(one)
            exp = export_for(platform, fn, (shape, jnp.float32), ((16, n), jnp.bool_))
            assert "__gpu$xla.gpu.triton" in exp.mlir_module()

    def test_auto_takes_the_xla_boruvka_above_the_measured_switch(self):
        n = rips.GPU_PRIM_MAX_POINTS + 1
        fn = lambda alg: lambda x: rips_h0(x, metric="l2", algorithm=alg).deaths
        auto = export_for("cuda", fn("auto"), ((n, 16), jnp.float32)).mlir_module()
        pallas = export_for("cuda", fn("pallas"), ((n, 16), jnp.float32)).mlir_module()
        assert "__gpu$xla.gpu.triton" not in auto and "__gpu$xla.gpu.triton" in pallas

    def test_large_cloud_path_lowers(self, monkeypatch):
        monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)
        fn = lambda x: rips_h0(x, metric="l2", algorithm="pallas").deaths
        exp = export_for("cuda", fn, ((200, 16), jnp.float32))
        assert "_search_kernel" in exp.mlir_module()

    def test_the_loss_lowers_to_the_prim_kernel(self):
        # The loss takes the unfused path over the Prim kernel on a GPU (measured faster
        # than a fused kernel).
        fn = jax.value_and_grad(lambda z: connectivity_loss(z, num_branches=16, metric="l1"))
        module = export_for("cuda", fn, ((100, 160), jnp.float32)).mlir_module()
        assert "_parent_kernel" in module

    def test_triton_compiles_every_kernel_for_sm90_without_spills(self, monkeypatch, tmp_path):
        """The captured Triton IR of both kernels compiles to sm_90 cubins (``triton``, one
        subprocess), and ptxas finds no register spills in the kernels of the paper's batch
        (the loss, 16 branches of 100 x 10 codes), a 2,048-point cloud and a TopoAE batch
        of 95 Fashion-MNIST images in data space (784 dims: rows of a distance matrix)."""
        if importlib.util.find_spec("triton") is None:
            missing('triton (pip install -e ".[test]")', "the kernels' compilation for sm_90")
        captured = capture_triton_ir(monkeypatch)
        loss = jax.value_and_grad(lambda z: connectivity_loss(z, num_branches=16, metric="l1"))
        export_for("cuda", loss, ((100, 160), jnp.float32))
        one = lambda x: rips_h0(x, metric="l2", algorithm="pallas").deaths
        export_for("cuda", one, ((2048, 16), jnp.float32))
        export_for("cuda", one, ((95, 784), jnp.float32))
        monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)  # Borůvka's search kernel
        export_for("cuda", lambda x: rips_h0(x, metric="l1", algorithm="pallas").deaths,
                   ((100, 8), jnp.float32))  # fmt: skip
        names = [ir.split("{")[0] for ir in captured]
        assert names[:3] == ["module @_parent_kernel "] * 3
        assert set(names[3:]) == {"module @_search_kernel "}  # (one per Borůvka round kind)
        warps = [_pallas_prim._num_warps(n) for n in (128, 2048, 128)] + [4] * (len(names) - 3)
        reports = compile_for_sm90(captured, warps, tmp_path)
        assert len(reports) == len(captured)
        for name, report in zip(
            ["loss (100, 160)", "(2048, 16)", "(95, 784)"], reports, strict=False
        ):
            assert "0 bytes spill stores, 0 bytes spill loads" in report, (name, report)
