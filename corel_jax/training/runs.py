"""A backbone in a work directory: trained, resumed, extended or reused, one or several at once.

:func:`ensure_backbone` gives the backbone of a config after its number of
epochs, whatever the work directory holds (nothing, an interrupted run, a
shorter or a longer run of the same config); :func:`ensure_backbones` does the
same for several runs, trained side by side on a CPU where that is faster
(:mod:`corel_jax.training.workers`). The demo and ``experiments/run.py``
start from these.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from corel_jax._files import check_directory
from corel_jax.models import Autoencoder
from corel_jax.training import checkpoint
from corel_jax.training.backbone import evaluate, load_backbone
from corel_jax.training.config import TrainConfig
from corel_jax.training.state import create_train_state
from corel_jax.training.train import load_training_images, train_and_evaluate

__all__ = [
    "check_backbone_dir",
    "ensure_backbone",
    "ensure_backbones",
    "initial_model",
    "needs_training",
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


def ensure_backbone(config: TrainConfig, workdir: str | os.PathLike) -> tuple[Autoencoder, dict]:
    """The backbone of ``config`` in ``workdir``, after ``config.epochs`` epochs.

    Trains it; resumes an interrupted run; extends a shorter run of the same
    config (resume with more epochs); reuses a finished one; or, when
    ``workdir`` holds a LONGER run of the same config, reads its checkpoint at
    the end of epoch ``config.epochs``. That checkpoint is exactly what a
    ``config.epochs`` run gives: Adam's learning rate is constant and the data
    order depends on the seed and the epoch only, so a shorter run is a prefix
    of a longer one (``tests/training/test_train.py``, the extension test).

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
    cores (:mod:`corel_jax.training.workers`), at most one run per core at a time.

    Args:
      runs: ``name -> (config, workdir)``.
      side_by_side: None: only when :func:`corel_jax.training.workers.worth_it`
        (two or more runs to train on a CPU with two or more cores); False:
        nothing is trained here (:func:`ensure_backbone` then trains each run
        in this process).
    """
    from corel_jax.training import workers as sbs

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
    """What each :mod:`corel_jax.training.workers` worker runs: :func:`ensure_backbone`."""
    ensure_backbone(TrainConfig.from_json(config_json), workdir)


def ensure_backbones(
    runs: Mapping[str, tuple[TrainConfig, str | os.PathLike]], *, side_by_side: bool | None = None
) -> dict[str, tuple[Autoencoder, dict]]:
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
) -> tuple[Autoencoder, dict]:
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
    summary: dict[str, Any] = {"step": step, "total_steps": step, "completed": True}
    summary.update(evaluate(model, config, input_shape=model.input_shape))
    return model, summary


def steps_per_epoch(config: TrainConfig, workdir: str | os.PathLike) -> int:
    """Training steps per epoch of the single-host run of ``config`` in ``workdir``.

    The selected training examples over the global batch (``batch_size`` times
    the devices its latest checkpoint was written on).
    """
    latest = checkpoint.latest_step(workdir)
    meta = (checkpoint.read_meta(workdir, latest) if latest is not None else None) or {}
    num = len(load_training_images(config))
    return num // (config.batch_size * int(meta.get("devices") or 1))


def initial_model(config: TrainConfig, input_shape: Sequence[int]) -> Autoencoder:
    """The model exactly as training with ``config`` initialises it (before step 0)."""
    graphdef, state = create_train_state(config, input_shape, jax.random.key(config.seed))
    return nnx.merge(graphdef, state.params)
