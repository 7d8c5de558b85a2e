"""Tests for corel_jax.embedding_metrics: hand-computed cases, brute-force loops written
from the definitions, and scikit-learn.

The definitions are the TopoAE authors' (Moor, Horn, Rieck, Borgwardt, Topological
Autoencoders, ICML 2020, Sec. 5 and the supplement; their evaluation code,
``src/evaluation/measures_optimized.py`` of BorgwardtLab/topological-autoencoders): ranks
by a stable sort of each row of the distance matrix (ties by index, the point itself rank
0); trustworthiness and continuity after Venna and Kaski (2006); the MRRE pair after Lee
and Verleysen (2007) with the normalisation ``C = n sum_{j=1}^k |2j - n - 1| / j``; the KL
divergence between the Gaussian densities of the max-scaled distances.
"""

import math

import numpy as np
import pytest
from references import needs
from scipy.spatial.distance import cdist

from corel_jax import embedding_metrics as E

# A 1-D cloud with distinct distances from every point, and an embedding that
# swaps where points 3 and 4 sit: X = (0, 1, 3, 7, 15), Z = (0, 1, 3, 15, 7).
X = np.array([0.0, 1.0, 3.0, 7.0, 15.0])[:, None]
Z = np.array([0.0, 1.0, 3.0, 15.0, 7.0])[:, None]


def _hoods(points, k_max=2):
    return E.neighbourhoods(cdist(points, points), k_max)


# ------------------------------------------------ brute force, from the definitions


def brute_ranks(dist: np.ndarray) -> np.ndarray:
    """``r[i, j]``: how many points come before ``j`` from ``i`` (distance, then index)."""
    n = len(dist)
    return np.array(
        [[sum((dist[i, m], m) < (dist[i, j], j) for m in range(n)) for j in range(n)]
         for i in range(n)]
    )  # fmt: skip


def brute_neighbours(ranks: np.ndarray, i: int, k: int) -> set[int]:
    return {j for j in range(len(ranks)) if 1 <= ranks[i, j] <= k}


def brute_trustworthiness(rx: np.ndarray, rz: np.ndarray, k: int) -> float:
    """1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in N^Z_k(i) \\ N^X_k(i)} (r^X_ij - k)."""
    n = len(rx)
    total = 0
    for i in range(n):
        for j in brute_neighbours(rz, i, k) - brute_neighbours(rx, i, k):
            total += rx[i, j] - k
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * total


def brute_mrre(rx: np.ndarray, rz: np.ndarray, k: int) -> tuple[float, float]:
    """(sum_i sum_{j in N^Z_k(i)} |r^X - r^Z| / r^Z, the same over N^X_k(i) / r^X) / C."""
    n = len(rx)
    c = n * sum(abs(2 * j - n - 1) / j for j in range(1, k + 1))
    zx = sum(
        abs(rx[i, j] - rz[i, j]) / rz[i, j] for i in range(n) for j in brute_neighbours(rz, i, k)
    )
    xz = sum(
        abs(rx[i, j] - rz[i, j]) / rx[i, j] for i in range(n) for j in brute_neighbours(rx, i, k)
    )
    return zx / c, xz / c


def brute_density_kl(dx: np.ndarray, dz: np.ndarray, sigma: float) -> float:
    """KL(P^X || P^Z), P_i proportional to sum_j exp(-(D_ij / max D)^2 / sigma)."""
    n = len(dx)

    def density(d):
        top = max(d[i, j] for i in range(n) for j in range(n))
        f = [sum(math.exp(-((d[i, j] / top) ** 2) / sigma) for j in range(n)) for i in range(n)]
        return [v / sum(f) for v in f]

    px, pz = density(dx), density(dz)
    return sum(p * math.log(p / q) for p, q in zip(px, pz, strict=True))


def _asymmetric_cases():
    """(name, X, Z): embeddings whose neighbourhoods differ both ways, with and without ties."""
    r = np.random.default_rng(7)
    x = r.normal(size=(40, 5))
    yield "random", x, x[:, :2] + 0.7 * r.normal(size=(40, 2))
    # integer grids: many tied distances in both spaces (the index order decides)
    g = r.integers(0, 3, size=(36, 3)).astype(float)
    yield "ties", g, np.stack([g[:, 0] + g[:, 1], np.round(g[:, 2] - 0.5 * g[:, 0])], axis=1)
    # a squashed embedding: Z far smaller, the scale of X and Z differ
    yield "scaled", x, 0.01 * x[::-1, :2]


CASES = list(_asymmetric_cases())


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


class TestAgainstBruteForce:
    @pytest.mark.parametrize("name,x,z", CASES, ids=[c[0] for c in CASES])
    def test_ranks_and_rank_measures_at_several_k(self, name, x, z):
        dx, dz = cdist(x, x), cdist(z, z)
        rx, rz = brute_ranks(dx), brute_ranks(dz)
        hx, hz = E.neighbourhoods(dx, 11), E.neighbourhoods(dz, 11)
        np.testing.assert_array_equal(hx.ranks, rx)
        np.testing.assert_array_equal(hz.ranks, rz)
        for k in (1, 2, 5, 11):
            assert E.trustworthiness(hx, hz, k) == pytest.approx(
                brute_trustworthiness(rx, rz, k), rel=1e-12
            )
            assert E.continuity(hx, hz, k) == pytest.approx(
                brute_trustworthiness(rz, rx, k), rel=1e-12
            )
            got, want = E.mrre(hx, hz, k), brute_mrre(rx, rz, k)
            assert got == pytest.approx(want, rel=1e-12)
            # asymmetric: the two directions differ, and swapping X and Z swaps them
            assert got[0] != pytest.approx(got[1], rel=1e-3)
            assert E.mrre(hz, hx, k) == pytest.approx(got[::-1], rel=1e-12)

    @pytest.mark.parametrize("name,x,z", CASES, ids=[c[0] for c in CASES])
    @pytest.mark.parametrize("sigma", [0.01, 0.1, 1.0])
    def test_density_kl(self, name, x, z, sigma):
        dx, dz = cdist(x, x), cdist(z, z)
        got = E.density_kl(dx, dz, sigma)
        assert got == pytest.approx(brute_density_kl(dx, dz, sigma), rel=1e-10)
        assert got > 0 and got != pytest.approx(E.density_kl(dz, dx, sigma), rel=1e-3)


class TestAgainstScikitLearn:
    @pytest.mark.parametrize("k", [1, 5, 12, 30])
    def test_trustworthiness_and_continuity(self, rng, k):
        manifold = needs("sklearn.manifold", "trustworthiness against scikit-learn's")
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
