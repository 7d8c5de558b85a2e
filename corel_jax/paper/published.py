"""The paper's published numbers, written once: the one-class table and the quoted baselines.

:data:`PAPER_ROWS` holds every published COREL one-class AUROC (mean over the
classes of the evaluation dataset; ``docs/method.md#published-numbers``): the
dataset the backbone was trained on, the dataset of the one-class tasks, the
number of inliers ``n``, the setting (``""`` for the paper's defaults, or an
ablation's) and the value. The experiment configs, the collector of results
and the demo read them from here.

Examples:
  >>> from corel_jax.paper.published import published_auroc
  >>> published_auroc("cifar100_to_cifar10", n=120)
  0.755
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "FASHION_MNIST_FULL_DATA",
    "FASHION_MNIST_GEOM_PER_CLASS",
    "PAPER_ROWS",
    "PaperRow",
    "published_auroc",
    "rows_of",
]


@dataclasses.dataclass(frozen=True)
class PaperRow:
    """One published COREL number.

    Attributes:
      experiment: the experiment it belongs to (an ``experiments/configs`` name).
      train_dataset: the backbone's training data (no labels used).
      eval_dataset: the dataset of the one-class tasks.
      n: inliers per class.
      auroc: the published mean AUROC over classes.
      setting: ``""`` for the paper's defaults, else the ablation's setting
        (e.g. ``"lam=0"``; ``"best"`` for the best setting of an ablation).
    """

    experiment: str
    train_dataset: str
    eval_dataset: str
    n: int
    auroc: float
    setting: str = ""


PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow("cifar100_to_cifar10", "cifar100", "cifar10", 80, 0.744),
    PaperRow("cifar100_to_cifar10", "cifar100", "cifar10", 120, 0.755),
    PaperRow("cifar100_to_cifar10", "cifar100", "cifar10", 500, 0.770),
    PaperRow("cifar10_to_cifar20", "cifar10", "cifar20", 120, 0.723),
    PaperRow("cifar10_to_cifar20", "cifar10", "cifar20", 500, 0.738),
    PaperRow("cifar10_to_imagenet", "cifar10", "imagenet32", 120, 0.722),
    PaperRow("cifar100_to_imagenet", "cifar100", "imagenet32", 120, 0.721),
    PaperRow("cifar10_to_cifar10", "cifar10", "cifar10", 120, 0.760),
    PaperRow("cifar100_to_cifar100", "cifar100", "cifar100", 120, 0.798),
    # Ablations on CIFAR-100 -> CIFAR-10: lambda = 0 leaves every score tied.
    PaperRow("ablation_lambda", "cifar100", "cifar10", 120, 0.500, "lam=0"),
    PaperRow("ablation_lambda", "cifar100", "cifar10", 120, 0.755, "lam=20"),
    PaperRow("ablation_branches", "cifar100", "cifar10", 120, 0.792, "best"),
)

# Fashion-MNIST one-class AUROC published for methods trained on ALL ~6,000
# inliers of a class (the paper has no Fashion-MNIST number for COREL).
FASHION_MNIST_FULL_DATA: dict[str, float] = {
    "GEOM": 0.935,
    "RAW-OC-SVM": 0.928,
    "CAE-OC-SVM": 0.917,
    "DSEBM": 0.866,
}
# GEOM per class, in Fashion-MNIST's label order.
FASHION_MNIST_GEOM_PER_CLASS: tuple[float, ...] = (
    0.994, 0.976, 0.911, 0.899, 0.921, 0.934, 0.833, 0.989, 0.908, 0.992,
)  # fmt: skip


def rows_of(experiment: str) -> tuple[PaperRow, ...]:
    """The published rows of ``experiment``, in table order (empty if it has none)."""
    return tuple(r for r in PAPER_ROWS if r.experiment == experiment)


def published_auroc(experiment: str, *, n: int, setting: str = "") -> float | None:
    """The published AUROC of ``experiment`` at ``n`` inliers and ``setting``, or None."""
    for r in rows_of(experiment):
        if r.n == n and r.setting == setting:
            return r.auroc
    return None
