"""The published numbers, written once, each with its source.

:data:`PAPER_ROWS` holds every published COREL one-class AUROC (mean over the
classes of the evaluation dataset; ``docs/method.md#published-numbers``): the
dataset the backbone was trained on, the dataset of the one-class tasks, the
number of inliers ``n``, the setting (``""`` for the paper's defaults:
lambda = 20, 16 x 10 branches, radius 2, 5 draws; or an ablation cell's
overrides, e.g. ``"lam=0,num_branches=16,branch_dim=10"``), the value and
where it was published. The talk's slides show these results as bar charts
without values; the values are the outputs saved in the authors' released
notebooks (:data:`PERFORMANCE_STUDY`, :data:`ABLATION_STUDY`).
:data:`ABLATION_TABLE` is the lambda x branch-layout ablation at n = 120, from
which the ablation rows are made. The experiment configs, the collectors of
results and the demo read them from here.

Examples:
  >>> from corel_jax.paper.published import published_auroc
  >>> published_auroc("cifar100_to_cifar10", n=120)
  0.755
  >>> published_auroc("ablation_branches", n=120, setting="branch_dim=10,num_branches=16,lam=0")
  0.547
"""

from __future__ import annotations

import dataclasses
import statistics

__all__ = [
    "ABLATION_BEST",
    "ABLATION_LAMBDAS",
    "ABLATION_LAYOUTS",
    "ABLATION_STUDY",
    "ABLATION_TABLE",
    "CIFAR10_FULL_DATA",
    "CIFAR_BASELINES",
    "FASHION_MNIST_FULL_DATA",
    "FASHION_MNIST_GEOM_PER_CLASS",
    "GEOM_PAPER",
    "PAPER",
    "PAPER_ROWS",
    "PERFORMANCE_STUDY",
    "SLIDES",
    "SLIDES_MARGIN_OVER_ADT120",
    "UNAVAILABLE_DATASETS",
    "AblationBest",
    "PaperRow",
    "ablation_setting",
    "parse_setting",
    "published_auroc",
    "rows_of",
]

# Where the numbers come from.
PERFORMANCE_STUDY = "the authors' released results (COREL_icml2019: performance_study.ipynb)"
ABLATION_STUDY = "the authors' released results (COREL_icml2019: ablation_study.ipynb)"
SLIDES = "the talk's slides"
PAPER = "Hofer et al., ICML 2019"
GEOM_PAPER = (
    "Golan & El-Yaniv, Deep Anomaly Detection Using Geometric Transformations, NeurIPS 2018"
)

# Datasets of published rows that no tfds builder provides (tensorflow-datasets has no
# Tiny-ImageNet-200 builder), so they have no experiment config.
UNAVAILABLE_DATASETS: tuple[str, ...] = ("tiny_imagenet",)


@dataclasses.dataclass(frozen=True)
class PaperRow:
    """One published COREL number.

    Attributes:
      experiment: the experiment it belongs to (an ``experiments/configs`` name where
        its datasets can be built).
      train_dataset: the backbone's training data (no labels used).
      eval_dataset: the dataset of the one-class tasks.
      n: inliers per class.
      auroc: the published mean AUROC over classes.
      setting: ``""`` for the paper's defaults, else the ablation cell's overrides
        (``"lam=0,num_branches=16,branch_dim=10"``; :func:`parse_setting`).
      source: where it was published.
    """

    experiment: str
    train_dataset: str
    eval_dataset: str
    n: int
    auroc: float
    setting: str = ""
    source: str = PERFORMANCE_STUDY


def _rows(experiment: str, train: str, evaluation: str, values: dict[int, float]):
    return tuple(PaperRow(experiment, train, evaluation, n, v) for n, v in values.items())


# The performance study: lambda = 20, 16 x 10 branches, radius 2, 5 draws.
_PERFORMANCE: tuple[PaperRow, ...] = (
    *_rows("cifar10_to_cifar10", "cifar10", "cifar10", {80: 0.750, 120: 0.760, 500: 0.780}),
    *_rows("cifar10_to_cifar100", "cifar10", "cifar100", {80: 0.786, 120: 0.794, 500: 0.808}),
    *_rows("cifar10_to_cifar20", "cifar10", "cifar20", {80: 0.711, 120: 0.723, 500: 0.738}),
    *_rows("cifar10_to_imagenet", "cifar10", "imagenet32", {80: 0.715, 120: 0.722, 500: 0.737}),
    *_rows("cifar10_to_tiny_imagenet", "cifar10", "tiny_imagenet",
           {80: 0.717, 120: 0.726, 500: 0.740}),
    *_rows("cifar100_to_cifar10", "cifar100", "cifar10", {80: 0.744, 120: 0.755, 500: 0.770}),
    *_rows("cifar100_to_imagenet", "cifar100", "imagenet32", {80: 0.712, 120: 0.721, 500: 0.736}),
    *_rows("cifar100_to_cifar100", "cifar100", "cifar100", {80: 0.790, 120: 0.798, 500: 0.813}),
    *_rows("cifar100_to_cifar20", "cifar100", "cifar20", {80: 0.717, 120: 0.726, 500: 0.748}),
    *_rows("cifar100_to_tiny_imagenet", "cifar100", "tiny_imagenet",
           {80: 0.713, 120: 0.722, 500: 0.738}),
    # Tiny-ImageNet-200 backbones: n = 120 only.
    *_rows("tiny_imagenet_to_cifar10", "tiny_imagenet", "cifar10", {120: 0.744}),
    *_rows("tiny_imagenet_to_cifar100", "tiny_imagenet", "cifar100", {120: 0.788}),
    *_rows("tiny_imagenet_to_cifar20", "tiny_imagenet", "cifar20", {120: 0.717}),
    *_rows("tiny_imagenet_to_imagenet", "tiny_imagenet", "imagenet32", {120: 0.720}),
)  # fmt: skip

# The ablation (ablation_study.ipynb): backbone CIFAR-100, one-class CIFAR-10, n = 120,
# radius 2, 5 draws. Rows lambda, columns the branch layouts (branches, dims per branch).
ABLATION_LAMBDAS: tuple[float, ...] = (0.0, 1.0, 10.0, 20.0, 40.0)
ABLATION_LAYOUTS: tuple[tuple[int, int], ...] = ((1, 160), (8, 10), (16, 10), (32, 10), (16, 20))
_ABLATION_VALUES = (
    # 1 x 160, 8 x 10, 16 x 10, 32 x 10, 16 x 20
    (0.500, 0.562, 0.547, 0.533, 0.514),  # lambda = 0
    (0.645, 0.691, 0.709, 0.706, 0.720),  # lambda = 1
    (0.645, 0.748, 0.754, 0.767, 0.742),  # lambda = 10
    (0.633, 0.747, 0.760, 0.763, 0.720),  # lambda = 20
    (0.631, 0.741, 0.748, 0.753, 0.690),  # lambda = 40
)
ABLATION_TABLE: dict[tuple[float, tuple[int, int]], float] = {
    (lam, layout): value
    for lam, values in zip(ABLATION_LAMBDAS, _ABLATION_VALUES, strict=True)
    for layout, value in zip(ABLATION_LAYOUTS, values, strict=True)
}


@dataclasses.dataclass(frozen=True)
class AblationBest:
    """The best score of the whole ablation: not an n = 120 result (the ablation also sweeps
    the radius, 0.5-5, and n, 10-5000)."""

    auroc: float
    lam: float
    layout: tuple[int, int]
    n: int
    radius: float
    source: str = ABLATION_STUDY


ABLATION_BEST = AblationBest(auroc=0.792, lam=20.0, layout=(16, 10), n=5000, radius=1.5)


def ablation_setting(lam: float, layout: tuple[int, int]) -> str:
    """The setting string of an ablation cell, e.g. ``"lam=0,num_branches=16,branch_dim=10"``."""
    return f"lam={lam:g},num_branches={layout[0]},branch_dim={layout[1]}"


def _ablation_rows() -> tuple[PaperRow, ...]:
    """``ablation_branches``: every cell; ``ablation_lambda``: the paper's 16 x 10 column."""
    cells = [
        PaperRow("ablation_branches", "cifar100", "cifar10", 120, value,
                 ablation_setting(lam, layout), ABLATION_STUDY)
        for (lam, layout), value in ABLATION_TABLE.items()
    ]  # fmt: skip
    column = [
        PaperRow("ablation_lambda", "cifar100", "cifar10", 120, value, f"lam={lam:g}",
                 ABLATION_STUDY)
        for (lam, layout), value in ABLATION_TABLE.items()
        if layout == (16, 10)
    ]  # fmt: skip
    return (*column, *cells)


PAPER_ROWS: tuple[PaperRow, ...] = _PERFORMANCE + _ablation_rows()

# The slides' margins of COREL-120 over ADT-120 (GEOM with 120 inliers), read off their bar
# charts ("about"), by one-class dataset.
SLIDES_MARGIN_OVER_ADT120: dict[str, float] = {"cifar10": 0.07, "cifar20": 0.06, "cifar100": 0.04}

# The baselines of the CIFAR charts (the slides), trained on all ~5,000 inliers of a class;
# the OC-SVM runs on convolutional-autoencoder features.
CIFAR_BASELINES: tuple[str, ...] = ("DAGMM", "DSEBM", "OC-SVM (CAE)", "ADT", "Deep-SVDD")
# Mean AUROC on CIFAR-10 with all inliers, as the paper quotes them (ADT is GEOM).
CIFAR10_FULL_DATA: dict[str, float] = {"Deep-SVDD": 0.648, "ADT": 0.860}

# Fashion-MNIST (not in the COREL paper): GEOM per class, in Fashion-MNIST's label order, all
# ~6,000 inliers of a class (GEOM_PAPER).
FASHION_MNIST_GEOM_PER_CLASS: tuple[float, ...] = (
    0.994, 0.976, 0.911, 0.899, 0.921, 0.934, 0.833, 0.989, 0.908, 0.992,
)  # fmt: skip
# Mean AUROC with all inliers of a class (GEOM_PAPER); GEOM's is the mean of its per-class
# values (0.9357).
FASHION_MNIST_FULL_DATA: dict[str, float] = {
    "GEOM": round(statistics.fmean(FASHION_MNIST_GEOM_PER_CLASS), 3),
    "RAW-OC-SVM": 0.928,
    "CAE-OC-SVM": 0.917,
    "DSEBM": 0.866,
}


def parse_setting(setting: str) -> dict[str, float | str]:
    """A setting string as ``{key: value}`` (numbers as floats), whatever its order.

    Examples:
      >>> parse_setting("num_branches=16,lam=20")
      {'num_branches': 16.0, 'lam': 20.0}
    """
    if not isinstance(setting, str):
        raise TypeError(f"setting must be a str; got {type(setting).__name__}.")
    out: dict[str, float | str] = {}
    for item in filter(None, setting.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"setting must be 'key=value,...'; got {setting!r}.")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def rows_of(experiment: str) -> tuple[PaperRow, ...]:
    """The published rows of ``experiment``, in table order (empty if it has none)."""
    return tuple(r for r in PAPER_ROWS if r.experiment == experiment)


def published_auroc(experiment: str, *, n: int, setting: str = "") -> float | None:
    """The published AUROC of ``experiment`` at ``n`` inliers and ``setting``, or None.

    ``setting`` matches in any order and number format (``"lam=20.0,num_branches=16,..."``
    is ``"num_branches=16,lam=20,..."``).
    """
    wanted = parse_setting(setting)
    for r in rows_of(experiment):
        if r.n == n and parse_setting(r.setting) == wanted:
            return r.auroc
    return None
