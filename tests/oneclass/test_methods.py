"""Tests for corel_jax.oneclass.methods: raw-pixel features and the methods by name."""

import numpy as np
import pytest

from corel_jax import oneclass


class TestMethods:
    def test_pixel_features(self):
        images = np.array([[[[0], [255]], [[51], [102]]]], np.uint8)  # (1, 2, 2, 1)
        np.testing.assert_allclose(oneclass.pixel_features(images), [[0.0, 1.0, 0.2, 0.4]])

    def test_build_methods_by_name(self, rng):
        codes = (rng.normal(size=(30, 8)), rng.normal(size=(20, 8)))
        pixels = (rng.normal(size=(30, 64)), rng.normal(size=(20, 64)))
        base = (codes[0] + 1, codes[1] + 1)
        methods = oneclass.build_methods(
            ["raw_ocsvm", "corel", "lambda0"], codes=codes, pixels=pixels, radius=1.5,
            num_branches=2, metric="l2", baseline_codes=base,
        )  # fmt: skip
        assert list(methods) == ["raw_ocsvm", "corel", "lambda0"]
        assert methods["raw_ocsvm"].train_features is pixels[0]
        assert methods["lambda0"].test_features is base[1]
        got = methods["corel"].scorer(codes[0][:5], codes[1])
        ref = oneclass.count_scores(codes[1], codes[0][:5], radius=1.5, num_branches=2, metric="l2")
        np.testing.assert_array_equal(got, ref)
        with pytest.raises(ValueError, match="needs a baseline backbone"):
            oneclass.build_methods(["lambda0"], codes=codes, pixels=pixels, radius=1.0,
                                   num_branches=2, metric="l1")  # fmt: skip
        with pytest.raises(ValueError, match="Unknown method 'svm'"):
            oneclass.build_methods(["svm"], codes=codes, pixels=pixels, radius=1.0,
                                   num_branches=2, metric="l1")  # fmt: skip
