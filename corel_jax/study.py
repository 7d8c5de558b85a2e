"""The steps of a COREL study that the demo and the experiments both take.

A study trains (or resumes, or reuses) backbones in work directories, looks at
their held-out death times before and after training, and compares one-class
methods on their codes. :mod:`corel_jax.demo` and ``experiments/run.py`` are
made of these steps.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from corel_jax._files import check_directory
from corel_jax.backbone import encode, held_out_statistics, load_backbone
from corel_jax.config import TrainConfig
from corel_jax.data import Split
from corel_jax.oneclass import Method, build_methods, pixel_features
from corel_jax.train import create_train_state, train_and_evaluate

__all__ = [
    "backbone_methods",
    "check_backbone_dir",
    "death_times",
    "ensure_backbone",
    "initial_model",
]

logger = logging.getLogger(__name__)


def check_backbone_dir(config: TrainConfig, workdir: str | os.PathLike) -> TrainConfig | None:
    """Checks that :func:`ensure_backbone` can use ``workdir`` for ``config``; touches nothing.

    Returns:
      The config of the run saved in ``workdir``, or None for a new run.

    Raises:
      ValueError: ``workdir`` is a file, or holds a run of other settings
        (the message names each field that differs; a larger ``epochs`` is
        allowed: it extends the run).
    """
    workdir = check_directory(workdir, "workdir")
    config_path = workdir / "config.json"
    if not config_path.is_file():
        return None
    saved = TrainConfig.from_json(config_path.read_text())
    diff = saved.differences(config)
    if diff and not (set(diff) == {"epochs"} and config.epochs > saved.epochs):
        fields = "; ".join(f"{k} {old!r} there, {new!r} now" for k, (old, new) in diff.items())
        raise ValueError(
            f"{workdir} holds a backbone trained with other settings ({fields}). Use another "
            f"work directory (--workdir), or delete {workdir} to train it again."
        )
    return saved


def ensure_backbone(config: TrainConfig, workdir: str | os.PathLike) -> tuple[nnx.Module, dict]:
    """The backbone of ``config`` in ``workdir``: trained, resumed, extended, or reused.

    A finished run of the same config is reused; an interrupted one resumed;
    one of fewer epochs (and otherwise the same settings) extended.

    Returns:
      ``(model, summary)``: the trained model and the run's summary
      (``summary.json``).

    Raises:
      ValueError: as :func:`check_backbone_dir`.
    """
    workdir = Path(workdir)
    saved = check_backbone_dir(config, workdir)
    summary_path = workdir / "summary.json"
    if saved == config and summary_path.is_file():
        logger.info("reusing the trained backbone in %s", workdir)
        summary = json.loads(summary_path.read_text())
    else:
        summary = train_and_evaluate(config, workdir, resume=saved is not None)
    model, _ = load_backbone(workdir)
    return model, summary


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
) -> dict[str, Method]:
    """The one-class methods ``names`` on a backbone's codes of ``train`` and ``test``.

    Encodes both splits with ``model`` (and ``baseline``, the ``lambda = 0``
    backbone, for the method ``lambda0``) and builds the methods with
    :func:`corel_jax.oneclass.build_methods`.

    Args:
      names: some of :data:`corel_jax.oneclass.METHODS`.
      model: the backbone.
      config: its config (branches, metric, ``eta``).
      train: the split the inliers are drawn from.
      test: the scored split.
      radius: the ball radius (default: ``config.eta``).
      baseline: the ``lambda = 0`` backbone.

    Returns:
      ``{name: Method}``.
    """
    if tuple(train.images.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"{train.name} images have shape {train.images.shape[1:]} but the backbone takes "
            f"{tuple(model.input_shape)}."
        )
    logger.info("encoding %d train and %d test images of %s", len(train), len(test), train.name)
    codes = (encode(model, train.images), encode(model, test.images))
    baseline_codes = None
    if baseline is not None and "lambda0" in names:
        baseline_codes = (encode(baseline, train.images), encode(baseline, test.images))
    pixels = None
    if "raw_ocsvm" in names:
        pixels = (pixel_features(train.images), pixel_features(test.images))
    return build_methods(
        names, codes=codes, pixels=pixels, radius=config.eta if radius is None else radius,
        num_branches=config.num_branches, metric=config.metric, baseline_codes=baseline_codes,
    )  # fmt: skip
