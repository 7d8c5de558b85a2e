"""Tests for corel_jax.oneclass.scoring: the ball count against brute force, the baselines."""

import numpy as np
import pytest
from oneclass_helpers import brute_force_scores
from references import needs
from scipy import stats
from scipy.special import logsumexp

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
    @pytest.mark.parametrize("n,d", [(50, 1), (80, 3)])
    def test_kde_is_scipys_gaussian_kde_with_scotts_factor(self, rng, n, d):
        """Against ``scipy.stats.gaussian_kde`` (Scott's rule, its own ``scotts_factor``).

        scipy's kernel covariance is ``factor^2`` times the data covariance (``ddof=1``);
        ours is isotropic with the mean per-dimension standard deviation (``ddof=0``). On
        inliers whitened to covariance ``s^2 I`` the two kernels agree once scipy's
        factor is scaled by ``sqrt((n - 1) / n)``; the log-densities then differ by the
        normalising constant alone (which the scorer leaves out).
        """
        inl = rng.normal(size=(n, d))
        inl -= inl.mean(0)
        inl = inl @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(inl.T)))).T * 1.7
        np.testing.assert_allclose(np.atleast_2d(np.cov(inl.T)), 1.7**2 * np.eye(d), atol=1e-12)
        test = rng.normal(scale=2.0, size=(33, d))
        kde = stats.gaussian_kde(inl.T)  # bw_method="scott"
        assert kde.factor == pytest.approx(n ** (-1 / (d + 4)))
        kde.set_bandwidth(kde.scotts_factor() * np.sqrt((n - 1) / n))
        h2 = kde.covariance[0, 0]  # the kernel's variance per dimension
        ref = kde.logpdf(test.T) + np.log(n) + 0.5 * d * np.log(2 * np.pi * h2)
        got = oneclass.kde_scorer(chunk_size=8)(inl, test)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)

    def test_kde_in_many_dimensions_matches_numpy_log_sum_exp(self, rng):
        # 120 points in 160 dims: a full-covariance KDE is singular, the isotropic one is not
        inl = rng.normal(size=(120, 160)) * rng.uniform(0.5, 2.0, size=160)
        test = rng.normal(size=(37, 160))
        got = oneclass.kde_scorer(chunk_size=10)(inl, test)
        # Scott's factor n^(-1 / (d + 4)), as scipy computes it (the test above)
        h = np.mean(np.std(inl, axis=0)) * 120 ** (-1 / (160 + 4))
        sq = ((test[:, None, :] - inl[None, :, :]) ** 2).sum(-1)
        np.testing.assert_allclose(got, logsumexp(-sq / (2 * h * h), axis=1), rtol=2e-4)
        assert np.all(np.isfinite(got))

    def test_ocsvm_nu_property_scale_invariance_and_images(self, rng):
        """Hand-checkable properties of the wrapped one-class SVM (Schoelkopf et al. 2001):

        * nu bounds the fraction of training outliers from above (Proposition 4);
        * the default ``gamma="scale"`` (``1 / (d Var X)``) makes the scores invariant to a
          common scaling of the data;
        * images are flattened, and a point at the inliers' centre scores higher than one
          far outside.
        """
        needs("sklearn.svm", "the OC-SVM baseline")
        inl, test = rng.normal(size=(60, 4)), rng.normal(size=(30, 4))
        for nu in (0.1, 0.3, 0.6):
            train_scores = oneclass.ocsvm_scorer(nu=nu)(inl, inl)
            assert np.mean(train_scores < -1e-3) <= nu + 1e-9
            assert np.mean(train_scores < 1e-3) >= nu - 1 / 60  # nu <= fraction of SVs
        scores = oneclass.ocsvm_scorer()(inl, test)
        np.testing.assert_allclose(oneclass.ocsvm_scorer()(7.0 * inl, 7.0 * test), scores,
                                   rtol=1e-5, atol=1e-7)  # fmt: skip
        # fixed gamma: no longer invariant
        fixed = oneclass.ocsvm_scorer(gamma=0.25)
        assert not np.allclose(fixed(7.0 * inl, 7.0 * test), fixed(inl, test), atol=1e-3)
        images = inl.reshape(60, 2, 2, 1)
        np.testing.assert_allclose(
            oneclass.ocsvm_scorer()(images, test.reshape(30, 2, 2, 1)), scores, rtol=1e-12
        )
        centre, far = np.zeros((1, 4)), np.full((1, 4), 6.0)
        score = oneclass.ocsvm_scorer()
        assert score(inl, centre)[0] > 0 > score(inl, far)[0]
