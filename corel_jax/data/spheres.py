"""The SPHERES data set of the Topological Autoencoders paper, generated.

Ten small spheres, each a 100-sphere (points on the unit sphere of R^101
scaled to radius 5), are shifted by random Gaussian offsets and enclosed by
one large 100-sphere of radius 25 centred at the origin; 500 points are sampled
uniformly on each small sphere and 5,000 on the large one (10,000 points in
R^101). Labels are the sphere index: 0-9 for the small spheres, 10 for the
enclosing one.

The generator replays the authors' recipe draw for draw with numpy's legacy
``RandomState`` (so ``seed=42``, their default, gives their data set):

1. offsets: an ``(n_spheres, dim + 1)`` Gaussian matrix with standard
   deviation ``10 / sqrt(dim)`` (= 1 for dim 100); row ``i`` shifts small
   sphere ``i``; the last row is drawn but unused (the large sphere is not
   shifted);
2. each small sphere: ``n_samples`` standard Gaussian vectors in R^(dim+1),
   normalised to length ``radius``, plus its offset;
3. the large sphere: ``10 n_samples`` Gaussian vectors normalised to length
   ``5 radius``.

The paper's split (:func:`split_spheres`) holds out 10 % of the points as the
test set (scikit-learn's ``train_test_split(test_size=0.1, random_state=
RandomState(seed))``, reimplemented: a permutation of all points, the first
``ceil(0.1 n)`` for testing) and standardises every coordinate with the
training part's mean and standard deviation.

References:
  Moor, Horn, Rieck, Borgwardt. Topological Autoencoders. ICML 2020, Sec. 5.1;
  https://github.com/BorgwardtLab/topological-autoencoders
  (``src/datasets/manifolds.py``, ``src/datasets/topo_dataset/spheres.py``).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

__all__ = ["SpheresSplit", "make_spheres", "split_spheres"]


class SpheresSplit(NamedTuple):
    """The paper's train/test split of SPHERES, standardised.

    Attributes:
      train: ``(N_train, dim + 1)`` float32, standardised with its own statistics.
      train_labels: ``(N_train,)`` int64 sphere index.
      test: ``(N_test, dim + 1)`` float32, standardised with the training statistics.
      test_labels: ``(N_test,)`` int64.
      mean: ``(dim + 1,)`` float32 training mean that was subtracted.
      std: ``(dim + 1,)`` float32 training standard deviation that divided.
    """

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def _sphere(rng: np.random.RandomState, n: int, dim: int, radius: float) -> np.ndarray:
    """``n`` uniform points on the ``dim``-sphere of ``radius`` in R^(dim+1)."""
    g = rng.standard_normal((n, dim + 1))
    return radius * g / np.sqrt(np.sum(g**2, axis=1))[:, None]


def make_spheres(
    *,
    seed: int = 42,
    n_samples: int = 500,
    n_spheres: int = 11,
    dim: int = 100,
    radius: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates SPHERES as in the paper.

    Args:
      seed: seed of the legacy ``np.random.RandomState`` (the authors': 42).
      n_samples: points per small sphere (the large one gets ``10 n_samples``).
      n_spheres: number of spheres including the enclosing one (>= 2).
      dim: intrinsic dimension of each sphere; points live in R^(dim+1).
      radius: radius of the small spheres; the enclosing one has ``5 radius``.

    Returns:
      ``(points, labels)``: ``((n_spheres + 9) n_samples, dim + 1)`` float32 and
      int64 labels ``0 .. n_spheres - 1`` (the last one is the enclosing sphere),
      ordered sphere by sphere.

    Examples:
      >>> points, labels = make_spheres(n_samples=10, dim=3)
      >>> points.shape, int(labels.max())
      ((200, 4), 10)
    """
    n_samples = _positive_int(n_samples, "n_samples")
    dim = _positive_int(dim, "dim")
    if _positive_int(n_spheres, "n_spheres") < 2:
        raise ValueError(
            f"n_spheres must be >= 2 (small spheres plus the enclosing one); got {n_spheres}."
        )
    if not radius > 0:
        raise ValueError(f"radius must be > 0; got {radius!r}.")
    rng = np.random.RandomState(seed)
    offsets = rng.normal(0.0, 10.0 / math.sqrt(dim), (n_spheres, dim + 1))
    parts = [_sphere(rng, n_samples, dim, radius) + offsets[i] for i in range(n_spheres - 1)]
    parts.append(_sphere(rng, 10 * n_samples, dim, 5.0 * radius))
    labels = np.concatenate([np.full(len(p), i, np.int64) for i, p in enumerate(parts)])
    return np.concatenate(parts).astype(np.float32), labels


def split_spheres(
    points: np.ndarray, labels: np.ndarray, *, seed: int = 42, test_fraction: float = 0.1
) -> SpheresSplit:
    """The paper's train/test split of :func:`make_spheres`, standardised.

    Args:
      points: ``(N, D)`` points.
      labels: ``(N,)`` labels.
      seed: seed of the ``RandomState`` that permutes the points (authors: 42).
      test_fraction: held-out fraction in ``(0, 1)`` (authors: 0.1).

    Returns:
      A :class:`SpheresSplit`; the test points are ``permutation[:ceil(f N)]``
      and the training points the rest, in permutation order.
    """
    points = np.asarray(points)
    labels = np.asarray(labels)
    if points.ndim != 2 or labels.shape != points.shape[:1]:
        raise ValueError(
            f"points must be (N, D) and labels (N,); got {points.shape}, {labels.shape}."
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}.")
    n_test = math.ceil(test_fraction * len(points))
    order = np.random.RandomState(seed).permutation(len(points))
    test, train = order[:n_test], order[n_test:]
    mean = np.mean(points[train], axis=0, keepdims=True)
    std = np.std(points[train], axis=0, keepdims=True)
    return SpheresSplit(
        train=(points[train] - mean) / std,
        train_labels=labels[train],
        test=(points[test] - mean) / std,
        test_labels=labels[test],
        mean=mean[0],
        std=std[0],
    )
