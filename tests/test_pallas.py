"""Tests for the Pallas kernels: interpret mode on CPU, and GPU lowering.

Every kernel runs in Pallas interpret mode against the C++ and XLA
implementations (the same tree, edge for edge, where distances are exact),
scipy and finite differences. Lowering for CUDA and ROCm is checked without a
GPU with ``jax.export`` (the Triton custom call has no compatibility
guarantee, so that safety check is disabled); where the ``triton`` package is
installed the captured Triton IR is also compiled to an sm_90 cubin.
"""

import importlib.util
import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from test_persistence import METRICS, scipy_deaths

from corel_jax import _boruvka, _native, _pallas_prim, _pallas_search
from corel_jax.loss import connectivity_loss
from corel_jax.persistence import parse_metric, rips_h0

# One compilation per call instead of op-by-op dispatch.
jrips = jax.jit(rips_h0, static_argnames=("metric", "algorithm", "sort"))

TRITON_CALL = jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")
# The Prim implementations that must build the identical tree.
PRIM = ["matrix_free"] + (["native"] if _native.AVAILABLE else [])


def export_for(platform: str, fn, *shapes) -> jax.export.Exported:
    specs = [jax.ShapeDtypeStruct(s, dt) for s, dt in shapes]
    return jax.export.export(jax.jit(fn), platforms=[platform], disabled_checks=[TRITON_CALL])(
        *specs
    )


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

    def test_large_cloud_path_lowers(self, monkeypatch):
        monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)
        fn = lambda x: rips_h0(x, metric="l2", algorithm="pallas").deaths
        exp = export_for("cuda", fn, ((200, 16), jnp.float32))
        assert "_search_kernel" in exp.mlir_module()

    def test_fused_loss_and_gradient_lower(self):
        fn = jax.value_and_grad(lambda z: connectivity_loss(z, num_branches=16))
        exp = export_for("cuda", fn, ((100, 160), jnp.float32))
        assert "_fused_kernel" in exp.mlir_module()

    def test_triton_compiles_the_kernels_for_sm90(self, monkeypatch, tmp_path):
        """Compiles the captured Triton IR to a cubin with the ``triton`` package."""
        if importlib.util.find_spec("triton") is None:
            pytest.skip("triton is not installed")
        from jax._src.pallas.triton import pallas_call_registration as registration

        captured = []
        lower = registration.lowering.lower_jaxpr_to_triton_module

        def capture(*args, **kwargs):
            result = lower(*args, **kwargs)
            captured.append(result.module.operation.get_asm(enable_debug_info=False))
            return result

        monkeypatch.setattr(registration.lowering, "lower_jaxpr_to_triton_module", capture)
        monkeypatch.setattr(_pallas_prim, "PRIM_MAX_POINTS", 64)
        loss = jax.value_and_grad(lambda z: connectivity_loss(z, num_branches=4))
        export_for("cuda", loss, ((64, 40), jnp.float32))
        export_for("cuda", lambda x: rips_h0(x, algorithm="pallas").deaths, ((60, 8), jnp.float32))
        export_for("cuda", lambda x: rips_h0(x, algorithm="pallas").deaths, ((100, 8), jnp.float32))
        names = {ir.split("{")[0] for ir in captured}
        assert names == {
            f"module @{k} " for k in ("_fused_kernel", "_parent_kernel", "_search_kernel")
        }
        # Compiled in a fresh process: Triton's LLVM next to jaxlib's (and torch's, when an
        # earlier test imported it) in one process can crash the interpreter.
        script = (
            "import sys, triton\n"
            "from triton.backends.compiler import GPUTarget\n"
            "for path in sys.argv[1:]:\n"
            "    kernel = triton.compile(path, target=GPUTarget('cuda', 90, 32),\n"
            "                            options={'num_warps': 4})\n"
            "    assert kernel.asm['cubin'], path\n"
        )
        paths = []
        for i, ir in enumerate(captured):
            path = tmp_path / f"kernel{i}.ttir"
            path.write_text(ir)
            paths.append(str(path))
        done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
