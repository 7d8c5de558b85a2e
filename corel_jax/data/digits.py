"""scikit-learn's embedded 8x8 digits, split once into train and test."""

from __future__ import annotations

import numpy as np

from corel_jax._extras import require

__all__ = ["read_digits"]


def read_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits, split 1,348 / 449 with a fixed seed.

    Pixel values 0..16 are scaled to 0..255 (``round(v * 255 / 16)``).

    Returns:
      ``(images (N, 8, 8, 1) uint8, labels (N,) int64)`` of ``split``.
    """
    datasets = require("sklearn.datasets", purpose="the digits dataset")
    digits = datasets.load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(labels))
    n_train = len(labels) - len(labels) // 4
    index = np.sort(perm[:n_train] if split == "train" else perm[n_train:])
    return images[index], labels[index]
