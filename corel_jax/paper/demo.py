"""The offline demo: COREL trained and evaluated end to end on data that is on this machine.

:func:`run_demo` (``corel-jax demo``) uses Fashion-MNIST from Debian's
``dataset-fashion-mnist`` when installed, else scikit-learn's digits (a smoke
test, see :data:`SMOKE_TEST_NOTE`), and in under 10 minutes on a 2-core CPU:

1. trains the paper's branch autoencoder with the connectivity loss
   (lambda = 20, eta = 2) and, as a baseline, the same model with lambda = 0;
2. plots the held-out per-branch death times before and after training (the
   paper's effect: with lambda = 20 they pile up at eta);
3. runs the one-class protocol (n = 120 inliers, 5 runs) for COREL's ball
   count and for the lambda = 0 backbone, a latent Gaussian KDE, a latent
   OC-SVM and a raw-pixel OC-SVM, on identical inlier draws;
4. writes JSON, CSV, Markdown and PNG files.

Each dataset has its own folder, ``WORKDIR/<dataset>/``. Finished backbones
there are reused, an interrupted one is resumed, a shorter one extended; every
check (data, ``n`` against the class sizes, the backbones' folders) runs
before any training.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from corel_jax import data, oneclass, plots
from corel_jax._files import check_directory
from corel_jax.oneclass import N_INLIERS, RUNS, OneClassResult
from corel_jax.paper import published
from corel_jax.training.backbone import death_summary, death_times
from corel_jax.training.config import TrainConfig
from corel_jax.training.runs import check_backbone_dir, ensure_backbones, initial_model

__all__ = ["SMOKE_TEST_NOTE", "DemoResult", "demo_configs", "run_demo"]

logger = logging.getLogger(__name__)

# dataset -> (epochs, steps per dispatch) that fit the 10-minute budget on 2 CPU cores.
# Two steps per dispatch: on CPU a chunk is unrolled, and compiling 10 steps cost
# 32 s more CPU per backbone than 2 (same losses); 1 step per dispatch cost more.
_BUDGET = {"fashion_mnist": (5, 2), "digits": (40, 13), "mnist": (5, 2)}
_METHODS = ("corel", "lambda0", "kde", "ocsvm", "raw_ocsvm")

# Said on screen and in the report of a demo on digits.
SMOKE_TEST_NOTE = (
    "digits (8x8 images, 1,348 for training) is a smoke test that runs anywhere in a few "
    "minutes, not the paper's setting: images this small say little about the method, and "
    "simple baselines may well beat COREL on them. For a meaningful comparison run the demo "
    "on Fashion-MNIST: sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu), or "
    "corel-jax demo --dataset fashion_mnist (downloads it with tensorflow-datasets)."
)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` made.

    Attributes:
      dataset: the dataset it ran on.
      result: the one-class evaluation of every method.
      note: what to keep in mind reading the result (:data:`SMOKE_TEST_NOTE`
        on digits), or "".
      published: per-class published values shown beside it (Fashion-MNIST), or None.
      paths: the files written, by kind (``death_times``, ``json``, ``csv``, ``md``, ``png``).
      seconds: the wall-clock time of the whole run.
    """

    dataset: str
    result: OneClassResult
    note: str
    published: dict[str, list[float]] | None
    paths: dict[str, Path]
    seconds: float


def demo_configs(
    dataset: str,
    *,
    data_dir: str | None = None,
    epochs: int | None = None,
    lam: float = TrainConfig.lam,
    seed: int = 0,
    max_examples: int | None = None,
) -> dict[str, TrainConfig]:
    """The demo's two backbones: ``{"corel": lambda = lam, "lambda0": lambda = 0}``.

    Epochs and steps per dispatch default to what fits about 10 minutes on a
    2-core CPU for ``dataset``; everything else is the paper's default.
    """
    default_epochs, chunk = _BUDGET.get(dataset, (5, 2))
    base: dict[str, Any] = dict(
        dataset=dataset, data_dir=data_dir, epochs=default_epochs if epochs is None else epochs,
        seed=seed, max_examples=max_examples, steps_per_dispatch=chunk, devices=1,
    )  # fmt: skip
    return {"corel": TrainConfig(lam=lam, **base), "lambda0": TrainConfig(lam=0.0, **base)}


def _check_inliers(train: data.Split, test: data.Split, n: int) -> None:
    """ValueError unless every class has ``n`` train examples and the test split two classes."""
    counts = np.bincount(train.labels, minlength=train.num_classes)
    short = [f"{train.class_names[c]}: {k}" for c, k in enumerate(counts) if k < n]
    if short:
        raise ValueError(
            f"n={n} inliers per class are more than {train.name} has for some classes "
            f"({', '.join(short)} training examples)."
        )
    if len(np.unique(test.labels)) < 2:
        raise ValueError(
            f"The {len(test)} test examples of {train.name} hold fewer than 2 classes."
        )


def run_demo(
    workdir: str | os.PathLike,
    configs: dict[str, TrainConfig],
    *,
    n: int = N_INLIERS,
    runs: int = RUNS,
    seed: int = 0,
    max_test_examples: int | None = None,
    side_by_side: bool | None = None,
) -> DemoResult:
    """Trains (or reuses) the demo's backbones and runs the one-class comparison.

    Args:
      workdir: where everything is written, in ``WORKDIR/<dataset>/``:
        ``corel/`` and ``lambda0/`` (the training runs), ``death_times.png``
        and ``oneclass/`` (the reports).
      configs: :func:`demo_configs`.
      n: inliers per class and run.
      runs: inlier draws per class.
      seed: the seed of the draws.
      max_test_examples: score only the first N test examples.
      side_by_side: train the backbones at once, each in a worker process on
        its own CPU cores (:func:`corel_jax.training.runs.ensure_backbones`); None:
        when that is faster (a CPU with two or more cores).

    Returns:
      A :class:`DemoResult`.

    Raises:
      ValueError: before any training: the data is missing, ``n`` is larger
        than a class, or a backbone's folder is a file or holds a run of
        other settings.
    """
    start = time.time()
    cfg = configs["corel"]
    dataset = cfg.catalog_dataset()
    root = check_directory(workdir, "workdir") / dataset
    train = data.load(dataset, "train", data_dir=cfg.data_dir)
    test = data.load(dataset, "test", data_dir=cfg.data_dir).take(max_test_examples)
    _check_inliers(train, test, n)
    for name, config in configs.items():
        check_backbone_dir(config, root / name)
    note = SMOKE_TEST_NOTE if cfg.dataset == "digits" else ""
    if note:
        logger.info("note: %s", note)
    logger.info("corel-jax demo on %s (from %s): %d train / %d test images", cfg.dataset,
                train.source, len(train), len(test))  # fmt: skip
    logger.info("outputs go to %s", root.absolute())

    logger.info("== the backbones: %s ==", ", ".join(
        f"{name} (lambda={config.lam:g})" for name, config in configs.items()
    ))  # fmt: skip
    trained = ensure_backbones(
        {name: (config, root / name) for name, config in configs.items()}, side_by_side=side_by_side
    )
    models = {name: model for name, (model, _) in trained.items()}
    summaries = {name: summary for name, (_, summary) in trained.items()}

    logger.info("== death times before and after training ==")
    backbones = {"initialisation": (initial_model(cfg, train.images.shape[1:]), cfg)}
    for name, config in configs.items():
        backbones[f"trained, lambda={config.lam:g}"] = (models[name], config)
    deaths = death_times(test.images, backbones)
    paths = {"death_times": root / "death_times.png"}
    plots.plot_death_times(deaths, eta=cfg.eta, path=paths["death_times"],
                           title=f"{cfg.dataset}: death times")  # fmt: skip
    for label, d in deaths.items():
        s = death_summary(d, eta=cfg.eta)
        logger.info("  %20s: mean %.3f, std %.3f, mean |d - eta| %.3f", label, s["mean"],
                    s["std"], s["mean_abs_dev_from_eta"])  # fmt: skip

    logger.info("== one-class protocol ==")
    # Only the inliers the protocol draws are encoded (6,000 of 60,000 on Fashion-MNIST).
    classes = np.unique(test.labels)
    rows = oneclass.drawn_rows(train.labels, classes, n=n, runs=runs, seed=seed)
    methods = oneclass.backbone_methods(
        _METHODS, models["corel"], cfg, train, test, baseline=models["lambda0"], rows=rows
    )
    result = oneclass.evaluate_methods(
        methods, train.labels, test.labels, n=n, runs=runs, seed=seed, classes=classes,
        class_names=train.class_names,
    )  # fmt: skip
    pub = None
    if cfg.dataset == "fashion_mnist":
        pub = {"GEOM, full data": list(published.FASHION_MNIST_GEOM_PER_CLASS)}
    extra = {
        "dataset": cfg.dataset,
        "train_summaries": summaries,
        "published_means_full_data": published.FASHION_MNIST_FULL_DATA if pub else {},
        "seconds": time.time() - start,
    }
    kind = " (a smoke test)" if note else ""
    title = f"{cfg.dataset}{kind}: one-class AUROC, n={n}, {runs} runs"
    paths.update(
        oneclass.write_report(
            result, root / "oneclass", published=pub, title=title, note=note, extra=extra
        )
    )
    return DemoResult(dataset, result, note, pub, paths, time.time() - start)
