"""Data-parallel training of topologically regularised autoencoders: optax, orbax, exact resume.

The loss of a mini-batch ``x`` of ``B`` examples is
:math:`\\mathrm{Rec}(x, \\hat x) + \\lambda \\, T(x, z)` with ``z = f(x)``, where the
topological term ``T`` is COREL's connectivity loss (``topo="corel"``, the
default; ``docs/method.md#the-connectivity-loss``), the Topological Autoencoders
signature loss (``topo="topoae"``; ``docs/topoae.md``) or none
(:mod:`corel_jax.training.objectives` defines them); the defaults are COREL's
(:class:`corel_jax.training.config.TrainConfig`). This module holds
the chunked loop on a device mesh (:func:`fit`) and :func:`train_and_evaluate`;
the train state and the pure steps (:mod:`corel_jax.training.state`), the
config, the work directory, checkpoints, device placement, progress and the
trained backbone have their own modules.

Design:

* The whole training set is put on every device once, as uint8 (float data
  such as SPHERES as float32), and scaled to the model's range inside the
  jitted step. One dispatch runs a ``lax.scan`` over a chunk
  of ``steps_per_dispatch`` steps: the host sends the chunk's batch indices
  (the epoch's permutation is gathered on device) and reads back the chunk's
  metrics once, so there is no host round trip per step.
* The step is a pure function of a :class:`TrainState` (``nnx.split`` of the
  model: the graph definition is static, the parameters are a pytree;
  ``nnx.merge`` inside the loss), so ``jit`` and ``scan`` handle it.
* Data parallel with ``jax.jit`` on a one-axis device mesh (axis ``"data"``,
  :mod:`corel_jax.training.parallel`): the state is replicated; the batches
  of a step are stacked on a leading device axis, ``(devices, B, H, W, C)``,
  sharded over the mesh, so each device computes the loss of its OWN batch
  of ``B`` examples (the connectivity loss is defined per batch, so ``B``
  stays 100 per device) and XLA sums the gradients across devices
  (:func:`corel_jax.training.state.data_parallel_step`; the kernels of the
  loss partition along that axis, ``docs/sharding.md``). The global batch is
  ``B x devices``; one device is the same program on a mesh of one.
* Multi-host: start the same command on every host with ``--distributed``,
  which calls ``jax.distributed.initialize``. On Cloud TPU, SLURM and Open MPI
  its arguments are detected automatically; elsewhere pass them (or set the
  environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
  ``JAX_PROCESS_ID``)::

      # on host i of P (host 0 listens on 10.0.0.1:1234):
      corel-jax train --dataset cifar100 --workdir /mnt/nfs/run --distributed \\
          --coordinator-address 10.0.0.1:1234 --num-processes P --process-id i

  Every host reads its own contiguous ``1/P`` shard of the training set
  (:func:`corel_jax.training.parallel.host_shard`), the mesh spans the
  devices of all hosts and each host feeds its own devices' rows
  (``jax.make_array_from_process_local_data``); only host 0 writes
  ``config.json``, ``metrics.jsonl`` and ``summary.json`` and holds the work
  directory's lock; the work directory must be on a file system all hosts
  see (orbax coordinates the checkpoint writes). On CPUs, collectives across
  processes need ``jax.config.update("jax_cpu_collectives_implementation",
  "gloo")`` before ``jax.distributed.initialize`` (the command does this).
* Fail-safe: a run holds a lock on its work directory
  (:mod:`corel_jax.training.workdir`), so a second run there is refused
  while it lives; a step with a non-finite loss term or gradient stops the
  run (:class:`NonFiniteError`, naming the step and the term) before
  anything of that chunk is saved, so the newest checkpoint is the last
  finite state.
* Checkpoints (:mod:`corel_jax.training.checkpoint`) every ``checkpoint_every`` steps
  and at the end hold the parameters, the optimizer state, the step, the PRNG
  key of the data order, and the config with the input shape; they hold
  host arrays, so a run resumes on any number of devices. ``resume=True``
  continues from the newest complete checkpoint that restores (skipping, with
  a warning, any that do not) to the same parameters as an uninterrupted run: an epoch's permutation is a function of the seed and the
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

import contextlib
import dataclasses
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from corel_jax._checks import is_int
from corel_jax.data.catalog import CATALOG
from corel_jax.models import is_topoae
from corel_jax.training import checkpoint, parallel
from corel_jax.training.backbone import evaluate
from corel_jax.training.config import TrainConfig
from corel_jax.training.progress import Progress
from corel_jax.training.state import TrainState, create_train_state, data_parallel_step
from corel_jax.training.workdir import check_workdir, try_lock

__all__ = [
    "NonFiniteError",
    "epoch_permutation",
    "fit",
    "load_training_images",
    "make_chunk_fn",
    "train_and_evaluate",
]

logger = logging.getLogger(__name__)

PyTree = Any


class NonFiniteError(FloatingPointError):
    """A training step gave a non-finite loss term or gradient; the run stopped there."""


def make_chunk_fn(mesh: Mesh) -> Callable:
    """The jitted chunk ``(state, images, idx) -> (state, metrics)`` on ``mesh``.

    ``state`` is replicated; ``images`` ``(D, N, H, W, C)`` (device ``d``'s
    copy of its process's training examples, uint8 or float32) and ``idx``
    ``(D, steps, B)`` (device ``d``'s batch indices, one row per step) are
    sharded over the ``data`` axis of the ``D``-device mesh; ``metrics`` are
    ``(steps,)`` scalars, replicated. Each step is a
    :func:`corel_jax.training.state.data_parallel_step` on the ``D`` batches
    ``images[d, idx[d, s]]``. Cached per mesh, so runs with the same config
    in one process (e.g. a resume) reuse its compilations.
    """
    return _chunk_fn(mesh)


@functools.lru_cache(maxsize=8)
def _chunk_fn(mesh: Mesh) -> Callable:
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = NamedSharding(mesh, PartitionSpec(parallel.AXIS))

    def chunk(state, images, idx):
        def body(state, batch_idx):  # batch_idx: (D, B)
            batches = jax.vmap(lambda examples, i: examples[i])(images, batch_idx)
            return data_parallel_step(state, batches)

        # XLA:CPU runs convolutions inside a while loop several times slower
        # than in straight-line code (measured 520 vs 95 ms per step of the
        # paper model on 28x28 inputs), so on CPU the conv model's chunk is unrolled (the
        # MLPs compile far faster as a loop).
        conv = state.config.model == "branch"
        unroll = True if jax.default_backend() == "cpu" and conv else 1
        return jax.lax.scan(body, state, jnp.swapaxes(idx, 0, 1), unroll=unroll)

    return jax.jit(
        chunk,
        in_shardings=(replicated, sharded, sharded),
        out_shardings=replicated,
        donate_argnums=(0,),
    )


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


# ------------------------------------------------------------ failing safe

# The metrics a step checks, in the order a failure is named by, and their names.
_TERMS = {
    "rec": "reconstruction loss (rec)",
    "conn": "connectivity loss (conn)",
    "topo": "signature loss (topo)",
    "loss": "total loss (loss)",
    "grad_norm": "gradient (its global norm, grad_norm)",
}


def _check_finite(metrics: dict, first_step: int, last_saved: int | None) -> None:
    """Raises :class:`NonFiniteError` at the first step of a chunk with a non-finite term.

    Args:
      metrics: ``(steps,)`` host arrays of one chunk.
      first_step: the absolute number of the chunk's first step (counting from 1).
      last_saved: the newest checkpoint's step, or None.
    """
    bad = {k: ~np.isfinite(np.asarray(metrics[k])) for k in _TERMS if k in metrics}
    steps = np.flatnonzero(np.any(np.stack(list(bad.values())), axis=0))
    if not steps.size:
        return
    s = int(steps[0])
    term = next(k for k in _TERMS if k in bad and bad[k][s])
    kept = "no checkpoint was written" if last_saved is None else (
        f"the last checkpoint (step {last_saved}) is kept"
    )  # fmt: skip
    raise NonFiniteError(
        f"training stopped at step {first_step + s}: the {_TERMS[term]} is "
        f"{float(metrics[term][s])}; {kept}. A smaller learning rate or lambda may help."
    )


# --------------------------------------------------------------- the loop


def load_training_images(config: TrainConfig) -> np.ndarray:
    """The training images of ``config``: its own images (``config.data``, read with its
    ``image_size`` and ``color``) or the train split of ``config.dataset``; those of
    ``config.classes`` only (their labels select images and go no further), cut to
    ``max_examples``."""
    from corel_jax import data

    if config.data is not None:
        own = data.load_images(config.data, image_size=config.image_size, color=config.color)
        return own.select(config.classes).images[: config.max_examples]
    split = data.load(config.catalog_dataset(), "train", data_dir=config.data_dir)
    return split.select(config.classes).images[: config.max_examples]


def _training_images(config: TrainConfig, images: np.ndarray | None) -> np.ndarray:
    """``images`` (checked) or :func:`load_training_images`, cut to ``max_examples``.

    Given ``images`` carry no labels, so ``classes`` must be None then.
    """
    if images is None:
        return load_training_images(config)
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


def _local_devices(mesh: Mesh) -> int:
    """The number of this process's devices in ``mesh``."""
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def _restore(workdir: Path, state: TrainState, num_devices: int) -> tuple[TrainState, int | None]:
    """``state`` from the newest checkpoint that restores, and its step (None: no checkpoint)."""
    is_main = jax.process_index() == 0
    found = checkpoint.restore_newest(workdir, state.arrays(), set_aside=is_main)
    if jax.process_count() > 1:  # process 0 has set the unreadable checkpoints aside
        multihost_utils.sync_global_devices("corel_jax.training.train: restored")
    if found is None:
        return state, None
    step, arrays, meta = found
    saved_devices = (meta or {}).get("devices")
    if saved_devices not in (None, num_devices) and is_main:
        logger.warning(
            "resuming a run checkpointed on %s devices on %d; the global batch and the data "
            "order change.", saved_devices, num_devices,
        )  # fmt: skip
    return dataclasses.replace(state, **arrays), step


def fit(
    config: TrainConfig,
    workdir: str | os.PathLike,
    images: np.ndarray | None,
    *,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[TrainState, dict]:
    """Trains with checkpoints: the chunked loop on the ``data`` mesh.

    Arguments as for :func:`train_and_evaluate` (``images=None`` loads
    ``config.data`` or ``config.dataset``).

    Returns:
      ``(state, status)``: the final :class:`TrainState` (on the host) and
      ``{"step", "total_steps", "completed"}``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}.")
    if stop_after is not None and not (is_int(stop_after) and stop_after > 0):
        raise ValueError(f"stop_after must be a positive int or None; got {stop_after!r}.")
    workdir = Path(workdir)
    is_main = jax.process_index() == 0
    with contextlib.ExitStack() as stack:
        # A directory in use by a live run is refused before anything else is read.
        locked = is_main and workdir.is_dir() and try_lock(workdir, stack, create=False)
        extends = check_workdir(workdir, resume, config)
        mesh = parallel.data_mesh(config.devices)
        images = parallel.host_shard(_training_images(config, images))
        n_local = _local_devices(mesh)
        global_batch = config.batch_size * n_local  # per host
        steps_per_epoch = len(images) // global_batch
        if steps_per_epoch < 1:
            raise ValueError(
                f"The dataset has {len(images)} examples (on this host), fewer than one global "
                f"batch of batch_size {config.batch_size} x {n_local} devices = {global_batch}."
            )
        if jax.process_count() > 1:  # every process has checked the work directory: now write
            multihost_utils.sync_global_devices("corel_jax.training.train.fit: checks done")
        if is_main:
            workdir.mkdir(parents=True, exist_ok=True)
            if not locked:
                try_lock(workdir, stack, create=True)
        return _train(config, workdir, images, mesh, steps_per_epoch, resume=resume,
                      extends=extends, progress=progress, stop_after=stop_after)  # fmt: skip


def _train(
    config: TrainConfig,
    workdir: Path,
    images: np.ndarray,
    mesh: Mesh,
    steps_per_epoch: int,
    *,
    resume: bool,
    extends: bool,
    progress: bool,
    stop_after: int | None,
) -> tuple[TrainState, dict]:
    """:func:`fit`'s loop, once the work directory is checked and locked."""
    is_main = jax.process_index() == 0
    total = steps_per_epoch * config.epochs
    local_devices = _local_devices(mesh)
    global_batch = config.batch_size * local_devices  # per host
    input_shape = images.shape[1:]
    graphdef, state = create_train_state(config, input_shape, jax.random.key(config.seed))
    start = None
    if resume:
        state, start = _restore(workdir, state, mesh.size)
    if is_main and (start is None or extends):
        (workdir / "config.json").write_text(config.to_json())
        (workdir / "summary.json").unlink(missing_ok=True)  # an extended run's old summary
        if extends:
            logger.info("extending the run in %s to %d epochs", workdir, config.epochs)
    checkpoints = checkpoint.manager(workdir, keep=config.keep_checkpoints)
    meta = {"config": config.to_dict(), "input_shape": list(map(int, input_shape)),
            "devices": mesh.size}  # fmt: skip

    chunk_fn = make_chunk_fn(mesh)
    key_data = np.asarray(jax.device_get(state.key))
    state = parallel.replicate(state, mesh)
    images_dev = parallel.device_copies(images, mesh)

    step = int(start or 0)
    last_saved = start
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
            idx = idx.reshape(k, local_devices, config.batch_size).transpose(1, 0, 2)
            t0 = time.perf_counter()
            state, metrics = chunk_fn(state, images_dev, parallel.per_device(idx, mesh))
            metrics = parallel.host_value(metrics)
            seconds = time.perf_counter() - t0
            _check_finite(metrics, step + 1, last_saved)
            step = end
            means = {name: float(np.mean(v)) for name, v in metrics.items()}
            report.update(step, epoch, means, k, k * global_batch * jax.process_count(), seconds)
            if step % config.checkpoint_every == 0 or step == total:
                checkpoint.save(checkpoints, step, parallel.host_value(state).arrays(), meta)
                last_saved = step
            if stop_after is not None and step >= stop_after:
                break
        report.flush(step, (step - 1) // steps_per_epoch)
    finally:
        checkpoints.wait_until_finished()
        checkpoints.close()
        report.close()
    status = {"step": step, "total_steps": total, "completed": step >= total}
    return parallel.host_value(state), status


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
        loading ``config.data`` or ``config.dataset`` (``max_examples`` still applies); in a
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
    # The held-out death times are COREL's statistics of its own models on images (own images
    # have no held-out split).
    images_data = config.data is None and CATALOG[config.catalog_dataset()].sources != (
        "generated",
    )
    if summary["completed"] and images_data and not is_topoae(config.model):
        model = nnx.merge(state.graphdef, state.params, state.batch_stats)
        summary.update(evaluate(model, config, input_shape=model.input_shape))
    if summary["completed"] and jax.process_index() == 0:
        (Path(workdir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
