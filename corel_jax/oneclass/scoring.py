"""One-class scores: COREL's ball count and the baselines' scorers.

A scorer is a function ``scorer(inlier_features (n, ...), test_features
(n_test, ...)) -> (n_test,) scores``, higher = more likely in-class. Every
scorer factory takes keyword-only hyperparameters. COREL's score is in
``docs/method.md#one-class-protocol``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax._checks import check_positive, check_positive_int
from corel_jax._extras import require
from corel_jax.persistence import Metric, pairwise_distances

__all__ = ["Scorer", "ball_count_scorer", "count_scores", "kde_scorer", "ocsvm_scorer"]

# scorer(inlier_features (n, ...), test_features (n_test, ...)) -> (n_test,) scores,
# higher = more likely in-class.
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _branch_counts(test: jax.Array, inliers: jax.Array, radius, num_branches: int, metric):
    """(b, D), (m, D) -> (b,) int32: in-ball inliers summed over branches."""
    b, d = test.shape
    w = d // num_branches
    t = test.reshape(b, num_branches, w).transpose(1, 0, 2)  # (K, b, w)
    s = inliers.reshape(inliers.shape[0], num_branches, w).transpose(1, 0, 2)  # (K, m, w)
    dist = jax.vmap(lambda a, c: pairwise_distances(a, c, metric=metric))(t, s)  # (K, b, m)
    return jnp.sum(dist <= radius, axis=(0, 2), dtype=jnp.int32)


_branch_counts_jit = jax.jit(_branch_counts, static_argnums=(3, 4))


def count_scores(
    test_codes: jax.typing.ArrayLike,
    inlier_codes: jax.typing.ArrayLike,
    *,
    radius: float = 2.0,
    num_branches: int = 16,
    metric: Metric = "l1",
    chunk_size: int = 512,
) -> np.ndarray:
    r"""COREL's one-class score: inlier codes within ``radius``, per branch, summed.

    .. math::
      s(x) = \sum_{k=1}^{K} \#\{\, y \in Y : d(x_k, y_k) \le r \,\}

    where ``x_k`` is the ``k``-th of ``K`` equal slices (branches) of the code
    ``x`` and ``Y`` the inlier codes. Distances are computed in float32 with
    :func:`corel_jax.persistence.pairwise_distances` (the metric of the
    training loss); a distance equal to ``r`` counts (exact for integer-valued
    codes under l1).

    The test codes are scored in jitted chunks of ``chunk_size``; the last one
    is padded, so there is one compilation per inlier count. Peak memory is
    about ``chunk_size * n_inliers * K`` distances.

    Args:
      test_codes: ``(n_test, D)`` codes to score.
      inlier_codes: ``(n_inliers, D)`` codes of the class.
      radius: ``r > 0`` (paper: ``eta = 2``).
      num_branches: ``K``, must divide ``D`` (paper: 16 branches of 10 dims).
      metric: the latent metric (paper: "l1"); see ``pairwise_distances``.
      chunk_size: test codes per jitted call.

    Returns:
      ``(n_test,)`` int32 scores in ``[0, K * n_inliers]``.

    Examples:
      >>> import numpy as np
      >>> test = np.array([[0.0, 0.0, 0.0, 0.0]])
      >>> inliers = np.array([[1.0, 1.0, 5.0, 0.0], [2.0, 1.0, 0.0, 2.0]])
      >>> count_scores(test, inliers, radius=2.0, num_branches=2)
      array([2], dtype=int32)

    References:
      Hofer et al., ICML 2019, Sec. 5 ("one-class learning").
    """
    test = np.asarray(test_codes, np.float32)
    inl = np.asarray(inlier_codes, np.float32)
    if test.ndim != 2 or inl.ndim != 2:
        raise ValueError(
            f"test_codes and inlier_codes must be 2-D; got shapes {test.shape} and {inl.shape}."
        )
    if test.shape[1] != inl.shape[1]:
        raise ValueError(
            f"inlier_codes have width {inl.shape[1]} but test_codes have width {test.shape[1]}."
        )
    check_positive_int(num_branches, "num_branches")
    if test.shape[1] % num_branches:
        raise ValueError(
            f"The code width {test.shape[1]} is not divisible by num_branches={num_branches}."
        )
    check_positive(radius, "radius")
    check_positive_int(chunk_size, "chunk_size")
    if len(inl) == 0:
        raise ValueError("inlier_codes is empty.")
    out = np.zeros(len(test), np.int32)
    chunk_size = min(int(chunk_size), max(len(test), 1))
    for start in range(0, len(test), chunk_size):
        part = test[start : start + chunk_size]
        real = len(part)
        if real < chunk_size:
            part = np.concatenate([part, np.zeros((chunk_size - real, part.shape[1]), part.dtype)])
        counts = _branch_counts_jit(part, inl, np.float32(radius), num_branches, metric)
        out[start : start + real] = np.asarray(counts)[:real]
    return out


def ball_count_scorer(
    *, radius: float = 2.0, num_branches: int = 16, metric: Metric = "l1"
) -> Scorer:
    """COREL's score (:func:`count_scores`) as a ``scorer(inliers, test) -> scores``.

    Args:
      radius: the ball radius ``r > 0`` (paper: ``eta = 2``).
      num_branches: branches of the code (paper: 16).
      metric: the latent metric (paper: "l1").

    Returns:
      A scorer; integer scores, higher = more in-class.
    """
    check_positive(radius, "radius")
    check_positive_int(num_branches, "num_branches")

    def score(inliers: np.ndarray, test: np.ndarray) -> np.ndarray:
        return count_scores(test, inliers, radius=radius, num_branches=num_branches, metric=metric)

    return score


def kde_scorer(*, chunk_size: int = 2048) -> Scorer:
    r"""Isotropic Gaussian kernel density estimate, bandwidth by Scott's rule.

    .. math::
      \log \hat p(x) = \operatorname{logsumexp}_{y \in Y}
        \Big(-\frac{\lVert x - y \rVert_2^2}{2 h^2}\Big) + \text{const},\qquad
      h = \sigma\, n^{-1/(d + 4)}

    with ``sigma`` the inliers' per-dimension standard deviation averaged over
    the ``d`` dimensions (1 if it is 0). A full-covariance KDE
    (``scipy.stats.gaussian_kde``) is singular for 120 points in 160 dims, so
    the kernel is isotropic. The constant does not change the ranking and is
    left out.

    Args:
      chunk_size: test points per jitted call.

    Returns:
      A scorer; float log-densities, higher = more in-class.

    References:
      Scott, Multivariate Density Estimation, 1992 (Scott's rule).
    """
    check_positive_int(chunk_size, "chunk_size")

    @jax.jit
    def logdens(x, y, h):
        sq = pairwise_distances(x, y, metric="sqeuclidean")
        return jax.nn.logsumexp(-sq / (2 * h * h), axis=1)

    def score(inliers: np.ndarray, test: np.ndarray) -> np.ndarray:
        inliers = np.asarray(inliers, np.float32).reshape(len(inliers), -1)
        test = np.asarray(test, np.float32).reshape(len(test), -1)
        n, d = inliers.shape
        sigma = float(np.mean(np.std(inliers, axis=0))) or 1.0
        h = np.float32(sigma * n ** (-1.0 / (d + 4)))
        parts = [
            np.asarray(logdens(test[i : i + chunk_size], inliers, h))
            for i in range(0, len(test), chunk_size)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    return score


def ocsvm_scorer(*, nu: float = 0.1, gamma: str | float = "scale", **kwargs) -> Scorer:
    """scikit-learn's ``OneClassSVM`` fitted on the inliers; its decision function.

    Defaults: RBF kernel, ``gamma="scale"`` (``1 / (d * Var(X))``), ``nu=0.1``
    (an upper bound on the fraction of training outliers).

    Args:
      nu: ``OneClassSVM``'s ``nu`` in ``(0, 1]``.
      gamma: ``OneClassSVM``'s ``gamma``.
      **kwargs: further ``OneClassSVM`` arguments (``kernel``, ``tol``, ...).

    Returns:
      A scorer; signed distances to the boundary, higher = more in-class.

    References:
      Schoelkopf et al., Estimating the Support of a High-Dimensional
      Distribution, Neural Computation 2001.
    """
    if not 0 < nu <= 1:
        raise ValueError(f"nu must be in (0, 1]; got {nu!r}.")
    params = {"kernel": "rbf", "nu": nu, "gamma": gamma, **kwargs}

    def score(inliers: np.ndarray, test: np.ndarray) -> np.ndarray:
        svm = require("sklearn.svm", purpose="the OC-SVM baseline")
        inliers = np.asarray(inliers, np.float64).reshape(len(inliers), -1)
        test = np.asarray(test, np.float64).reshape(len(test), -1)
        return svm.OneClassSVM(**params).fit(inliers).decision_function(test)

    return score
