"""The Pallas kernels executed on a GPU, against scipy (float64) and the CPU.

``tests/persistence/test_pallas.py`` runs the same kernels in Pallas' interpret mode
on a CPU and compiles their Triton IR for sm_90; this module executes them on the
GPU itself: every path of ``rips_h0(algorithm="pallas")`` (the Prim kernel with the
cloud on chip, for each metric; the Prim kernel over rows of a distance matrix, for
``"precomputed"`` and for clouds too wide for the chip; Borůvka rounds with the tiled
search kernel above ``PRIM_MAX_POINTS``), batched under ``vmap`` with masks, their
gradients, ``algorithm="auto"``, and the connectivity loss (on a GPU the unfused loss
over the Prim kernel). Each check also asserts that the compiled program holds a
Pallas kernel, so a silent fallback to XLA fails.

Marked ``gpu``: left out of the default command; ``benchmarks/gpu_session.sh kernels``
runs them (``python -m pytest -m gpu tests/gpu``). Without a GPU they skip (fail
under ``CI=true``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import missing
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from corel_jax.loss import connectivity_loss
from corel_jax.persistence import _pallas_prim, rips_h0

pytestmark = pytest.mark.gpu

SCIPY = {
    "l1": dict(metric="cityblock"),
    "l2": dict(metric="euclidean"),
    "sqeuclidean": dict(metric="sqeuclidean"),
    "linf": dict(metric="chebyshev"),
    3.0: dict(metric="minkowski", p=3.0),
}
METRICS = list(SCIPY)
# The custom calls a Pallas kernel lowers to on a GPU (Triton; Mosaic GPU).
PALLAS_CALLS = ("__gpu$xla.gpu.triton", "mosaic_gpu")


@pytest.fixture(scope="module")
def gpu():
    devices = [d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm")]
    if not devices:
        missing("a GPU", "the Pallas kernels' execution on a GPU")
    return devices[0]


@pytest.fixture(scope="module")
def cpu():
    return jax.devices("cpu")[0]


def scipy_deaths(dist: np.ndarray) -> np.ndarray:
    """Sorted MST edge lengths in float64, zero-length edges included (shifted by a
    constant: scipy reads a zero entry as no edge)."""
    shift = 1.0 + float(dist.max())
    shifted = dist + shift
    np.fill_diagonal(shifted, 0.0)
    return np.sort(minimum_spanning_tree(shifted).tocoo().data - shift)


def run_on(device, fn, *args):
    """``jax.jit(fn)(*args)`` with the inputs on ``device``; asserts that the program
    holds a Pallas kernel when ``device`` is the GPU."""
    args = [jax.device_put(jnp.asarray(a), device) for a in args]
    jitted = jax.jit(fn)
    if device.platform != "cpu":
        text = jitted.lower(*args).as_text()
        assert any(call in text for call in PALLAS_CALLS), "no Pallas kernel in the program"
    out = jitted(*args)
    for leaf in jax.tree.leaves(out):
        assert leaf.devices() == {device}
    return jax.tree.map(np.asarray, out)


def deaths_fn(metric, algorithm="pallas"):
    return lambda x: rips_h0(x, metric=metric, algorithm=algorithm).deaths


class TestPrimKernel:
    """The cloud held on chip, one program per cloud."""

    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("n,d", [(7, 3), (100, 10), (2048, 16)])
    def test_random_clouds_match_scipy(self, gpu, rng, metric, n, d):
        x = rng.normal(size=(n, d)).astype(np.float32)
        assert _pallas_prim.fits_on_chip(n, d, "l2")
        got = run_on(gpu, deaths_fn(metric), x)
        want = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **SCIPY[metric]))
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)

    @pytest.mark.parametrize("metric", [*METRICS, "precomputed"])
    def test_batches_of_masked_tie_heavy_clouds_build_the_cpu_tree(self, gpu, cpu, rng, metric):
        # integer points: exact distances, many ties and duplicates; the same tree as the
        # XLA Prim loop on the CPU, edge for edge (the documented tie rule)
        x = rng.integers(-2, 3, size=(16, 60, 3)).astype(np.float32)
        x[:, 40:45] = x[:, :5]
        if metric == "precomputed":
            x = np.stack([cdist(c, c, "cityblock") for c in x]).astype(np.float32)
        mask = rng.random((16, 60)) < 0.8
        mask[0] = True

        def batch(algorithm):
            one = lambda c, m: rips_h0(c, metric=metric, mask=m, algorithm=algorithm)
            return lambda x, mask: jax.vmap(one)(x, mask)

        ours = run_on(gpu, batch("pallas"), x, mask)
        ref = run_on(cpu, batch("dense" if metric == "precomputed" else "matrix_free"), x, mask)
        np.testing.assert_array_equal(ours.edges, ref.edges)
        np.testing.assert_array_equal(ours.deaths, ref.deaths)
        np.testing.assert_array_equal(ours.valid, ref.valid)


class TestWideClouds:
    """Clouds too wide for the chip (images): the kernel reads rows of an XLA matrix."""

    @pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
    def test_images_match_scipy(self, gpu, rng, metric):
        x = rng.uniform(-1, 1, size=(95, 784)).astype(np.float32)
        assert not _pallas_prim.fits_on_chip(95, 784, "l2")
        got = run_on(gpu, deaths_fn(metric), x)
        want = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **SCIPY[metric]))
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)


class TestBoruvkaWithTheTiledSearch:
    """Above ``PRIM_MAX_POINTS`` points: Borůvka rounds, each a tiled search kernel."""

    @pytest.mark.parametrize("metric", [*METRICS, "precomputed"])
    def test_large_clouds_match_scipy(self, gpu, rng, metric):
        n = _pallas_prim.PRIM_MAX_POINTS + 500
        x = rng.normal(size=(n, 8)).astype(np.float32)
        kw = SCIPY["l1" if metric == "precomputed" else metric]
        dist = cdist(x.astype(np.float64), x.astype(np.float64), **kw)
        points = dist.astype(np.float32) if metric == "precomputed" else x
        got = run_on(gpu, deaths_fn(metric), points)
        np.testing.assert_allclose(got, scipy_deaths(dist), rtol=2e-5, atol=1e-5)

    def test_integer_grid_exactly(self, gpu, rng):
        x = rng.integers(0, 5, size=(3000, 3)).astype(np.float32)  # ties and duplicates
        got = run_on(gpu, deaths_fn("l1"), x)
        np.testing.assert_array_equal(got, scipy_deaths(cdist(x, x, "cityblock")))


class TestGradientsAndTheLoss:
    @pytest.mark.parametrize("metric", ["l1", "l2"])
    @pytest.mark.parametrize("n", [100, 3000])
    def test_rips_h0_gradient_equals_the_cpus(self, gpu, cpu, rng, metric, n):
        x = rng.normal(size=(n, 16)).astype(np.float32)
        w = rng.normal(size=(n - 1,)).astype(np.float32)

        def grad(algorithm):
            f = lambda x, w: jnp.sum(w * rips_h0(x, metric=metric, algorithm=algorithm).deaths)
            return jax.grad(f)

        got = run_on(gpu, grad("pallas"), x, w)
        np.testing.assert_allclose(
            got, run_on(cpu, grad("matrix_free"), x, w), rtol=1e-5, atol=1e-6
        )

    @pytest.mark.parametrize("batch", [100, 2048])
    def test_connectivity_loss_value_and_gradient_equal_the_cpus(self, gpu, cpu, rng, batch):
        z = rng.normal(scale=0.5, size=(batch, 160)).astype(np.float32)
        f = jax.value_and_grad(
            lambda z: connectivity_loss(z, eta=2.0, num_branches=16, metric="l1")
        )
        (v, g), (v_cpu, g_cpu) = run_on(gpu, f, z), run_on(cpu, f, z)
        np.testing.assert_allclose(v, v_cpu, rtol=1e-5)
        np.testing.assert_allclose(g, g_cpu, rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("n", [50, 256])
    def test_auto_takes_the_prim_kernel_for_small_clouds(self, gpu, rng, n):
        x = rng.normal(size=(n, 10)).astype(np.float32)
        got = run_on(gpu, deaths_fn("l2", "auto"), x)
        np.testing.assert_allclose(got, scipy_deaths(cdist(x, x)), rtol=2e-5, atol=1e-5)
