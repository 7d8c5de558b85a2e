"""Tests for the XLA Borůvka MST (rips_h0(..., algorithm="boruvka")).

References: scipy's MST (deaths), a Kruskal written here under the same strict
order on edges (the exact tree, ties included), and the Prim paths.
"""

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from test_rips import METRICS, assert_is_spanning_tree, scipy_deaths

from corel_jax.persistence import _boruvka, rips_h0

# One compilation per call instead of op-by-op dispatch.
jrips = jax.jit(rips_h0, static_argnames=("metric", "algorithm", "sort"))


def kruskal_total_order(dist: np.ndarray, real: np.ndarray) -> set[tuple[int, int]]:
    """The unique MST when edges are ordered by (length, i, j), i < j."""
    idx = np.flatnonzero(real)
    edges = sorted((dist[i, j], i, j) for a, i in enumerate(idx) for j in idx[a + 1 :])
    parent = {int(i): int(i) for i in idx}

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a

    tree = set()
    for _, i, j in edges:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[ri] = rj
            tree.add((int(i), int(j)))
    return tree


def grid_cloud(seed: int = 1) -> np.ndarray:
    """A 6x5x3 integer grid, shuffled, with four duplicated points: many ties."""
    g = np.stack(np.meshgrid(np.arange(6), np.arange(5), np.arange(3)), -1).reshape(-1, 3)
    g = np.concatenate([g, g[[0, 7, 7, 33]]])
    return g[np.random.default_rng(seed).permutation(len(g))].astype(np.float32)


class TestDeaths:
    @pytest.mark.parametrize("metric,kw", [METRICS[0], METRICS[1], METRICS[3], METRICS[5]])
    def test_random_clouds_match_scipy(self, rng, metric, kw):
        x = rng.normal(size=(90, 6)).astype(np.float32)
        res = jax.jit(lambda x: rips_h0(x, metric=metric, algorithm="boruvka"))(x)
        ref = scipy_deaths(cdist(x.astype(np.float64), x.astype(np.float64), **kw))
        np.testing.assert_allclose(res.deaths, ref, rtol=2e-5, atol=1e-5)
        e = np.asarray(res.edges)
        assert np.all(e[:, 0] < e[:, 1])
        assert_is_spanning_tree(e, 90)
        np.testing.assert_allclose(
            res.deaths, cdist(x, x, **kw)[e[:, 0], e[:, 1]], rtol=2e-5, atol=1e-5
        )

    def test_precomputed_reads_the_upper_triangle(self, rng):
        x = rng.normal(size=(40, 3))
        dist = cdist(x, x, "cityblock").astype(np.float32)
        lower_garbage = dist + np.tril(rng.uniform(-0.5, 0.5, size=dist.shape), -1).astype(
            np.float32
        )
        res = jrips(lower_garbage, metric="precomputed", algorithm="boruvka")
        np.testing.assert_allclose(res.deaths, scipy_deaths(dist.astype(np.float64)), rtol=1e-6)

    @pytest.mark.parametrize("metric,kw", [METRICS[0], METRICS[1], METRICS[3]])
    def test_ties_follow_the_documented_total_order(self, metric, kw):
        x = grid_cloud()
        dist = cdist(x, x, **kw).astype(np.float32)
        res = jrips(x, metric=metric, algorithm="boruvka")
        edges = {tuple(map(int, e)) for e in np.asarray(res.edges)}
        assert edges == kruskal_total_order(dist, np.ones(len(x), bool))
        # deaths never differ from Prim's, whatever the ties
        prim = jrips(x, metric=metric, algorithm="matrix_free")
        np.testing.assert_array_equal(res.deaths, prim.deaths)
        # deterministic: jit and a second call route identically
        again = jax.jit(lambda x: rips_h0(x, metric=metric, algorithm="boruvka"))(x)
        np.testing.assert_array_equal(again.edges, res.edges)

    def test_every_real_vertex_but_the_root_holds_one_edge(self, rng):
        x = rng.normal(size=(30, 2)).astype(np.float32)
        mask = rng.random(30) < 0.7
        src, dst, root = _boruvka.boruvka_tree(jnp.asarray(x), jnp.asarray(mask), "l2", 0.0)
        real = np.flatnonzero(mask)
        assert int(root) in real
        slots = [v for v in real if v != int(root)]
        tree = {tuple(sorted((int(src[v]), int(dst[v])))) for v in slots}
        assert len(tree) == len(real) - 1
        assert tree == kruskal_total_order(cdist(x, x).astype(np.float32), mask)


class TestSearch:
    @pytest.mark.parametrize("metric", ["l1", "l2", "linf", ("minkowski", 3.0)])
    def test_tiled_search_equals_dense_search(self, rng, metric):
        from corel_jax.persistence import parse_metric

        kind, p = parse_metric(metric)
        x = jnp.asarray(rng.integers(-2, 3, size=(45, 3)).astype(np.float32))
        mask = jnp.asarray(rng.random(45) < 0.9)
        comp = jnp.asarray(rng.integers(0, 6, size=45).astype(np.int32))
        dense = _boruvka.dense_search(_boruvka.symmetric_matrix(x, kind, p), mask)(comp)
        tiled = _boruvka.stale_search(x, mask, kind, p, block=8)(comp)
        for a, b in zip(dense, tiled, strict=True):
            np.testing.assert_array_equal(a, b)

    def test_stale_rows_equal_dense_search(self, rng):
        x = jnp.asarray(rng.integers(-2, 3, size=(45, 3)).astype(np.float32))
        mask = jnp.asarray(rng.random(45) < 0.9)
        comp = jnp.asarray(rng.integers(0, 6, size=45).astype(np.int32))
        stale = rng.random(45) < 0.4
        dense = _boruvka.dense_search(_boruvka.symmetric_matrix(x, "l1", 1.0), mask)(comp)
        got = jax.jit(_boruvka.stale_search(x, mask, "l1", 1.0, block=8))(comp, jnp.asarray(stale))
        rows = stale & np.asarray(mask)
        for a, b in zip(dense, got, strict=True):
            np.testing.assert_array_equal(np.asarray(a)[rows], np.asarray(b)[rows])
        assert np.all(np.isinf(np.asarray(got[0])[~rows]))

    def test_many_blocks_without_a_matrix(self, rng, monkeypatch):
        monkeypatch.setattr(_boruvka, "TILE_ROWS", 16)
        x = rng.normal(size=(150, 4)).astype(np.float32)
        res = jax.jit(lambda x: rips_h0(x, metric="l2", algorithm="boruvka"))(x)  # (no cache)
        np.testing.assert_allclose(res.deaths, scipy_deaths(cdist(x, x)), rtol=2e-5, atol=1e-5)

    def test_reused_candidates_keep_the_tie_rule(self, rng, monkeypatch):
        # Integer grid: many exact ties; several rounds reuse candidates.
        monkeypatch.setattr(_boruvka, "TILE_ROWS", 8)
        x = rng.integers(0, 4, size=(60, 2)).astype(np.float32)
        mask = rng.random(60) < 0.8
        src, dst, root = jax.jit(lambda x, m: _boruvka.boruvka_tree(x, m, "l1", 1.0))(
            jnp.asarray(x), jnp.asarray(mask)
        )
        slots = [v for v in np.flatnonzero(mask) if v != int(root)]
        tree = {tuple(sorted((int(src[v]), int(dst[v])))) for v in slots}
        assert tree == kruskal_total_order(cdist(x, x, "cityblock").astype(np.float32), mask)


class TestMaskAndTransformations:
    @pytest.mark.multidevice
    def test_shard_map_over_8_devices(self, rng):
        if jax.device_count() < 8:
            pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8")
        x = rng.normal(size=(8, 40, 5)).astype(np.float32)
        mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("d",))
        spec = jax.sharding.PartitionSpec("d")
        sm = jax.shard_map(
            lambda c: jax.vmap(lambda y: rips_h0(y, metric="l2", algorithm="boruvka").deaths)(c),
            mesh=mesh,
            in_specs=spec,
            out_specs=spec,
        )
        out = jax.jit(sm)(x)
        for c, got in zip(x, out, strict=True):
            np.testing.assert_allclose(got, scipy_deaths(cdist(c, c)), rtol=2e-5, atol=1e-6)

    def test_vmap_over_clouds_of_different_sizes(self, rng):
        sizes = [1, 2, 9, 30]
        clouds = rng.normal(size=(4, 30, 3)).astype(np.float32)
        masks = np.arange(30)[None, :] < np.array(sizes)[:, None]
        boruvka = lambda x, m: rips_h0(x, metric="l1", mask=m, algorithm="boruvka")
        res = jax.jit(jax.vmap(boruvka))(clouds, masks)
        for k, m in enumerate(sizes):
            c = clouds[k, :m]
            if m > 1:
                np.testing.assert_allclose(
                    res.deaths[k, : m - 1], scipy_deaths(cdist(c, c, "cityblock")), rtol=2e-5
                )
            assert np.all(np.isinf(res.deaths[k, max(m - 1, 0) :]))
            assert int(res.valid[k].sum()) == max(m - 1, 0)

    def test_padded_cloud_equals_unpadded(self, rng):
        x = rng.normal(size=(20, 3)).astype(np.float32)
        pad = np.concatenate([x[:5], np.full((4, 3), np.nan, np.float32), x[5:]])
        mask = np.arange(24) < 5
        mask[9:] = True
        res = jrips(pad, mask=mask, algorithm="boruvka")
        np.testing.assert_allclose(res.deaths[:19], jrips(x).deaths, rtol=1e-6)
        np.testing.assert_array_equal(res.edges[19:], -1)

    def test_float64(self, rng):
        x = rng.normal(size=(40, 3))
        with jax.enable_x64(True):
            res = jrips(jnp.asarray(x), metric="l2", algorithm="boruvka")
            assert res.deaths.dtype == jnp.float64
            np.testing.assert_allclose(res.deaths, scipy_deaths(cdist(x, x)), rtol=1e-12)


class TestGradients:
    @pytest.mark.parametrize("metric", ["l1", "l2"])
    def test_finite_differences_float64(self, rng, metric):
        with jax.enable_x64(True):
            x = jnp.asarray(rng.normal(size=(20, 3)))
            w = jnp.asarray(rng.normal(size=(19,)))
            f = jax.jit(
                lambda x: jnp.sum(w * rips_h0(x, metric=metric, algorithm="boruvka").deaths)
            )
            jax.test_util.check_grads(f, (x,), order=1, modes=["rev"], eps=1e-6)
            g = jax.grad(f)(x)
            g_prim = jax.jit(jax.grad(lambda x: jnp.sum(w * rips_h0(x, metric=metric).deaths)))(x)
            np.testing.assert_allclose(g, g_prim, rtol=1e-10, atol=1e-12)

    @pytest.mark.parametrize("metric", ["l2", "linf"])
    def test_duplicates_give_no_nan(self, rng, metric):
        base = rng.normal(size=(10, 3)).astype(np.float32)
        x = np.concatenate([base, base[:4]])
        loss = lambda x: jnp.sum(rips_h0(x, metric=metric, algorithm="boruvka").deaths)
        assert np.all(np.isfinite(jax.jit(jax.grad(loss))(x)))
