"""Tests for corel_jax.embedding_metrics: hand-computed cases and scikit-learn."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from corel_jax import embedding_metrics as E

# A 1-D cloud with distinct distances from every point, and an embedding that
# swaps where points 3 and 4 sit: X = (0, 1, 3, 7, 15), Z = (0, 1, 3, 15, 7).
X = np.array([0.0, 1.0, 3.0, 7.0, 15.0])[:, None]
Z = np.array([0.0, 1.0, 3.0, 15.0, 7.0])[:, None]


def _hoods(points, k_max=2):
    return E.neighbourhoods(cdist(points, points), k_max)


class TestHandComputed:
    def test_ranks(self):
        # From point 3 (at 7): 2 (dist 4), 1 (6), 0 (7), 4 (8).
        hx = _hoods(X)
        np.testing.assert_array_equal(hx.ranks[3], [3, 2, 1, 0, 4])
        np.testing.assert_array_equal(hx.neighbours[3], [2, 1])

    def test_trustworthiness_and_continuity(self):
        hx, hz = _hoods(X), _hoods(Z)
        # k = 1: latent neighbours 3->4 (data rank 4) and 4->2 (data rank 2) are
        # intruders: penalty (4 - 1) + (2 - 1) = 4, factor 2 / (5 * 1 * 6).
        assert E.trustworthiness(hx, hz, 1) == pytest.approx(1 - 4 * 2 / 30)
        # k = 2: intruders 3->4 (rank 4) and 4->1 (rank 3): (4 - 2) + (3 - 2) = 3; 2 / (5 * 2 * 3).
        assert E.trustworthiness(hx, hz, 2) == pytest.approx(1 - 3 * 2 / 30)
        # Continuity, k = 1: data neighbours 3->2 (latent rank 2) and 4->3 (latent rank 4) are missed.
        assert E.continuity(hx, hz, 1) == pytest.approx(1 - 4 * 2 / 30)
        assert E.continuity(hx, hz, 2) == pytest.approx(1 - 3 * 2 / 30)

    def test_mrre(self):
        hx, hz = _hoods(X), _hoods(Z)
        # k = 1: C = 5 * |2 - 5 - 1| / 1 = 20.
        # Z -> X: |4 - 1| / 1 (3->4) + |2 - 1| / 1 (4->2) = 4;
        # X -> Z: |1 - 2| / 1 (3->2) + |1 - 4| / 1 (4->3) = 4.
        assert E.mrre(hx, hz, 1) == pytest.approx((0.2, 0.2))

    def test_distance_rmse(self):
        # Six unordered pairs change by 8 (12 of 25 entries): sqrt(12 * 64 / 25).
        assert E.distance_rmse(cdist(X, X), cdist(Z, Z)) == pytest.approx(math.sqrt(12 * 64 / 25))

    @pytest.mark.parametrize("sigma", [0.01, 0.1, 1.0])
    def test_density_kl(self, sigma):
        # X = (0, 1, 3) and Z = (0, 2, 3): both have diameter 3; scaled distances
        # X: d01 = 1/3, d02 = 1, d12 = 2/3;  Z: d01 = 2/3, d02 = 1, d12 = 1/3.
        g = lambda d: math.exp(-(d**2) / sigma)
        fx = [1 + g(1 / 3) + g(1), 1 + g(1 / 3) + g(2 / 3), 1 + g(1) + g(2 / 3)]
        fz = [1 + g(2 / 3) + g(1), 1 + g(2 / 3) + g(1 / 3), 1 + g(1) + g(1 / 3)]
        px = [f / sum(fx) for f in fx]
        pz = [f / sum(fz) for f in fz]
        expected = sum(p * math.log(p / q) for p, q in zip(px, pz, strict=True))
        x, z = np.array([[0.0], [1.0], [3.0]]), np.array([[0.0], [2.0], [3.0]])
        assert E.density_kl(cdist(x, x), cdist(z, z), sigma) == pytest.approx(expected, rel=1e-12)

    def test_data_mse(self):
        assert E.data_mse([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [3.0, 5.0]]) == pytest.approx(1.25)

    def test_perfect_embedding(self, rng):
        x = rng.normal(size=(60, 2))
        result = E.evaluate_embedding(x, x, x_hat=x, ks=[5, 10])
        for key in ("l_trustworthiness", "l_continuity"):
            assert result[key] == pytest.approx(1.0)
        for key in ("l_mrre", "l_rmse", "data_mse", "kl_0.01", "kl_0.1", "kl_1"):
            assert result[key] == pytest.approx(0.0, abs=1e-12)


class TestAgainstScikitLearn:
    @pytest.mark.parametrize("k", [1, 5, 12, 30])
    def test_trustworthiness_and_continuity(self, rng, k):
        manifold = pytest.importorskip("sklearn.manifold")
        x = rng.normal(size=(120, 6))
        z = x[:, :2] + 0.5 * rng.normal(size=(120, 2))
        hx, hz = _hoods(x, 30), _hoods(z, 30)
        assert E.trustworthiness(hx, hz, k) == pytest.approx(
            manifold.trustworthiness(x, z, n_neighbors=k), rel=1e-12
        )
        assert E.continuity(hx, hz, k) == pytest.approx(
            manifold.trustworthiness(z, x, n_neighbors=k), rel=1e-12
        )


class TestEvaluateEmbedding:
    def test_keys_and_averages(self, rng):
        x = rng.normal(size=(80, 5))
        z = rng.normal(size=(80, 2))
        ks = [5, 10, 20]
        result = E.evaluate_embedding(x, z, ks=ks)
        assert set(E.TABLE_METRICS) - {"data_mse"} <= set(result)
        assert "data_mse" not in result
        hx, hz = _hoods(x, 20), _hoods(z, 20)
        assert result["l_trustworthiness"] == pytest.approx(
            np.mean([E.trustworthiness(hx, hz, k) for k in ks])
        )
        # l-MRRE averages both directions and all k.
        assert result["l_mrre"] == pytest.approx(np.mean([E.mrre(hx, hz, k) for k in ks]))
        assert result["kl_0.1"] == pytest.approx(E.density_kl(cdist(x, x), cdist(z, z), 0.1))

    def test_images_are_flattened(self, rng):
        x = rng.normal(size=(40, 3, 3))
        z = rng.normal(size=(40, 2))
        a = E.evaluate_embedding(x, z, ks=[5])
        b = E.evaluate_embedding(x.reshape(40, -1), z, ks=[5])
        assert a["l_rmse"] == b["l_rmse"] and a["l_mrre"] == b["l_mrre"]

    def test_paper_defaults(self):
        assert E.NEIGHBOURHOOD_SIZES == tuple(range(10, 201, 10))
        assert E.KL_SIGMAS == (0.01, 0.1, 1.0)


class TestChecks:
    def test_mismatched_points(self, rng):
        with pytest.raises(ValueError, match="same points"):
            E.evaluate_embedding(rng.normal(size=(10, 3)), rng.normal(size=(9, 2)), ks=[2])

    def test_k_too_large(self, rng):
        hx = _hoods(rng.normal(size=(10, 2)), 5)
        with pytest.raises(ValueError, match="k must"):
            E.trustworthiness(hx, hx, 6)
        small = _hoods(rng.normal(size=(6, 2)), 4)
        with pytest.raises(ValueError, match="too large"):  # 2n - 3k - 1 = -1
            E.trustworthiness(small, small, 4)

    def test_bad_sigma(self):
        with pytest.raises(ValueError, match="sigma"):
            E.density_kl(np.ones((2, 2)), np.ones((2, 2)), 0.0)

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match="x_hat"):
            E.data_mse(np.ones((2, 2)), np.ones((2, 3)))
