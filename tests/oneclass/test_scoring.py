"""Tests for corel_jax.oneclass.scoring: the ball count against brute force, the baselines."""

import numpy as np
import pytest
from oneclass_helpers import brute_force_scores
from scipy.special import logsumexp
from sklearn.svm import OneClassSVM

from corel_jax import oneclass
from corel_jax.oneclass import count_scores, scoring


class TestCountScores:
    @pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
    @pytest.mark.parametrize("chunk", [7, 64, 1000])
    def test_random_codes_match_brute_force(self, rng, metric, chunk):
        test = rng.normal(size=(53, 12)).astype(np.float32)  # 53 is not a multiple of 7
        inl = rng.normal(size=(17, 12)).astype(np.float32)
        radius = {"l1": 3.0, "l2": 1.6, "linf": 1.0}[metric]
        got = count_scores(
            test, inl, radius=radius, num_branches=3, metric=metric, chunk_size=chunk
        )
        ref = brute_force_scores(test, inl, radius, 3, metric)
        assert len(np.unique(ref)) > 5 and ref.max() < 3 * 17  # a non-trivial case
        np.testing.assert_array_equal(got, ref)
        assert got.dtype == np.int32 and got.shape == (53,)

    @pytest.mark.parametrize("chunk", [5, 16, 40])
    def test_points_exactly_at_the_radius_count(self, rng, chunk):
        # integer codes: l1 distances are exact, and many equal the radius 2
        test = rng.integers(-2, 3, size=(40, 8)).astype(np.float32)
        inl = rng.integers(-2, 3, size=(30, 8)).astype(np.float32)
        ref = brute_force_scores(test, inl, 2.0, 2, "l1")
        np.testing.assert_array_equal(
            count_scores(test, inl, radius=2.0, num_branches=2, chunk_size=chunk), ref
        )
        d = np.abs(test[:, None, :4] - inl[None, :, :4]).sum(-1)
        assert np.sum(d == 2.0) > 20  # the boundary is really exercised
        # and it matters: just below the radius, the boundary points drop out
        below = count_scores(
            test, inl, radius=float(np.nextafter(np.float32(2), np.float32(0))), num_branches=2
        )
        assert np.all(below <= ref) and np.sum(below) < np.sum(ref)

    def test_hand_computed(self):
        t = np.zeros((1, 2), np.float32)
        y = np.array([[2.0, 0.0], [0.0, -2.0], [1.0, 1.0], [2.0, 0.5], [-3.0, 0.0]], np.float32)
        assert count_scores(t, y, radius=2.0, num_branches=1)[0] == 3  # l1 distances 2,2,2,2.5,3
        assert count_scores(t, y, radius=2.0, num_branches=1, metric="l2")[0] == 3  # 2,2,1.41,..
        # two branches of one dimension: first coordinates {2,0,1,2,-3}: 4 within 2;
        # second {0,-2,1,.5,0}: 5 within 2
        assert count_scores(t, y, radius=2.0, num_branches=2)[0] == 9

    def test_one_compilation_for_all_chunks(self, rng):
        inl = rng.normal(size=(31, 6)).astype(np.float32)  # a shape no other test uses
        before = scoring._branch_counts_jit._cache_size()
        count_scores(rng.normal(size=(50, 6)), inl, radius=1.0, num_branches=2, chunk_size=16)
        assert scoring._branch_counts_jit._cache_size() == before + 1

    def test_scorer_is_count_scores(self, rng):
        test, inl = rng.normal(size=(20, 8)), rng.normal(size=(9, 8))
        scorer = oneclass.ball_count_scorer(radius=1.7, num_branches=4, metric="l2")
        np.testing.assert_array_equal(
            scorer(inl, test), brute_force_scores(test, inl, 1.7, 4, "l2")
        )

    @pytest.mark.parametrize(
        "test,inl,kwargs,match",
        [
            (np.ones((3, 8)), np.ones((2, 6)), {}, "inlier_codes have width 6"),
            (np.ones((3, 8)), np.ones((2, 8)), {"num_branches": 3}, "not divisible"),
            (np.ones((3, 8)), np.ones((2, 8)), {"num_branches": 0}, "num_branches"),
            (np.ones((3, 8)), np.ones((2, 8)), {"radius": 0.0, "num_branches": 2}, "radius"),
            (np.ones((3, 8)), np.ones((2, 8)), {"radius": -1.0, "num_branches": 2}, "radius"),
            (np.ones((3, 8)), np.ones((2, 8)), {"chunk_size": 0, "num_branches": 2}, "chunk"),
            (np.ones((3,)), np.ones((2, 8)), {}, "2-D"),
            (np.ones((3, 8)), np.ones((0, 8)), {"num_branches": 2}, "empty"),
        ],
    )
    def test_bad_input(self, test, inl, kwargs, match):
        with pytest.raises(ValueError, match=match):
            count_scores(test, inl, **kwargs)

    def test_bad_scorer_arguments(self):
        with pytest.raises(ValueError, match="radius"):
            oneclass.ball_count_scorer(radius=0.0)
        with pytest.raises(ValueError, match="nu"):
            oneclass.ocsvm_scorer(nu=0.0)


class TestBaselines:
    def test_kde_matches_numpy_log_sum_exp(self, rng):
        inl = rng.normal(size=(120, 160)) * rng.uniform(0.5, 2.0, size=160)
        test = rng.normal(size=(37, 160))
        got = oneclass.kde_scorer(chunk_size=10)(inl, test)
        h = np.std(inl, axis=0).mean() * 120 ** (-1 / (160 + 4))
        sq = ((test[:, None, :] - inl[None, :, :]) ** 2).sum(-1)
        ref = logsumexp(-sq / (2 * h * h), axis=1)
        np.testing.assert_allclose(got, ref, rtol=2e-4)
        assert np.all(np.isfinite(got))  # 160 dims, 120 points: no singular covariance

    def test_ocsvm_is_sklearn(self, rng):
        inl, test = rng.normal(size=(40, 5)), rng.normal(size=(30, 5))
        ref = OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(inl).decision_function(test)
        np.testing.assert_allclose(oneclass.ocsvm_scorer()(inl, test), ref)
        ref = OneClassSVM(kernel="linear", nu=0.3).fit(inl).decision_function(test)
        np.testing.assert_allclose(oneclass.ocsvm_scorer(nu=0.3, kernel="linear")(inl, test), ref)
