"""Training on a subset of classes and one-class on all of them (the paper's transfer setting).

The data is a small Fashion-MNIST-shaped IDX folder whose images carry their
label and index in their first pixels, so a test can read off which examples
the training loop was fed.
"""

import csv
import dataclasses
import json

import numpy as np
import pytest
from data_helpers import write_idx

from corel_jax import commands, data, oneclass
from corel_jax.training import backbone, runs, train as train_module
from corel_jax.training.config import TrainConfig
from corel_jax.training.train import train_and_evaluate
from experiments import collect_transfer, run

PER_CLASS = {"train": 60, "test": 20}
NUM_CLASSES = 3
SEEN = (0, 2)
SMALL = dict(  # a small MLP: 120 selected images, batch 20, 6 steps per epoch
    dataset="fashion_mnist", model="mlp", hidden=(16,), num_branches=2, branch_dim=2,
    batch_size=20, devices=1, steps_per_dispatch=3, checkpoint_every=6, keep_checkpoints=10,
    log_every=1,
)  # fmt: skip


def write_coded_folder(folder):
    """IDX files of 28x28 images: pixel (0,0) = label, (0,1)/(0,2) = index, the rest noise.

    Labels cycle 0, 1, 2, 0, ... so every class is spread over the split.
    """
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, per_class in PER_CLASS.items():
        n = per_class * NUM_CLASSES
        labels = np.arange(n) % NUM_CLASSES
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = labels
        images[:, 0, 1], images[:, 0, 2] = np.arange(n) % 256, np.arange(n) // 256
        img_stem, lbl_stem = data.IDX_FILES[split]
        write_idx(folder / f"{img_stem}.gz", images, compress=True)
        write_idx(folder / f"{lbl_stem}.gz", labels.astype(np.uint8), compress=True)
    return folder


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    return write_coded_folder(tmp_path_factory.mktemp("coded") / "idx")


@pytest.fixture(scope="module")
def subset_run(coded, tmp_path_factory):
    """A 2-epoch run on classes 0 and 2, and the (label, index) of every image it was fed."""
    config = TrainConfig(data_dir=str(coded), classes=SEEN, epochs=2, **SMALL)
    workdir = tmp_path_factory.mktemp("subset") / "run"
    fed = []
    real = train_module.make_chunk_fn

    def spy(devices=None):
        chunk = real(devices)

        def run_chunk(state, images, idx):
            batch = np.asarray(images)[0][np.asarray(idx)[0]]  # (steps, B, 28, 28, 1)
            fed.append(batch[..., 0, :3, 0].astype(int).reshape(-1, 3))
            return chunk(state, images, idx)

        return run_chunk

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "make_chunk_fn", spy)
        summary = train_and_evaluate(config, workdir, progress=True)
    return config, workdir, summary, np.concatenate(fed)


def test_training_is_fed_only_the_selected_classes(subset_run):
    config, workdir, summary, fed = subset_run
    labels, index = fed[:, 0], fed[:, 1] + 256 * fed[:, 2]
    train = data.load("fashion_mnist", "train", data_dir=config.data_dir)
    assert set(labels) == set(SEEN)
    np.testing.assert_array_equal(train.labels[index], labels)  # the pixel code is the label
    selected = np.flatnonzero(np.isin(train.labels, SEEN))
    per_epoch = len(selected)  # 120 images, 6 steps of 20: every one once per epoch
    assert len(index) == 2 * per_epoch and summary["step"] == 12
    for epoch in range(2):
        assert sorted(index[epoch * per_epoch : (epoch + 1) * per_epoch]) == list(selected)
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["classes"] == list(SEEN) and TrainConfig.from_dict(saved) == config


def test_held_out_statistics_use_the_seen_classes(subset_run):
    config, workdir, summary, _ = subset_run
    model, _ = backbone.load_backbone(workdir)
    test = data.load("fashion_mnist", "test", data_dir=config.data_dir)
    stats = backbone.held_out_statistics(model, test.select(SEEN).images, config)
    assert summary["test_rec"] == pytest.approx(stats["rec"].mean(), rel=1e-6)
    assert len(stats["rec"]) == 2  # 40 seen test images, batch 20 (all 60 would give 3)


def test_classes_errors(coded, tmp_path, capsys):
    config = TrainConfig(data_dir=str(coded), classes=(0,), epochs=1, **SMALL)
    with pytest.raises(ValueError, match="images= carries no labels"):
        train_and_evaluate(config, tmp_path / "a", images=np.zeros((40, 28, 28, 1), np.uint8))
    missing = TrainConfig(data_dir=str(coded), classes=(0, 7), epochs=1, **SMALL)
    with pytest.raises(ValueError, match=r"has no example of label\(s\) \[7\]"):
        train_and_evaluate(missing, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    base = ["train", "--workdir", str(tmp_path / "c"), "--dataset", "digits"]
    assert commands.main([*base, "--classes", "1,1"]) == 2
    assert capsys.readouterr().err.startswith("error: TrainConfig.classes must be")
    with pytest.raises(SystemExit):
        commands.main([*base, "--classes", "1,x"])
    assert "not comma-separated ints: '1,x'" in capsys.readouterr().err


def test_oneclass_on_a_subset_backbone_scores_the_full_test_split(subset_run, tmp_path, capsys):
    config, workdir, _, _ = subset_run
    out = tmp_path / "report"
    code = commands.main(["oneclass", "--workdir", str(workdir), "--n", "5", "--runs", "2",
                          "--methods", "corel,kde", "--outdir", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    report = json.loads((out / "results.json").read_text())
    assert report["num_test"] == NUM_CLASSES * PER_CLASS["test"]  # not only the seen classes
    assert report["classes"] == [0, 1, 2] and report["seen_classes"] == list(SEEN)
    assert report["backbone_classes"] == list(SEEN)
    for m, v in report["methods"].items():
        means = np.asarray(v["per_class_mean"])
        assert v["mean_seen"] == pytest.approx(means[[0, 2]].mean()), m
        assert v["mean_unseen"] == pytest.approx(means[1]), m
    assert "trained on classes 0 (T-shirt/top), 2 (Pullover) only" in printed
    assert "| class | backbone | COREL ball count | latent Gaussian KDE |" in printed
    assert "| Trouser | unseen |" in printed and "| mean, unseen | unseen |" in printed


def test_a_longer_run_is_read_at_the_end_of_a_shorter_one(subset_run, coded, tmp_path):
    """ensure_backbone(epochs=1) on the 2-epoch run reads step 6: a fresh 1-epoch run's result;
    epochs=3 extends the run."""
    config, workdir, _, _ = subset_run
    shorter = TrainConfig(data_dir=str(coded), classes=SEEN, epochs=1, **SMALL)
    assert runs.steps_per_epoch(shorter, workdir) == 6
    model, summary = runs.ensure_backbone(shorter, workdir)
    assert summary["step"] == 6
    train_and_evaluate(shorter, tmp_path / "scratch", progress=False)
    fresh, _ = backbone.load_backbone(tmp_path / "scratch")
    test = data.load("fashion_mnist", "test", data_dir=str(coded)).images
    np.testing.assert_array_equal(backbone.encode(model, test), backbone.encode(fresh, test))
    other = TrainConfig(data_dir=str(coded), classes=(0, 1), epochs=1, **SMALL)
    with pytest.raises(ValueError, match=r"other settings .*classes \(0, 2\) there"):
        runs.ensure_backbone(other, workdir)
    gone = TrainConfig(
        data_dir=str(coded), classes=SEEN, epochs=2, **dict(SMALL, keep_checkpoints=1)
    )
    train_and_evaluate(gone, tmp_path / "kept1", progress=False)
    with pytest.raises(ValueError, match="did not keep step 6"):
        runs.ensure_backbone(dataclasses.replace(gone, epochs=1), tmp_path / "kept1")


# ------------------------------------------------------- seen / unseen marking


def _marked_result(seen):
    auroc = {  # 4 classes x 2 runs
        "corel": np.array([[0.9, 0.7], [0.6, 0.6], [1.0, 0.8], [0.5, 0.7]]),
        "kde": np.array([[0.8, 0.8], [0.7, 0.5], [0.9, 0.9], [0.4, 0.4]]),
    }
    names = ("a", "b", "c", "d")
    return oneclass.OneClassResult(auroc, (0, 1, 2, 3), names, n=5, runs=2, seed=0,
                                   seen_classes=seen)  # fmt: skip


def test_seen_and_unseen_means_and_markers(tmp_path):
    res = _marked_result((0, 2))
    np.testing.assert_array_equal(res.seen, [True, False, True, False])
    assert res.group_mean("corel", seen=True) == pytest.approx((0.8 + 0.9) / 2)
    assert res.group_mean("corel", seen=False) == pytest.approx((0.6 + 0.6) / 2)
    assert res.group_mean("kde", seen=False) == pytest.approx((0.6 + 0.4) / 2)
    assert res.mean("corel") == pytest.approx((0.8 + 0.6 + 0.9 + 0.6) / 4)
    lines = oneclass.format_table(res).splitlines()
    assert lines[0] == "| class | backbone | COREL ball count | latent Gaussian KDE |"
    assert lines[2] == "| a | seen | 0.800 ± 0.100 | 0.800 ± 0.000 |"
    assert lines[3] == "| b | unseen | 0.600 ± 0.000 | 0.600 ± 0.100 |"
    assert lines[-3:] == [
        "| mean |  | **0.725** | **0.675** |",
        "| mean, unseen | unseen | **0.600** | **0.500** |",
        "| mean, seen | seen | **0.850** | **0.850** |",
    ]
    paths = oneclass.write_report(res, tmp_path)
    payload = json.loads(paths["json"].read_text())
    assert payload["seen_classes"] == [0, 2]
    assert payload["methods"]["kde"]["mean_unseen"] == pytest.approx(0.5)
    rows = {(r["method"], r["class"]): r for r in csv.DictReader(paths["csv"].open())}
    assert rows["corel", "1"]["seen"] == "no" and rows["corel", "2"]["seen"] == "yes"
    assert float(rows["corel", "mean_unseen"]["mean"]) == pytest.approx(0.6)
    assert float(rows["kde", "mean_seen"]["mean"]) == pytest.approx(0.85)
    assert "| mean, seen | seen |" in paths["md"].read_text()


def test_marking_when_all_none_or_unknown_classes_were_seen():
    everything, nothing, unknown = (
        _marked_result((0, 1, 2, 3)),
        _marked_result(()),
        _marked_result(None),
    )
    assert everything.group_mean("corel", seen=False) is None
    assert nothing.group_mean("corel", seen=False) == pytest.approx(nothing.mean("corel"))
    assert "mean, unseen" not in oneclass.format_table(everything)  # no second group
    assert oneclass.format_table(nothing).splitlines()[2].startswith("| a | unseen |")
    assert (
        oneclass.format_table(unknown).splitlines()[0]
        == "| class | COREL ball count | latent Gaussian KDE |"
    )
    assert unknown.to_dict()["seen_classes"] is None
    assert "mean_seen" not in unknown.to_dict()["methods"]["corel"]
    with pytest.raises(ValueError, match="does not record which classes"):
        unknown.group_mean("corel", seen=True)


def test_evaluate_methods_records_the_seen_classes():
    rng = np.random.default_rng(0)
    train_labels, test_labels = np.arange(40) % 4, np.arange(20) % 4
    feats = (rng.normal(size=(40, 4)), rng.normal(size=(20, 4)))
    methods = {"kde": oneclass.Method(oneclass.kde_scorer(), *feats)}
    res = oneclass.evaluate_methods(methods, train_labels, test_labels, n=3, runs=1,
                                    seen_classes=[3, 1], progress=False)  # fmt: skip
    assert res.seen_classes == (1, 3) and res.seen.tolist() == [False, True, False, True]
    with pytest.raises(TypeError, match="seen_classes must be a sequence of int labels"):
        oneclass.evaluate_methods(methods, train_labels, test_labels, n=3, runs=1,
                                  seen_classes=["1"], progress=False)  # fmt: skip


@pytest.mark.parametrize(
    "dataset,classes,expected",
    [("fashion_mnist", None, tuple(range(10))), ("fashion_mnist", (4, 1), (4, 1)),
     ("mnist", (4, 1), ())],
)  # fmt: skip
def test_seen_classes_of_a_backbone(dataset, classes, expected):
    config = TrainConfig(dataset="fashion_mnist", classes=classes)
    assert oneclass.seen_classes(config, dataset, 10) == expected


# ------------------------------------------------------------- the study


@pytest.mark.slow
def test_runner_trains_extends_reuses_and_the_collector_tables_it(coded, tmp_path, capsys):
    """The transfer runner on the coded data with a small MLP: 1 epoch, then --set epochs=2
    (extends the same backbone), then the 1-epoch command again (reuses its results)."""
    config_file = tmp_path / "fashion_mnist_transfer_a.py"
    config_file.write_text(
        "from experiments.configs.transfer import transfer_config\n"
        "def get_config(variant=''):\n"
        "    cfg = transfer_config('fashion_mnist_transfer_a', 'A', (0, 2), variant=variant)\n"
        f"    cfg['train'].update({dict(SMALL, epochs=1)!r})\n"
        "    cfg['eval'].update(n=[5], runs=1, methods=['corel', 'kde'])\n"
        "    return cfg\n"
    )
    base = [str(config_file), "--workdir", str(tmp_path / "study"), "--data-dir", str(coded),
            "--sweep", "lam=0,20"]  # fmt: skip
    assert run.main(base) == 0
    assert run.main([*base, "--set", "epochs=2"]) == 0
    capsys.readouterr()
    assert run.main(base) == 0
    assert "lam=20: reusing the results" in capsys.readouterr().out
    payload = json.loads((tmp_path / "study" / "results.json").read_text())
    rows = {(r["name"], r["epochs"]): r for r in payload["rows"]}
    assert set(rows) == {("lam=0", 1), ("lam=20", 1), ("epochs=2,lam=0", 2), ("epochs=2,lam=20", 2)}
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == [
        "lam=0",
        "lam=20",
        "results.json",
    ]
    for r in rows.values():
        assert r["seen_classes"] == [0, 2] and set(r["means_unseen"]) == {"corel", "kde"}
        outdir = f"{r['name'].split(',')[-1]}/oneclass_fashion_mnist_n5_e{r['epochs']}"
        report = json.loads((tmp_path / "study" / outdir / "results.json").read_text())
        assert r["means_unseen"]["kde"] == report["methods"]["kde"]["per_class_mean"][1]
        assert set(r["death_times"]) == {"seen", "unseen"}
    assert rows["lam=20", 1]["death_times"] != rows["epochs=2,lam=20", 2]["death_times"]

    out = tmp_path / "table.md"
    assert collect_transfer.main([str(tmp_path), "--out", str(out), "--plot",
                                  str(tmp_path / "plot.png"), "--plot-lambda",
                                  str(tmp_path / "figures" / "lambda.png")]) == 0  # fmt: skip
    lines = out.read_text().splitlines()
    assert len(lines) == 2 + 4 and lines[2].startswith("| A → all | 1 | 0 | ")
    r = rows["epochs=2,lam=20", 2]
    u, s = r["means_unseen"]["corel"], r["means_seen"]["corel"]
    assert lines[-1].startswith(f"| A → all | 2 | 20 | {u:.3f} / {s:.3f} | ")
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figures" / "lambda.png").read_bytes()[:4] == b"\x89PNG"


def test_analysis_splits_the_auroc_by_the_negatives_group():
    """Class 0's codes sit on top of the unseen class 2 and far from the seen class 1: against
    the seen negatives class 0 is separated (AUROC 1), against the unseen ones not (0.5)."""
    from experiments import transfer_analysis

    rng = np.random.default_rng(0)
    centre = {0: 0.0, 1: 50.0, 2: 0.0}
    labels = (np.arange(3 * 130) % 3, np.arange(3 * 40) % 3)
    codes = tuple(np.asarray([centre[c] for c in lab])[:, None] + rng.normal(0, 0.3, (len(lab), 2))
                  for lab in labels)  # fmt: skip
    config = TrainConfig(num_branches=1, branch_dim=2, model="mlp")
    out = transfer_analysis.negatives_split(codes, labels, config, seen=(0, 1))
    for method in ("corel", "kde"):
        seen_group = out[method]["seen"]  # classes 0 and 1
        assert seen_group["vs_seen"] == pytest.approx(1.0)
        assert seen_group["vs_unseen"] == pytest.approx((0.5 + 1.0) / 2, abs=0.1)
        assert out[method]["unseen"]["vs_seen"] == pytest.approx(0.5 / 2 + 1.0 / 2, abs=0.1)
        assert np.isnan(out[method]["unseen"]["vs_unseen"])  # class 2 is the only unseen class


def test_analysis_report_tables_the_measurements(tmp_path):
    from experiments import transfer_analysis

    terms = dict(rec=40.0, conn=30.0, grad_rec=2.0, grad_conn=0.5, loss_ratio=15.0, grad_ratio=5.0)
    (tmp_path / "sizes.json").write_text(json.dumps({"28x28x1, init": terms}))
    group = lambda m: {"mean": m, "std": 0.1, "mean_abs_dev_from_eta": abs(m - 2)}
    record = dict(
        classes=[5, 6, 7, 8, 9], lam=20.0, lam_scale="paper", step=3000, epochs=10,
        deaths={"seen": group(1.9), "unseen": group(1.3)}, code_l1_per_branch=4.25,
        ball={"1": {"unseen": 0.8, "seen": 0.9, "zero_score_share": 0.1},
              "2": {"unseen": 0.85, "seen": 0.88, "zero_score_share": 0.25}},
        negatives={"kde": {"seen": {"vs_seen": 0.7, "vs_unseen": 0.95},
                           "unseen": {"vs_seen": 0.9, "vs_unseen": 0.8}}},
    )  # fmt: skip
    (tmp_path / "drift.json").write_text(json.dumps([record]))
    text = transfer_analysis.report(str(tmp_path))
    assert "| 28x28x1, init | 40.0 | 30.0 | 15.00 | 5.00 |" in text
    assert "| B | 20 | 10 | 1.30 / 1.90 | 4.25 | 0.850 / 0.880 | 25 % |" in text
    assert "| B | 20 | 10 | 0.800 | 0.850 |" in text  # radii 1 and 2, unseen classes
    assert "| B | 20 | kde | 0.700 / 0.950 | 0.900 / 0.800 |" in text
