"""The paper's one-class evaluation ("Ours-120", REFERENCE.md §4) and its baselines.

A backbone is trained once without labels; then, for each class ``c`` of an
evaluation dataset, ``n`` inliers of class ``c`` are drawn from the TRAIN
split and every TEST example is scored:

    score(x) = sum over branches k of #{ inliers y : d(f_k(x), f_k(y)) <= r },

the number of inlier codes within radius ``r = eta`` of ``x`` in each branch
(boundary inside). AUROC with class ``c`` positive (scikit-learn's
``roc_auc_score``, so tied scores count one half as in the paper), repeated
over ``runs`` independent draws; per class mean and std over runs, and the
mean over classes.

Evaluators take arrays (codes, or any features) and score functions, never a
model. Every method of one evaluation sees the same inlier draws
(:func:`draw_inliers` is called once per class and run).

References:
  Hofer et al., Connectivity-Optimized Representation Learning via Persistent
  Homology, ICML 2019, Sec. 5.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence import Metric, pairwise_distances

__all__ = [
    "METHODS",
    "Method",
    "OneClassResult",
    "ball_count_scorer",
    "build_methods",
    "count_scores",
    "draw_inliers",
    "evaluate_methods",
    "evaluate_oneclass",
    "format_table",
    "kde_scorer",
    "ocsvm_scorer",
    "pixel_features",
    "plot_result",
    "write_report",
]

# scorer(inlier_features (n, ...), test_features (n_test, ...)) -> (n_test,) scores,
# higher = more likely in-class.
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------- checks


def _check_positive(value, name: str, *, integer: bool = False) -> None:
    if integer:
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0
        if not ok:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    elif isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}.")
    elif not value > 0:
        raise ValueError(f"{name} must be > 0; got {value!r}.")


# ----------------------------------------------------------------- the score


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
    _check_positive(num_branches, "num_branches", integer=True)
    if test.shape[1] % num_branches:
        raise ValueError(
            f"The code width {test.shape[1]} is not divisible by num_branches={num_branches}."
        )
    _check_positive(radius, "radius")
    _check_positive(chunk_size, "chunk_size", integer=True)
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


# --------------------------------------------------------------- the scorers


def ball_count_scorer(radius: float = 2.0, num_branches: int = 16, metric: Metric = "l1") -> Scorer:
    """COREL's score (:func:`count_scores`) as a ``scorer(inliers, test) -> scores``.

    Args:
      radius: the ball radius ``r > 0`` (paper: ``eta = 2``).
      num_branches: branches of the code (paper: 16).
      metric: the latent metric (paper: "l1").

    Returns:
      A scorer; integer scores, higher = more in-class.
    """
    _check_positive(radius, "radius")
    _check_positive(num_branches, "num_branches", integer=True)

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
    _check_positive(chunk_size, "chunk_size", integer=True)

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
        from sklearn.svm import OneClassSVM

        inliers = np.asarray(inliers, np.float64).reshape(len(inliers), -1)
        test = np.asarray(test, np.float64).reshape(len(test), -1)
        return OneClassSVM(**params).fit(inliers).decision_function(test)

    return score


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Raw-pixel features: ``(N, H, W, C)`` uint8 -> ``(N, H*W*C)`` float32 in ``[0, 1]``."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"images must have a batch axis; got shape {images.shape}.")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


class Method(NamedTuple):
    """A method of a comparison: a scorer and the features it scores.

    Attributes:
      scorer: ``scorer(inlier_features, test_features) -> (n_test,) scores``.
      train_features: ``(n_train, ...)``, rows aligned with the train labels;
        the inliers are drawn from these.
      test_features: ``(n_test, ...)``, rows aligned with the test labels.
    """

    scorer: Scorer
    train_features: np.ndarray
    test_features: np.ndarray


# -------------------------------------------------------------- the protocol


@dataclasses.dataclass
class OneClassResult:
    """AUROCs of every method, class and run.

    Attributes:
      auroc: ``{method: (num_classes, runs) array}``.
      classes: the evaluated class labels.
      class_names: their names.
      n: inliers per class and run.
      runs: independent draws per class.
      seed: the base seed of the draws.
    """

    auroc: dict[str, np.ndarray]
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    n: int
    runs: int
    seed: int

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.auroc)

    def class_mean(self, method: str) -> np.ndarray:
        """``(num_classes,)`` mean AUROC over runs."""
        return self.auroc[method].mean(axis=1)

    def class_std(self, method: str) -> np.ndarray:
        """``(num_classes,)`` standard deviation (``ddof=0``) of the AUROC over runs."""
        return self.auroc[method].std(axis=1)

    def mean(self, method: str) -> float:
        """The headline figure: mean over classes of the per-class mean over runs."""
        return float(self.class_mean(method).mean())

    def to_dict(self) -> dict:
        """A JSON-ready dict of the parameters and, per method, all AUROCs and summaries."""
        return {
            "n": self.n,
            "runs": self.runs,
            "seed": self.seed,
            "classes": list(self.classes),
            "class_names": list(self.class_names),
            "methods": {
                m: {
                    "mean": self.mean(m),
                    "per_class_mean": self.class_mean(m).tolist(),
                    "per_class_std": self.class_std(m).tolist(),
                    "auroc": self.auroc[m].tolist(),
                }
                for m in self.auroc
            },
        }


def draw_inliers(train_labels: np.ndarray, cls: int, n: int, *, seed: int, run: int) -> np.ndarray:
    """Indices of ``n`` train examples of class ``cls``, drawn without replacement.

    The generator is ``np.random.default_rng([seed, run, cls])``: a fixed
    function of the three, independent across runs and classes, and the same
    for every method compared.

    Args:
      train_labels: ``(n_train,)`` integer labels.
      cls: the class, a non-negative int.
      n: how many to draw.
      seed: the base seed (non-negative int).
      run: the run index (non-negative int).

    Returns:
      ``(n,)`` int64 indices into ``train_labels``, all of class ``cls``.
    """
    if int(cls) < 0 or int(seed) < 0 or int(run) < 0:
        raise ValueError(f"cls, seed and run must be >= 0; got {cls}, {seed}, {run}.")
    pool = np.flatnonzero(np.asarray(train_labels) == cls)
    if len(pool) < n:
        raise ValueError(f"Class {cls} has {len(pool)} training examples, fewer than n={n}.")
    rng = np.random.default_rng([int(seed), int(run), int(cls)])
    return rng.choice(pool, size=n, replace=False)


def evaluate_methods(
    methods: Mapping[str, Method],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    n: int = 120,
    runs: int = 5,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool = True,
) -> OneClassResult:
    """The paper's one-class protocol for several methods on the same inlier draws.

    For each class ``c`` and run ``r``, :func:`draw_inliers` draws ``n``
    indices of class ``c`` from the train split ONCE; every method scores the
    whole test split from its own features of those inliers, and its AUROC
    with ``c`` positive (``sklearn.metrics.roc_auc_score``: tied scores count
    one half) is recorded.

    Args:
      methods: ``{name: Method(scorer, train_features, test_features)}``; the
        features may differ between methods (codes, raw pixels, ...).
      train_labels: ``(n_train,)`` int labels of the split inliers come from.
      test_labels: ``(n_test,)`` int labels of the scored split.
      n: inliers per class and run (paper: 120; also 80 and 500).
      runs: independent draws per class (paper: 5).
      seed: base seed of the draws (non-negative int).
      classes: the classes to evaluate (default: every label in ``test_labels``).
      class_names: names indexed by label, for the report (default: the labels).
      progress: show progress over classes x runs (a tqdm bar on a terminal,
        one line per class otherwise).

    Returns:
      A :class:`OneClassResult` with ``(num_classes, runs)`` AUROCs per method.
    """
    from sklearn.metrics import roc_auc_score

    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if not methods:
        raise ValueError("methods is empty.")
    _check_positive(n, "n", integer=True)
    _check_positive(runs, "runs", integer=True)
    if train_labels.ndim != 1 or test_labels.ndim != 1:
        raise ValueError(
            f"train_labels and test_labels must be 1-D; got shapes {train_labels.shape} "
            f"and {test_labels.shape}."
        )
    for name, m in methods.items():
        if len(m.train_features) != len(train_labels):
            raise ValueError(
                f"{name}: {len(m.train_features)} train features but {len(train_labels)} labels."
            )
        if len(m.test_features) != len(test_labels):
            raise ValueError(
                f"{name}: {len(m.test_features)} test features but {len(test_labels)} labels."
            )
    classes = tuple(int(c) for c in (np.unique(test_labels) if classes is None else classes))
    if not classes:
        raise ValueError("No classes to evaluate.")
    if class_names is not None and any(not 0 <= c < len(class_names) for c in classes):
        raise ValueError(
            f"class_names has {len(class_names)} names; it has none for some of {classes}."
        )
    names = tuple(str(class_names[c]) if class_names is not None else str(c) for c in classes)
    label = {  # how messages name a class
        c: (f"{name!r} (label {c})" if class_names is not None else f"{c}")
        for c, name in zip(classes, names, strict=True)
    }
    for c in classes:
        k = int(np.sum(test_labels == c))
        if k == 0 or k == len(test_labels):
            raise ValueError(
                f"Class {label[c]} has {k} of {len(test_labels)} test examples; the AUROC "
                "needs both positives and negatives."
            )
    counts = {c: int(np.sum(train_labels == c)) for c in classes}
    short = ", ".join(f"{label[c]}: {k}" for c, k in counts.items() if k < n)
    if short:
        raise ValueError(
            f"n={n} inliers are needed per class, but these classes have fewer training "
            f"examples: {short}."
        )
    auroc = {m: np.zeros((len(classes), runs)) for m in methods}
    bar = None
    plain = progress and not sys.stdout.isatty()  # plain lines in logs, a bar on a terminal
    if progress and not plain:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(classes) * runs, desc=f"one-class n={n}", unit="task", file=sys.stdout)
    try:
        for ci, c in enumerate(classes):
            positive = test_labels == c
            for r in range(runs):
                idx = draw_inliers(train_labels, c, n, seed=seed, run=r)
                for name, m in methods.items():
                    scores = np.asarray(m.scorer(m.train_features[idx], m.test_features))
                    if scores.shape != (len(test_labels),):
                        raise ValueError(
                            f"{name}: the scorer returned shape {scores.shape}; expected "
                            f"({len(test_labels)},)."
                        )
                    auroc[name][ci, r] = roc_auc_score(positive, scores)
                if bar is not None:
                    bar.update(1)
            if plain:
                means = ", ".join(f"{m} {auroc[m][ci].mean():.3f}" for m in methods)
                print(
                    f"one-class n={n}: class {names[ci]} ({ci + 1}/{len(classes)}): {means}",
                    flush=True,
                )
    finally:
        if bar is not None:
            bar.close()
    return OneClassResult(auroc, classes, names, int(n), int(runs), int(seed))


def evaluate_oneclass(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    *,
    scorer: Scorer | Mapping[str, Scorer] | None = None,
    n: int = 120,
    runs: int = 5,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool = True,
) -> OneClassResult:
    """The paper's one-class protocol on one set of codes ("Ours-120" for n=120).

    For each class ``c``: ``runs`` times, draw ``n`` inliers of class ``c``
    from the train codes without replacement (:func:`draw_inliers`, seeded by
    ``(seed, run, c)``), score all test codes with ``scorer(inliers, test)``
    and take the AUROC with ``c`` positive (scikit-learn's ``roc_auc_score``;
    ties count one half). See :func:`evaluate_methods` for methods on different
    features (e.g. raw pixels); it is what this function calls.

    Args:
      train_codes: ``(n_train, ...)`` features of the train split.
      train_labels: ``(n_train,)`` int labels.
      test_codes: ``(n_test, ...)`` features of the test split.
      test_labels: ``(n_test,)`` int labels.
      scorer: ``scorer(inlier_codes, test_codes) -> (n_test,)`` scores, higher
        = more in-class (e.g. :func:`ball_count_scorer`), or ``{name: scorer}``
        to compare several on the same draws. A single scorer is named
        ``"score"`` in the result.
      n: inliers per class and run (paper: 120).
      runs: independent draws per class (paper: 5).
      seed: base seed of the draws.
      classes: the classes to evaluate (default: every test label).
      class_names: names indexed by label (default: the labels).
      progress: show progress over classes x runs.

    Returns:
      A :class:`OneClassResult`.

    Examples:
      >>> import numpy as np
      >>> labels = np.repeat([0, 1], 10)
      >>> codes = labels[:, None] * 5.0 + np.linspace(0, 1, 20)[:, None]
      >>> res = evaluate_oneclass(codes, labels, codes, labels, n=3, runs=2,
      ...     scorer=ball_count_scorer(radius=2.0, num_branches=1), progress=False)
      >>> res.mean("score")
      1.0

    References:
      Hofer et al., ICML 2019, Sec. 5; REFERENCE.md §4.
    """
    kwargs = dict(
        n=n, runs=runs, seed=seed, classes=classes, class_names=class_names, progress=progress
    )
    if isinstance(train_codes, Mapping):
        raise TypeError(
            "evaluate_oneclass takes codes and scorer=...; for {name: Method} use evaluate_methods."
        )
    if scorer is None:
        raise TypeError("evaluate_oneclass() needs scorer=..., e.g. ball_count_scorer().")
    scorers = dict(scorer) if isinstance(scorer, Mapping) else {"score": scorer}
    for name, s in scorers.items():
        if not callable(s):
            raise TypeError(f"scorer {name!r} is not callable; got {type(s).__name__}.")
    train_codes, test_codes = np.asarray(train_codes), np.asarray(test_codes)
    if train_codes.ndim < 2 or test_codes.ndim < 2:
        raise ValueError(
            f"train_codes and test_codes must be (N, ...) with N rows of features; got shapes "
            f"{train_codes.shape} and {test_codes.shape}."
        )
    if train_codes.shape[1:] != test_codes.shape[1:]:
        raise ValueError(
            f"train_codes have feature shape {train_codes.shape[1:]} but test_codes have "
            f"{test_codes.shape[1:]}."
        )
    methods = {name: Method(s, train_codes, test_codes) for name, s in scorers.items()}
    return evaluate_methods(methods, train_labels, test_labels, **kwargs)


# ------------------------------------------------------------------- reports


def _check_published(result: OneClassResult, published) -> dict[str, list[float]]:
    out = {}
    for name, values in dict(published or {}).items():
        values = [float(v) for v in values]
        if len(values) != len(result.classes):
            raise ValueError(
                f"published[{name!r}] has {len(values)} values but the result has "
                f"{len(result.classes)} classes."
            )
        out[str(name)] = values
    return out


def format_table(
    result: OneClassResult, *, published: Mapping[str, Sequence[float]] | None = None
) -> str:
    """A Markdown table: per class ``mean ± std`` for each method, and the mean row.

    Args:
      result: the evaluation.
      published: optional ``{name: per-class values}`` shown as extra columns.

    Returns:
      The table, one row per class plus a bold mean row.
    """
    methods = list(result.auroc)
    pub = _check_published(result, published)
    header = ["class", *methods, *[f"{k} (published)" for k in pub]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, name in enumerate(result.class_names):
        cells = [f"{result.class_mean(m)[i]:.3f} ± {result.class_std(m)[i]:.3f}" for m in methods]
        cells += [f"{v[i]:.3f}" for v in pub.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"**{result.mean(m):.3f}**" for m in methods]
    cells += [f"**{np.mean(v):.3f}**" for v in pub.values()]
    lines.append("| mean | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _atomic_write(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_result(
    result: OneClassResult,
    path: str | os.PathLike,
    *,
    title: str = "",
    published: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """A PNG bar chart of per-class AUROC, written atomically.

    Grouped bars per class, one per method, error bars = std over runs, a
    dashed line at each method's mean; published values (if any) as hatched
    bars without error bars.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pub = _check_published(result, published)
    series = [(m, result.class_mean(m), result.class_std(m), result.mean(m)) for m in result.auroc]
    series += [(f"{k} (published)", np.asarray(v), None, float(np.mean(v))) for k, v in pub.items()]
    k = len(result.class_names)
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * k + 2) + 2.5, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (label, mean, std, overall) in enumerate(series):
        color = colors[j % len(colors)]
        xs = np.arange(k) + (j - (len(series) - 1) / 2) * width
        ax.bar(xs, mean, width, yerr=std, capsize=2, color=color, label=f"{label} ({overall:.3f})",
               hatch="//" if std is None else None, alpha=0.6 if std is None else 1.0)  # fmt: skip
        ax.axhline(overall, color=color, linestyle="--", linewidth=1)
    ax.axhline(0.5, color="gray", linewidth=0.8)
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(
        result.class_names, rotation=30 if k > 5 else 0, ha="right" if k > 5 else "center"
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("AUROC")
    ax.set_title(title or f"One-class AUROC, n={result.n}, {result.runs} runs")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="method (mean)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    _atomic_write(Path(path), buf.getvalue())


def write_report(
    result: OneClassResult,
    outdir: str | os.PathLike,
    *,
    published: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
    extra: Mapping | None = None,
) -> dict[str, Path]:
    """Writes the results as JSON, CSV, Markdown and a PNG chart, each atomically.

    Args:
      result: the evaluation.
      outdir: the output folder (created).
      published: optional ``{name: per-class values}`` shown beside the results.
      title: a heading for the Markdown and the chart.
      extra: more JSON-serialisable entries for ``results.json``.

    Returns:
      ``{"json", "csv", "md", "png"}`` -> the paths of ``results.json``,
      ``results.csv`` (one row per method and class plus a mean row),
      ``results.md`` and ``auroc.png``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pub = _check_published(result, published)
    payload = result.to_dict()
    payload["published"] = pub
    payload.update(extra or {})
    paths = {
        "json": outdir / "results.json",
        "csv": outdir / "results.csv",
        "md": outdir / "results.md",
        "png": outdir / "auroc.png",
    }
    _atomic_write(paths["json"], (json.dumps(payload, indent=2) + "\n").encode())
    rows = io.StringIO()
    w = csv.writer(rows, lineterminator="\n")
    w.writerow(
        ["method", "class", "class_name", "mean", "std", *[f"run{r}" for r in range(result.runs)]]
    )
    blank = [""] * result.runs
    for m in result.auroc:
        for i, (c, name) in enumerate(zip(result.classes, result.class_names, strict=True)):
            w.writerow([m, c, name, f"{result.class_mean(m)[i]:.6f}", f"{result.class_std(m)[i]:.6f}",
                        *[f"{v:.6f}" for v in result.auroc[m][i]]])  # fmt: skip
        w.writerow([m, "mean", "", f"{result.mean(m):.6f}", "", *blank])
    for k, values in pub.items():
        for c, name, v in zip(result.classes, result.class_names, values, strict=True):
            w.writerow([f"{k} (published)", c, name, f"{v:.6f}", "", *blank])
        w.writerow([f"{k} (published)", "mean", "", f"{np.mean(values):.6f}", "", *blank])
    _atomic_write(paths["csv"], rows.getvalue().encode())
    md = (f"# {title}\n\n" if title else "") + format_table(result, published=pub) + "\n"
    _atomic_write(paths["md"], md.encode())
    plot_result(result, paths["png"], title=title, published=pub)
    return paths


# -------------------------------------------------------------- command line

METHODS = ("corel", "lambda0", "kde", "ocsvm", "raw_ocsvm")


def build_methods(
    names: Sequence[str],
    *,
    codes: tuple[np.ndarray, np.ndarray],
    pixels: tuple[np.ndarray, np.ndarray],
    radius: float,
    num_branches: int,
    metric: Metric,
    baseline_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Method]:
    """The named methods of :data:`METHODS` over (train, test) features.

    ``corel``: ball counts on the codes; ``lambda0``: ball counts on the codes
    of the same model trained with ``lambda = 0`` (``baseline_codes``);
    ``kde``/``ocsvm``: :func:`kde_scorer`/:func:`ocsvm_scorer` on the codes;
    ``raw_ocsvm``: :func:`ocsvm_scorer` on raw pixels (:func:`pixel_features`).
    """
    ball = ball_count_scorer(radius=radius, num_branches=num_branches, metric=metric)
    table = {
        "corel": lambda: Method(ball, *codes),
        "kde": lambda: Method(kde_scorer(), *codes),
        "ocsvm": lambda: Method(ocsvm_scorer(), *codes),
        "raw_ocsvm": lambda: Method(ocsvm_scorer(), *pixels),
        "lambda0": lambda: Method(ball, *baseline_codes),
    }
    out = {}
    for name in names:
        if name not in table:
            raise ValueError(f"Unknown method {name!r}; expected some of {METHODS}.")
        if name == "lambda0" and baseline_codes is None:
            raise ValueError("Method 'lambda0' needs a baseline backbone (--baseline-workdir).")
        out[name] = table[name]()
    return out


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax oneclass``."""
    parser.add_argument("--workdir", required=True, help="The backbone's training work directory.")
    parser.add_argument(
        "--baseline-workdir",
        default=None,
        help="The same model trained with lambda=0 (adds the method lambda0).",
    )
    parser.add_argument(
        "--dataset", default=None, help="Evaluation dataset (default: the backbone's)."
    )
    parser.add_argument("--data-dir", default=None, help="tfds data dir or IDX folder.")
    parser.add_argument("--n", type=int, default=120, help="Inliers per class and run.")
    parser.add_argument("--runs", type=int, default=5, help="Independent inlier draws per class.")
    parser.add_argument(
        "--radius", type=float, default=None, help="Ball radius (default: the backbone's eta)."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the inlier draws.")
    parser.add_argument("--outdir", default=None, help="Default: WORKDIR/oneclass_DATASET.")
    parser.add_argument(
        "--methods",
        default="corel,kde,ocsvm,raw_ocsvm",
        help=f"Comma-separated subset of {','.join(METHODS)} (lambda0 needs --baseline-workdir; "
        "it is added automatically when that is given).",
    )
    parser.add_argument(
        "--max-test-examples", type=int, default=None, help="Score only the first N test examples."
    )


def run_cli(args: argparse.Namespace) -> int:
    """``corel-jax oneclass``: encode, evaluate every method, print and write the report."""
    from corel_jax import data
    from corel_jax.train import encode, load_backbone

    try:
        names = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(names) - set(METHODS))
        if unknown or not names:
            raise ValueError(f"--methods: unknown {unknown}; expected some of {METHODS}.")
        if args.baseline_workdir and "lambda0" not in names:
            names.insert(1 if "corel" in names else 0, "lambda0")
        _check_positive(args.n, "--n", integer=True)
        _check_positive(args.runs, "--runs", integer=True)
        if args.radius is not None:
            _check_positive(args.radius, "--radius")
        model, config = load_backbone(args.workdir)
        dataset = args.dataset or config.dataset
        radius = float(config.eta if args.radius is None else args.radius)
        data_dir = args.data_dir or config.data_dir
        train = data.load(dataset, "train", data_dir=data_dir)
        test = data.load(dataset, "test", data_dir=data_dir)
        if args.max_test_examples:
            m = args.max_test_examples
            test = dataclasses.replace(test, images=test.images[:m], labels=test.labels[:m])
        if tuple(train.images.shape[1:]) != tuple(model.input_shape):
            raise ValueError(
                f"{dataset} images have shape {train.images.shape[1:]} but the backbone takes "
                f"{tuple(model.input_shape)}."
            )
        print(
            f"encoding {len(train)} train and {len(test)} test images of {dataset} ...", flush=True
        )
        codes = (encode(model, train.images), encode(model, test.images))
        baseline = None
        if "lambda0" in names:
            if not args.baseline_workdir:
                raise ValueError("Method 'lambda0' needs --baseline-workdir.")
            base_model, _ = load_backbone(args.baseline_workdir)
            baseline = (encode(base_model, train.images), encode(base_model, test.images))
        pixels = (pixel_features(train.images), pixel_features(test.images))
        methods = build_methods(
            names, codes=codes, pixels=pixels, radius=radius, num_branches=config.num_branches,
            metric=config.metric, baseline_codes=baseline,
        )  # fmt: skip
        result = evaluate_methods(
            methods, train.labels, test.labels, n=args.n, runs=args.runs, seed=args.seed,
            class_names=train.class_names,
        )  # fmt: skip
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    outdir = Path(args.outdir or Path(args.workdir) / f"oneclass_{dataset}")
    title = f"{dataset}: one-class AUROC, n={args.n}, {args.runs} runs, radius {radius:g}"
    extra = {
        "dataset": dataset,
        "radius": radius,
        "workdir": str(args.workdir),
        "baseline_workdir": args.baseline_workdir,
        "num_test": len(test),
    }
    write_report(result, outdir, title=title, extra=extra)
    print(format_table(result))
    print(f"outputs in {outdir.absolute()}")
    return 0
