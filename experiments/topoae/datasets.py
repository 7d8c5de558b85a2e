"""The two data sets of the TopoAE table, prepared as the authors prepared them.

* SPHERES: :func:`corel_jax.data.spheres.make_spheres` with seed 42, the paper's
  90/10 split, standardised with the training statistics (1,000 test points).
* Fashion-MNIST: the official 60,000 / 10,000 split from the IDX files,
  pixels mapped to [-1, 1] (``(x / 255 - 0.5) / 0.5``, the authors'
  normalisation), flattened to 784 values.

Methods are fitted on the training part minus a 15 % validation part, as in
the authors' protocol; :func:`fitting_part` draws it with our own seed (the
authors' draw depends on their experiment framework's seeding).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from corel_jax.data.spheres import make_spheres, split_spheres

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


class Split(NamedTuple):
    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray


def spheres() -> Split:
    s = split_spheres(*make_spheres(seed=42), seed=42)
    return Split(s.train, s.train_labels, s.test, s.test_labels)


def fashion_mnist(directory: Path = FASHION_MNIST_DIR) -> Split:
    from corel_jax.data import read_idx

    def part(images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
        x = read_idx(directory / images).reshape(-1, 784).astype(np.float32) / 255.0
        return (x - 0.5) / 0.5, read_idx(directory / labels).astype(np.int64)

    train, train_labels = part("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    test, test_labels = part("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return Split(train, train_labels, test, test_labels)


LOADERS = {"spheres": spheres, "fashion_mnist": fashion_mnist}


def fitting_part(n_train: int, *, seed: int, validation_fraction: float = 0.15) -> np.ndarray:
    """Indices of the training part without its random validation part."""
    order = np.random.default_rng(seed).permutation(n_train)
    return np.sort(order[: int(np.floor((1 - validation_fraction) * n_train))])
