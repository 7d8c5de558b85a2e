"""Tests for corel_jax.oneclass: the score, the protocol, the baselines, reports and the CLI."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from corel_jax import cli, oneclass
from corel_jax.oneclass import Method, count_scores, evaluate_oneclass


def brute_force_scores(test, inliers, radius, k, p):
    w = test.shape[1] // k
    out = np.zeros(len(test), int)
    for a in range(len(test)):
        for br in range(k):
            t = test[a, br * w : (br + 1) * w]
            for y in inliers[:, br * w : (br + 1) * w]:
                d = np.abs(t - y).sum() if p == 1 else np.sqrt(((t - y) ** 2).sum())
                out[a] += d <= radius
    return out


class TestCountScores:
    @pytest.mark.parametrize("metric,p", [("l1", 1), ("l2", 2)])
    @pytest.mark.parametrize("chunk", [7, 64, 1000])
    def test_random_codes_match_brute_force(self, rng, metric, p, chunk):
        test = rng.normal(size=(53, 12)).astype(np.float32)
        inl = rng.normal(size=(17, 12)).astype(np.float32)
        got = count_scores(test, inl, radius=1.5, num_branches=3, metric=metric, chunk_size=chunk)
        np.testing.assert_array_equal(got, brute_force_scores(test, inl, 1.5, 3, p))
        assert got.dtype == np.int32

    def test_points_exactly_at_the_radius_count(self, rng):
        # integer codes: l1 distances are exact, and many equal the radius 2.
        test = rng.integers(-2, 3, size=(40, 8)).astype(np.float32)
        inl = rng.integers(-2, 3, size=(30, 8)).astype(np.float32)
        got = count_scores(test, inl, radius=2.0, num_branches=2, chunk_size=16)
        ref = brute_force_scores(test, inl, 2.0, 2, 1)
        np.testing.assert_array_equal(got, ref)
        # a code at distance exactly 2 from every inlier of a single branch
        t = np.zeros((1, 2), np.float32)
        y = np.array([[2.0, 0.0], [0.0, -2.0], [1.0, 1.0], [2.0, 0.5]], np.float32)
        assert count_scores(t, y, radius=2.0, num_branches=1)[0] == 3

    @pytest.mark.parametrize(
        "test,inl,kwargs,match",
        [
            (np.ones((3, 8)), np.ones((2, 6)), {}, "width 6"),
            (np.ones((3, 8)), np.ones((2, 8)), {"num_branches": 3}, "not divisible"),
            (np.ones((3, 8)), np.ones((2, 8)), {"radius": 0.0, "num_branches": 2}, "radius"),
            (np.ones((3,)), np.ones((2, 8)), {}, "2-D"),
        ],
    )
    def test_bad_input(self, test, inl, kwargs, match):
        with pytest.raises(ValueError, match=match):
            count_scores(test, inl, **kwargs)


class TestProtocol:
    def setup_method(self):
        r = np.random.default_rng(1)
        self.train_labels = np.repeat(np.arange(3), 40)
        self.test_labels = np.repeat(np.arange(3), 20)
        # class c lives around c * 5 in every dim: an easy, meaningful task
        self.train = (self.train_labels[:, None] * 5 + r.normal(size=(120, 4))).astype(np.float32)
        self.test = (self.test_labels[:, None] * 5 + r.normal(size=(60, 4))).astype(np.float32)

    def test_auroc_with_ties_by_hand(self):
        # Mann-Whitney with ties counted 1/2: positives {1, 2}, negatives {1, 0}
        # pairs: (1,1)=.5, (1,0)=1, (2,1)=1, (2,0)=1 -> 3.5 / 4
        scores = {0: np.array([1, 1, 2, 0])}
        labels = np.array([1, 0, 1, 0])

        def scorer(inliers, test):
            return scores[0]

        m = {"fixed": Method(scorer, np.zeros((3, 1)), np.zeros((4, 1)))}
        res = evaluate_oneclass(
            m, np.array([1, 1, 1]), labels, n=2, runs=1, classes=[1], progress=False
        )
        assert res.auroc["fixed"][0, 0] == pytest.approx(0.875)
        assert roc_auc_score(labels == 1, scores[0]) == pytest.approx(0.875)

    def test_draws_are_from_the_class_without_replacement_and_shared(self):
        seen = {}

        def recorder(name):
            def scorer(inliers, test):
                seen.setdefault(name, []).append(inliers.copy())
                return -np.abs(test - inliers.mean(0)).sum(1)

            return scorer

        methods = {n: Method(recorder(n), self.train, self.test) for n in ("a", "b")}
        res = evaluate_oneclass(
            methods, self.train_labels, self.test_labels, n=10, runs=3, seed=7, progress=False
        )
        assert len(seen["a"]) == 9
        for x, y in zip(seen["a"], seen["b"], strict=True):
            np.testing.assert_array_equal(x, y)  # identical inliers for every method
        for c in range(3):
            idx = [oneclass.draw_inliers(self.train_labels, c, 10, seed=7, run=r) for r in range(3)]
            for i in idx:
                assert len(set(i)) == 10 and np.all(self.train_labels[i] == c)
            assert not np.array_equal(np.sort(idx[0]), np.sort(idx[1]))
        np.testing.assert_array_equal(
            oneclass.draw_inliers(self.train_labels, 2, 10, seed=7, run=1),
            oneclass.draw_inliers(self.train_labels, 2, 10, seed=7, run=1),
        )
        assert res.mean("a") > 0.95  # the classes are well separated

    def test_all_scorers_run_and_separate_easy_classes(self):
        methods = {
            "corel": Method(
                oneclass.ball_count_scorer(radius=3.0, num_branches=2), self.train, self.test
            ),
            "kde": Method(oneclass.kde_scorer(), self.train, self.test),
            "ocsvm": Method(oneclass.ocsvm_scorer(), self.train, self.test),
        }
        res = evaluate_oneclass(
            methods, self.train_labels, self.test_labels, n=15, runs=2, progress=False
        )
        for m in methods:
            assert res.auroc[m].shape == (3, 2)
            assert res.mean(m) > 0.9, (m, res.mean(m))
        assert res.to_dict()["methods"]["kde"]["mean"] == pytest.approx(res.mean("kde"))

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(n=0), "n must be a positive int"),
            (dict(runs=0), "runs must be a positive int"),
            (dict(n=41), r"fewer training examples: \{0: 40, 1: 40, 2: 40\}"),
        ],
    )
    def test_bad_protocol_arguments(self, kwargs, match):
        m = {"a": Method(lambda i, t: np.zeros(len(t)), self.train, self.test)}
        with pytest.raises(ValueError, match=match):
            evaluate_oneclass(m, self.train_labels, self.test_labels, progress=False, **kwargs)

    def test_features_and_labels_must_match(self):
        m = {"a": Method(lambda i, t: np.zeros(len(t)), self.train[:-1], self.test)}
        with pytest.raises(ValueError, match="119 train features but 120 labels"):
            evaluate_oneclass(m, self.train_labels, self.test_labels, progress=False)


def test_write_report_files(tmp_path):
    auroc = {"corel": np.array([[0.8, 0.9], [0.6, 0.7]]), "kde": np.array([[0.5, 0.5], [0.4, 0.6]])}
    res = oneclass.OneClassResult(auroc, (0, 1), ("cat", "dog"), n=120, runs=2, seed=0)
    paths = oneclass.write_report(res, tmp_path, published={"GEOM": [0.9, 0.8]}, title="t")
    data = json.loads(paths["json"].read_text())
    assert data["methods"]["corel"]["mean"] == pytest.approx(0.75)
    assert data["methods"]["corel"]["per_class_std"] == pytest.approx([0.05, 0.05])
    csv_rows = paths["csv"].read_text().splitlines()
    assert csv_rows[0].startswith("method,class,class_name,mean,std,run0,run1")
    assert "corel,mean,,0.750000" in paths["csv"].read_text()
    md = paths["md"].read_text()
    assert "| cat | 0.850 ± 0.050 | 0.500 ± 0.000 | 0.900 |" in md and "**0.850**" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_end_to_end_on_digits(tmp_path, capsys):
    """Train briefly on real offline data, then the oneclass CLI writes sane results."""
    from corel_jax import train

    for name, lam in (("corel", 20.0), ("base", 0.0)):
        config = train.TrainConfig(dataset="digits", num_branches=8, epochs=4, lam=lam, devices=1)
        train.train_and_evaluate(config, tmp_path / name, progress=False)
    out = tmp_path / "report"
    code = cli.main([
        "oneclass", "--workdir", str(tmp_path / "corel"), "--baseline-workdir", str(tmp_path / "base"),
        "--n", "30", "--runs", "2", "--outdir", str(out), "--methods", "corel,kde,ocsvm,raw_ocsvm",
    ])  # fmt: skip
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    assert set(data["methods"]) == {"corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"}
    for m, v in data["methods"].items():
        assert len(v["per_class_mean"]) == 10 and 0.0 <= v["mean"] <= 1.0, m
        assert np.array(v["auroc"]).shape == (10, 2)
    assert data["methods"]["corel"]["mean"] > 0.75  # digits are easy; chance is 0.5
    assert data["radius"] == 2.0 and data["dataset"] == "digits"
    for f in ("results.csv", "results.md", "auroc.png"):
        assert (out / f).is_file()
    assert "| mean |" in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys):
    assert cli.main(["oneclass", "--workdir", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
