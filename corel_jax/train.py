"""Data-parallel training of COREL autoencoders with optax, orbax checkpoints and exact resume.

The loss of a mini-batch ``x`` of ``B`` examples (REFERENCE.md §2-3) is

.. math::
  \\mathrm{Rec}(x, \\hat x) + \\lambda \\, L_\\eta(z), \\qquad z = f(x),

with the paper's l1 reconstruction loss
(:func:`corel_jax.loss.reconstruction_loss`) and connectivity loss
(:func:`corel_jax.loss.connectivity_loss`). The defaults are the paper's:
``lam = 20``, ``eta = 2``, ``B = 100``, Adam with a constant learning rate of
1e-3, shuffled every epoch, last incomplete batch dropped, 50 epochs.

Design:

* The whole training set is put on every device once, as uint8, and scaled to
  [0, 1] inside the jitted step. One dispatch runs a ``lax.scan`` over a chunk
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
      corel-jax train --dataset cifar100 --workdir /shared/run --distributed \\
          --coordinator-address 10.0.0.1:1234 --num-processes P --process-id i

  Every host reads its own contiguous ``1/P`` shard of the training set
  (``jax.process_index()``), pmap spans the devices of all hosts, and only
  host 0 writes ``config.json``, ``metrics.jsonl`` and ``summary.json``; the
  work directory must be on a file system all hosts see (orbax coordinates
  the checkpoint writes).
* Checkpoints (orbax ``CheckpointManager``) every ``checkpoint_every`` steps
  and at the end hold the parameters, the optimizer state, the step, the
  PRNG key of the data order, and the config with the input shape. Orbax
  writes a checkpoint into ``STEP.orbax-checkpoint-tmp-*`` and renames it
  when complete, so a killed run never leaves a half-written checkpoint that
  a resume would read. ``resume=True`` (``--resume``) continues from the
  latest complete checkpoint and ends with the same parameters as an
  uninterrupted run: the permutation of an epoch is a function of the seed
  and the epoch only, and chunk boundaries are functions of the absolute step.
  CPU runs are bitwise reproducible; on a GPU, reductions run in varying
  orders unless XLA's deterministic ops are on
  (``XLA_FLAGS=--xla_gpu_deterministic_ops=true``), without which the same
  seed, or a resumed run, agrees with another run only approximately.
* Progress: a tqdm bar (step, loss terms, examples/s) when stdout is a
  terminal, plain log lines otherwise; the metrics, averaged over
  ``log_every`` steps, as JSON lines in ``WORKDIR/metrics.jsonl``.

Examples:
  >>> from corel_jax.train import TrainConfig, train_and_evaluate, load_backbone, encode
  >>> config = TrainConfig(dataset="digits", num_branches=8, epochs=2)  # doctest: +SKIP
  >>> summary = train_and_evaluate(config, "/tmp/run")  # doctest: +SKIP
  >>> model, config = load_backbone("/tmp/run")  # doctest: +SKIP
  >>> codes = encode(model, images_uint8)  # (N, 80) float32  # doctest: +SKIP

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from corel_jax import loss as losses
from corel_jax import models

__all__ = [
    "TrainConfig",
    "TrainState",
    "add_cli_arguments",
    "config_from_args",
    "create_train_state",
    "encode",
    "epoch_permutation",
    "evaluate",
    "load_backbone",
    "make_loss_fn",
    "run_cli",
    "train_and_evaluate",
    "train_step",
]

PyTree = Any

# Checkpoint format: items "state" (StandardSave) and "meta" (JSON: config,
# input shape). Runs written before the "meta" item have a single "default" item.
_FORMAT = 2


# --------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One flat training config; every field has the paper's value as default where it has one.

    Validated on construction: a field of the wrong type or range raises
    ``ValueError`` naming it (``TrainConfig.<field>``), before any work starts.
    ``to_dict``/``from_dict`` convert to and from JSON-compatible dicts.
    """

    # Data.
    dataset: str = "digits"  # a name of corel_jax.data.DATASETS
    data_dir: str | None = None  # tfds data dir or IDX folder (None: the defaults)
    max_examples: int | None = None  # train on the first N examples only (smoke runs)
    # Model (REFERENCE.md §3).
    model: str = "branch"  # "branch" (the paper's conv autoencoder) or "mlp"
    filters: tuple[int, ...] = (32, 64, 128)  # conv channels of "branch"
    hidden: tuple[int, ...] = (256, 128)  # hidden widths of "mlp"
    num_branches: int = 16  # latent branches
    branch_dim: int = 10  # dims per branch (latent dim = num_branches x branch_dim)
    # Loss (REFERENCE.md §2).
    lam: float = 20.0  # lambda, the weight of the connectivity loss (0: plain autoencoder)
    eta: float = 2.0  # the target scale of the death times
    metric: str = "l1"  # latent metric of the persistence (paper: l1)
    # Optimisation.
    batch_size: int = 100  # PER DEVICE: the connectivity loss is defined per batch
    learning_rate: float = 1e-3  # Adam, constant
    epochs: int = 50
    seed: int = 0  # initialisation and data order
    # Engineering.
    devices: int | None = None  # use the first N local devices (None: all; multi-host: all)
    steps_per_dispatch: int = 10  # steps per jitted lax.scan chunk
    checkpoint_every: int = 1000  # steps; a checkpoint is also written at the end
    keep_checkpoints: int = 2  # the newest N checkpoints are kept
    log_every: int = 100  # steps per metrics.jsonl row / log line (rounded up to chunks)

    def __post_init__(self):
        _validate(self)

    def to_dict(self) -> dict:
        """A JSON-compatible dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of a dict from :meth:`to_dict` (lists become tuples); validates it."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict; got {type(d).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields: {sorted(unknown)}.")
        d = dict(d)
        for key in ("filters", "hidden"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _validate(c: TrainConfig) -> None:
    """Raises ValueError naming the first field of the wrong type or range."""
    from corel_jax.data import DATASETS
    from corel_jax.persistence import parse_metric

    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            raise ValueError(f"TrainConfig.{field} must be {what}; got {getattr(c, field)!r}.")

    need(isinstance(c.dataset, str) and c.dataset in DATASETS, "dataset", f"one of {DATASETS}")
    need(c.data_dir is None or isinstance(c.data_dir, str), "data_dir", "a path (str) or None")
    need(
        c.max_examples is None or (_is_int(c.max_examples) and c.max_examples > 0),
        "max_examples",
        "a positive int or None",
    )
    need(isinstance(c.model, str) and c.model in models.MODELS, "model", f"one of {models.MODELS}")
    for field in ("filters", "hidden"):
        v = getattr(c, field)
        need(
            isinstance(v, tuple) and len(v) > 0 and all(_is_int(f) and f > 0 for f in v),
            field,
            "a non-empty tuple of positive ints",
        )
    for field in ("num_branches", "branch_dim", "batch_size", "epochs"):
        need(_is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    need(c.batch_size >= 2, "batch_size", "at least 2 (persistence needs two points)")
    need(_is_number(c.lam) and math.isfinite(c.lam) and c.lam >= 0, "lam", "a finite number >= 0")
    need(_is_number(c.eta) and math.isfinite(c.eta) and c.eta > 0, "eta", "a finite number > 0")
    try:
        parse_metric(c.metric)
        ok = c.metric != "precomputed" and isinstance(c.metric, str | tuple)
    except (ValueError, TypeError):
        ok = False
    need(ok, "metric", "a point-cloud metric of corel_jax.persistence ('l1', 'l2', 'linf', ...)")
    need(
        _is_number(c.learning_rate) and math.isfinite(c.learning_rate) and c.learning_rate > 0,
        "learning_rate",
        "a finite number > 0",
    )
    need(_is_int(c.seed) and 0 <= c.seed < 2**63, "seed", "an int in [0, 2**63)")
    if c.devices is not None:  # (None does not touch the backend: see jax.distributed)
        n = jax.local_device_count()
        need(_is_int(c.devices) and 0 < c.devices <= n, "devices", f"None or an int in [1, {n}]")
    for field in ("steps_per_dispatch", "checkpoint_every", "keep_checkpoints", "log_every"):
        need(_is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    if c.model == "branch":
        need(
            c.filters[-1] % c.num_branches == 0,
            "num_branches",
            f"a divisor of the last conv layer's channels (filters[-1] = {c.filters[-1]})",
        )


# ---------------------------------------------------------------- train state


@dataclasses.dataclass(frozen=True)
class TrainState:
    """Everything a training step reads and writes; a pytree.

    Data fields (leaves): ``params``, the model's ``nnx.Param`` state;
    ``opt_state``, optax's Adam state; ``step``, an int32 scalar;
    ``key``, the uint32 key data of the data-order PRNG key.
    Static fields: ``graphdef`` (``nnx.split``'s graph definition) and ``config``.
    """

    params: PyTree
    opt_state: PyTree
    step: jax.Array
    key: jax.Array
    graphdef: nnx.GraphDef
    config: TrainConfig

    def arrays(self) -> dict:
        """The data fields as a dict (what a checkpoint stores)."""
        return dict(params=self.params, opt_state=self.opt_state, step=self.step, key=self.key)


jax.tree_util.register_dataclass(
    TrainState,
    data_fields=["params", "opt_state", "step", "key"],
    meta_fields=["graphdef", "config"],
)


def _make_model(config: TrainConfig, input_shape: Sequence[int], seed: int) -> nnx.Module:
    return models.create_model(
        config.model,
        input_shape=tuple(int(s) for s in input_shape),
        num_branches=config.num_branches,
        branch_dim=config.branch_dim,
        filters=config.filters,
        hidden=config.hidden,
        rngs=nnx.Rngs(seed),
    )


def _optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.adam(config.learning_rate)


def create_train_state(
    config: TrainConfig, input_shape: Sequence[int], key: jax.Array
) -> tuple[nnx.GraphDef, TrainState]:
    """Builds the model, its optimizer state and the data-order key.

    Args:
      config: the training config.
      input_shape: the shape of one image, ``(H, W, C)``.
      key: a PRNG key, split into the initialisation key and the data-order key.

    Returns:
      ``(graphdef, state)``: the model's static structure (also
      ``state.graphdef``) and the initial :class:`TrainState` (step 0).
      ``nnx.merge(graphdef, state.params)`` is the model.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}.")
    init_key, data_key = jax.random.split(key)
    seed = int(jax.random.randint(init_key, (), 0, 2**31 - 1))
    graphdef, params = nnx.split(_make_model(config, input_shape, seed), nnx.Param)
    state = TrainState(
        params=params,
        opt_state=_optimizer(config).init(params),
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(data_key),
        graphdef=graphdef,
        config=config,
    )
    return graphdef, state


# ------------------------------------------------------------------ the step


def make_loss_fn(graphdef: nnx.GraphDef, config: TrainConfig) -> Callable:
    """The training loss as a pure function of the parameters.

    Returns:
      ``loss_fn(params, x) -> (loss, metrics)`` for float32 images ``x`` of
      shape ``(B, H, W, C)`` in [0, 1]; ``metrics`` holds ``rec`` and
      ``loss = rec + lam * conn``, and ``conn`` when ``lam > 0`` (with
      ``lam == 0`` the persistence is not computed at all).
    """

    def loss_fn(params, x):
        model = nnx.merge(graphdef, params)
        x_hat, z = model(x)
        rec = losses.reconstruction_loss(x, x_hat)
        metrics = {"rec": rec}
        total = rec
        if config.lam > 0:
            conn = losses.connectivity_loss(
                z, eta=config.eta, num_branches=config.num_branches, metric=config.metric
            )
            total = total + config.lam * conn
            metrics["conn"] = conn
        metrics["loss"] = total
        return total, metrics

    return loss_fn


def train_step(
    state: TrainState, batch: jax.Array, *, axis_name: str | None = None
) -> tuple[TrainState, dict]:
    """One Adam step on a batch of uint8 images.

    Args:
      state: the train state.
      batch: ``(B, H, W, C)`` uint8 images (scaled to [0, 1] here).
      axis_name: inside ``pmap``, the device axis: the gradients and metrics
        are averaged over it (``lax.pmean``).

    Returns:
      ``(new_state, metrics)``: scalars ``rec``, ``loss`` and (``lam > 0``) ``conn``.
    """
    x = batch.astype(jnp.float32) / 255.0
    loss_fn = make_loss_fn(state.graphdef, state.config)
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params, x)
    if axis_name is not None:
        grads = jax.lax.pmean(grads, axis_name)
        metrics = jax.lax.pmean(metrics, axis_name)
    updates, opt_state = _optimizer(state.config).update(grads, state.opt_state, state.params)
    new_state = dataclasses.replace(
        state,
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        step=state.step + 1,
    )
    return new_state, metrics


def _make_chunk_fn(devices: Sequence[jax.Device] | None = None) -> Callable:
    """The pmapped chunk ``(state, images, idx) -> (state, metrics)``.

    Per device: ``state`` replicated, ``images`` ``(N, H, W, C)`` uint8 (the
    training set), ``idx`` ``(steps, B)`` int batch indices; ``metrics`` are
    ``(steps,)`` per device. ``devices=None`` maps over all devices (of all
    processes); a list maps over those (single process). The function is
    shared per device list, so runs with the same config in one process
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
        # paper model on 28x28 inputs), so on CPU the chunk is unrolled.
        unroll = True if jax.default_backend() == "cpu" else 1
        return jax.lax.scan(body, state, idx, unroll=unroll)

    return jax.pmap(chunk, axis_name="batch", donate_argnums=(0,), devices=devices)


def _replicate(tree: PyTree, devices: Sequence[jax.Device]) -> PyTree:
    """Each leaf copied onto each local device, stacked along a new leading axis (pmap's layout).

    Built device by device from the host array, without an ``n``-fold host copy.
    """
    mesh = jax.sharding.Mesh(np.array(devices), ("devices",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("devices"))

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback((len(devices), *x.shape), sharding, lambda _: x[None])

    return jax.tree.map(put, tree)


def _unreplicate(tree: PyTree) -> PyTree:
    return jax.device_get(jax.tree.map(lambda a: a[0], tree))


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
    at epoch ends and at the end, so a resumed run dispatches the same chunks.
    """
    up = lambda s, m: (s // m + 1) * m
    return min(
        up(step, config.steps_per_dispatch),
        up(step, config.checkpoint_every),
        up(step, steps_per_epoch),
        total,
    )


# --------------------------------------------------------------- checkpoints


def _checkpoint_manager(workdir: Path, config: TrainConfig, *, create: bool = True):
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=create)
    return ocp.CheckpointManager(workdir.absolute() / "checkpoints", options=options)


def _save(manager, state: TrainState, input_shape: Sequence[int], num_devices: int) -> None:
    """Saves the host copy of ``state`` (one replica) and the config (asynchronously)."""
    import orbax.checkpoint as ocp

    arrays = jax.device_get(state.arrays())
    meta = {
        "format": _FORMAT,
        "config": state.config.to_dict(),
        "input_shape": [int(s) for s in input_shape],
        "devices": num_devices,
    }
    manager.save(
        int(arrays["step"]),
        args=ocp.args.Composite(state=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)),
    )


def _latest_step(workdir: Path) -> int | None:
    """The newest complete checkpoint's step (orbax ignores ``*.orbax-checkpoint-tmp-*``)."""
    if not (workdir / "checkpoints").is_dir():
        return None
    manager = _checkpoint_manager(workdir, TrainConfig(), create=False)
    try:
        return manager.latest_step()
    finally:
        manager.close()


def _read_meta(workdir: Path, step: int) -> dict | None:
    """The ``meta`` item (config, input shape) of a checkpoint; None for the old format."""
    path = workdir.absolute() / "checkpoints" / str(step) / "meta"
    if not path.is_dir():
        return None
    import orbax.checkpoint as ocp

    manager = _checkpoint_manager(workdir, TrainConfig(), create=False)
    try:
        restored = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(restored["meta"])
    finally:
        manager.close()


def _restore(workdir: Path, template: TrainState, step: int) -> TrainState:
    """The checkpointed arrays of ``step`` in the structure of ``template``."""
    import orbax.checkpoint as ocp

    abstract = jax.tree.map(np.asarray, jax.device_get(template.arrays()))
    manager = _checkpoint_manager(workdir, template.config, create=False)
    try:
        if (workdir.absolute() / "checkpoints" / str(step) / "state").is_dir():
            args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            arrays = manager.restore(step, args=args)["state"]
        else:  # the single-item format of earlier runs
            arrays = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    finally:
        manager.close()
    return dataclasses.replace(template, **arrays)


# ----------------------------------------------------------------- progress


class _Progress:
    """A tqdm bar on a terminal, plain lines otherwise; rows in ``metrics.jsonl``.

    Metrics are averaged over the steps since the last row; a row is written
    when a chunk crosses a multiple of ``log_every`` and at the end.
    """

    def __init__(self, total: int, start: int, workdir: Path, log_every: int, *, enabled: bool):
        self.enabled = enabled and jax.process_index() == 0
        self.total, self.log_every, self.last = total, log_every, start
        self.sums: dict[str, float] = {}
        self.steps, self.examples, self.seconds = 0, 0, 0.0
        self.bar = None
        if self.enabled and sys.stdout.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        self.log = open(workdir / "metrics.jsonl", "a") if self.enabled else None

    def update(
        self, step: int, epoch: int, metrics: dict, steps: int, examples: int, seconds: float
    ) -> None:
        """Records a chunk of ``steps`` steps ending at ``step`` with mean ``metrics``."""
        if not self.enabled:
            return
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * steps
        self.steps += steps
        self.examples += examples
        self.seconds += seconds
        if self.bar is not None:
            shown = {k: f"{float(v):.4g}" for k, v in metrics.items() if k in ("rec", "conn")}
            self.bar.set_postfix(shown, ex_s=f"{examples / seconds:.0f}", refresh=False)
            self.bar.update(steps)
        if step // self.log_every > self.last // self.log_every or step >= self.total:
            self.flush(step, epoch)

    def flush(self, step: int, epoch: int) -> None:
        """Writes the row of the steps recorded since the last one (if any)."""
        if not self.enabled or self.steps == 0:
            return
        record = {k: v / self.steps for k, v in self.sums.items()}
        record.update(
            step=step,
            epoch=epoch,
            examples_per_s=self.examples / self.seconds,
            time=time.time(),
        )
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        if self.bar is None:
            terms = " ".join(f"{k} {record[k]:.4g}" for k in ("rec", "conn", "loss") if k in record)
            print(
                f"step {step}/{self.total} epoch {epoch} {terms} "
                f"examples/s {record['examples_per_s']:.0f}",
                flush=True,
            )
        self.last, self.sums, self.steps, self.examples, self.seconds = step, {}, 0, 0, 0.0

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.log is not None:
            self.log.close()


# ------------------------------------------------------------- train & eval


def _load_training_data(config: TrainConfig) -> np.ndarray:
    from corel_jax import data

    images = data.load(config.dataset, "train", data_dir=config.data_dir).images
    if config.max_examples is not None:
        images = images[: config.max_examples]
    return images


def _host_shard(images: np.ndarray) -> np.ndarray:
    """This process's contiguous ``1/P`` of the examples (all of them on one host)."""
    count, index = jax.process_count(), jax.process_index()
    shard = len(images) // count
    return images[index * shard : (index + 1) * shard]


def _devices(config: TrainConfig) -> tuple[list[jax.Device], list[jax.Device] | None]:
    """(this process's devices, pmap's ``devices`` argument)."""
    if jax.process_count() > 1:
        if config.devices is not None:
            raise ValueError(
                "TrainConfig.devices must be None in a multi-process run (pmap spans all devices)."
            )
        return jax.local_devices(), None
    local = jax.local_devices()[: config.devices]
    return local, local


def _check_workdir(workdir: Path, resume: bool, config: TrainConfig) -> None:
    if resume:
        path = workdir / "config.json"
        if not path.is_file():
            raise ValueError(f"resume: {workdir} holds no run to resume (no config.json).")
        saved = TrainConfig.from_dict(json.loads(path.read_text()))
        if saved != config:
            diff = {
                f.name: (getattr(saved, f.name), getattr(config, f.name))
                for f in dataclasses.fields(config)
                if getattr(saved, f.name) != getattr(config, f.name)
            }
            raise ValueError(
                f"resume: the config differs from the one saved in {workdir} "
                f"(field: (saved, given)): {diff}."
            )
    elif workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise ValueError(
            f"The work directory {workdir} is not empty; pass resume=True (--resume) to continue "
            "the run in it, or choose a new directory."
        )


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
      resume: continue from the latest complete checkpoint in ``workdir``
        (the config must equal the saved one).
      images: ``(N, H, W, C)`` uint8 training images to use instead of
        loading ``config.dataset`` (``max_examples`` still applies); in a
        multi-host run, every host passes all of them.
      progress: show progress and write ``metrics.jsonl``.
      stop_after: stop after the chunk that reaches this absolute step (it is
        checkpointed); simulates an interruption.

    Returns:
      A dict: ``step``, ``total_steps``, ``completed``; when completed, also
      the held-out statistics of :func:`evaluate` (written to
      ``WORKDIR/summary.json`` as well).

    Raises:
      ValueError: a non-empty ``workdir`` without ``resume``, a config that
        differs from the saved one, a dataset smaller than one global batch
        (``batch_size x devices``); nothing is written then.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}.")
    if stop_after is not None and not (_is_int(stop_after) and stop_after > 0):
        raise ValueError(f"stop_after must be a positive int or None; got {stop_after!r}.")
    workdir = Path(workdir)
    _check_workdir(workdir, resume, config)
    local_devices, pmap_devices = _devices(config)
    if images is None:
        images = _load_training_data(config)
    else:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be uint8 of shape (N, H, W, C); got {images.dtype} {images.shape}."
            )
        images = images[: config.max_examples]
    images = _host_shard(images)
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
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
    start = _latest_step(workdir) if resume else None
    if start is not None:
        state = _restore(workdir, state, start)
        saved_devices = (_read_meta(workdir, start) or {}).get("devices")
        if saved_devices not in (None, num_devices) and is_main:
            print(
                f"warning: resuming a run checkpointed on {saved_devices} devices on "
                f"{num_devices}; the global batch and the data order change.",
                file=sys.stderr,
            )
    elif is_main:
        (workdir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    manager = _checkpoint_manager(workdir, config)

    chunk_fn = _make_chunk_fn(pmap_devices)
    key_data = np.asarray(jax.device_get(state.key))
    state = _replicate(state, local_devices)
    images_dev = _replicate(images, local_devices)

    step = int(start or 0)
    report = _Progress(total, step, workdir, config.log_every, enabled=progress)
    perm_epoch, perm = -1, None
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
                _save(manager, jax.tree.map(lambda a: a[0], state), input_shape, num_devices)
            if stop_after is not None and step >= stop_after:
                break
        report.flush(step, (step - 1) // steps_per_epoch)
    finally:
        manager.wait_until_finished()
        manager.close()
        report.close()

    summary = {"step": step, "total_steps": total, "completed": step >= total}
    if step >= total:
        final = _unreplicate(state)
        summary.update(evaluate(graphdef, final.params, config, input_shape=input_shape))
        if is_main:
            (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def evaluate(
    graphdef: nnx.GraphDef,
    params: PyTree,
    config: TrainConfig,
    *,
    input_shape: Sequence[int] | None = None,
    max_batches: int = 10,
) -> dict:
    """Held-out losses and death-time statistics of a model.

    On up to ``max_batches`` batches of ``config.batch_size`` examples of the
    test split of ``config.dataset`` (in order).

    Returns:
      ``test_rec``, ``test_conn`` (mean over batches), and over all per-branch
      death times of those batches ``test_death_mean``, ``test_death_std`` and
      ``test_death_mean_abs_dev_from_eta`` (mean of ``|d - eta|``). Empty when
      the test split is unavailable, smaller than one batch, or of another
      image shape than ``input_shape``.
    """
    from corel_jax import data

    try:
        test = data.load(config.dataset, "test", data_dir=config.data_dir).images
    except data.DatasetNotAvailableError:
        return {}
    if input_shape is not None and tuple(test.shape[1:]) != tuple(input_shape):
        return {}
    n = min(len(test) // config.batch_size, max_batches)
    if n < 1:
        return {}
    model = nnx.merge(graphdef, params)
    x = test[: n * config.batch_size].reshape(n, config.batch_size, *test.shape[1:])
    stats = jax.jit(lambda x: _batch_stats(model, x, config))
    per_batch = [jax.device_get(stats(x[i])) for i in range(n)]
    deaths = np.concatenate([p.pop("deaths").reshape(-1) for p in per_batch])
    out = {f"test_{k}": float(np.mean([p[k] for p in per_batch])) for k in per_batch[0]}
    out.update(
        test_death_mean=float(deaths.mean()),
        test_death_std=float(deaths.std()),
        test_death_mean_abs_dev_from_eta=float(np.abs(deaths - config.eta).mean()),
    )
    return out


def _batch_stats(model: nnx.Module, x_uint8: jax.Array, config: TrainConfig) -> dict:
    x = x_uint8.astype(jnp.float32) / 255.0
    x_hat, z = model(x)
    deaths = losses.branch_deaths(z, num_branches=config.num_branches, metric=config.metric)
    return {
        "rec": losses.reconstruction_loss(x, x_hat),
        "conn": jnp.mean(jnp.sum(jnp.abs(config.eta - deaths), -1)),
        "deaths": deaths,
    }


# ------------------------------------------------------------ using a backbone


def load_backbone(
    workdir: str | os.PathLike, step: int | None = None
) -> tuple[nnx.Module, TrainConfig]:
    """The trained model of a work directory and its config.

    Args:
      workdir: a directory written by :func:`train_and_evaluate`.
      step: the checkpoint to load (default: the latest complete one).

    Returns:
      ``(model, config)``: a fresh ``nnx`` model holding the checkpoint's
      parameters, and the config saved with it.

    Raises:
      ValueError: ``workdir`` holds no checkpoint (or not ``step``).
    """
    workdir = Path(workdir)
    latest = _latest_step(workdir)
    if latest is None:
        raise ValueError(f"{workdir} holds no complete training checkpoint.")
    step = latest if step is None else step
    if not (workdir.absolute() / "checkpoints" / str(step)).is_dir():
        raise ValueError(f"{workdir} holds no checkpoint of step {step}.")
    meta = _read_meta(workdir, step)
    if meta is not None:
        config = TrainConfig.from_dict(meta["config"])
        input_shape = tuple(meta["input_shape"])
    else:  # the old format: the config beside the checkpoints, the shape from the data
        from corel_jax import data

        config = TrainConfig.from_dict(json.loads((workdir / "config.json").read_text()))
        split = data.load(config.dataset, "test", data_dir=config.data_dir)
        input_shape = split.images.shape[1:]
    graphdef, template = create_train_state(config, input_shape, jax.random.key(config.seed))
    state = _restore(workdir, template, step)
    return nnx.merge(graphdef, state.params), config


def encode(model: nnx.Module, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Latent codes of uint8 images, jitted and batched.

    Args:
      model: an autoencoder with ``encode`` (e.g. from :func:`load_backbone`).
      images: ``(N, H, W, C)`` uint8 images (scaled to [0, 1] inside).
      batch_size: examples per call; the last batch is padded, so the
        function compiles once.

    Returns:
      ``(N, latent_dim)`` float32 codes.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C); got shape {images.shape}.")
    if not (_is_int(batch_size) and batch_size > 0):
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    graphdef, state = nnx.split(model)

    @jax.jit
    def run(state, x):
        return nnx.merge(graphdef, state).encode(x.astype(jnp.float32) / 255.0)

    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        out.append(np.asarray(run(state, chunk), np.float32)[: batch_size - pad])
    if not out:
        return np.zeros((0, model.latent_dim), np.float32)
    return np.concatenate(out)


# ---------------------------------------------------------------- command line


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of ``corel-jax train`` to ``parser``.

    Touches no JAX backend, so ``--distributed`` can still initialise it.
    """
    d = argparse.Namespace(**{f.name: f.default for f in dataclasses.fields(TrainConfig)})
    a = parser.add_argument
    a("--workdir", required=True, help="Run directory: checkpoints, config.json, metrics.jsonl.")
    a("--resume", action="store_true", help="Continue the run in --workdir from its latest "
      "checkpoint (same options as the first run). Without it --workdir must be new or empty.")  # fmt: skip
    a("--dataset", default=d.dataset, help="Training data (a name of corel_jax.data.DATASETS).")
    a("--data-dir", default=None, help="tfds data dir or IDX folder of the dataset.")
    a("--max-examples", type=int, default=None, help="Train on the first N examples only.")
    a("--model", default=d.model, choices=models.MODELS, help="Autoencoder architecture.")
    a("--filters", type=int, nargs="+", default=list(d.filters), help="Conv channels (branch).")
    a("--hidden", type=int, nargs="+", default=list(d.hidden), help="Hidden widths (mlp).")
    a("--num-branches", type=int, default=d.num_branches, help="Number of latent branches.")
    a("--branch-dim", type=int, default=d.branch_dim, help="Dimensions per branch.")
    a("--lam", type=float, default=d.lam, help="Weight lambda of the connectivity loss.")
    a("--eta", type=float, default=d.eta, help="Target death time eta.")
    a("--metric", default=d.metric, help="Latent metric of the persistence (l1, l2, linf, ...).")
    a("--batch-size", type=int, default=d.batch_size, help="Batch size PER DEVICE.")
    a("--lr", type=float, default=d.learning_rate, help="Adam learning rate (constant).")
    a("--epochs", type=int, default=d.epochs, help="Training epochs.")
    a("--seed", type=int, default=d.seed, help="PRNG seed (initialisation and data order).")
    a("--devices", type=int, default=None, help="Use the first N local devices (default: all).")
    a("--steps-per-dispatch", type=int, default=d.steps_per_dispatch,
      help="Training steps per jitted call (lax.scan chunk).")  # fmt: skip
    a("--checkpoint-every", type=int, default=d.checkpoint_every,
      help="Checkpoint period in steps (also at the end).")  # fmt: skip
    a("--keep-checkpoints", type=int, default=d.keep_checkpoints,
      help="Keep the newest N checkpoints.")  # fmt: skip
    a("--log-every", type=int, default=d.log_every, help="Steps per log line / metrics row.")
    a("--distributed", action="store_true",
      help="Multi-host: call jax.distributed.initialize (see the module docstring).")  # fmt: skip
    a("--coordinator-address", default=None, help="Multi-host: host:port of process 0.")
    a("--num-processes", type=int, default=None, help="Multi-host: number of processes.")
    a("--process-id", type=int, default=None, help="Multi-host: this process's index.")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``corel-jax train`` options."""
    return TrainConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        max_examples=args.max_examples,
        model=args.model,
        filters=tuple(args.filters),
        hidden=tuple(args.hidden),
        num_branches=args.num_branches,
        branch_dim=args.branch_dim,
        lam=args.lam,
        eta=args.eta,
        metric=args.metric,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        epochs=args.epochs,
        seed=args.seed,
        devices=args.devices,
        steps_per_dispatch=args.steps_per_dispatch,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        log_every=args.log_every,
    )


def run_cli(args: argparse.Namespace) -> int:
    """Runs ``corel-jax train``; returns the exit status (2 on bad input)."""
    if args.distributed:
        jax.distributed.initialize(
            coordinator_address=args.coordinator_address,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    try:
        config = config_from_args(args)
        summary = train_and_evaluate(config, args.workdir, resume=args.resume)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if jax.process_index() == 0:
        print(json.dumps(summary, indent=2))
        print(f"outputs in {Path(args.workdir).absolute()}")
    return 0
