"""Tests for corel_jax.oneclass.protocol: draws, AUROCs with ties, summaries, bad input."""

import numpy as np
import pytest
from oneclass_helpers import brute_force_scores
from sklearn.metrics import roc_auc_score

from corel_jax import oneclass
from corel_jax.oneclass import Method, evaluate_methods, evaluate_oneclass


def mann_whitney_auc(scores, positive):
    """P(score of a positive > score of a negative), ties counting one half, by pairs."""
    pos, neg = scores[positive], scores[~positive]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


class TestProtocol:
    def setup_method(self):
        r = np.random.default_rng(1)
        self.train_labels = np.repeat(np.arange(3), 40)
        self.test_labels = np.repeat(np.arange(3), 20)
        # class c lives around c * 5 in every dim: an easy, meaningful task
        self.train = (self.train_labels[:, None] * 5 + r.normal(size=(120, 4))).astype(np.float32)
        self.test = (self.test_labels[:, None] * 5 + r.normal(size=(60, 4))).astype(np.float32)

    def _eval(self, scorer, **kw):
        kw = dict(n=10, runs=2, progress=False) | kw
        return evaluate_oneclass(
            self.train, self.train_labels, self.test, self.test_labels, scorer=scorer, **kw
        )

    @pytest.mark.parametrize(
        "scores,labels,expected",
        [
            # positives {1, 2}, negatives {1, 0}: pairs (1,1)=.5 (1,0)=1 (2,1)=1 (2,0)=1
            ([1, 1, 2, 0], [1, 0, 1, 0], 3.5 / 4),
            # positives {3, 3}, negatives {3, 1, 0}: 2 x (.5 + 1 + 1) = 5 of 6 pairs
            ([3, 1, 3, 3, 0], [1, 0, 1, 0, 0], 5 / 6),
            ([5, 5, 5, 5], [1, 0, 0, 1], 0.5),  # all tied: the lambda = 0 ablation's 0.5
        ],
    )
    def test_auroc_with_ties_by_hand(self, scores, labels, expected):
        scores, labels = np.array(scores), np.array(labels)
        train_labels = np.array([1, 1, 1, 0])
        res = evaluate_oneclass(
            np.zeros((4, 1)), train_labels, np.zeros((len(labels), 1)), labels,
            scorer=lambda inliers, test: scores, n=2, runs=1, classes=[1], progress=False,
        )  # fmt: skip
        assert res.auroc["score"][0, 0] == pytest.approx(expected)
        assert mann_whitney_auc(scores, labels == 1) == pytest.approx(expected)

    def test_draws_from_the_class_without_replacement_seeded(self):
        # features = row indices, so each scorer sees exactly which rows were drawn
        idx_feat = np.arange(120)[:, None]
        seen = []

        def scorer(inliers, test):
            seen.append(inliers[:, 0].copy())
            return np.zeros(len(test))

        res = evaluate_oneclass(
            idx_feat, self.train_labels, np.zeros((60, 1)), self.test_labels, scorer=scorer,
            n=10, runs=3, seed=7, progress=False,
        )  # fmt: skip
        assert res.auroc["score"].shape == (3, 3) and len(seen) == 9
        draws = np.array(seen).reshape(3, 3, 10)  # (class, run, n)
        for c in range(3):
            for r in range(3):
                assert len(set(draws[c, r])) == 10  # without replacement
                assert np.all(self.train_labels[draws[c, r]] == c)  # only class c, train split
                np.testing.assert_array_equal(  # the documented generator
                    draws[c, r],
                    np.random.default_rng([7, r, c]).choice(np.arange(40 * c, 40 * c + 40), 10,
                                                            replace=False),
                )  # fmt: skip
            assert not np.array_equal(np.sort(draws[c, 0]), np.sort(draws[c, 1]))  # runs differ
        # deterministic under the seed, different for another seed
        seen.clear()
        self_again = evaluate_oneclass(
            idx_feat, self.train_labels, np.zeros((60, 1)), self.test_labels, scorer=scorer,
            n=10, runs=3, seed=7, progress=False,
        )  # fmt: skip
        np.testing.assert_array_equal(np.array(seen).reshape(3, 3, 10), draws)
        assert self_again.seed == 7
        other = oneclass.draw_inliers(self.train_labels, 1, 10, seed=8, run=0)
        assert not np.array_equal(np.sort(other), np.sort(draws[1, 0]))

    def test_identical_inliers_across_scorers_and_features(self):
        seen = {}

        def recorder(name):
            def scorer(inliers, test):
                seen.setdefault(name, []).append(np.asarray(inliers).copy())
                return -np.abs(test - inliers.mean(0)).reshape(len(test), -1).sum(1)

            return scorer

        # different features per method (codes, and "pixels" = codes * 10 + 1)
        methods = {
            "a": Method(recorder("a"), self.train, self.test),
            "b": Method(recorder("b"), self.train * 10 + 1, self.test * 10 + 1),
        }
        res = evaluate_methods(
            methods, self.train_labels, self.test_labels, n=10, runs=3, seed=3, progress=False
        )
        assert len(seen["a"]) == len(seen["b"]) == 9
        for x, y in zip(seen["a"], seen["b"], strict=True):
            np.testing.assert_allclose(x * 10 + 1, y)  # the same rows for every method
        assert res.mean("a") > 0.95  # the classes are well separated
        # a scorer mapping through evaluate_oneclass shares the draws too
        seen.clear()
        evaluate_oneclass(
            self.train, self.train_labels, self.test, self.test_labels,
            scorer={"a": recorder("a"), "b": recorder("b")}, n=10, runs=3, progress=False,
        )  # fmt: skip
        for x, y in zip(seen["a"], seen["b"], strict=True):
            np.testing.assert_array_equal(x, y)

    def test_summaries_match_sklearn_recomputation(self):
        scorer = oneclass.ball_count_scorer(radius=2.5, num_branches=2)
        res = self._eval(scorer, runs=3, seed=5)
        expected = np.zeros((3, 3))
        for c in range(3):
            for r in range(3):
                idx = oneclass.draw_inliers(self.train_labels, c, 10, seed=5, run=r)
                s = brute_force_scores(self.test, self.train[idx], 2.5, 2, "l1")
                expected[c, r] = roc_auc_score(self.test_labels == c, s)
        np.testing.assert_allclose(res.auroc["score"], expected)
        np.testing.assert_allclose(res.class_mean("score"), expected.mean(1))
        np.testing.assert_allclose(res.class_std("score"), expected.std(1))
        assert res.mean("score") == pytest.approx(expected.mean())
        d = res.to_dict()["methods"]["score"]
        assert d["mean"] == pytest.approx(expected.mean()) and len(d["per_class_std"]) == 3

    def test_features_of_the_drawn_rows_only_give_the_same_result(self):
        """drawn_rows is every inlier the protocol reads: the rest may be left uncomputed."""
        kw = dict(n=10, runs=3, seed=4, progress=False)
        rows = oneclass.drawn_rows(self.train_labels, [0, 1, 2], n=10, runs=3, seed=4)
        by_hand = {
            int(i)
            for c in range(3)
            for r in range(3)
            for i in oneclass.draw_inliers(self.train_labels, c, 10, seed=4, run=r)
        }
        assert rows.tolist() == sorted(by_hand) and len(rows) < len(self.train_labels)
        sparse = np.full_like(self.train, np.nan)
        sparse[rows] = self.train[rows]
        scorers = {"kde": oneclass.kde_scorer(), "ocsvm": oneclass.ocsvm_scorer()}
        full = evaluate_methods({k: Method(s, self.train, self.test) for k, s in scorers.items()},
                                self.train_labels, self.test_labels, **kw)  # fmt: skip
        part = evaluate_methods({k: Method(s, sparse, self.test) for k, s in scorers.items()},
                                self.train_labels, self.test_labels, **kw)  # fmt: skip
        for k in scorers:
            np.testing.assert_array_equal(part.auroc[k], full.auroc[k])
        # features computed for other draws are refused, not silently scored
        with pytest.raises(ValueError, match="kde: the train features of drawn inliers are NaN"):
            evaluate_methods({"kde": Method(scorers["kde"], sparse, self.test)},
                             self.train_labels, self.test_labels, **dict(kw, seed=5))  # fmt: skip

    def test_all_scorers_separate_easy_classes(self):
        scorers = {
            "corel": oneclass.ball_count_scorer(radius=3.0, num_branches=2),
            "kde": oneclass.kde_scorer(),
            "ocsvm": oneclass.ocsvm_scorer(),
        }
        res = self._eval(scorers, n=15)
        assert res.methods == ("corel", "kde", "ocsvm")
        for m in scorers:
            assert res.auroc[m].shape == (3, 2)
            assert res.mean(m) > 0.9, (m, res.mean(m))

    def test_classes_and_names(self):
        res = self._eval(
            oneclass.kde_scorer(), classes=[2, 0], class_names=["zero", "one", "two"], runs=1
        )
        assert res.classes == (2, 0) and res.class_names == ("two", "zero")

    def test_scorer_mapping_equals_evaluate_methods(self):
        scorer = oneclass.ball_count_scorer(radius=3.0, num_branches=2)
        methods = {"corel": Method(scorer, self.train, self.test)}
        a = evaluate_methods(
            methods, self.train_labels, self.test_labels, n=10, runs=2, progress=False
        )
        b = self._eval({"corel": scorer})
        np.testing.assert_array_equal(a.auroc["corel"], b.auroc["corel"])
        with pytest.raises(TypeError, match="evaluate_methods"):
            evaluate_oneclass(
                methods, self.train_labels, self.test, self.test_labels, scorer=scorer
            )

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(n=0), "n must be a positive int"),
            (dict(n=-3), "n must be a positive int"),
            (dict(runs=0), "runs must be a positive int"),
            (dict(n=41), "fewer training examples: 0: 40, 1: 40, 2: 40"),
            (dict(n=41, classes=[1], class_names=["a", "b", "c"]), r"'b' \(label 1\): 40"),
            (dict(classes=[5], n=1), "Class 5 has 0 of 60 test examples"),
            (dict(classes=[1], class_names=["a"]), "class_names has 1 names"),
        ],
    )
    def test_bad_protocol_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            self._eval(oneclass.kde_scorer(), **kwargs)

    def test_shape_mismatches(self):
        with pytest.raises(ValueError, match="119 train features but 120 labels"):
            evaluate_oneclass(
                self.train[:-1], self.train_labels, self.test, self.test_labels,
                scorer=oneclass.kde_scorer(), progress=False,
            )  # fmt: skip
        with pytest.raises(ValueError, match="59 test features but 60 labels"):
            evaluate_oneclass(
                self.train, self.train_labels, self.test[1:], self.test_labels,
                scorer=oneclass.kde_scorer(), progress=False,
            )  # fmt: skip
        with pytest.raises(ValueError, match=r"feature shape \(4,\) but test_codes have \(6,\)"):
            evaluate_oneclass(
                self.train, self.train_labels, np.ones((60, 6)), self.test_labels,
                scorer=oneclass.kde_scorer(), progress=False,
            )  # fmt: skip
        with pytest.raises(ValueError, match="returned shape"):
            self._eval(lambda i, t: np.zeros(3))
        with pytest.raises(TypeError, match="scorer"):
            self._eval(None)
