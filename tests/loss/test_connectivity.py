"""Tests for corel_jax.loss against a direct scipy/numpy implementation of the paper's formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from corel_jax import loss as L
from corel_jax.persistence import _native


def mst_edges_l1(points: np.ndarray) -> list[tuple[int, int, float]]:
    dist = cdist(points, points, "cityblock")
    mst = minimum_spanning_tree(dist).tocoo()
    return list(zip(mst.row.tolist(), mst.col.tolist(), mst.data.tolist(), strict=True))


def reference_loss_and_grad(z: np.ndarray, eta: float, k: int) -> tuple[float, np.ndarray]:
    """The paper's loss (docs/method.md#the-connectivity-loss) and its gradient, written out.

    L = (1/K) sum_branches sum_{(i,j) in MST} |eta - ||z_i - z_j||_1|;
    dL/dz_i = (1/K) * (-sign(eta - d_ij)) * sign(z_i - z_j), and minus that on z_j.
    """
    b, d = z.shape
    w = d // k
    total, grad = 0.0, np.zeros_like(z)
    for br in range(k):
        cols = slice(br * w, (br + 1) * w)
        s = z[:, cols]
        for i, j, dij in mst_edges_l1(s):
            total += abs(eta - dij)
            g = -np.sign(eta - dij) * np.sign(s[i] - s[j]) / k
            grad[i, cols] += g
            grad[j, cols] -= g
    return total / k, grad


class TestConnectivityLoss:
    @pytest.mark.parametrize("k", [1, 4, 16])
    def test_matches_direct_formula_and_gradient(self, rng, k):
        z = rng.normal(scale=0.6, size=(100, 160))
        ref_loss, ref_grad = reference_loss_and_grad(z, 2.0, k)
        z32 = jnp.asarray(z, jnp.float32)
        loss = lambda z: L.connectivity_loss(z, num_branches=k, metric="l1")
        value, grad = jax.value_and_grad(loss)(z32)
        np.testing.assert_allclose(value, ref_loss, rtol=1e-5)
        np.testing.assert_allclose(grad, ref_grad, atol=1e-6)
        jitted = jax.jit(jax.value_and_grad(loss))
        v2, g2 = jitted(z32)
        np.testing.assert_allclose(v2, value, rtol=1e-6)
        np.testing.assert_allclose(g2, grad, atol=1e-7)

    def test_paper_setting_is_sum_over_deaths_mean_over_branches(self, rng):
        # 16 branches of 10 dims, 100 points: the value is NOT divided by B.
        z = rng.normal(size=(100, 160)).astype(np.float32)
        paper = dict(num_branches=16, metric="l1")
        deaths = L.branch_deaths(z, **paper)
        assert deaths.shape == (16, 99)
        np.testing.assert_allclose(
            L.connectivity_loss(z, **paper),
            np.mean(np.sum(np.abs(2.0 - np.asarray(deaths)), 1)),
            rtol=1e-6,
        )

    def test_defaults_are_one_branch_and_the_euclidean_metric(self, rng):
        # the whole code is one cloud, with the metric of rips_h0 and GUDHI: l2
        z = rng.normal(size=(40, 12))
        mst = minimum_spanning_tree(cdist(z, z, "euclidean")).tocoo()
        expected = np.sum(np.abs(2.0 - mst.data))
        z32 = z.astype(np.float32)
        np.testing.assert_allclose(L.connectivity_loss(z32), expected, rtol=1e-5)
        np.testing.assert_allclose(L.branch_deaths(z32)[0], np.sort(mst.data), rtol=1e-5)
        assert L.branch_deaths(z32).shape == (1, 39)

    def test_eta_and_metric(self, rng):
        z = rng.normal(size=(30, 8)).astype(np.float32)
        d2 = np.asarray(L.branch_deaths(z, num_branches=2, metric="l2"))
        np.testing.assert_allclose(
            L.connectivity_loss(z, eta=0.5, num_branches=2, metric="l2"),
            np.mean(np.sum(np.abs(0.5 - d2), 1)),
            rtol=1e-6,
        )

    def test_gradient_in_eta(self, rng):
        # dL/deta = (1/K) sum_branches sum_deaths sign(eta - d)
        z = rng.normal(scale=0.6, size=(50, 16)).astype(np.float32)
        deaths = np.asarray(L.branch_deaths(z, num_branches=4))
        g = jax.grad(lambda eta: L.connectivity_loss(z, eta=eta, num_branches=4))(1.5)
        np.testing.assert_allclose(g, np.mean(np.sum(np.sign(1.5 - deaths), 1)), rtol=1e-6)

    def test_docstring_example(self):
        z = jnp.array([[0.0, 0.0], [2.0, 0.0], [2.0, 3.0]])
        assert float(L.connectivity_loss(z, num_branches=1)) == 1.0

    def test_zero_at_a_homogeneous_arrangement(self):
        # points on a line at spacing eta (l1): every death equals eta.
        z = jnp.arange(10.0)[:, None] * 2.0
        assert float(L.connectivity_loss(z, eta=2.0, num_branches=1)) == 0.0

    @pytest.mark.parametrize(
        "z,kwargs,match",
        [
            (np.ones((10, 7)), {"num_branches": 2}, "not divisible"),
            (np.ones((10,)), {}, r"shape \(B, D\)"),
            (np.ones((1, 16)), {}, "at least 2"),
            (np.ones((10, 16)), {"eta": 0.0}, "eta must be > 0"),
            (np.ones((10, 16)), {"num_branches": 0}, "positive int"),
            (np.ones((10, 16)), {"metric": "precomputed"}, "real metric"),
        ],
    )
    def test_bad_input(self, z, kwargs, match):
        with pytest.raises(ValueError, match=match):
            L.connectivity_loss(z, **kwargs)


@pytest.fixture(params=["native", "unfused"])
def loss_path(request, monkeypatch):
    """Runs a test through the C++ fused kernel, then through the unfused ``rips_h0`` path."""
    if request.param == "native" and not _native.AVAILABLE:
        pytest.skip("native kernel not built")
    if request.param == "unfused":
        monkeypatch.setattr(_native, "AVAILABLE", False)
    return request.param


def value_and_grads(z, eta, k, reduction):
    f = lambda z, eta: L.connectivity_loss(
        z, eta=eta, num_branches=k, metric="l1", reduction=reduction
    )
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1)))(z, eta)


class TestReduction:
    """``reduction="sum"`` (the paper's caption) is ``K`` times ``"mean"`` (the authors' code)."""

    def test_path_is_the_one_asked_for(self, rng, loss_path):
        z = jnp.asarray(rng.normal(size=(20, 8)), jnp.float32)
        f = jax.value_and_grad(lambda z: L.connectivity_loss(z, num_branches=2, reduction="sum"))
        hlo = jax.jit(f).lower(z).as_text()
        assert ("corel_jax_connectivity" in hlo) == (loss_path == "native")

    @pytest.mark.parametrize("k", [1, 4, 16])
    def test_sum_matches_direct_formula(self, rng, loss_path, k):
        z = rng.normal(scale=0.6, size=(100, 160))
        ref_mean, ref_grad = reference_loss_and_grad(z, 2.0, k)
        value, (gz, _) = value_and_grads(jnp.asarray(z, jnp.float32), 2.0, k, "sum")
        np.testing.assert_allclose(value, k * ref_mean, rtol=1e-5)
        np.testing.assert_allclose(gz, k * ref_grad, atol=1e-5)

    @pytest.mark.parametrize("k,metric", [(16, "l1"), (8, "l2"), (5, "linf")])
    def test_sum_is_k_times_mean_with_gradients(self, rng, loss_path, k, metric):
        z = jnp.asarray(rng.normal(scale=0.6, size=(100, 10 * k)), jnp.float32)
        f = lambda z, eta, r: L.connectivity_loss(
            z, eta=eta, num_branches=k, metric=metric, reduction=r
        )
        mean = jax.value_and_grad(f, argnums=(0, 1))(z, 1.5, "mean")
        total = jax.value_and_grad(f, argnums=(0, 1))(z, 1.5, "sum")
        np.testing.assert_allclose(total[0], k * mean[0], rtol=1e-6)
        np.testing.assert_allclose(total[1][0], k * mean[1][0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(total[1][1], k * mean[1][1], rtol=1e-6)
        # dL/deta of the sum: the number of deaths below eta minus those above it
        deaths = np.asarray(L.branch_deaths(z, num_branches=k, metric=metric))
        np.testing.assert_allclose(total[1][1], np.sum(np.sign(1.5 - deaths)), rtol=1e-6)

    def test_default_is_mean(self, rng):
        z = jnp.asarray(rng.normal(size=(30, 16)), jnp.float32)
        default = L.connectivity_loss(z, num_branches=4)
        assert float(default) == float(L.connectivity_loss(z, num_branches=4, reduction="mean"))

    @pytest.mark.parametrize("reduction", ["none", "Sum", None])
    def test_bad_reduction(self, reduction):
        with pytest.raises(ValueError, match="reduction must be one of"):
            L.connectivity_loss(np.ones((10, 16)), reduction=reduction)


class TestBuildingBlocks:
    def test_split_branches_layout(self):
        z = jnp.arange(2 * 6).reshape(2, 6)
        s = L.split_branches(z, 3)
        assert s.shape == (3, 2, 2)
        np.testing.assert_array_equal(s[1], [[2, 3], [8, 9]])

    def test_branch_deaths_sorted_and_unsorted(self, rng):
        z = rng.normal(size=(40, 12)).astype(np.float32)
        a = np.asarray(L.branch_deaths(z, num_branches=3, metric="l1"))
        b = np.asarray(L.branch_deaths(z, num_branches=3, metric="l1", sort=False))
        assert np.all(np.diff(a, axis=1) >= 0)
        np.testing.assert_allclose(np.sort(b, 1), a)
        for k in range(3):
            ref = sorted(d for _, _, d in mst_edges_l1(z[:, 4 * k : 4 * k + 4].astype(np.float64)))
            np.testing.assert_allclose(a[k], ref, rtol=1e-5)

    def test_total_persistence(self, rng):
        d = rng.uniform(size=(3, 9))
        np.testing.assert_allclose(L.total_persistence(d), d.sum(1), rtol=1e-6)
        np.testing.assert_allclose(L.total_persistence(d, p=2.0), (d**2).sum(1), rtol=1e-6)
        padded = np.concatenate([d, np.full((3, 2), np.inf)], 1)
        np.testing.assert_allclose(L.total_persistence(padded), d.sum(1), rtol=1e-6)
        g = jax.grad(lambda x: L.total_persistence(x).sum())(jnp.asarray(padded))
        np.testing.assert_array_equal(g, np.isfinite(padded).astype(float))

    def test_reconstruction_loss(self, rng):
        targets = rng.uniform(size=(5, 32, 32, 3)).astype(np.float32)
        predictions = rng.uniform(size=(5, 32, 32, 3)).astype(np.float32)
        # summed over an example's values, averaged over the batch (the paper's)
        expected = np.mean(np.abs(predictions - targets).reshape(5, -1).sum(1))
        np.testing.assert_allclose(L.reconstruction_loss(predictions, targets), expected, rtol=1e-5)
        # predictions first, as in optax: d/d predictions = sign(predictions - targets) / B
        g = jax.grad(L.reconstruction_loss)(predictions, targets)
        np.testing.assert_allclose(g, np.sign(predictions - targets) / 5, rtol=1e-6)
        with pytest.raises(ValueError, match="same shape"):
            L.reconstruction_loss(predictions, targets[:4])
        with pytest.raises(ValueError, match="batch axis"):
            L.reconstruction_loss(np.float32(1.0), np.float32(0.0))
