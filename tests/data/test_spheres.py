"""Tests for corel_jax.data.spheres: geometry, counts, seeding and the paper's split."""

import math

import numpy as np
import pytest
from references import needs

from corel_jax.data.spheres import make_spheres, split_spheres


@pytest.fixture(scope="module")
def spheres():
    return make_spheres()


class TestMakeSpheres:
    def test_counts_dims_and_labels(self, spheres):
        points, labels = spheres
        assert points.shape == (10_000, 101) and points.dtype == np.float32
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(labels), [500] * 10 + [5000])
        np.testing.assert_array_equal(labels, np.repeat(np.arange(11), [500] * 10 + [5000]))

    def test_radii_and_centres(self, spheres):
        points, labels = spheres
        # The offsets are the generator's first draw: N(0, (10 / sqrt(100))^2) in R^101.
        offsets = np.random.RandomState(42).normal(0.0, 1.0, (11, 101))
        for i in range(10):
            radii = np.linalg.norm(points[labels == i] - offsets[i], axis=1)
            np.testing.assert_allclose(radii, 5.0, rtol=1e-5)
        # The enclosing sphere is not shifted and has radius 25.
        np.testing.assert_allclose(np.linalg.norm(points[labels == 10], axis=1), 25.0, rtol=1e-5)

    def test_small_spheres_lie_inside_the_large_one(self, spheres):
        points, labels = spheres
        assert np.linalg.norm(points[labels < 10], axis=1).max() < 25.0

    def test_replays_the_global_legacy_generator(self):
        # The recipe as the authors wrote it (legacy global generator: seed, normal,
        # randn), here on an explicit RandomState to leave the global state alone.
        legacy = np.random.RandomState(7)
        offsets = legacy.normal(0, 10 / np.sqrt(4), [3, 5])
        parts = []
        for i in range(2):
            g = legacy.randn(6, 5)
            parts.append(2.0 * g / np.sqrt(np.sum(g**2, 1)[:, None]) + offsets[i, :])
        g = legacy.randn(60, 5)
        parts.append(10.0 * g / np.sqrt(np.sum(g**2, 1)[:, None]))
        expected = np.concatenate(parts).astype(np.float32)
        points, labels = make_spheres(seed=7, n_samples=6, n_spheres=3, dim=4, radius=2.0)
        np.testing.assert_array_equal(points, expected)
        np.testing.assert_array_equal(np.bincount(labels), [6, 6, 60])

    def test_seeding(self):
        a, _ = make_spheres(seed=1, n_samples=5, dim=3)
        b, _ = make_spheres(seed=1, n_samples=5, dim=3)
        c, _ = make_spheres(seed=2, n_samples=5, dim=3)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    @pytest.mark.parametrize(
        "kwargs", [{"n_samples": 0}, {"n_spheres": 1}, {"dim": 0}, {"radius": -1.0}, {"dim": 2.5}]
    )
    def test_checks(self, kwargs):
        with pytest.raises(ValueError):
            make_spheres(**kwargs)


class TestSplit:
    def test_sizes_and_standardisation(self, spheres):
        split = split_spheres(*spheres)
        assert split.train.shape == (9000, 101) and split.test.shape == (1000, 101)
        assert split.train.dtype == np.float32
        np.testing.assert_allclose(split.train.mean(0), 0.0, atol=1e-4)
        np.testing.assert_allclose(split.train.std(0), 1.0, rtol=1e-4)
        # The split is a partition: undo the standardisation and compare multisets.
        restored = np.concatenate([split.train, split.test]) * split.std + split.mean
        points, _ = spheres
        np.testing.assert_allclose(
            np.sort(restored[:, 0]), np.sort(points[:, 0]), rtol=1e-5, atol=1e-5
        )
        assert np.bincount(split.test_labels).sum() == 1000

    def test_matches_scikit_learn_train_test_split(self, spheres):
        model_selection = needs(
            "sklearn.model_selection", "the SPHERES split against scikit-learn's"
        )
        points, labels = spheres
        train, test, train_labels, test_labels = model_selection.train_test_split(
            points, labels, test_size=0.1, random_state=np.random.RandomState(42)
        )
        mean, std = train.mean(0, keepdims=True), train.std(0, keepdims=True)
        split = split_spheres(points, labels)
        np.testing.assert_array_equal(split.test, (test - mean) / std)
        np.testing.assert_array_equal(split.train, (train - mean) / std)
        np.testing.assert_array_equal(split.test_labels, test_labels)
        np.testing.assert_array_equal(split.train_labels, train_labels)

    def test_test_size_is_rounded_up(self):
        points, labels = make_spheres(n_samples=3, dim=2)  # 60 points
        split = split_spheres(points, labels, test_fraction=0.11)
        assert len(split.test) == math.ceil(0.11 * 60)

    def test_checks(self, spheres):
        with pytest.raises(ValueError, match="test_fraction"):
            split_spheres(*spheres, test_fraction=1.0)
        with pytest.raises(ValueError, match="labels"):
            split_spheres(spheres[0], spheres[1][:5])
