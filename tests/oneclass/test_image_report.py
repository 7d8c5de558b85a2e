"""Tests for corel_jax.oneclass.image_report: which classes are normal, the AUROC, the CSV, the
picture."""

import csv
import io

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from corel_jax.data import ImageSet
from corel_jax.oneclass import normal_classes, plot_extremes, scores_auroc, write_scores
from corel_jax.oneclass.image_report import scores_csv


def image_set(labels, class_names, source="/data/test", n=None):
    n = len(labels) if labels is not None else n
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2, 1)
    labels = None if labels is None else np.asarray(labels, np.int64)
    return ImageSet(
        images, labels, tuple(class_names), tuple(f"img{i}.png" for i in range(n)), source
    )


class TestNormalClasses:
    images = image_set([0, 1, 2, 1], ["cat", "dog", "fox"])

    def test_given_names_win_and_are_checked(self):
        assert normal_classes(self.images, None, ["dog", "fox"]) == ("dog", "fox")
        with pytest.raises(
            ValueError, match="--normal: /data/test has no class owl .its classes: cat, dog, fox"
        ):
            normal_classes(self.images, None, ["owl"])

    def test_labelled_inliers_give_their_classes(self):
        inliers = image_set([1, 1, 0], ["dog", "wolf"], source="/data/aux")
        assert normal_classes(self.images, inliers) == ("dog",)  # wolf is not among the images'

    def test_a_flat_inlier_folder_is_named_after_its_class(self):
        assert normal_classes(self.images, image_set(None, [], source="/x/fox", n=3)) == ("fox",)
        assert normal_classes(self.images, image_set(None, [], source="/x/fox.npz", n=3)) == (
            "fox",
        )
        assert normal_classes(self.images, image_set(None, [], source="/x/owls", n=3)) == ()
        unlabelled = image_set(None, [], n=4)
        assert normal_classes(unlabelled, image_set(None, [], source="/x/fox", n=3)) == ()


def test_the_auroc_has_the_normal_classes_positive():
    images = image_set([0, 1, 2, 1, 0], ["cat", "dog", "fox"])
    scores = np.array([3.0, 1.0, 0.0, 2.0, 5.0])
    expected = roc_auc_score([1, 0, 0, 0, 1], scores)
    assert scores_auroc(images, scores, ("cat",)) == expected
    assert scores_auroc(images, scores, ("cat", "dog", "fox")) is None  # no negatives
    assert scores_auroc(images, scores, ()) is None


def test_the_csv_has_one_row_per_image():
    images = image_set([0, 1, 0], ["cat", "dog"])
    rows = list(csv.reader(io.StringIO(scores_csv(images, np.array([4.0, 0.5, 12.0]), [0, 1, 0]))))
    assert rows == [["image", "class", "score", "novel"], ["img0.png", "cat", "4", "0"],
                    ["img1.png", "dog", "0.5", "1"], ["img2.png", "cat", "12", "0"]]  # fmt: skip
    unlabelled = image_set(None, [], n=2)
    assert (
        scores_csv(unlabelled, np.array([1.0, 2.0]), [1, 0]).splitlines()[0] == "image,score,novel"
    )
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        scores_csv(unlabelled, np.array([1.0]), [1])


def test_the_picture_shows_the_lowest_and_highest_scores(tmp_path):
    images = image_set([0, 1, 0, 1, 0], ["cat", "dog"])
    scores = np.array([5.0, 1.0, 4.0, 9.0, 0.0])
    fig = plot_extremes(images, scores, show=2)
    captions = [ax.get_xlabel() for ax in fig.axes]
    assert captions == ["0: cat", "1: dog", "9: dog", "5: cat"]  # most novel first, then least
    write_scores(images, scores, scores < 2, tmp_path / "o" / "s.csv", tmp_path / "o" / "s.png")
    assert Image.open(tmp_path / "o" / "s.png").format == "PNG"
    assert (tmp_path / "o" / "s.csv").read_text().count("\n") == 6


def test_ties_at_the_extremes_are_shown_spread_and_counted():
    images = image_set([0, 1, 0, 1, 0, 1], ["cat", "dog"])
    fig = plot_extremes(images, np.array([0.0, 0.0, 0.0, 0.0, 0.0, 7.0]), show=2)
    top = fig.axes[:2]
    assert top[0].get_ylabel() == "most novel\n(5 tie at 0)"
    # images 0 and 4 of the five tied, not the first two
    assert [ax.get_images()[0].get_array()[0, 0] for ax in top] == [0, 16]
    assert fig.axes[2].get_ylabel() == "least novel"
