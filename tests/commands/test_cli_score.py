"""``corel-jax train --data`` and ``corel-jax score``: own images end to end, and every error.

Digits written as PNG folders: a backbone trained on the flat folder of the train images of
every class but 3, then 30 train images of class 3 as inliers, scored against the test images
in class subfolders (and as an .npz).
"""

import csv
import json

import numpy as np
import pytest
from image_helpers import in_sorted_order, save_png, write_folder
from PIL import Image
from sklearn.metrics import roc_auc_score

from corel_jax import commands, data
from corel_jax.oneclass import CORELDetector, ball_count_scorer, draw_inliers, evaluate_oneclass
from corel_jax.training.backbone import encode, load_backbone

TRAIN, TEST = data.load("digits", "train"), data.load("digits", "test")
N = 30  # inliers
SMALL = ["--model", "mlp", "--hidden", "64", "--num-branches", "4", "--branch-dim", "4",
         "--devices", "1", "--steps-per-dispatch", "1"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Decoded folders are cached in a folder of this module's."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("COREL_JAX_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The folders and files, and the backbone trained on them with ``corel-jax train --data``."""
    root = tmp_path_factory.mktemp("own")
    write_folder(root / "train", TRAIN.images[TRAIN.labels != 3])
    write_folder(
        root / "inliers" / "3", TRAIN.images[draw_inliers(TRAIN.labels, 3, N, seed=0, run=0)]
    )
    names = write_folder(root / "test", TEST.images, TEST.labels)
    np.savez(root / "test.npz", images=TEST.images, labels=TEST.labels)
    argv = ["train", "--data", str(root / "train"), "--workdir", str(root / "run"), "--epochs", "4"]
    assert commands.main([*argv, *SMALL]) == 0
    return root, names


def score(root, out, *argv):
    return commands.main(["score", "--backbone", str(root / "run"), "--inliers", str(root / "inliers" / "3"),
                          "--out", str(out), *argv])  # fmt: skip


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_from_a_folder(own):
    root, _ = own
    saved = json.loads((root / "run" / "config.json").read_text())
    assert saved["data"] == str(root / "train") and saved["dataset"] is None
    assert json.loads((root / "run" / "summary.json").read_text())["completed"]
    model, config = load_backbone(root / "run")
    assert model.input_shape == (8, 8, 1) and config.data == str(root / "train")


def test_the_models_input_shape_follows_the_data(tmp_path, monkeypatch):
    """An .npz of (N, 8, 8) grayscale arrays, resized to 12x10 and given three channels."""
    np.savez(tmp_path / "d.npz", images=TRAIN.images[:300, ..., 0])
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--workdir", str(tmp_path / "run"),
            "--image-size", "12", "10", "--color", "rgb", "--epochs", "1", *SMALL]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert commands.main(argv) == 0
    model, config = load_backbone(tmp_path / "run")
    assert model.input_shape == (12, 10, 3)
    assert (config.image_size, config.color) == ((12, 10), "rgb")


def test_score_writes_a_row_per_image_and_the_protocols_auroc(own, tmp_path, capsys):
    root, names = own
    out = tmp_path / "out" / "scores.csv"
    assert score(root, out, "--images", str(root / "test")) == 0
    printed = capsys.readouterr().out
    rows = read_csv(out)
    want_names, want_labels = in_sorted_order(names, names, TEST.labels)
    assert [r["image"] for r in rows] == list(want_names)
    assert [r["class"] for r in rows] == [str(k) for k in want_labels]
    scores = np.array([float(r["score"]) for r in rows])
    # the same scores as the detector's in Python, and the threshold it sets
    images = in_sorted_order(names, TEST.images)[0]
    detector = CORELDetector.from_backbone(root / "run").fit(root / "inliers" / "3")
    np.testing.assert_array_equal(scores, detector.score_samples(images))
    assert [r["novel"] for r in rows] == ["1" if s < detector.offset_ else "0" for s in scores]
    # the AUROC equals the one-class protocol's on the same inlier draw
    model, config = load_backbone(root / "run")
    protocol = evaluate_oneclass(
        encode(model, TRAIN.images), TRAIN.labels, encode(model, TEST.images), TEST.labels,
        scorer=ball_count_scorer(radius=config.eta, num_branches=4), n=N, runs=1, classes=[3],
        progress=False,
    ).auroc["score"][0, 0]  # fmt: skip
    assert roc_auc_score([r["class"] == "3" for r in rows], scores) == protocol
    assert f"AUROC:    {protocol:.4f} (normal: 3, {np.sum(TEST.labels == 3)} images" in printed
    assert protocol > 0.7  # a trained backbone separates the 3s; chance is 0.5
    grid = Image.open(out.with_suffix(".png"))
    assert grid.format == "PNG" and grid.size[0] > grid.size[1] > 100


def test_score_an_array_file(own, tmp_path, capsys):
    root, names = own
    assert score(root, tmp_path / "folder.csv", "--images", str(root / "test")) == 0
    assert (
        score(root, tmp_path / "array.csv", "--images", str(root / "test.npz"), "--show", "3") == 0
    )
    by_folder, by_array = read_csv(tmp_path / "folder.csv"), read_csv(tmp_path / "array.csv")
    assert [r["image"] for r in by_array] == [str(i) for i in range(len(TEST.images))]
    order = np.argsort(np.array(names), kind="stable")  # folder row k is test image order[k]
    array_scores = np.array([r["score"] for r in by_array])
    assert [r["score"] for r in by_folder] == array_scores[order].tolist()
    assert "the 3 most and least novel images" in capsys.readouterr().out


def mixed_sizes(folder):
    write_folder(folder, TRAIN.images[:6])
    save_png(folder / "big.png", np.zeros((12, 12, 1), np.uint8))


def gray_and_rgb(folder):
    write_folder(folder, TRAIN.images[:6])
    save_png(folder / "color.png", np.zeros((8, 8, 3), np.uint8))


def corrupt(folder):
    write_folder(folder, TRAIN.images[:6])
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")


def bigger(folder):
    write_folder(folder, np.zeros((4, 12, 12, 1), np.uint8))


@pytest.mark.parametrize(
    "command,make,argv,message",
    [
        ("train", mixed_sizes, [], "holds images of 2 sizes (8x8: 6 (e.g. 00000.png), 12x12: 1 "
         "(e.g. big.png)); pass --image-size"),
        ("train", lambda f: f.mkdir(), [], "holds no images; image files end in .bmp"),
        ("train", gray_and_rgb, [], "mixes grayscale and colour images (grayscale: 6 "
         "(e.g. 00000.png), colour: 1 (e.g. color.png)); pass --color (color=) gray"),
        ("score", corrupt, [], "--images: 1 of 7 image files in {folder} cannot be decoded: "
         "broken.png (UnidentifiedImageError"),
        ("score", bigger, [], "--images: the backbone in {run} takes 8x8 grayscale images, but "
         "{folder} holds 12x12 grayscale images: pass --image-size 8 8 to convert them."),
        ("score", gray_and_rgb, ["--color", "rgb"], "--inliers: the backbone in {run} takes 8x8 "
         "grayscale images, but {inliers} holds 8x8 RGB images: pass --color gray to convert"),
        ("score", lambda f: f.mkdir(), [], "--images: {folder} holds no images"),
        ("score", mixed_sizes, [], "--images: {folder} holds images of 2 sizes"),
        ("score", lambda f: write_folder(f, TRAIN.images[:4]), ["--normal", "cat"],
         "--normal: {folder} has no class cat (its images carry no labels)"),
        ("score", lambda f: write_folder(f, TEST.images[:20], TEST.labels[:20]),
         ["--normal", "3,cat"], "--normal: {folder} has no class cat (its classes: 0, 1, 2, 3"),
        ("score", bigger, ["--contamination", "0.7"], "--contamination must be in (0, 0.5]"),
        ("score", bigger, ["--out", "{tmp}/x.png"], "--out: give the CSV file's name"),
    ],
)  # fmt: skip
def test_errors_are_one_line_exit_2_and_nothing_is_written(own, tmp_path, capsys, command, make,
                                                            argv, message):  # fmt: skip
    root, _ = own
    folder = tmp_path / "given"
    make(folder)
    fill = {
        "folder": folder,
        "run": root / "run",
        "tmp": tmp_path,
        "inliers": root / "inliers" / "3",
    }
    argv = [a.format(**fill) for a in argv]
    out = tmp_path / "out" / "scores.csv"
    if command == "train":
        code = commands.main(
            ["train", "--data", str(folder), "--workdir", str(tmp_path / "run"), *SMALL]
        )
    else:
        code = score(root, out, "--images", str(folder), *argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message.format(**fill) in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.csv"))


def test_a_directory_that_is_no_run(tmp_path, capsys):
    write_folder(tmp_path / "imgs", TRAIN.images[:4])
    argv = ["score", "--backbone", str(tmp_path), "--inliers", str(tmp_path / "imgs"),
            "--images", str(tmp_path / "imgs"), "--out", str(tmp_path / "out" / "s.csv")]  # fmt: skip
    assert commands.main(argv) == 2
    assert (
        capsys.readouterr().err
        == f"error: --backbone: {tmp_path} holds no complete training checkpoint.\n"
    )
    assert not (tmp_path / "out").exists()
