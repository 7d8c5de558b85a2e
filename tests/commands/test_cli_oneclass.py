"""Tests for corel_jax.commands.oneclass: option errors, where the data is read, end to end."""

import json
import shutil

import numpy as np
import pytest
from data_helpers import use_idx_dirs, write_idx

from corel_jax import commands, data
from corel_jax.training import backbone, objectives
from corel_jax.training.config import TrainConfig


@pytest.mark.parametrize(
    "argv,match",
    [
        ([], "error: "),  # not a training work directory (load_backbone's message)
        (["--methods", "corel,nope"], "unknown ['nope']"),
        (["--n", "0"], "--n must be a positive int"),
        (["--runs", "-1"], "--runs must be a positive int"),
        (["--radius", "0"], "--radius must be > 0"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, argv, match):
    assert commands.main(["oneclass", "--workdir", str(tmp_path), *argv]) == 2
    assert match in capsys.readouterr().err


def test_on_a_trained_backbone(reference, tmp_path, capsys):
    """The command on a trained backbone (the shared 2-epoch digits run, copied; the demo
    test runs the whole protocol on freshly trained backbones): every method's AUROCs,
    the files, the printed table, the defaults (radius = eta, the output folder)."""
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir)
    code = commands.main([
        "oneclass", "--workdir", str(workdir), "--baseline-workdir", str(workdir),
        "--n", "30", "--runs", "1", "--methods", "corel,kde,ocsvm,raw_ocsvm",
    ])  # fmt: skip
    assert code == 0
    out = workdir / "oneclass_digits"  # the default --outdir
    data = json.loads((out / "results.json").read_text())
    assert list(data["methods"]) == ["corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"]
    for m, v in data["methods"].items():
        assert len(v["per_class_mean"]) == 10 and 0.0 <= v["mean"] <= 1.0, m
        assert np.array(v["auroc"]).shape == (10, 1)
    # the same backbone twice: the lambda=0 column repeats the corel one
    assert data["methods"]["lambda0"]["auroc"] == data["methods"]["corel"]["auroc"]
    assert data["methods"]["corel"]["mean"] > 0.6  # chance is 0.5 (2 epochs of training)
    assert data["methods"]["raw_ocsvm"]["mean"] > 0.75  # digits are easy in pixel space
    assert data["radius"] == 2.0 and data["dataset"] == "digits"  # radius defaults to eta
    for f in ("results.csv", "results.md", "auroc.png"):
        assert (out / f).is_file()
    printed = capsys.readouterr().out
    assert "| mean |" in printed
    header = next(line for line in printed.splitlines() if line.startswith("| class |"))
    labels = ["COREL ball count", "ball count, λ=0 backbone", "latent Gaussian KDE",
              "latent OC-SVM", "raw-pixel OC-SVM"]  # fmt: skip
    assert header.endswith(" | ".join(labels) + " |")


def _two_class_idx_folder(folder, seed):
    """IDX files of 28x28 images with labels 0, 1, 0, 1, ...; returns the test images."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", 20), ("test", 10)):
        img_stem, lbl_stem = data.IDX_FILES[split]
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx(folder / f"{img_stem}.gz", images, compress=True)
        write_idx(folder / f"{lbl_stem}.gz", np.arange(n, dtype=np.uint8) % 2, compress=True)


@pytest.mark.parametrize(
    "argv,dataset,expected",
    [
        ([], "mnist", "backbone_dir"),  # the backbone's own dataset: its data_dir
        (["--dataset", "mnist"], "mnist", "backbone_dir"),
        # another dataset: its own default location, not the backbone's data_dir
        (["--dataset", "fashion_mnist"], "fashion_mnist", "default_dir"),
        (["--dataset", "fashion_mnist", "--data-dir", "{tmp}/given_dir"], "fashion_mnist",
         "given_dir"),
    ],
)  # fmt: skip
def test_data_location(tmp_path, capsys, monkeypatch, argv, dataset, expected):
    for name, seed in (("backbone_dir", 0), ("default_dir", 1), ("given_dir", 2)):
        _two_class_idx_folder(tmp_path / name, seed)
    use_idx_dirs(monkeypatch, tmp_path / "default_dir")  # where fashion_mnist is by default
    config = TrainConfig(dataset="mnist", data_dir=str(tmp_path / "backbone_dir"),
                         model="mlp", hidden=(32,), num_branches=4, branch_dim=2)  # fmt: skip
    from flax import nnx

    model = objectives.build_model(config, (28, 28, 1), rngs=nnx.Rngs(0))
    monkeypatch.setattr(backbone, "load_backbone", lambda workdir: (model, config))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = commands.main(["oneclass", "--workdir", str(tmp_path / "run"), "--n", "3",
                          "--runs", "1", "--methods", "corel", *argv])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"read from {tmp_path / expected}" in out
    report = json.loads((tmp_path / "run" / f"oneclass_{dataset}" / "results.json").read_text())
    assert report["data_source"] == str(tmp_path / expected) and report["num_test"] == 10
