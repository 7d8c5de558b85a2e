"""PersistenceH0.diagram() and .intervals(): the (n, 2) [birth, death] format, against GUDHI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from corel_jax.diagrams import bottleneck_distance, wasserstein_distance
from corel_jax.persistence import rips_h0


def gudhi_intervals(points: np.ndarray, *, min_persistence: float = 0.0) -> np.ndarray:
    """GUDHI's H0 intervals of the Vietoris-Rips complex of ``points`` (Euclidean), sorted."""
    gudhi = pytest.importorskip("gudhi")
    complex_ = gudhi.RipsComplex(points=points, max_edge_length=1e9)
    tree = complex_.create_simplex_tree(max_dimension=1)
    tree.persistence(min_persistence=min_persistence)
    bars = tree.persistence_intervals_in_dimension(0)
    return bars[np.lexsort((bars[:, 0], bars[:, 1]))]


def tie_heavy_cloud(rng, n: int) -> np.ndarray:
    """Integer points in a small box: many equal distances and some duplicate points."""
    return rng.integers(0, 4, size=(n, 2)).astype(np.float64)


class TestIntervalsMatchGudhi:
    @pytest.mark.parametrize("n", [2, 7, 60])
    def test_random_clouds(self, rng, n):
        x = rng.normal(size=(n, 3))
        ours = rips_h0(x.astype(np.float32)).intervals()
        theirs = gudhi_intervals(x)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    @pytest.mark.parametrize("seed", range(5))
    def test_tie_heavy_integer_clouds(self, seed):
        x = tie_heavy_cloud(np.random.default_rng(seed), 40)
        assert len(np.unique(x, axis=0)) < len(x)  # duplicates: zero-length bars
        ours = rips_h0(x.astype(np.float32)).intervals()
        theirs = gudhi_intervals(x)
        # GUDHI drops the zero-length bars (persistence not > 0), and so do we by default
        assert ours.shape == theirs.shape == (len(np.unique(x, axis=0)), 2)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    def test_min_persistence_as_gudhi(self, rng):
        x = tie_heavy_cloud(rng, 50)
        for min_persistence in (-1.0, 1.0, 1.5):
            ours = rips_h0(x.astype(np.float32)).intervals(min_persistence=min_persistence)
            theirs = gudhi_intervals(x, min_persistence=min_persistence)
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)
        # -1 keeps every real pair: n - 1 finite rows and the essential one
        assert rips_h0(x).intervals(min_persistence=-1).shape == (50, 2)

    def test_masked_points_are_left_out(self, rng):
        x = rng.normal(size=(30, 2))
        mask = np.arange(30) < 17
        ours = rips_h0(x, mask=mask).intervals()
        np.testing.assert_allclose(ours, gudhi_intervals(x[:17]), rtol=1e-6)

    def test_rows_ascend_with_the_essential_last(self, rng):
        rows = rips_h0(rng.normal(size=(20, 2)), sort=False).intervals()
        assert np.all(rows[:, 0] == 0)
        assert np.all(np.diff(rows[:, 1]) >= 0) and rows[-1, 1] == np.inf

    def test_eager_only_and_one_diagram_at_a_time(self, rng):
        x = jnp.asarray(rng.normal(size=(4, 8, 2)), jnp.float32)
        with pytest.raises(TypeError, match="diagram"):
            jax.jit(lambda c: rips_h0(c).intervals())(x[0])
        batch = jax.vmap(rips_h0)(x)
        with pytest.raises(ValueError, match="batch"):
            batch.intervals()
        one = jax.tree.map(lambda a: a[1], batch)
        np.testing.assert_array_equal(one.intervals(), rips_h0(x[1]).intervals())


class TestDiagram:
    def test_rows_are_births_zero_deaths_and_the_essential_class(self, rng):
        x = rng.normal(size=(12, 3)).astype(np.float32)
        res = rips_h0(x)
        dgm = np.asarray(res.diagram())
        assert dgm.shape == (12, 2) and dgm.dtype == np.float32
        np.testing.assert_array_equal(dgm[:, 0], 0.0)
        np.testing.assert_array_equal(dgm[:-1, 1], np.asarray(res.deaths))
        assert dgm[-1, 1] == np.inf

    def test_padding_is_on_the_diagonal_and_changes_no_distance(self, rng):
        x = rng.normal(size=(10, 2)).astype(np.float32)
        mask = np.arange(10) < 6
        padded = np.asarray(rips_h0(x, mask=mask).diagram())
        assert padded.shape == (10, 2)
        np.testing.assert_array_equal(padded[5:-1], 0.0)  # 4 padding slots: [0, 0]
        alone = rips_h0(x[:6]).diagram()
        other = rips_h0(rng.normal(size=(8, 2)).astype(np.float32)).diagram()
        for dist in (wasserstein_distance, bottleneck_distance):
            assert float(dist(padded, other)) == pytest.approx(float(dist(alone, other)), rel=1e-6)
            assert float(dist(padded, alone)) == 0.0

    def test_equals_gudhi_after_dropping_padding_and_zero_rows(self, rng):
        x = tie_heavy_cloud(rng, 30)
        dgm = np.asarray(rips_h0(x.astype(np.float32)).diagram())
        kept = dgm[dgm[:, 1] > 0]
        np.testing.assert_allclose(kept, gudhi_intervals(x), rtol=1e-6)

    def test_jit_and_vmap_keep_the_shape(self, rng):
        x = jnp.asarray(rng.normal(size=(5, 9, 2)), jnp.float32)
        batched = jax.jit(jax.vmap(lambda c: rips_h0(c).diagram()))(x)
        assert batched.shape == (5, 9, 2)
        np.testing.assert_allclose(batched[2], rips_h0(x[2]).diagram(), rtol=1e-6)
        # the method also takes a vmapped result (leading batch axes)
        np.testing.assert_allclose(jax.vmap(rips_h0)(x).diagram(), batched, rtol=1e-6)

    def test_gradient_reaches_the_deaths(self, rng):
        x = jnp.asarray(rng.normal(size=(15, 3)), jnp.float32)
        w = jnp.asarray(rng.normal(size=(14,)), jnp.float32)

        def through_diagram(x):
            return jnp.sum(rips_h0(x).diagram()[:-1, 1] * w)

        def through_deaths(x):
            return jnp.sum(rips_h0(x).deaths * w)

        g = jax.grad(through_diagram)(x)
        assert np.all(np.isfinite(g)) and np.any(g != 0)
        np.testing.assert_allclose(g, jax.grad(through_deaths)(x), rtol=1e-6)

    def test_gradient_of_a_padded_diagram_is_finite(self, rng):
        x = jnp.asarray(rng.normal(size=(10, 2)), jnp.float32)
        mask = jnp.arange(10) < 7
        target = rips_h0(x[:5]).diagram()
        g = jax.grad(lambda x: wasserstein_distance(rips_h0(x, mask=mask).diagram(), target))(x)
        assert np.all(np.isfinite(g)) and np.all(g[7:] == 0)
