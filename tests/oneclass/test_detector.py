"""Tests for corel_jax.oneclass.detector: CORELDetector against the one-class protocol, by hand
and in scikit-learn's protocol."""

import numpy as np
import pytest
from flax import nnx
from image_helpers import write_folder
from oneclass_helpers import brute_force_scores
from sklearn.metrics import roc_auc_score

from corel_jax import data
from corel_jax.oneclass import (
    CORELDetector,
    ball_count_scorer,
    draw_inliers,
    evaluate_oneclass,
    kde_scorer,
)
from corel_jax.training.backbone import encode
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import build_model

# An untrained MLP: the detector and the protocol must agree on any backbone. Its codes are
# small (typical l1 distance of a 3-dim branch ~0.3), hence the radius.
CONFIG = TrainConfig(dataset="digits", model="mlp", hidden=(32,), num_branches=4, branch_dim=3)
RADIUS = 0.15
TRAIN, TEST = data.load("digits", "train"), data.load("digits", "test")


@pytest.fixture(scope="module")
def model():
    return build_model(CONFIG, (8, 8, 1), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def codes(model):
    return encode(model, TRAIN.images), encode(model, TEST.images)


def detector(model, **params):
    return CORELDetector(model, config=CONFIG, **{"radius": RADIUS, **params})


def test_the_auroc_equals_the_protocols_on_the_same_inlier_draws(model, codes):
    classes, n, runs = (0, 3, 7), 30, 2
    protocol = evaluate_oneclass(
        *codes[:1], TRAIN.labels, codes[1], TEST.labels, n=n, runs=runs, seed=5, classes=classes,
        scorer={"corel": ball_count_scorer(radius=RADIUS, num_branches=4), "kde": kde_scorer()},
        progress=False,
    )  # fmt: skip
    for ci, c in enumerate(classes):
        for r in range(runs):
            inliers = TRAIN.images[draw_inliers(TRAIN.labels, c, n, seed=5, run=r)]
            for method in ("corel", "kde"):
                scores = detector(model, method=method).fit(inliers).score_samples(TEST.images)
                auroc = roc_auc_score(TEST.labels == c, scores)
                assert auroc == protocol.auroc[method][ci, r], (c, r, method)
    assert 0.6 < protocol.mean("corel") < 1.0  # informative scores, not all tied


def test_scores_are_the_papers_ball_counts(model, codes):
    idx = draw_inliers(TRAIN.labels, 4, 25, seed=0, run=0)
    scores = detector(model).fit(TRAIN.images[idx]).score_samples(TEST.images[:60])
    expected = brute_force_scores(codes[1][:60], codes[0][idx], RADIUS, 4, "l1")
    np.testing.assert_array_equal(scores, expected)
    assert scores.dtype == np.float64 and len(set(scores.tolist())) > 5


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.5])
def test_the_threshold_is_a_quantile_of_leave_one_out_scores(model, codes, contamination):
    idx = draw_inliers(TRAIN.labels, 2, 40, seed=0, run=1)
    det = detector(model, contamination=contamination).fit(TRAIN.images[idx])
    inl = codes[0][idx]
    loo = [brute_force_scores(inl[i : i + 1], np.delete(inl, i, 0), RADIUS, 4, "l1")[0]
           for i in range(len(inl))]  # fmt: skip
    np.testing.assert_array_equal(det.loo_scores_, loo)
    assert det.offset_ == np.percentile(loo, 100 * contamination)
    assert np.mean(np.asarray(loo) < det.offset_) <= contamination
    scores = det.score_samples(TEST.images)
    np.testing.assert_array_equal(det.decision_function(TEST.images), scores - det.offset_)
    np.testing.assert_array_equal(det.predict(TEST.images), np.where(scores < det.offset_, -1, 1))


def test_kde_leave_one_out_by_hand(model, codes):
    """Scott's rule, h = sigma * m^(-1 / (d + 4)) over the m = n - 1 other inliers (float64)."""
    idx = draw_inliers(TRAIN.labels, 6, 12, seed=0, run=0)
    det = detector(model, method="kde", contamination=0.25).fit(TRAIN.images[idx])
    inl = codes[0][idx].astype(np.float64)
    expected = []
    for i in range(len(inl)):
        others = np.delete(inl, i, 0)
        m, d = others.shape
        h = others.std(axis=0).mean() * m ** (-1.0 / (d + 4))
        logits = -((others - inl[i]) ** 2).sum(1) / (2 * h * h)
        expected.append(logits.max() + np.log(np.exp(logits - logits.max()).sum()))
    np.testing.assert_allclose(det.loo_scores_, expected, rtol=1e-4)
    assert det.offset_ == pytest.approx(np.percentile(det.loo_scores_, 25))


def test_batched_encoding_changes_nothing(model):
    inliers = TRAIN.images[TRAIN.labels == 1][:20]
    full = detector(model).fit(inliers).score_samples(TEST.images)
    small = detector(model, batch_size=7)
    np.testing.assert_array_equal(small.fit(inliers).score_samples(TEST.images), full)
    assert small.offset_ == detector(model).fit(inliers).offset_


def test_scikit_learn_protocol(model):
    from sklearn.base import clone

    det = detector(model, contamination=0.2)
    params = det.get_params()
    assert list(params) == ["model", "config", "method", "radius", "num_branches", "metric",
                            "contamination", "batch_size", "image_size", "color"]  # fmt: skip
    assert params["model"] is model and params["contamination"] == 0.2
    inliers = TRAIN.images[TRAIN.labels == 5][:15]
    assert det.fit(inliers) is det  # fit returns the detector
    assert det.set_params(method="kde", radius=0.3) is det and det.method == "kde"
    with pytest.raises(ValueError, match="Invalid parameter 'nu' for CORELDetector"):
        det.set_params(nu=0.5)
    twin = clone(det)
    assert twin.get_params()["radius"] == 0.3 and not hasattr(twin, "offset_")
    assert (
        repr(twin)
        == "CORELDetector(MLPAutoencoder(...), method='kde', radius=0.3, contamination=0.2)"
    )
    with pytest.raises(ValueError, match="not fitted yet"):
        twin.predict(inliers)


def test_images_as_arrays_sets_and_paths(model, tmp_path, monkeypatch):
    monkeypatch.setenv("COREL_JAX_CACHE", str(tmp_path / "cache"))
    inliers = TRAIN.images[TRAIN.labels == 8][:16]
    write_folder(tmp_path / "inliers", inliers)
    expected = detector(model).fit(inliers).score_samples(TEST.images[:50])
    from_path = detector(model).fit(tmp_path / "inliers")
    from_set = detector(model).fit(data.load_images(str(tmp_path / "inliers")))
    from_floats = detector(model).fit(inliers[..., 0] / 255.0)  # (N, H, W) floats in [0, 1]
    for det in (from_path, from_set, from_floats):
        np.testing.assert_array_equal(det.score_samples(TEST.images[:50]), expected)


@pytest.mark.parametrize(
    "params,images,match",
    [
        ({}, np.zeros((5, 12, 12, 1), np.uint8),
         "X: the images are 12x12 grayscale but the backbone takes 8x8 grayscale images"),
        ({}, np.zeros((5, 8, 8, 3), np.uint8), "8x8 RGB but the backbone takes 8x8 grayscale"),
        ({}, np.zeros((1, 8, 8, 1), np.uint8), "at least 2 inlier images"),
        ({"contamination": 0.0}, None, r"contamination must be a number in \(0, 0.5\]"),
        ({"method": "ocsvm"}, None, "method must be one of"),
        ({"num_branches": 5}, None, "num_branches=5 does not divide the code width 12"),
        ({"radius": -1.0}, None, "radius must be > 0"),
    ],
)  # fmt: skip
def test_bad_input_is_named(model, params, images, match):
    images = TRAIN.images[:10] if images is None else images
    with pytest.raises(ValueError, match=match):
        detector(model, **params).fit(images)


def test_from_backbone_takes_the_runs_settings(tmp_path):
    from corel_jax.training.backbone import load_backbone
    from corel_jax.training.train import train_and_evaluate

    config = TrainConfig(dataset="digits", model="mlp", hidden=(16,), num_branches=2,
                         branch_dim=2, eta=0.5, epochs=1, devices=1, max_examples=200,
                         steps_per_dispatch=1)  # fmt: skip
    train_and_evaluate(config, tmp_path / "run", progress=False)
    det = CORELDetector.from_backbone(tmp_path / "run", contamination=0.3)
    assert det.config == config and det.contamination == 0.3
    inliers = TRAIN.images[TRAIN.labels == 0][:20]
    model, _ = load_backbone(tmp_path / "run")
    by_hand = CORELDetector(model, radius=0.5, num_branches=2, metric="l1", contamination=0.3)
    np.testing.assert_array_equal(det.fit(inliers).score_samples(TEST.images),
                                  by_hand.fit(inliers).score_samples(TEST.images))  # fmt: skip
    assert det.offset_ == by_hand.offset_
