"""Tests for corel_jax.persistence against scipy, gudhi and brute force."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from compile_count import compiles
from hypothesis import given, settings, strategies as st
from references import needs
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from corel_jax.persistence import PersistenceH0, pairwise_distances, rips_h0

# (our metric spec, scipy cdist kwargs)
METRICS = [
    ("l1", dict(metric="cityblock")),
    ("l2", dict(metric="euclidean")),
    ("sqeuclidean", dict(metric="sqeuclidean")),
    ("linf", dict(metric="chebyshev")),
    (("minkowski", 3.0), dict(metric="minkowski", p=3.0)),
    (1.5, dict(metric="minkowski", p=1.5)),
]
# "native" (the C++ CPU kernel, the default on a CPU): a test of it without the kernel
# built is a skip naming it, a failure under CI=true (tests/references.py).
NATIVE = pytest.param("native", marks=pytest.mark.native)
ALGORITHMS = ["dense", "matrix_free", NATIVE]
# For the tests that loop over all of them (they ask for the native kernel themselves).
ALL_ALGORITHMS = ["dense", "matrix_free", "native"]


def scipy_deaths(dist: np.ndarray) -> np.ndarray:
    """Sorted MST edge lengths, zero-length edges included.

    scipy's MST drops zero entries (it reads them as "no edge"), so shift every
    off-diagonal distance by a constant and subtract it again.
    """
    shift = 1.0 + float(dist.max())
    shifted = dist + shift
    np.fill_diagonal(shifted, 0.0)
    mst = minimum_spanning_tree(shifted).tocoo()
    assert mst.nnz == dist.shape[0] - 1
    return np.sort(mst.data - shift)


def scipy_mst_edges(dist: np.ndarray) -> set[tuple[int, int]]:
    mst = minimum_spanning_tree(dist).tocoo()
    return {(min(i, j), max(i, j)) for i, j in zip(mst.row, mst.col, strict=True)}


def gudhi_deaths(dist: np.ndarray) -> np.ndarray:
    gudhi = needs("gudhi", "rips_h0 against GUDHI's RipsComplex")
    st_ = gudhi.RipsComplex(distance_matrix=dist).create_simplex_tree(max_dimension=1)
    st_.persistence()
    bars = st_.persistence_intervals_in_dimension(0)
    deaths = bars[:, 1]
    assert np.isinf(deaths).sum() == 1  # the essential class
    return np.sort(deaths[np.isfinite(deaths)])


def prim_reference(dist: np.ndarray) -> set[tuple[int, int]]:
    """Prim's tree with the documented tie rule, by explicit loops (float64).

    The root is vertex 0; each step the outside vertex with the smallest key joins, the
    lowest index among equal keys; a vertex's parent is replaced only by a strictly
    shorter distance.
    """
    n = dist.shape[0]
    inside = np.zeros(n, bool)
    key = np.full(n, np.inf)
    parent = np.full(n, -1)
    key[0] = 0.0
    for _ in range(n):
        v = min((u for u in range(n) if not inside[u]), key=lambda u: (key[u], u))
        inside[v] = True
        for u in range(n):
            if not inside[u] and dist[v, u] < key[u]:
                key[u], parent[u] = dist[v, u], v
    return {(min(u, int(parent[u])), max(u, int(parent[u]))) for u in range(1, n)}


def assert_is_spanning_tree(edges: np.ndarray, n: int) -> None:
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in edges:
        ri, rj = find(int(i)), find(int(j))
        assert ri != rj, "edges contain a cycle"
        parent[ri] = rj
    assert len({find(a) for a in range(n)}) == 1


class TestPairwiseDistances:
    @pytest.mark.parametrize("metric,kw", METRICS)
    def test_matches_scipy(self, rng, metric, kw):
        x = rng.normal(size=(30, 5)).astype(np.float32)
        y = rng.normal(size=(20, 5)).astype(np.float32)
        np.testing.assert_allclose(
            pairwise_distances(x, y, metric=metric), cdist(x, y, **kw), rtol=2e-5, atol=1e-5
        )

    def test_wide_l2_uses_exact_enough_gram_form(self, rng):
        x = rng.normal(size=(40, 64)).astype(np.float32)
        np.testing.assert_allclose(
            pairwise_distances(x, metric="l2"), cdist(x, x), rtol=1e-4, atol=1e-3
        )

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="same width"):
            pairwise_distances(jnp.ones((3, 2)), jnp.ones((3, 4)))
        with pytest.raises(ValueError, match="rank 2"):
            pairwise_distances(jnp.ones((3,)))
        with pytest.raises(ValueError, match="precomputed"):
            pairwise_distances(jnp.ones((3, 2)), metric="precomputed")


class TestDeaths:
    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    @pytest.mark.parametrize("metric,kw", METRICS)
    def test_random_clouds_match_scipy_mst(self, rng, metric, kw, algorithm):
        x = rng.normal(size=(120, 7)).astype(np.float32)
        res = rips_h0(x, metric=metric, algorithm=algorithm)
        assert isinstance(res, PersistenceH0)
        assert res.deaths.shape == (119,) and res.edges.shape == (119, 2)
        assert res.edges.dtype == jnp.int32
        ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **kw))
        np.testing.assert_allclose(res.deaths, ref, rtol=2e-5, atol=1e-5)
        # ascending, and each death is the length of its edge
        assert np.all(np.diff(np.asarray(res.deaths)) >= 0)
        e = np.asarray(res.edges)
        assert np.all(e[:, 0] < e[:, 1])
        np.testing.assert_allclose(
            res.deaths, cdist(x, x, **kw)[e[:, 0], e[:, 1]], rtol=2e-5, atol=1e-5
        )
        assert_is_spanning_tree(e, 120)

    @pytest.mark.parametrize("metric,kw", METRICS[:4])
    def test_match_gudhi(self, rng, metric, kw):
        x = rng.uniform(size=(80, 3))
        dist = cdist(x, x, **kw)
        np.testing.assert_allclose(
            rips_h0(x.astype(np.float32), metric=metric).deaths,
            gudhi_deaths(dist),
            rtol=2e-5,
            atol=1e-6,
        )

    @pytest.mark.native
    def test_wide_points_and_every_prim_agrees(self, rng):
        x = rng.normal(size=(90, 48)).astype(np.float32)
        for metric, kw in METRICS:
            ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **kw))
            for algorithm in ALL_ALGORITHMS:
                np.testing.assert_allclose(
                    rips_h0(x, metric=metric, algorithm=algorithm).deaths,
                    ref,
                    rtol=1e-4,
                    atol=1e-4,
                )

    def test_precomputed(self, rng):
        x = rng.normal(size=(60, 4))
        dist = cdist(x, x, "cityblock").astype(np.float32)
        res = rips_h0(dist, metric="precomputed")
        np.testing.assert_allclose(res.deaths, scipy_deaths(dist.astype(np.float64)), rtol=1e-6)
        np.testing.assert_array_equal(res.edges, rips_h0(x.astype(np.float32), metric="l1").edges)

    @pytest.mark.parametrize("algorithm", ALGORITHMS + ["boruvka", "pallas"])
    def test_precomputed_reads_the_upper_triangle_only(self, rng, algorithm):
        x = rng.normal(size=(30, 3))
        dist = cdist(x, x)
        garbled = dist.copy()
        lower = np.tril_indices(30)  # the diagonal too
        garbled[lower] = rng.uniform(-1.0, 0.01, size=len(lower[0]))
        res = rips_h0(garbled.astype(np.float32), metric="precomputed", algorithm=algorithm)
        np.testing.assert_allclose(res.deaths, scipy_deaths(dist), rtol=1e-6)
        assert {tuple(map(int, e)) for e in np.asarray(res.edges)} == scipy_mst_edges(dist)

    def test_unique_mst_edges_match_scipy(self, rng):
        x = rng.normal(size=(70, 3))
        dist = cdist(x, x)
        res = rips_h0(x.astype(np.float32), metric="l2")
        assert {tuple(map(int, e)) for e in np.asarray(res.edges)} == scipy_mst_edges(dist)

    @pytest.mark.parametrize("metric,kw", METRICS[:4])
    @pytest.mark.native
    def test_integer_grid_with_many_ties(self, metric, kw):
        g = np.stack(np.meshgrid(np.arange(6), np.arange(5), np.arange(3)), -1).reshape(-1, 3)
        perm = np.random.default_rng(1).permutation(len(g))
        x = g[perm].astype(np.float32)
        dist = cdist(g[perm], g[perm], **kw)
        ref = scipy_deaths(dist)
        results = [rips_h0(x, metric=metric, algorithm=a) for a in ALL_ALGORITHMS]
        for res in results:
            np.testing.assert_allclose(res.deaths, ref, atol=1e-6)
            assert_is_spanning_tree(np.asarray(res.edges), len(g))
            np.testing.assert_allclose(dist[tuple(np.asarray(res.edges).T)], res.deaths, atol=1e-6)
        # deterministic tie-breaking: both variants and repeated calls route identically
        for other in results[1:]:
            np.testing.assert_array_equal(results[0].edges, other.edges)
        np.testing.assert_array_equal(results[0].edges, rips_h0(x, metric=metric).edges)
        jitted = jax.jit(lambda x: rips_h0(x, metric=metric))(x)
        np.testing.assert_array_equal(results[0].edges, jitted.edges)

    def test_ties_broken_by_index(self):
        # Equilateral-ish: 4 points on a line at unit spacing, all gaps equal.
        x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        res = rips_h0(x)
        np.testing.assert_array_equal(res.edges, [[0, 1], [1, 2], [2, 3]])
        # a square: 4 edges of length 1 tie; Prim from vertex 0 keeps lowest indices
        sq = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        np.testing.assert_array_equal(rips_h0(sq).edges, [[0, 1], [0, 2], [1, 3]])

    def test_duplicate_points_keep_zero_length_bars(self, rng):
        base = rng.normal(size=(20, 4)).astype(np.float32)
        x = np.concatenate([base, base[:5], base[:1]])
        for metric, kw in METRICS:
            res = rips_h0(x, metric=metric)
            assert res.deaths.shape == (25,)
            assert int(jnp.sum(res.deaths == 0)) == 6
            np.testing.assert_allclose(res.deaths, scipy_deaths(cdist(x, x, **kw)), atol=1e-5)

    def test_sort_false_is_the_same_multiset(self, rng):
        x = rng.normal(size=(50, 3)).astype(np.float32)
        a, b = rips_h0(x), rips_h0(x, sort=False)
        np.testing.assert_allclose(np.sort(np.asarray(b.deaths)), a.deaths)
        assert {tuple(e) for e in np.asarray(a.edges)} == {tuple(e) for e in np.asarray(b.edges)}

    @pytest.mark.parametrize("algorithm", ["matrix_free", NATIVE])
    def test_large_cloud_without_a_matrix(self, rng, algorithm):
        x = rng.normal(size=(3000, 16)).astype(np.float32)
        res = rips_h0(x, metric="l2", algorithm=algorithm)
        ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64)))
        np.testing.assert_allclose(res.deaths, ref, rtol=1e-5, atol=1e-5)

    @pytest.mark.native
    @pytest.mark.parametrize("metric", ["l1", "l2", "sqeuclidean", "linf", 2.5, "precomputed"])
    def test_native_and_xla_loops_build_the_same_tree(self, rng, metric):
        # integer coordinates: every distance is exact in float32, so the two
        # implementations see identical keys and must pick identical edges.
        x = rng.integers(-3, 4, size=(16, 60, 3)).astype(np.float32)
        if metric == "precomputed":
            x = np.stack([cdist(c, c, "cityblock") for c in x]).astype(np.float32)
        mask = rng.random((16, 60)) < 0.8
        run = lambda alg: jax.jit(
            jax.vmap(lambda c, m: rips_h0(c, metric=metric, mask=m, algorithm=alg))
        )(x, mask)
        a, b = run("native"), run("matrix_free" if metric != "precomputed" else "dense")
        np.testing.assert_array_equal(a.edges, b.edges)
        np.testing.assert_array_equal(a.deaths, b.deaths)

    @given(
        n=st.integers(2, 25),
        d=st.integers(1, 4),
        seed=st.integers(0, 2**31 - 1),
        integer=st.booleans(),
    )
    @settings(max_examples=15, deadline=None)
    def test_property_matches_scipy(self, n, d, seed, integer):
        r = np.random.default_rng(seed)
        x = r.integers(-2, 3, size=(n, d)) if integer else r.normal(size=(n, d))
        x = x.astype(np.float32)
        # One compiled program for every example: the cloud padded to (25, 4) with zero
        # coordinates (which change no l1 distance) and masked points.
        padded = np.full((25, 4), np.nan, np.float32)
        padded[:n] = np.pad(x, ((0, 0), (0, 4 - d)))
        res = _jitted_l1(padded, np.arange(25) < n)
        np.testing.assert_allclose(
            res.deaths[: n - 1], scipy_deaths(cdist(x, x, "cityblock")), atol=1e-5
        )
        assert np.all(np.isinf(res.deaths[n - 1 :]))
        assert_is_spanning_tree(np.asarray(res.edges[: n - 1]), n)


_jitted_l1 = jax.jit(lambda x, mask: rips_h0(x, metric="l1", mask=mask))


class TestMask:
    def test_padded_cloud_equals_unpadded(self, rng):
        x = rng.normal(size=(30, 3)).astype(np.float32)
        pad = np.concatenate([x[:12], np.full((5, 3), np.nan, np.float32), x[12:]])
        mask = np.ones(35, bool)
        mask[12:17] = False
        res = rips_h0(pad, mask=mask)
        ref = rips_h0(x)
        np.testing.assert_allclose(res.deaths[:29], ref.deaths, rtol=1e-6)
        assert np.all(np.isinf(res.deaths[29:]))
        np.testing.assert_array_equal(res.edges[29:], -1)
        np.testing.assert_array_equal(res.valid, np.arange(34) < 29)
        # edges refer to the real points of the padded cloud
        idx = np.flatnonzero(mask)
        np.testing.assert_array_equal(idx[np.asarray(ref.edges)], res.edges[:29])

    @pytest.mark.parametrize("metric,kw", METRICS)
    def test_vmap_over_clouds_of_different_sizes(self, rng, metric, kw):
        sizes = [2, 7, 19, 25]
        n = 25
        clouds = rng.normal(size=(len(sizes), n, 4)).astype(np.float32)
        masks = np.arange(n)[None, :] < np.array(sizes)[:, None]
        res = jax.jit(jax.vmap(lambda x, m: rips_h0(x, metric=metric, mask=m)))(clouds, masks)
        for k, m in enumerate(sizes):
            c = clouds[k, :m]
            np.testing.assert_allclose(
                res.deaths[k, : m - 1], scipy_deaths(cdist(c, c, **kw)), rtol=2e-5, atol=1e-5
            )
            assert np.all(np.isinf(res.deaths[k, m - 1 :]))

    def test_precomputed_with_mask(self, rng):
        x = rng.normal(size=(10, 2))
        dist = cdist(x, x).astype(np.float32)
        mask = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1], bool)
        res = rips_h0(dist, metric="precomputed", mask=mask)
        sub = dist[np.ix_(mask, mask)]
        np.testing.assert_allclose(res.deaths[:7], scipy_deaths(sub.astype(np.float64)), rtol=1e-6)

    def test_padded_points_get_no_gradient(self, rng):
        x = rng.normal(size=(12, 3)).astype(np.float32)
        mask = np.arange(12) < 8
        g = jax.grad(
            lambda x: jnp.sum(
                jnp.where(rips_h0(x, mask=mask).valid, rips_h0(x, mask=mask).deaths, 0.0)
            )
        )(x)
        assert np.all(np.asarray(g)[8:] == 0)
        assert np.all(np.isfinite(g))

    def test_at_most_one_real_point(self):
        x = jnp.zeros((4, 2))
        res = rips_h0(x, mask=jnp.array([False, True, False, False]))
        assert not np.any(res.valid) and np.all(np.isinf(res.deaths))


def _l1_grad_reference(x: np.ndarray, edges: set, weights: dict) -> np.ndarray:
    """sum_k w_k d(x_i, x_j) differentiated by hand: sign(x_i - x_j) on x_i, minus on x_j."""
    g = np.zeros_like(x)
    for i, j in edges:
        s = np.sign(x[i] - x[j])
        g[i] += weights[(i, j)] * s
        g[j] -= weights[(i, j)] * s
    return g


class TestGradients:
    def test_l1_analytic_formula(self, rng):
        x = rng.normal(size=(40, 6))
        edges = scipy_mst_edges(cdist(x, x, "cityblock"))
        dist = cdist(x, x, "cityblock")
        # loss = sum_k c_k * d_k with c depending on the (unique) edge: use d^2 / 2
        # -> d loss / d d_k = d_k.
        weights = {e: dist[e] for e in edges}
        expected = _l1_grad_reference(x, edges, weights)
        g = jax.grad(lambda x: 0.5 * jnp.sum(rips_h0(x, metric="l1").deaths ** 2))(
            x.astype(np.float32)
        )
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-5)

    # Every metric on one algorithm, every algorithm on one metric: the algorithm only
    # picks the edges, the metric's derivative is shared.
    @pytest.mark.parametrize(
        "metric,algorithm",
        [(m, "matrix_free") for m in ("l1", "l2", "sqeuclidean", "linf", 3.0)]
        + [("l2", "dense"), pytest.param("l2", "native", marks=pytest.mark.native)],
    )
    def test_finite_differences_float64(self, rng, metric, algorithm):
        with jax.enable_x64(True):
            x = jnp.asarray(rng.normal(size=(25, 4)))
            w = jnp.asarray(rng.normal(size=(24,)))

            def f(x):
                return jnp.sum(w * rips_h0(x, metric=metric, algorithm=algorithm).deaths)

            assert f(x).dtype == jnp.float64
            # central differences along random directions; the MST is unique
            # and locally constant for a generic cloud.
            g = jax.grad(f)(x)
            for _ in range(3):
                u = jnp.asarray(rng.normal(size=x.shape))
                eps = 1e-6
                fd = (f(x + eps * u) - f(x - eps * u)) / (2 * eps)
                np.testing.assert_allclose(jnp.vdot(g, u), fd, rtol=1e-5, atol=1e-7)
            jax.test_util.check_grads(f, (x,), order=1, modes=["rev"], eps=1e-6)

    def test_precomputed_gradient_only_on_critical_entries(self, rng):
        x = rng.normal(size=(15, 3))
        dist = jnp.asarray(cdist(x, x), jnp.float32)
        res = rips_h0(dist, metric="precomputed")
        g = jax.grad(lambda d: jnp.sum(rips_h0(d, metric="precomputed").deaths))(dist)
        expected = np.zeros((15, 15), np.float32)
        e = np.asarray(res.edges)
        expected[e[:, 0], e[:, 1]] = 1.0
        np.testing.assert_array_equal(g, expected)

    @pytest.mark.parametrize("metric", ["l1", "l2", "sqeuclidean", "linf", 3.0])
    def test_duplicates_give_zero_subgradient_not_nan(self, rng, metric):
        base = rng.normal(size=(10, 3)).astype(np.float32)
        x = np.concatenate([base, base[:3]])
        g = jax.grad(lambda x: jnp.sum(rips_h0(x, metric=metric).deaths))(x)
        assert np.all(np.isfinite(g))
        # the three zero-length edges contribute nothing: the gradient equals
        # that of the cloud with duplicates removed, moved onto the originals.
        g_base = jax.grad(lambda x: jnp.sum(rips_h0(x, metric=metric).deaths))(base)
        np.testing.assert_allclose(g[:10] + np.pad(g[10:], ((0, 7), (0, 0))), g_base, atol=1e-5)

    def test_all_points_coincide(self):
        g = jax.grad(lambda x: jnp.sum(rips_h0(x, metric="l2").deaths))(jnp.ones((5, 3)))
        np.testing.assert_array_equal(g, 0.0)

    @pytest.mark.parametrize("metric", ["l1", "l2"])
    @pytest.mark.parametrize("algorithm", ALGORITHMS + ["pallas"])
    def test_gradient_on_ties_follows_the_tie_rule(self, metric, algorithm):
        # A shuffled 4 x 4 grid: 24 unit edges tie for 15 tree slots. The cotangent of each
        # death goes to the edge that Prim's documented tie rule picks (a loop reference),
        # nowhere else: the gradient of sum(d^2) / 2 is sum over those edges of d * J.
        grid = np.stack(np.meshgrid(np.arange(4), np.arange(4)), -1).reshape(-1, 2)
        x = grid[np.random.default_rng(3).permutation(16)].astype(np.float32)
        kw = {"l1": dict(metric="cityblock"), "l2": dict(metric="euclidean")}[metric]
        dist = cdist(x, x, **kw)
        edges = prim_reference(dist)
        expected = np.zeros_like(x)
        for i, j in edges:
            diff = x[i] - x[j]
            jac = np.sign(diff) if metric == "l1" else diff / np.linalg.norm(diff)
            expected[i] += dist[i, j] * jac
            expected[j] -= dist[i, j] * jac
        f = lambda x: 0.5 * jnp.sum(rips_h0(x, metric=metric, algorithm=algorithm).deaths ** 2)
        np.testing.assert_allclose(jax.jit(jax.grad(f))(x), expected, atol=1e-6)
        np.testing.assert_allclose(jax.grad(f)(x), expected, atol=1e-6)
        res = rips_h0(x, metric=metric, algorithm=algorithm)
        assert {tuple(map(int, e)) for e in np.asarray(res.edges)} == edges


class TestTransformations:
    def test_eager_jit_vmap_agree(self, rng):
        x = rng.normal(size=(16, 50, 10)).astype(np.float32)
        eager = np.stack([np.asarray(rips_h0(c, metric="l1").deaths) for c in x])
        one = jax.jit(lambda c: rips_h0(c, metric="l1"))
        jitted = np.stack([np.asarray(one(c).deaths) for c in x])
        vmapped = jax.jit(jax.vmap(lambda c: rips_h0(c, metric="l1")))(x).deaths
        np.testing.assert_array_equal(eager, jitted)
        np.testing.assert_allclose(vmapped, eager, rtol=1e-6)
        gv = jax.vmap(jax.grad(lambda c: jnp.sum(rips_h0(c, metric="l1").deaths)))(x)
        g0 = jax.grad(lambda c: jnp.sum(rips_h0(c, metric="l1").deaths))(x[0])
        np.testing.assert_allclose(gv[0], g0, rtol=1e-6)

    @pytest.mark.parametrize("metric", ["l1", "precomputed"])
    def test_an_eager_call_is_one_compiled_program(self, rng, metric):
        """Outside jit, the first call of a new shape compiles the computation as one
        program (plus the eager input checks), not each of its ~70 operations."""
        x = np.abs(rng.normal(size=(37, 37 if metric == "precomputed" else 5))).astype(np.float32)
        with compiles() as n:
            res = rips_h0(x, metric=metric)
        assert 1 <= n[0] <= 6, n[0]
        with compiles() as n:
            g = jax.grad(lambda y: jnp.sum(rips_h0(y, metric=metric).deaths))(x)
        assert 1 <= n[0] <= 8, n[0]
        with compiles() as n:  # the second call compiles nothing
            again = rips_h0(x, metric=metric)
        assert n[0] == 0
        np.testing.assert_array_equal(again.deaths, res.deaths)
        np.testing.assert_array_equal(jax.jit(lambda y: rips_h0(y, metric=metric))(x).deaths,
                                      res.deaths)  # fmt: skip
        assert np.count_nonzero(np.asarray(g)) > 0

    @pytest.mark.multidevice
    def test_pmap_and_shard_map_over_8_devices(self, rng):
        if jax.device_count() < 8:
            pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
        x = rng.normal(size=(8, 40, 5)).astype(np.float32)
        ref = np.stack([np.asarray(rips_h0(c, metric="l1").deaths) for c in x])
        out = jax.pmap(lambda c: rips_h0(c, metric="l1").deaths)(x)
        np.testing.assert_allclose(out, ref, rtol=1e-6)
        grads = jax.pmap(jax.grad(lambda c: jnp.sum(rips_h0(c, metric="l1").deaths)))(x)
        np.testing.assert_allclose(
            grads[3], jax.grad(lambda c: jnp.sum(rips_h0(c, metric="l1").deaths))(x[3]), rtol=1e-6
        )
        mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("d",))
        spec = jax.sharding.PartitionSpec("d")
        sm = jax.shard_map(
            lambda c: jax.vmap(lambda y: rips_h0(y, metric="l1").deaths)(c),
            mesh=mesh,
            in_specs=spec,
            out_specs=spec,
        )
        np.testing.assert_allclose(jax.jit(sm)(x), ref, rtol=1e-6)

    @pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
    @pytest.mark.parametrize("metric,kw", METRICS[:4])
    def test_half_precision_inputs_are_computed_in_float32(self, rng, dtype, metric, kw):
        x = rng.normal(size=(40, 3))
        half = jnp.asarray(x, dtype)
        rounded = np.asarray(half, np.float64)  # the values the half-precision input holds
        res = rips_h0(half, metric=metric)
        assert res.deaths.dtype == jnp.float32
        # The deaths of the rounded cloud, computed in float32 (float32 rounding only):
        np.testing.assert_allclose(
            res.deaths, scipy_deaths(cdist(rounded, rounded, **kw)), rtol=2e-6, atol=1e-6
        )
        # and within the input rounding of the float32 deaths: the sorted deaths move by at
        # most the largest change of a distance (the H0 diagram's stability), here measured.
        delta = np.abs(cdist(rounded, rounded, **kw) - cdist(x, x, **kw)).max()
        assert 0 < delta < {jnp.bfloat16: 0.1, jnp.float16: 0.01}[dtype]  # 8 / 11 bit mantissas
        ref = np.asarray(rips_h0(x.astype(np.float32), metric=metric).deaths)
        assert np.abs(np.asarray(res.deaths) - ref).max() <= delta + 1e-5
        # gradients come back in the input's dtype
        g = jax.grad(lambda x: jnp.sum(rips_h0(x, metric=metric).deaths))(half)
        assert g.dtype == dtype

    def test_dtypes(self, rng):
        x = rng.normal(size=(20, 3))
        ints = np.random.default_rng(4).integers(-5, 6, size=(12, 2))
        res = rips_h0(ints, metric="l1")
        assert res.deaths.dtype == jnp.float32
        np.testing.assert_array_equal(res.deaths, scipy_deaths(cdist(ints, ints, "cityblock")))
        with jax.enable_x64(True):
            r = rips_h0(jnp.asarray(x, jnp.float64), metric="l1")
            assert r.deaths.dtype == jnp.float64
            np.testing.assert_allclose(r.deaths, scipy_deaths(cdist(x, x, "cityblock")), rtol=1e-12)


class TestBadInput:
    @pytest.mark.parametrize(
        "points,kwargs,match",
        [
            (np.ones((3, 4, 2)), {}, "rank 2"),
            (np.ones((5,)), {}, "rank 2"),
            (np.ones((1, 3)), {}, "at least 2 points"),
            (np.ones((4, 2)), {"mask": np.ones(3, bool)}, "mask must have shape"),
            (np.ones((4, 3)), {"metric": "precomputed"}, "square"),
            (np.ones((4, 2)), {"metric": "cosine"}, "Unknown metric"),
            (np.ones((4, 2)), {"metric": ("minkowski", 0.5)}, "p >= 1"),
            (np.ones((4, 2)), {"metric": ("minkowski", "a")}, "number"),
            (np.ones((4, 2)), {"algorithm": "kruskal"}, "Unknown algorithm"),
        ],
    )
    def test_value_errors(self, points, kwargs, match):
        with pytest.raises(ValueError, match=match):
            rips_h0(points, **kwargs)

    def test_non_finite_eager_raises(self):
        x = np.zeros((4, 2), np.float32)
        x[2, 1] = np.nan
        with pytest.raises(ValueError, match="non-finite"):
            rips_h0(x)
        x[2, 1] = np.inf
        with pytest.raises(ValueError, match=r"index \(2, 1\)"):
            rips_h0(x)

    def test_non_finite_padded_points_are_fine(self):
        x = np.zeros((4, 2), np.float32)
        x[1] = [1.0, 0.0]
        x[3] = np.nan
        res = rips_h0(x, mask=np.array([True, True, True, False]))
        np.testing.assert_allclose(res.deaths[:2], [0.0, 1.0])

    @pytest.mark.parametrize(
        "metric,bad",
        [(m, np.nan) for m in ("l1", "l2", "sqeuclidean", "linf", 3.0, "precomputed")]
        + [("l1", np.inf), ("precomputed", np.inf)],
    )
    def test_non_finite_under_jit_gives_nan_deaths_and_a_zero_gradient(self, rng, metric, bad):
        # The documented behaviour: all deaths NaN, and a zero gradient (no NaN leaks into
        # the finite points' gradients).
        x = rng.normal(size=(6, 2)).astype(np.float32)
        if metric == "precomputed":
            x = cdist(x, x).astype(np.float32)
            x[1, 4] = x[4, 1] = bad
        else:
            x[2, 1] = bad
        res = jax.jit(lambda x: rips_h0(x, metric=metric))(x)
        assert np.all(np.isnan(res.deaths))
        g = jax.jit(jax.grad(lambda x: jnp.sum(rips_h0(x, metric=metric).deaths)))(x)
        np.testing.assert_array_equal(g, np.zeros_like(x))


def test_import_pulls_no_heavy_extras():
    code = (
        "import sys, corel_jax.persistence, corel_jax.loss\n"
        "bad = [m for m in ('tensorflow', 'tensorflow_datasets', 'matplotlib', 'sklearn', 'torch')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
