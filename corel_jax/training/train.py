"""Data-parallel training of topologically regularised autoencoders: optax, orbax, exact resume.

The loss of a mini-batch ``x`` of ``B`` examples is
:math:`\\mathrm{Rec}(x, \\hat x) + \\lambda \\, T(x, z)` with ``z = f(x)``, where the
topological term ``T`` is COREL's connectivity loss (``topo="corel"``, the
default; ``docs/method.md#the-connectivity-loss``), the Topological Autoencoders
signature loss (``topo="topoae"``; ``docs/topoae.md``) or none
(:mod:`corel_jax.training.objectives` defines them); the defaults are COREL's
(:class:`corel_jax.training.config.TrainConfig`). This module holds
the chunked pmap loop (:func:`fit`) and :func:`train_and_evaluate`; the train
state and the pure step (:mod:`corel_jax.training.state`), the config,
checkpoints, device placement, progress and the trained backbone have their
own modules.

Design:

* The whole training set is put on every device once, as uint8 (float data
  such as SPHERES as float32), and scaled to the model's range inside the
  jitted step. One dispatch runs a ``lax.scan`` over a chunk
  of ``steps_per_dispatch`` steps: the host sends the chunk's batch indices
  (the epoch's permutation is gathered on device) and reads back the chunk's
  metrics once, so there is no host round trip per step.
* The step is a pure function of a :class:`TrainState` (``nnx.split`` of the
  model: the graph definition is static, the parameters are a pytree;
  ``nnx.merge`` inside the loss), so ``jit``, ``pmap`` and ``scan`` handle it.
* Data parallel with ``jax.pmap(axis_name="batch")`` over all local devices:
  each device computes the loss on its OWN batch of ``B`` examples (the
  connectivity loss is defined per batch, so ``B`` stays 100 per device) and
  the gradients are averaged with ``lax.pmean``. The global batch is
  ``B x devices``; one device is the same code with a device axis of size 1.
* Multi-host: start the same command on every host with ``--distributed``,
  which calls ``jax.distributed.initialize``. On Cloud TPU, SLURM and Open MPI
  its arguments are detected automatically; elsewhere pass them (or set the
  environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
  ``JAX_PROCESS_ID``)::

      # on host i of P (host 0 listens on 10.0.0.1:1234):
      corel-jax train --dataset cifar100 --workdir /mnt/nfs/run --distributed \\
          --coordinator-address 10.0.0.1:1234 --num-processes P --process-id i

  Every host reads its own contiguous ``1/P`` shard of the training set
  (:func:`corel_jax.training.parallel.host_shard`), pmap spans the devices of all hosts,
  and only host 0 writes ``config.json``, ``metrics.jsonl`` and
  ``summary.json``; the work directory must be on a file system all hosts see
  (orbax coordinates the checkpoint writes). On CPUs, collectives across
  processes need ``jax.config.update("jax_cpu_collectives_implementation",
  "gloo")`` before ``jax.distributed.initialize`` (the command does this).
* Checkpoints (:mod:`corel_jax.training.checkpoint`) every ``checkpoint_every`` steps
  and at the end hold the parameters, the optimizer state, the step, the PRNG
  key of the data order, and the config with the input shape. ``resume=True``
  continues from the latest complete checkpoint to the same parameters as an
  uninterrupted run: an epoch's permutation is a function of the seed and the
  epoch only, and chunk boundaries of the absolute step. Resuming with more
  ``epochs`` (every other field equal) extends a run to the parameters that
  many epochs give. CPU runs are bitwise reproducible; GPU runs only with
  ``XLA_FLAGS=--xla_gpu_deterministic_ops=true``.
* Progress (:mod:`corel_jax.training.progress`): a tqdm bar on a terminal, log lines
  otherwise, and rows of ``WORKDIR/metrics.jsonl``.

Examples:
  >>> from corel_jax.training.config import TrainConfig
  >>> from corel_jax.training.train import train_and_evaluate
  >>> config = TrainConfig(dataset="digits", num_branches=8, epochs=2)  # doctest: +SKIP
  >>> summary = train_and_evaluate(config, "/tmp/run")  # doctest: +SKIP

References:
  The method and its training setting: ``docs/method.md`` (Hofer et al., ICML 2019).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

from corel_jax._checks import is_int
from corel_jax._files import RUN_LOG, check_directory
from corel_jax.data.catalog import CATALOG
from corel_jax.models import is_topoae
from corel_jax.training import checkpoint
from corel_jax.training.backbone import evaluate
from corel_jax.training.config import TrainConfig
from corel_jax.training.parallel import host_shard, replicate, select_devices, unreplicate
from corel_jax.training.progress import Progress
from corel_jax.training.state import TrainState, create_train_state, train_step

__all__ = ["epoch_permutation", "fit", "make_chunk_fn", "train_and_evaluate"]

logger = logging.getLogger(__name__)

PyTree = Any


def make_chunk_fn(devices: Sequence[jax.Device] | None = None) -> Callable:
    """The pmapped chunk ``(state, images, idx) -> (state, metrics)``.

    Per device: ``state`` replicated, ``images`` ``(N, H, W, C)`` uint8 (the
    training set), ``idx`` ``(steps, B)`` int batch indices; ``metrics`` are
    ``(steps,)`` per device. ``devices=None`` maps over all devices (of all
    processes); a list maps over those (single process). The function is
    cached per device list, so runs with the same config in one process
    (e.g. a resume) reuse its compilations.
    """
    return _chunk_fn(None if devices is None else tuple(devices))


@functools.lru_cache(maxsize=8)
def _chunk_fn(devices: tuple[jax.Device, ...] | None) -> Callable:
    def chunk(state, images, idx):
        def body(state, batch_idx):
            return train_step(state, images[batch_idx], axis_name="batch")

        # XLA:CPU runs convolutions inside a while loop several times slower
        # than in straight-line code (measured 520 vs 95 ms per step of the
        # paper model on 28x28 inputs), so on CPU the conv model's chunk is unrolled (the
        # MLPs compile far faster as a loop).
        conv = state.config.model == "branch"
        unroll = True if jax.default_backend() == "cpu" and conv else 1
        return jax.lax.scan(body, state, idx, unroll=unroll)

    return jax.pmap(chunk, axis_name="batch", donate_argnums=(0,), devices=devices)


# ------------------------------------------------------------ data ordering


def epoch_permutation(key_data: np.ndarray, epoch: int, n: int) -> np.ndarray:
    """The example order of ``epoch``: a function of the data-order key and the epoch only.

    Args:
      key_data: ``TrainState.key`` (uint32 key data).
      epoch: the epoch, from 0.
      n: the number of (local) training examples.

    Returns:
      ``(n,)`` int permutation.
    """
    key = jax.random.fold_in(jax.random.wrap_key_data(jnp.asarray(key_data)), epoch)
    return np.asarray(jax.random.permutation(key, n))


def _chunk_end(step: int, total: int, steps_per_epoch: int, config: TrainConfig) -> int:
    """End (exclusive) of the chunk that starts at absolute ``step``.

    Chunks end at multiples of ``steps_per_dispatch`` and ``checkpoint_every``,
    at epoch ends and at the end, so a resumed (or extended) run dispatches
    the same chunks.
    """
    up = lambda s, m: (s // m + 1) * m
    return min(
        up(step, config.steps_per_dispatch),
        up(step, config.checkpoint_every),
        up(step, steps_per_epoch),
        total,
    )


# --------------------------------------------------------------- the loop


def _check_workdir(workdir: Path, resume: bool, config: TrainConfig) -> bool:
    """The rules of a work directory; returns whether ``config`` extends the saved run."""
    check_directory(workdir, "workdir")
    if not resume:
        if workdir.is_dir() and any(p.name != RUN_LOG for p in workdir.iterdir()):
            raise ValueError(
                f"The work directory {workdir} is not empty; pass resume=True (--resume) to "
                "continue the run in it, or choose a new directory."
            )
        return False
    if not (workdir / "config.json").is_file():
        raise ValueError(f"resume: {workdir} holds no run to resume (no config.json).")
    try:
        return config.continues(TrainConfig.from_json((workdir / "config.json").read_text()))
    except ValueError as err:
        raise ValueError(f"resume: in {workdir}, {err}") from None


def _training_images(config: TrainConfig, images: np.ndarray | None) -> np.ndarray:
    """``images`` (checked) or the train split of ``config.dataset``, cut to ``max_examples``.

    Loaded data keeps the images of ``config.classes`` only (their labels select images and
    go no further); given ``images`` carry no labels, so ``classes`` must be None then.
    """
    if images is None:
        from corel_jax import data

        split = data.load(config.dataset, "train", data_dir=config.data_dir)
        images = split.select(config.classes).images
    elif config.classes is not None:
        raise ValueError(
            f"config.classes={config.classes} selects images by label, but images= carries no "
            "labels; select them before passing them, or pass images=None."
        )
    else:
        images = np.asarray(images)
        if images.dtype not in (np.uint8, np.float32) or images.ndim != 4:
            raise ValueError(
                "images must be uint8 (or float32 data) of shape (N, H, W, C); got "
                f"{images.dtype} {images.shape}."
            )
    return images[: config.max_examples]


def fit(
    config: TrainConfig,
    workdir: str | os.PathLike,
    images: np.ndarray | None,
    *,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[TrainState, dict]:
    """Trains with checkpoints: the chunked pmap loop.

    Arguments as for :func:`train_and_evaluate` (``images=None`` loads
    ``config.dataset``).

    Returns:
      ``(state, status)``: the final :class:`TrainState` of this process (one
      replica, on the host) and ``{"step", "total_steps", "completed"}``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}.")
    if stop_after is not None and not (is_int(stop_after) and stop_after > 0):
        raise ValueError(f"stop_after must be a positive int or None; got {stop_after!r}.")
    workdir = Path(workdir)
    extends = _check_workdir(workdir, resume, config)
    local_devices, pmap_devices = select_devices(config.devices)
    images = host_shard(_training_images(config, images))
    n_dev = len(local_devices)
    num_devices = n_dev * jax.process_count()
    global_batch = config.batch_size * n_dev  # per host
    steps_per_epoch = len(images) // global_batch
    if steps_per_epoch < 1:
        raise ValueError(
            f"The dataset has {len(images)} examples (on this host), fewer than one global "
            f"batch of batch_size {config.batch_size} x {n_dev} devices = {global_batch}."
        )
    total = steps_per_epoch * config.epochs
    input_shape = images.shape[1:]
    graphdef, state = create_train_state(config, input_shape, jax.random.key(config.seed))

    is_main = jax.process_index() == 0
    if jax.process_count() > 1:  # every process has checked the work directory: now write
        multihost_utils.sync_global_devices("corel_jax.training.train.fit: checks done")
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
    start = checkpoint.latest_step(workdir) if resume else None
    if start is not None:
        restored = checkpoint.restore(workdir, start, state.arrays())
        state = dataclasses.replace(state, **restored)
        saved_devices = (checkpoint.read_meta(workdir, start) or {}).get("devices")
        if saved_devices not in (None, num_devices) and is_main:
            logger.warning(
                "resuming a run checkpointed on %s devices on %d; the global batch and the data "
                "order change.", saved_devices, num_devices,
            )  # fmt: skip
    if is_main and (start is None or extends):
        (workdir / "config.json").write_text(config.to_json())
        (workdir / "summary.json").unlink(missing_ok=True)  # an extended run's old summary
        if extends:
            logger.info("extending the run in %s to %d epochs", workdir, config.epochs)
    checkpoints = checkpoint.manager(workdir, keep=config.keep_checkpoints)
    meta = {"config": config.to_dict(), "input_shape": list(map(int, input_shape)),
            "devices": num_devices}  # fmt: skip

    chunk_fn = make_chunk_fn(pmap_devices)
    key_data = np.asarray(jax.device_get(state.key))
    state = replicate(state, local_devices)
    images_dev = replicate(images, local_devices)

    step = int(start or 0)
    report = Progress(total, step, workdir, config.log_every, enabled=progress)
    perm_epoch, perm = -1, np.empty(0, np.int64)  # computed at the first step
    try:
        while step < total:
            end = _chunk_end(step, total, steps_per_epoch, config)
            epoch, offset = divmod(step, steps_per_epoch)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, epoch_permutation(key_data, epoch, len(images))
            k = end - step
            idx = perm[offset * global_batch : (offset + k) * global_batch]
            idx = idx.reshape(k, n_dev, config.batch_size).transpose(1, 0, 2)
            t0 = time.perf_counter()
            state, metrics = chunk_fn(state, images_dev, idx)
            metrics = jax.device_get(jax.tree.map(lambda m: m[0].mean(), metrics))
            seconds = time.perf_counter() - t0
            step = end
            report.update(step, epoch, metrics, k, k * global_batch * jax.process_count(), seconds)
            if step % config.checkpoint_every == 0 or step == total:
                checkpoint.save(checkpoints, step, unreplicate(state).arrays(), meta)
            if stop_after is not None and step >= stop_after:
                break
        report.flush(step, (step - 1) // steps_per_epoch)
    finally:
        checkpoints.wait_until_finished()
        checkpoints.close()
        report.close()
    status = {"step": step, "total_steps": total, "completed": step >= total}
    return unreplicate(state), status


def train_and_evaluate(
    config: TrainConfig,
    workdir: str | os.PathLike,
    *,
    resume: bool = False,
    images: np.ndarray | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict:
    """Trains a backbone, checkpointing it, and evaluates it on the held-out split.

    All checks (config, work directory, data size, devices) run before
    anything is written.

    Args:
      config: the training config.
      workdir: the run's directory: ``config.json``, ``checkpoints/``,
        ``metrics.jsonl``, ``summary.json``. Must be empty or absent unless
        ``resume``.
      resume: continue from the latest complete checkpoint in ``workdir``.
        The config must equal the saved one, except for a larger ``epochs``,
        which extends the run.
      images: ``(N, H, W, C)`` uint8 training images to use instead of
        loading ``config.dataset`` (``max_examples`` still applies); in a
        multi-host run, every host passes all of them.
      progress: show progress and write ``metrics.jsonl``.
      stop_after: stop after the chunk that reaches this absolute step (it is
        checkpointed); simulates an interruption.

    Returns:
      A dict: ``step``, ``total_steps``, ``completed``; when completed, also
      the held-out statistics of :func:`corel_jax.training.backbone.evaluate` (written
      to ``WORKDIR/summary.json`` as well).

    Raises:
      ValueError: a non-empty ``workdir`` without ``resume``, a config that
        differs from the saved one (beyond a larger ``epochs``), a dataset
        smaller than one global batch (``batch_size x devices``), more
        ``devices`` than there are; nothing is written then.
    """
    state, summary = fit(
        config, workdir, images, resume=resume, progress=progress, stop_after=stop_after
    )
    # The held-out death times are COREL's statistics of its own models on images.
    images_data = CATALOG[config.dataset].sources != ("generated",)
    if summary["completed"] and images_data and not is_topoae(config.model):
        model = nnx.merge(state.graphdef, state.params, state.batch_stats)
        summary.update(evaluate(model, config, input_shape=model.input_shape))
        if jax.process_index() == 0:
            (Path(workdir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
