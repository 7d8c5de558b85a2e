"""The steps of a COREL study that the demo and the experiments both take.

A study trains (or resumes, or reuses) backbones in work directories, looks at
their held-out death times before and after training, and compares one-class
methods on their codes. :mod:`corel_jax.demo` and ``experiments/run.py`` are
made of these steps.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from corel_jax import checkpoint
from corel_jax._files import check_directory
from corel_jax.backbone import (
    death_summary,
    encode,
    evaluate,
    held_out_statistics,
    load_backbone,
)
from corel_jax.config import TrainConfig
from corel_jax.data import Split
from corel_jax.oneclass import Method, build_methods, pixel_features
from corel_jax.train import create_train_state, train_and_evaluate

__all__ = [
    "backbone_methods",
    "check_backbone_dir",
    "death_times",
    "death_times_by_group",
    "ensure_backbone",
    "ensure_backbones",
    "initial_model",
    "needs_training",
    "seen_classes",
    "steps_per_epoch",
    "train_backbones",
]

logger = logging.getLogger(__name__)


def check_backbone_dir(config: TrainConfig, workdir: str | os.PathLike) -> TrainConfig | None:
    """Checks that :func:`ensure_backbone` can use ``workdir`` for ``config``; touches nothing.

    Returns:
      The config of the run saved in ``workdir``, or None for a new run.

    Raises:
      ValueError: ``workdir`` is a file, or holds a run of other settings
        (the message names each field that differs; another ``epochs`` is
        allowed: a shorter saved run is extended, a longer one read at the
        end of epoch ``config.epochs``).
    """
    workdir = check_directory(workdir, "workdir")
    config_path = workdir / "config.json"
    if not config_path.is_file():
        return None
    saved = TrainConfig.from_json(config_path.read_text())
    diff = saved.differences(config)
    if set(diff) - {"epochs"}:
        fields = "; ".join(f"{k} {old!r} there, {new!r} now" for k, (old, new) in diff.items())
        raise ValueError(
            f"{workdir} holds a backbone trained with other settings ({fields}). Use another "
            f"work directory (--workdir), or delete {workdir} to train it again."
        )
    return saved


def ensure_backbone(config: TrainConfig, workdir: str | os.PathLike) -> tuple[nnx.Module, dict]:
    """The backbone of ``config`` in ``workdir``, after ``config.epochs`` epochs.

    Trains it; resumes an interrupted run; extends a shorter run of the same
    config (resume with more epochs); reuses a finished one; or, when
    ``workdir`` holds a LONGER run of the same config, reads its checkpoint at
    the end of epoch ``config.epochs``. That checkpoint is exactly what a
    ``config.epochs`` run gives: Adam's learning rate is constant and the data
    order depends on the seed and the epoch only, so a shorter run is a prefix
    of a longer one (``tests/test_train.py``, the extension test).

    Returns:
      ``(model, summary)``: the trained model and the run's summary
      (``summary.json``, or for a prefix the same statistics recomputed).

    Raises:
      ValueError: as :func:`check_backbone_dir`, or ``workdir`` holds a longer
        run that did not keep the checkpoint of the end of epoch ``config.epochs``.
    """
    workdir = Path(workdir)
    saved = check_backbone_dir(config, workdir)
    if saved is not None and saved.epochs > config.epochs:
        return _prefix_backbone(config, workdir, saved)
    if needs_training(config, workdir):
        summary = train_and_evaluate(config, workdir, resume=saved is not None)
    else:
        logger.info("reusing the trained backbone in %s", workdir)
        summary = json.loads((workdir / "summary.json").read_text())
    model, _ = load_backbone(workdir)
    return model, summary


def needs_training(config: TrainConfig, workdir: str | os.PathLike) -> bool:
    """Whether :func:`ensure_backbone` would train (start, resume or extend) in ``workdir``.

    False when ``workdir`` holds the finished run of ``config`` or a longer run of it.

    Raises:
      ValueError: as :func:`check_backbone_dir`.
    """
    saved = check_backbone_dir(config, workdir)
    if saved is None:
        return True
    if saved.epochs > config.epochs:
        return False
    return not (saved == config and (Path(workdir) / "summary.json").is_file())


def train_backbones(
    runs: Mapping[str, tuple[TrainConfig, str | os.PathLike]], *, side_by_side: bool | None = None
) -> None:
    """Trains the runs that need it side by side, each in a worker process on its own CPU
    cores (:mod:`corel_jax.side_by_side`), at most one run per core at a time.

    Args:
      runs: ``name -> (config, workdir)``.
      side_by_side: None: only when :func:`corel_jax.side_by_side.worth_it`
        (two or more runs to train on a CPU with two or more cores); False:
        nothing is trained here (:func:`ensure_backbone` then trains each run
        in this process).
    """
    from corel_jax import side_by_side as sbs

    pending = {name: run for name, run in runs.items() if needs_training(*run)}
    use = sbs.worth_it(len(pending)) if side_by_side is None else side_by_side
    if not use or len(pending) < 2:
        return
    names, cores = list(pending), len(sbs.available_cores())
    for i in range(0, len(names), cores):
        group = {name: pending[name] for name in names[i : i + cores]}
        totals = {
            name: config.epochs * steps_per_epoch(config, workdir)
            for name, (config, workdir) in group.items()
        }
        sbs.train_side_by_side(group, totals, target=f"{__name__}:_train_in_worker")


def _train_in_worker(config_json: str, workdir: str) -> None:
    """What each :mod:`corel_jax.side_by_side` worker runs: :func:`ensure_backbone`."""
    ensure_backbone(TrainConfig.from_json(config_json), workdir)


def ensure_backbones(
    runs: Mapping[str, tuple[TrainConfig, str | os.PathLike]], *, side_by_side: bool | None = None
) -> dict[str, tuple[nnx.Module, dict]]:
    """:func:`ensure_backbone` for several runs, trained side by side where that is faster.

    Args:
      runs: ``name -> (config, workdir)``.
      side_by_side: as for :func:`train_backbones`.

    Returns:
      ``name -> (model, summary)``, as :func:`ensure_backbone` gives them.
    """
    train_backbones(runs, side_by_side=side_by_side)
    return {name: ensure_backbone(config, workdir) for name, (config, workdir) in runs.items()}


def _prefix_backbone(
    config: TrainConfig, workdir: Path, saved: TrainConfig
) -> tuple[nnx.Module, dict]:
    """The checkpoint of a longer run of ``saved`` at the end of epoch ``config.epochs``."""
    step = config.epochs * steps_per_epoch(config, workdir)
    if not checkpoint.step_dir(workdir, step).is_dir():
        raise ValueError(
            f"{workdir} holds a {saved.epochs}-epoch run that did not keep step {step}, the end "
            f"of epoch {config.epochs}: train the {config.epochs}-epoch run first (then extend it) "
            "or keep that checkpoint (checkpoint_every dividing it, enough keep_checkpoints)."
        )
    logger.info("reading the end of epoch %d (step %d) of the run in %s", config.epochs, step,
                workdir)  # fmt: skip
    model, _ = load_backbone(workdir, step)
    summary = {"step": step, "total_steps": step, "completed": True}
    summary.update(evaluate(model, config, input_shape=model.input_shape))
    return model, summary


def steps_per_epoch(config: TrainConfig, workdir: str | os.PathLike) -> int:
    """Training steps per epoch of the single-host run of ``config`` in ``workdir``.

    The selected training examples over the global batch (``batch_size`` times
    the devices its latest checkpoint was written on).
    """
    from corel_jax import data

    meta = checkpoint.read_meta(workdir, checkpoint.latest_step(workdir)) or {}
    images = data.load(config.dataset, "train", data_dir=config.data_dir)
    num = len(images.select(config.classes).take(config.max_examples))
    return num // (config.batch_size * int(meta.get("devices") or 1))


def initial_model(config: TrainConfig, input_shape: Sequence[int]) -> nnx.Module:
    """The model exactly as training with ``config`` initialises it (before step 0)."""
    graphdef, state = create_train_state(config, input_shape, jax.random.key(config.seed))
    return nnx.merge(graphdef, state.params)


def death_times(
    images: np.ndarray,
    backbones: Mapping[str, tuple[nnx.Module, TrainConfig]],
    *,
    max_batches: int = 10,
) -> dict[str, np.ndarray]:
    """Held-out per-branch death times of several models, flattened.

    Args:
      images: ``(N, H, W, C)`` uint8 held-out images.
      backbones: ``{label: (model, config)}``; each config gives the batch
        size, branches and metric.
      max_batches: whole batches of held-out images used per model.

    Returns:
      ``{label: death times (n * K * (B - 1),)}``.
    """
    return {
        label: held_out_statistics(model, images, config, max_batches=max_batches)["deaths"].ravel()
        for label, (model, config) in backbones.items()
    }


def backbone_methods(
    names: Sequence[str],
    model: nnx.Module,
    config: TrainConfig,
    train: Split,
    test: Split,
    *,
    radius: float | None = None,
    baseline: nnx.Module | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, Method]:
    """The one-class methods ``names`` on a backbone's codes of ``train`` and ``test``.

    Encodes both splits with ``model`` (and ``baseline``, the ``lambda = 0``
    backbone, for the method ``lambda0``) and builds the methods with
    :func:`corel_jax.oneclass.build_methods`. With ``rows``
    (:func:`corel_jax.oneclass.drawn_rows` of the protocol to run), only those
    train images are encoded and turned into pixel features: the rest of the
    train features are NaN, never read by that protocol.

    Args:
      names: some of :data:`corel_jax.oneclass.METHODS`.
      model: the backbone.
      config: its config (branches, metric, ``eta``).
      train: the split the inliers are drawn from.
      test: the scored split.
      radius: the ball radius (default: ``config.eta``).
      baseline: the ``lambda = 0`` backbone.
      rows: the only train rows to compute features for (default: all).

    Returns:
      ``{name: Method}``.
    """
    if tuple(train.images.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"{train.name} images have shape {train.images.shape[1:]} but the backbone takes "
            f"{tuple(model.input_shape)}."
        )
    used = len(train) if rows is None else len(rows)
    logger.info("encoding %d train and %d test images of %s", used, len(test), train.name)
    on_train = functools.partial(_rows_only, images=train.images, rows=rows)
    codes = (on_train(functools.partial(encode, model)), encode(model, test.images))
    baseline_codes = None
    if baseline is not None and "lambda0" in names:
        baseline_codes = (on_train(functools.partial(encode, baseline)),
                          encode(baseline, test.images))  # fmt: skip
    pixels = None
    if "raw_ocsvm" in names:
        pixels = (on_train(pixel_features), pixel_features(test.images))
    return build_methods(
        names, codes=codes, pixels=pixels, radius=config.eta if radius is None else radius,
        num_branches=config.num_branches, metric=config.metric, baseline_codes=baseline_codes,
    )  # fmt: skip


def _rows_only(
    features: Callable[[np.ndarray], np.ndarray], *, images: np.ndarray, rows: np.ndarray | None
) -> np.ndarray:
    """``features(images)``, computed for ``rows`` only (the other rows NaN) when given."""
    if rows is None:
        return features(images)
    part = features(images[rows])
    out = np.full((len(images), *part.shape[1:]), np.nan, part.dtype)
    out[rows] = part
    return out


def seen_classes(config: TrainConfig, dataset: str, num_classes: int) -> tuple[int, ...]:
    """The labels of ``dataset`` whose images trained the backbone of ``config``.

    All ``num_classes`` labels for a backbone of ``dataset`` trained without
    ``classes``, its ``classes`` otherwise, and none for a backbone of another
    dataset.
    """
    if dataset != config.dataset:
        return ()
    return tuple(range(num_classes)) if config.classes is None else tuple(config.classes)


def death_times_by_group(
    model: nnx.Module,
    config: TrainConfig,
    test: Split,
    seen: Sequence[int],
    *,
    max_batches: int = 10,
) -> dict[str, dict[str, float]]:
    """Held-out statistics on the test images of the seen and of the unseen classes.

    Args:
      model: the backbone.
      config: its config (batch size, branches, metric, ``eta``).
      test: the test split (of the backbone's dataset).
      seen: the labels the backbone was trained on (:func:`seen_classes`).
      max_batches: whole batches of ``config.batch_size`` images per group.

    Returns:
      ``{"seen": ..., "unseen": ...}``, each :func:`corel_jax.backbone.death_summary`
      of the group's death times plus its mean ``rec`` and ``conn`` per batch;
      a group with fewer images than one batch is left out.
    """
    out = {}
    for group, flag in (("seen", True), ("unseen", False)):
        images = test.images[np.isin(test.labels, np.asarray(seen, int)) == flag]
        stats = held_out_statistics(model, images, config, max_batches=max_batches)
        if len(stats["rec"]):
            out[group] = dict(
                death_summary(stats["deaths"], eta=config.eta),
                rec=float(stats["rec"].mean()),
                conn=float(stats["conn"].mean()),
            )
    return out
