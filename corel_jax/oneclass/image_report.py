"""Reports of a detector's scores on images: a CSV row per image, the most and least novel
images in one picture, and the AUROC when the images carry labels.

What ``corel-jax score`` writes (:func:`write_scores`), usable from Python as well.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corel_jax._extras import require
from corel_jax._files import atomic_write
from corel_jax.data.folder import IMAGE_EXTENSIONS
from corel_jax.data.images import ARRAY_EXTENSIONS, ImageSet
from corel_jax.plots import new_figure

__all__ = ["normal_classes", "plot_extremes", "scores_auroc", "scores_csv", "write_scores"]


def normal_classes(
    images: ImageSet, inliers: ImageSet | None = None, given: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The classes of ``images`` that the inliers stand for: the positives of the AUROC.

    In order: the ``given`` names; else the inliers' own class names (a
    folder of class subfolders, an ``.npz`` with labels) that ``images``
    has; else the name of the inliers' folder (or file, without its suffix)
    when ``images`` has a class of that name (``--inliers fm/Sneaker``
    against ``--images test/`` holding ``test/Sneaker/``); else none.

    Raises:
      ValueError: a ``given`` name that is not a class of ``images`` (or
        ``images`` has no labels).
    """
    names = images.class_names if images.labels is not None else ()
    if given:
        unknown = [g for g in given if g not in names]
        if unknown:
            have = f"its classes: {', '.join(names)}" if names else "its images carry no labels"
            raise ValueError(f"--normal: {images.source} has no class {', '.join(unknown)} "
                             f"({have}).")  # fmt: skip
        return tuple(given)
    if inliers is None or not names:
        return ()
    if inliers.labels is not None:
        own = [c for c in np.unique(inliers.labels) if inliers.class_names[c] in names]
        if own:
            return tuple(inliers.class_names[c] for c in own)
    source = Path(inliers.source)
    files = (*ARRAY_EXTENSIONS, *IMAGE_EXTENSIONS)
    name = source.stem if source.suffix.lower() in files else source.name
    return (name,) if name in names else ()


def scores_auroc(images: ImageSet, scores: np.ndarray, normal: Sequence[str]) -> float | None:
    """The AUROC of ``scores`` with the images of the ``normal`` classes positive (higher
    score = more normal; ties count one half, scikit-learn's ``roc_auc_score``); None when
    the images carry no labels or the classes do not split them in two."""
    if images.labels is None or not normal:
        return None
    ids = [images.class_names.index(c) for c in normal]
    positive = np.isin(images.labels, ids)
    if positive.all() or not positive.any():
        return None
    metrics = require("sklearn.metrics", purpose="the AUROC")
    return float(metrics.roc_auc_score(positive, scores))


def _score_text(s: float) -> str:
    return f"{s:.10g}"


def scores_csv(images: ImageSet, scores: np.ndarray, novel: np.ndarray) -> str:
    """CSV text, one row per image in order: ``image`` (its path under the folder, or its
    index in an array file), ``class`` (when labelled), ``score``, ``novel`` (1 or 0)."""
    scores, novel = np.asarray(scores), np.asarray(novel, bool)
    if scores.shape != (len(images),) or novel.shape != (len(images),):
        raise ValueError(f"scores and novel must have shape ({len(images)},); got "
                         f"{scores.shape} and {novel.shape}.")  # fmt: skip
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    labels = images.labels
    w.writerow(["image", *(["class"] if labels is not None else []), "score", "novel"])
    for i, name in enumerate(images.names):
        cls = [images.class_names[labels[i]]] if labels is not None else []
        w.writerow([name, *cls, _score_text(scores[i]), int(novel[i])])
    return out.getvalue()


def _extreme(order: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """The first ``k`` of ``order``, or, when more than ``k`` images tie at its first score,
    ``k`` of those spread evenly over them (in their order); and how many tie there."""
    tied = order[scores[order] == scores[order[0]]]
    if len(tied) <= k:
        return order[:k], len(tied)
    return tied[np.linspace(0, len(tied) - 1, k).round().astype(int)], len(tied)


def plot_extremes(images: ImageSet, scores: np.ndarray, *, show: int = 8, title: str = ""):
    """A figure of the ``show`` most novel images (lowest scores, top row) and the ``show``
    least novel ones (highest, bottom row), each captioned ``score: class`` (or its file
    name). When more images than ``show`` tie at the lowest (highest) score, as ball counts
    of 0 often do, the row shows some spread evenly over them and says how many tie.
    Returns the matplotlib figure (:func:`corel_jax.plots.save_png` writes it)."""
    scores = np.asarray(scores)
    order = np.argsort(scores, kind="stable")
    k = max(1, min(int(show), len(order)))
    rows = {
        "most novel": _extreme(order, scores, k),
        "least novel": _extreme(order[::-1], scores, k),
    }
    fig = new_figure(1.3 * k + 0.8, 3.5)
    gray = images.images.shape[-1] == 1
    for r, (label, (picks, ties)) in enumerate(rows.items()):
        if ties > k:
            label += f"\n({ties:,} tie at {_score_text(scores[picks[0]])})"
        for j, i in enumerate(picks):
            ax = fig.add_subplot(2, k, r * k + j + 1)
            image = images.images[i]
            ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0,
                      vmax=255, interpolation="nearest")  # fmt: skip
            what = (images.class_names[images.labels[i]] if images.labels is not None
                    else Path(images.names[i]).name)  # fmt: skip
            ax.set_xlabel(f"{_score_text(scores[i])}: {what[:16]}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def write_scores(
    images: ImageSet,
    scores: np.ndarray,
    novel: np.ndarray,
    csv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    show: int = 8,
    title: str = "",
) -> None:
    """Writes :func:`scores_csv` and the :func:`plot_extremes` PNG, both made before either is
    written, each atomically (an existing file is replaced whole or kept)."""
    text = scores_csv(images, scores, novel).encode()
    buf = io.BytesIO()
    plot_extremes(images, scores, show=show, title=title).savefig(buf, format="png", dpi=120)
    for path in (csv_path, png_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(png_path, buf.getvalue())
    atomic_write(csv_path, text)
