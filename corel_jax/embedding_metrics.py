r"""Quality measures of a low-dimensional embedding, as in the TopoAE paper.

For data ``X`` (``n`` points) and their embedding ``Z`` (e.g. 2-D latent
codes), with Euclidean distance matrices ``D^X``, ``D^Z``:

* ``KL_sigma``: the Kullback-Leibler divergence ``KL(P^X || P^Z)`` between two
  point densities, ``P^X_i \propto \sum_j \exp(-(D^X_{ij} / \max D^X)^2 / \sigma)``
  (a Gaussian kernel density at every point, distances scaled by the largest
  one), and ``P^Z`` likewise; sigma = 0.01, 0.1, 1 in the paper's table.
* ``l-RMSE``: ``sqrt(mean((D^X - D^Z)^2))`` over all ``n^2`` entries (no
  rescaling: the embedding's scale matters).
* For a neighbourhood size ``k``, with ``r^X_{ij}`` the rank of ``j`` among the
  neighbours of ``i`` in ``X`` (nearest = 1, the point itself = 0) and
  ``N^X_k(i)`` its ``k`` nearest neighbours (``r^Z``, ``N^Z_k`` likewise):

  - trustworthiness
    ``1 - 2 / (n k (2n - 3k - 1)) \sum_i \sum_{j \in N^Z_k(i) \setminus N^X_k(i)} (r^X_{ij} - k)``
    (penalises false latent neighbours);
  - continuity: the same with ``X`` and ``Z`` swapped (missed neighbours);
  - MRRE, a pair: ``\sum_i \sum_{j \in N^Z_k(i)} |r^X_{ij} - r^Z_{ij}| / r^Z_{ij} / C``
    and ``\sum_i \sum_{j \in N^X_k(i)} |r^X_{ij} - r^Z_{ij}| / r^X_{ij} / C``,
    ``C = n \sum_{j=1}^{k} |2j - n - 1| / j``.

  The paper's table reports each of them averaged over
  ``k = 10, 20, ..., 200`` (the "l-" prefix); for the MRRE also averaged over
  its two directions.
* ``data MSE``: ``mean((x - \hat x)^2)`` of the reconstructions.

Ranks follow the authors' evaluation code: a stable sort of each row of the
distance matrix (ties by index), so the numbers are theirs on the same
inputs; trustworthiness and continuity equal
``sklearn.manifold.trustworthiness`` on data without tied distances (the
tests check this). Ranks are computed once and shared by all ``k``.

Memory: two ``(n, n)`` float64 distance matrices and two ``(n, n)`` int32
rank matrices (``n = 10,000``: about 2.4 GB).

References:
  Moor, Horn, Rieck, Borgwardt. Topological Autoencoders. ICML 2020, Sec. 5
  and the supplement; https://github.com/BorgwardtLab/topological-autoencoders
  (``src/evaluation/measures_optimized.py``).
  Venna, Kaski. Local multidimensional scaling. Neural Networks, 2006
  (trustworthiness and continuity).
  Lee, Verleysen. Nonlinear Dimensionality Reduction. Springer, 2007 (MRRE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

__all__ = [
    "KL_SIGMAS",
    "NEIGHBOURHOOD_SIZES",
    "TABLE_METRICS",
    "Neighbourhoods",
    "continuity",
    "data_mse",
    "density_kl",
    "distance_rmse",
    "evaluate_embedding",
    "mrre",
    "neighbourhoods",
    "trustworthiness",
]

# The paper's table: KL at these sigmas, the l- measures averaged over these k.
KL_SIGMAS: tuple[float, ...] = (0.01, 0.1, 1.0)
NEIGHBOURHOOD_SIZES: tuple[int, ...] = tuple(range(10, 201, 10))
TABLE_METRICS: tuple[str, ...] = (
    "kl_0.01",
    "kl_0.1",
    "kl_1",
    "l_mrre",
    "l_continuity",
    "l_trustworthiness",
    "l_rmse",
    "data_mse",
)


class Neighbourhoods(NamedTuple):
    """Neighbourhoods and ranks of one space.

    Attributes:
      neighbours: ``(n, k_max)`` int; row ``i`` lists the ``k_max`` nearest
        other points of ``i``, nearest first.
      ranks: ``(n, n)`` int32; ``ranks[i, j]`` is the rank of ``j`` in row
        ``i`` (0 for ``i`` itself, 1 for its nearest neighbour).
    """

    neighbours: np.ndarray
    ranks: np.ndarray


def _as_points(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2:
        raise ValueError(f"{name} must have shape (n, ...); got {a.shape}.")
    return a.reshape(a.shape[0], -1)


def _distances(points) -> np.ndarray:
    return cdist(points, points)


def neighbourhoods(dist: np.ndarray, k_max: int) -> Neighbourhoods:
    """Nearest neighbours and ranks of a distance matrix (stable sort of each row).

    Args:
      dist: ``(n, n)`` distances.
      k_max: the largest neighbourhood size needed, ``1 <= k_max < n``.

    Returns:
      :class:`Neighbourhoods`.
    """
    n = dist.shape[0]
    if not 1 <= k_max < n:
        raise ValueError(f"k_max must satisfy 1 <= k_max < n = {n}; got {k_max}.")
    order = np.argsort(dist, axis=1, kind="stable")
    ranks = np.empty((n, n), np.int32)
    np.put_along_axis(ranks, order, np.arange(n, dtype=np.int32)[None, :], axis=1)
    return Neighbourhoods(order[:, 1 : k_max + 1], ranks)


def _check_k(k: int, n: int, hoods: Neighbourhoods) -> None:
    if not 1 <= k <= hoods.neighbours.shape[1]:
        raise ValueError(f"k must satisfy 1 <= k <= {hoods.neighbours.shape[1]}; got {k}.")
    if 2 * n - 3 * k - 1 <= 0:
        raise ValueError(f"k={k} is too large for n={n} points (needs 2n - 3k - 1 > 0).")


def _rank_penalty(near: Neighbourhoods, far: Neighbourhoods, k: int) -> float:
    """Trustworthiness of ``near``'s neighbourhoods judged by ``far``'s ranks."""
    n = far.ranks.shape[0]
    _check_k(k, n, near)
    r = np.take_along_axis(far.ranks, near.neighbours[:, :k], axis=1).astype(np.int64)
    intruder = (r < 1) | (r > k)  # not among far's k nearest
    total = float(np.sum(np.where(intruder, r - k, 0)))
    return 1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * total


def trustworthiness(x: Neighbourhoods, z: Neighbourhoods, k: int) -> float:
    """Trustworthiness of embedding ``z`` of data ``x`` at neighbourhood size ``k``."""
    return _rank_penalty(z, x, k)


def continuity(x: Neighbourhoods, z: Neighbourhoods, k: int) -> float:
    """Continuity of embedding ``z`` of data ``x``: trustworthiness with roles swapped."""
    return _rank_penalty(x, z, k)


def mrre(x: Neighbourhoods, z: Neighbourhoods, k: int) -> tuple[float, float]:
    """Mean relative rank errors ``(Z -> X, X -> Z)`` at neighbourhood size ``k``."""
    n = x.ranks.shape[0]
    _check_k(k, n, x)

    def relative_error(hood: Neighbourhoods, other: Neighbourhoods) -> float:
        own = np.take_along_axis(hood.ranks, hood.neighbours[:, :k], axis=1).astype(np.float64)
        theirs = np.take_along_axis(other.ranks, hood.neighbours[:, :k], axis=1)
        return float(np.sum(np.abs(own - theirs) / own))

    j = np.arange(1, k + 1)
    c = n * np.sum(np.abs(2 * j - n - 1) / j)
    return relative_error(z, x) / c, relative_error(x, z) / c


def density_kl(dist_x: np.ndarray, dist_z: np.ndarray, sigma: float) -> float:
    """``KL(P^X || P^Z)`` of the Gaussian point densities at bandwidth ``sigma``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}.")

    def density(dist):
        scaled = dist / dist.max()
        f = np.sum(np.exp(-(scaled**2) / sigma), axis=-1)
        return f / f.sum()

    px, pz = density(dist_x), density(dist_z)
    return float(np.sum(px * (np.log(px) - np.log(pz))))


def distance_rmse(dist_x: np.ndarray, dist_z: np.ndarray) -> float:
    """Root mean square difference of two ``(n, n)`` distance matrices."""
    return float(np.sqrt(np.mean((dist_x - dist_z) ** 2)))


def data_mse(x, x_hat) -> float:
    """Mean squared reconstruction error over all values."""
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}.")
    return float(np.mean((x - x_hat) ** 2))


def evaluate_embedding(
    x,
    z,
    *,
    x_hat=None,
    ks: Sequence[int] = NEIGHBOURHOOD_SIZES,
    sigmas: Sequence[float] = KL_SIGMAS,
) -> dict[str, float]:
    """All of the paper's table measures for one embedding.

    Args:
      x: ``(n, ...)`` data (flattened to ``(n, D)``).
      z: ``(n, d)`` embedding of the same points, in the same order.
      x_hat: optional reconstructions of ``x`` (for ``data_mse``).
      ks: the neighbourhood sizes averaged into the ``l_`` measures.
      sigmas: the KL bandwidths.

    Returns:
      A dict with ``kl_<sigma>`` (``kl_0.01``, ``kl_0.1``, ``kl_1``),
      ``l_mrre`` (mean over ``ks`` and both directions), ``l_continuity``,
      ``l_trustworthiness`` (means over ``ks``), ``l_rmse`` and, given
      ``x_hat``, ``data_mse``; also the per-``k`` lists under
      ``per_k_mrre``, ``per_k_continuity``, ``per_k_trustworthiness``.
    """
    x = _as_points(x, "x")
    z = _as_points(z, "z")
    if x.shape[0] != z.shape[0]:
        raise ValueError(f"x and z must hold the same points; got {x.shape[0]} and {z.shape[0]}.")
    ks = [int(k) for k in ks]
    if not ks:
        raise ValueError("ks must not be empty.")
    dx, dz = _distances(x), _distances(z)
    result: dict[str, float] = {f"kl_{s:g}": density_kl(dx, dz, s) for s in sigmas}
    result["l_rmse"] = distance_rmse(dx, dz)
    hx, hz = neighbourhoods(dx, max(ks)), neighbourhoods(dz, max(ks))
    del dx, dz
    per_k_mrre = [mrre(hx, hz, k) for k in ks]
    per_k_cont = [continuity(hx, hz, k) for k in ks]
    per_k_trust = [trustworthiness(hx, hz, k) for k in ks]
    result["l_mrre"] = float(np.mean(per_k_mrre))
    result["l_continuity"] = float(np.mean(per_k_cont))
    result["l_trustworthiness"] = float(np.mean(per_k_trust))
    if x_hat is not None:
        result["data_mse"] = data_mse(x, _as_points(x_hat, "x_hat"))
    result["per_k_mrre"] = [list(pair) for pair in per_k_mrre]  # type: ignore[assignment]
    result["per_k_continuity"] = per_k_cont  # type: ignore[assignment]
    result["per_k_trustworthiness"] = per_k_trust  # type: ignore[assignment]
    return result
