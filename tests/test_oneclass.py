"""Tests for corel_jax.oneclass: the score, the protocol, the baselines, reports and the CLI."""

import csv
import io
import json
import os

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from corel_jax import cli, oneclass
from corel_jax.oneclass import Method, count_scores, evaluate_methods, evaluate_oneclass

CI = bool(os.environ.get("CI"))


def brute_force_scores(test, inliers, radius, k, metric):
    """The paper's score by explicit loops over points and branches (float64)."""
    test, inliers = np.asarray(test, np.float64), np.asarray(inliers, np.float64)
    w = test.shape[1] // k
    out = np.zeros(len(test), int)
    for a in range(len(test)):
        for br in range(k):
            t = test[a, br * w : (br + 1) * w]
            for y in inliers[:, br * w : (br + 1) * w]:
                diff = np.abs(t - y)
                d = {"l1": diff.sum(), "l2": np.sqrt((diff**2).sum()), "linf": diff.max()}[metric]
                out[a] += d <= radius
    return out


def mann_whitney_auc(scores, positive):
    """P(score of a positive > score of a negative), ties counting one half, by pairs."""
    pos, neg = scores[positive], scores[~positive]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


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
        before = oneclass._branch_counts_jit._cache_size()
        count_scores(rng.normal(size=(50, 6)), inl, radius=1.0, num_branches=2, chunk_size=16)
        assert oneclass._branch_counts_jit._cache_size() == before + 1

    def test_scorer_is_count_scores(self, rng):
        test, inl = rng.normal(size=(20, 8)), rng.normal(size=(9, 8))
        scorer = oneclass.ball_count_scorer(1.7, 4, "l2")
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

    def test_pixel_features(self):
        images = np.array([[[[0], [255]], [[51], [102]]]], np.uint8)  # (1, 2, 2, 1)
        np.testing.assert_allclose(oneclass.pixel_features(images), [[0.0, 1.0, 0.2, 0.4]])


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


def _synthetic_result():
    auroc = {"corel": np.array([[0.8, 0.9], [0.6, 0.7]]), "kde": np.array([[0.5, 0.5], [0.4, 0.6]])}
    return oneclass.OneClassResult(auroc, (0, 1), ("cat", "dog"), n=120, runs=2, seed=0)


def test_write_report_files(tmp_path):
    res = _synthetic_result()
    paths = oneclass.write_report(
        res, tmp_path / "out", published={"GEOM": [0.9, 0.8]}, title="t", extra={"k": 1}
    )
    assert set(paths) == {"json", "csv", "md", "png"}
    data = json.loads(paths["json"].read_text())
    assert data["methods"]["corel"]["mean"] == pytest.approx(0.75)
    assert data["methods"]["corel"]["per_class_mean"] == pytest.approx([0.85, 0.65])
    assert data["methods"]["corel"]["per_class_std"] == pytest.approx([0.05, 0.05])
    assert data["methods"]["kde"]["per_class_std"] == pytest.approx([0.0, 0.1])
    assert data["published"] == {"GEOM": [0.9, 0.8]} and data["k"] == 1 and data["n"] == 120
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert len(rows) == 2 * 3 + 3  # 2 methods x (2 classes + mean), published x (2 + mean)
    by = {(r["method"], r["class"]): r for r in rows}
    assert float(by["corel", "0"]["mean"]) == pytest.approx(0.85)
    assert float(by["kde", "1"]["run1"]) == pytest.approx(0.6)
    assert float(by["corel", "mean"]["mean"]) == pytest.approx(0.75)
    assert float(by["GEOM (published)", "mean"]["mean"]) == pytest.approx(0.85)
    md = paths["md"].read_text()
    assert md.startswith("# t\n")
    assert "| cat | 0.850 ± 0.050 | 0.500 ± 0.000 | 0.900 |" in md
    assert "| mean | **0.750** | **0.500** | **0.850** |" in md
    import matplotlib.image

    img = matplotlib.image.imread(paths["png"])
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="published"):
        oneclass.write_report(res, tmp_path / "bad", published={"GEOM": [0.9]})


def test_format_table_has_a_row_per_class_and_a_mean_row():
    lines = oneclass.format_table(_synthetic_result()).splitlines()
    assert lines[0] == "| class | corel | kde |" and len(lines) == 2 + 2 + 1
    assert lines[-1] == "| mean | **0.750** | **0.500** |"


@pytest.mark.parametrize(
    "argv,match",
    [
        ([], "error: "),  # not a training work directory (train.load_backbone's message)
        (["--methods", "corel,nope"], "unknown ['nope']"),
        (["--n", "0"], "--n must be a positive int"),
        (["--runs", "-1"], "--runs must be a positive int"),
        (["--radius", "0"], "--radius must be > 0"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, argv, match):
    assert cli.main(["oneclass", "--workdir", str(tmp_path), *argv]) == 2
    assert match in capsys.readouterr().err


@pytest.mark.slow
def test_end_to_end_on_digits(tmp_path, capsys):
    """Train briefly on real offline data, then the oneclass CLI writes sane results.

    Full: two backbones (lambda 20 and 0), 4 epochs, n=30, 2 runs (about a
    minute on 2 idle cores). With CI set: 3 epochs and 1 run.
    """
    train = pytest.importorskip("corel_jax.train")
    if not hasattr(train, "load_backbone"):
        pytest.skip("corel_jax.train has no load_backbone yet")
    epochs, runs = (3, 1) if CI else (4, 2)
    for name, lam in (("corel", 20.0), ("base", 0.0)):
        config = train.TrainConfig(  # one step per dispatch: the fastest to compile on CPU
            dataset="digits", num_branches=8, epochs=epochs, lam=lam, devices=1,
            steps_per_dispatch=1,
        )  # fmt: skip
        train.train_and_evaluate(config, tmp_path / name, progress=False)
    code = cli.main([
        "oneclass", "--workdir", str(tmp_path / "corel"), "--baseline-workdir", str(tmp_path / "base"),
        "--n", "30", "--runs", str(runs), "--methods", "corel,kde,ocsvm,raw_ocsvm",
    ])  # fmt: skip
    assert code == 0
    out = tmp_path / "corel" / "oneclass_digits"  # the default --outdir
    data = json.loads((out / "results.json").read_text())
    assert list(data["methods"]) == ["corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"]
    for m, v in data["methods"].items():
        assert len(v["per_class_mean"]) == 10 and 0.0 <= v["mean"] <= 1.0, m
        assert np.array(v["auroc"]).shape == (10, runs)
    assert data["methods"]["corel"]["mean"] > 0.75  # digits are easy; chance is 0.5
    assert data["methods"]["raw_ocsvm"]["mean"] > 0.75
    assert data["radius"] == 2.0 and data["dataset"] == "digits"  # radius defaults to eta
    for f in ("results.csv", "results.md", "auroc.png"):
        assert (out / f).is_file()
    printed = capsys.readouterr().out
    assert "| mean |" in printed and "| class | corel | lambda0 |" in printed
