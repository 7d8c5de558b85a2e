"""The paper's one-class protocol ("Ours-120"): inlier draws, AUROCs, the result type.

A backbone is trained once without labels; then, for each class ``c`` of an
evaluation dataset, ``n`` inliers of class ``c`` are drawn from the TRAIN
split and every TEST example is scored (:mod:`corel_jax.oneclass.scoring`);
the AUROC with ``c`` positive (scikit-learn's ``roc_auc_score``, so tied
scores count one half as in the paper) is repeated over ``runs`` independent
draws; per class mean and std over runs, and the mean over classes. See
``docs/method.md#one-class-protocol``.

Evaluators take arrays (codes, or any features) and score functions, never a
model. Every method of one evaluation sees the same inlier draws
(:func:`draw_inliers` is called once per class and run).

References:
  Hofer et al., Connectivity-Optimized Representation Learning via Persistent
  Homology, ICML 2019, Sec. 5.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from corel_jax._checks import check_positive_int, is_int
from corel_jax._extras import require
from corel_jax.oneclass.names import N_INLIERS, RUNS

if TYPE_CHECKING:  # the scorers need JAX; the protocol's constants must not
    from corel_jax.oneclass.scoring import Scorer

__all__ = [
    "N_INLIERS",
    "RUNS",
    "Method",
    "OneClassResult",
    "draw_inliers",
    "drawn_rows",
    "evaluate_methods",
    "evaluate_oneclass",
]

logger = logging.getLogger(__name__)


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
      seen_classes: the evaluated labels whose images the backbone was trained
        on (``()``: none, e.g. a backbone of another dataset); None when not
        known (no seen/unseen marking then).
    """

    auroc: dict[str, np.ndarray]
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    n: int
    runs: int
    seed: int
    seen_classes: tuple[int, ...] | None = None

    @property
    def seen(self) -> np.ndarray | None:
        """``(num_classes,)`` bool: whether the backbone saw each class; None when not known."""
        if self.seen_classes is None:
            return None
        return np.isin(np.asarray(self.classes), np.asarray(self.seen_classes, dtype=int))

    def group_mean(self, method: str, *, seen: bool) -> float | None:
        """The mean over the seen (``seen=True``) or unseen classes; None if there are none.

        Raises:
          ValueError: the result has no ``seen_classes``.
        """
        if self.seen is None:
            raise ValueError("This result does not record which classes the backbone saw.")
        mask = self.seen if seen else ~self.seen
        return float(self.class_mean(method)[mask].mean()) if mask.any() else None

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
        """A JSON-ready dict of the parameters and, per method, all AUROCs and summaries.

        With ``seen_classes``, also those and each method's ``mean_seen`` and
        ``mean_unseen`` (null for an empty group).
        """
        marked = self.seen_classes is not None
        out: dict[str, Any] = {
            "n": self.n,
            "runs": self.runs,
            "seed": self.seed,
            "classes": list(self.classes),
            "class_names": list(self.class_names),
            "seen_classes": list(self.seen_classes) if self.seen_classes is not None else None,
            "methods": {},
        }
        for m in self.auroc:
            out["methods"][m] = {
                "mean": self.mean(m),
                "per_class_mean": self.class_mean(m).tolist(),
                "per_class_std": self.class_std(m).tolist(),
                "auroc": self.auroc[m].tolist(),
            }
            if marked:
                out["methods"][m]["mean_seen"] = self.group_mean(m, seen=True)
                out["methods"][m]["mean_unseen"] = self.group_mean(m, seen=False)
        return out


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


def drawn_rows(
    train_labels: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    *,
    n: int = N_INLIERS,
    runs: int = RUNS,
    seed: int = 0,
) -> np.ndarray:
    """The train rows that :func:`evaluate_methods` draws as inliers, sorted.

    Only these rows' features are ever read, so a costly feature (a backbone's
    codes) need only be computed for them: 6,000 of Fashion-MNIST's 60,000
    train images for ``n=120, runs=5``.

    Args:
      train_labels: ``(n_train,)`` integer labels.
      classes: the evaluated classes.
      n: inliers per class and run.
      runs: draws per class.
      seed: the base seed of the draws.

    Returns:
      ``(k,)`` int64 sorted unique indices into ``train_labels``.
    """
    check_positive_int(runs, "runs")
    draws = [
        draw_inliers(train_labels, c, n, seed=seed, run=r) for c in classes for r in range(runs)
    ]
    return np.unique(np.concatenate(draws)) if draws else np.zeros(0, np.int64)


def evaluate_methods(
    methods: Mapping[str, Method],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    n: int = N_INLIERS,
    runs: int = RUNS,
    seed: int = 0,
    classes: Sequence[int] | np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    seen_classes: Sequence[int] | None = None,
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
      seen_classes: the labels the backbone was trained on, marked in the
        result and its reports (default: not known, no marking).
      progress: show progress over classes x runs (a tqdm bar on a terminal,
        one line per class otherwise).

    Returns:
      A :class:`OneClassResult` with ``(num_classes, runs)`` AUROCs per method.
    """
    metrics = require("sklearn.metrics", purpose="the one-class AUROC")
    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if not methods:
        raise ValueError("methods is empty.")
    check_positive_int(n, "n")
    check_positive_int(runs, "runs")
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
    if seen_classes is not None:
        if isinstance(seen_classes, str) or not all(is_int(c) for c in seen_classes):
            raise TypeError(f"seen_classes must be a sequence of int labels; got {seen_classes!r}.")
        seen_classes = tuple(sorted({int(c) for c in seen_classes}))
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
                    inliers = m.train_features[idx]
                    if inliers.dtype.kind == "f" and np.isnan(inliers).any():
                        raise ValueError(
                            f"{name}: the train features of drawn inliers are NaN (not "
                            "computed: were they computed for drawn_rows() of other settings?)."
                        )
                    scores = np.asarray(m.scorer(inliers, m.test_features))
                    if scores.shape != (len(test_labels),):
                        raise ValueError(
                            f"{name}: the scorer returned shape {scores.shape}; expected "
                            f"({len(test_labels)},)."
                        )
                    auroc[name][ci, r] = metrics.roc_auc_score(positive, scores)
                if bar is not None:
                    bar.update(1)
            if plain:
                means = ", ".join(f"{m} {auroc[m][ci].mean():.3f}" for m in methods)
                logger.info("one-class n=%d: class %s (%d/%d): %s", n, names[ci], ci + 1,
                            len(classes), means)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    return OneClassResult(auroc, classes, names, int(n), int(runs), int(seed), seen_classes)


def evaluate_oneclass(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    *,
    scorer: Scorer | Mapping[str, Scorer] | None = None,
    **protocol,
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
      **protocol: ``n``, ``runs``, ``seed``, ``classes``, ``class_names``,
        ``progress``: the keyword arguments of :func:`evaluate_methods`.

    Returns:
      A :class:`OneClassResult`.

    Examples:
      >>> import numpy as np
      >>> from corel_jax.oneclass import ball_count_scorer
      >>> labels = np.repeat([0, 1], 10)
      >>> codes = labels[:, None] * 5.0 + np.linspace(0, 1, 20)[:, None]
      >>> res = evaluate_oneclass(codes, labels, codes, labels, n=3, runs=2,
      ...     scorer=ball_count_scorer(radius=2.0, num_branches=1), progress=False)
      >>> res.mean("score")
      1.0

    References:
      Hofer et al., ICML 2019, Sec. 5; ``docs/method.md#one-class-protocol``.
    """
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
    return evaluate_methods(methods, train_labels, test_labels, **protocol)
