"""Data-parallel training of COREL autoencoders with optax, orbax checkpoints and resume.

The loss of a mini-batch ``x`` of ``B`` examples (REFERENCE.md §2-3) is

    Rec(x, x_hat) + lam * L_eta(z),    z = encode(x),

with the paper's l1 reconstruction loss and connectivity loss. Defaults are the
paper's: lam = 20, eta = 2, B = 100, Adam with lr 1e-3, shuffled every epoch,
last incomplete batch dropped.

Design:

* The whole training set lives on every device as uint8 and is scaled to
  [0, 1] inside the jitted step; each dispatch runs a ``lax.scan`` over a
  chunk of steps, so the host only sends the chunk's batch indices and reads
  back the chunk's metrics.
* Data parallel with ``jax.pmap(axis_name="batch")`` over all local devices:
  each device computes the loss on its OWN batch of ``B`` examples (the
  connectivity loss is defined per batch, so ``B`` stays 100 per device) and
  gradients are averaged with ``lax.pmean``. The global batch is ``B x
  devices``. One device is the same code with a device axis of size 1.
* Multi-host: start every host with ``--distributed`` (it calls
  ``jax.distributed.initialize``; on Cloud TPU and SLURM the arguments are
  auto-detected, elsewhere pass ``--coordinator-address host:port
  --num-processes P --process-id i``, or set them in the environment). Each
  host reads a contiguous ``1/P`` shard of the training set and pmap spans all
  devices of all hosts::

      # on host i of P:
      corel-jax train --dataset cifar100 --workdir gs://bucket/run --distributed \\
          --coordinator-address 10.0.0.1:1234 --num-processes P --process-id i

* Checkpoints (orbax ``CheckpointManager``) every ``checkpoint_every`` steps
  and at the end hold the parameters, the optimizer state, the step and the
  PRNG key; the config is saved as ``config.json``. Orbax writes a checkpoint
  into a temporary folder and renames it when complete, so a killed run never
  leaves a half-written checkpoint behind; ``resume=True`` continues from the
  latest complete one and ends with the same parameters as an uninterrupted
  run (the epoch permutations are functions of the seed and the epoch, and
  chunk boundaries are functions of the absolute step).
* Progress: a tqdm bar (step, loss terms, examples/s) on a terminal, plain log
  lines otherwise; metrics as JSON lines in ``WORKDIR/metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    "create_train_state",
    "encode",
    "load_backbone",
    "make_loss_fn",
    "train_and_evaluate",
    "train_step",
]

PyTree = Any


# --------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One flat training config; every field has the paper's default where it has one."""

    # Data.
    dataset: str = "digits"  # see corel_jax.data.DATASETS
    data_dir: str | None = None  # tfds data dir / IDX folder
    max_examples: int | None = None  # use only the first N training examples (smoke runs)
    # Model (REFERENCE.md §3).
    model: str = "branch"  # "branch" (the paper's conv AE) or "mlp"
    filters: tuple[int, ...] = (32, 64, 128)
    hidden: tuple[int, ...] = (256, 128)  # "mlp" only
    num_branches: int = 16
    branch_dim: int = 10
    # Loss (REFERENCE.md §2).
    lam: float = 20.0  # weight of the connectivity loss
    eta: float = 2.0  # target scale of the death times
    metric: str = "l1"  # latent metric of the persistence
    # Optimisation.
    batch_size: int = 100  # per device: the connectivity loss is per batch
    learning_rate: float = 1e-3
    epochs: int = 50
    seed: int = 0
    # Engineering.
    devices: int | None = None  # use the first N local devices (default: all)
    steps_per_dispatch: int = 10  # steps per jitted lax.scan chunk (unrolled on CPU)
    checkpoint_every: int = 1000  # steps; also at the end
    keep_checkpoints: int = 2

    def __post_init__(self):
        _validate(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields: {sorted(unknown)}.")
        d = dict(d)
        for key in ("filters", "hidden"):
            if key in d and d[key] is not None:
                d[key] = tuple(d[key])
        return cls(**d)


def _validate(c: TrainConfig) -> None:
    """Raises ValueError naming the first field of the wrong type or range."""
    from corel_jax.data import DATASETS
    from corel_jax.persistence import _parse_metric

    def need(ok: bool, field: str, what: str):
        if not ok:
            raise ValueError(f"TrainConfig.{field} must be {what}; got {getattr(c, field)!r}.")

    is_int = lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool)
    is_num = lambda v: (
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    )
    need(c.dataset in DATASETS, "dataset", f"one of {DATASETS}")
    need(c.data_dir is None or isinstance(c.data_dir, str), "data_dir", "a path or None")
    need(
        c.max_examples is None or (is_int(c.max_examples) and c.max_examples > 0),
        "max_examples",
        "a positive int or None",
    )
    need(c.model in models.MODELS, "model", f"one of {models.MODELS}")
    for field in ("filters", "hidden"):
        v = getattr(c, field)
        need(
            isinstance(v, tuple | list) and len(v) > 0 and all(is_int(f) and f > 0 for f in v),
            field,
            "a non-empty sequence of positive ints",
        )
    for field in ("num_branches", "branch_dim", "batch_size", "epochs"):
        need(is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    need(c.batch_size >= 2, "batch_size", "at least 2 (persistence needs two points)")
    need(is_num(c.lam) and c.lam >= 0 and math.isfinite(c.lam), "lam", "a finite number >= 0")
    need(is_num(c.eta) and c.eta > 0 and math.isfinite(c.eta), "eta", "a finite number > 0")
    try:
        _parse_metric(c.metric)
        ok = c.metric != "precomputed"
    except ValueError:
        ok = False
    need(ok, "metric", "a point-cloud metric of corel_jax.persistence (e.g. 'l1')")
    need(is_num(c.learning_rate) and c.learning_rate > 0, "learning_rate", "a number > 0")
    need(is_int(c.seed) and c.seed >= 0, "seed", "an int >= 0")
    need(
        c.devices is None or (is_int(c.devices) and 0 < c.devices <= jax.local_device_count()),
        "devices",
        f"None or an int in [1, {jax.local_device_count()}] (local devices)",
    )
    for field in ("steps_per_dispatch", "checkpoint_every", "keep_checkpoints"):
        need(is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    if c.model == "branch":
        need(
            c.filters[-1] % c.num_branches == 0,
            "num_branches",
            f"a divisor of the last conv's channels ({c.filters[-1]})",
        )


# ---------------------------------------------------------------- train state


@dataclasses.dataclass(frozen=True)
class TrainState:
    """Everything that changes during training (a pytree), plus static parts.

    ``params`` is the model's ``nnx.Param`` state, ``opt_state`` optax's state,
    ``step`` an int32 scalar, ``key`` the base PRNG key data (uint32).
    """

    params: PyTree
    opt_state: PyTree
    step: jax.Array
    key: jax.Array

    def as_dict(self) -> dict:
        return dict(params=self.params, opt_state=self.opt_state, step=self.step, key=self.key)


jax.tree_util.register_dataclass(
    TrainState, data_fields=["params", "opt_state", "step", "key"], meta_fields=[]
)


def make_model(config: TrainConfig, input_shape: Sequence[int], seed: int) -> nnx.Module:
    return models.create_model(
        config.model,
        input_shape=tuple(input_shape),
        num_branches=config.num_branches,
        branch_dim=config.branch_dim,
        filters=config.filters,
        hidden=config.hidden,
        rngs=nnx.Rngs(seed),
    )


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.adam(config.learning_rate)


def create_train_state(
    config: TrainConfig, input_shape: Sequence[int], key: jax.Array
) -> tuple[nnx.GraphDef, TrainState]:
    """Builds the model and its optimizer state.

    Args:
      config: the training config.
      input_shape: ``(H, W, C)``.
      key: a PRNG key; split into the init key and the data-order key.

    Returns:
      ``(graphdef, state)``: the static model structure and the train state.
    """
    init_key, data_key = jax.random.split(key)
    seed = int(jax.random.randint(init_key, (), 0, 2**31 - 1))
    graphdef, params = nnx.split(make_model(config, input_shape, seed), nnx.Param)
    opt_state = make_optimizer(config).init(params)
    state = TrainState(
        params=params,
        opt_state=opt_state,
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(data_key),
    )
    return graphdef, state


# ----------------------------------------------------------------- the step


def make_loss_fn(graphdef: nnx.GraphDef, config: TrainConfig) -> Callable:
    """``loss_fn(params, x) -> (loss, metrics)`` for float images ``x`` in [0, 1]."""

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
    graphdef: nnx.GraphDef,
    config: TrainConfig,
    state: TrainState,
    batch: jax.Array,
    *,
    axis_name: str | None = None,
) -> tuple[TrainState, dict]:
    """One optimisation step on a batch of uint8 images ``(B, H, W, C)``.

    With ``axis_name`` (inside pmap), gradients and metrics are averaged over
    the devices of that axis.
    """
    x = batch.astype(jnp.float32) / 255.0
    grads, metrics = jax.grad(make_loss_fn(graphdef, config), has_aux=True)(state.params, x)
    if axis_name is not None:
        grads = jax.lax.pmean(grads, axis_name)
        metrics = jax.lax.pmean(metrics, axis_name)
    updates, opt_state = make_optimizer(config).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = TrainState(params=params, opt_state=opt_state, step=state.step + 1, key=state.key)
    return new_state, metrics


def _make_chunk_fn(
    graphdef: nnx.GraphDef, config: TrainConfig, devices: Sequence[jax.Device] | None = None
) -> Callable:
    """pmapped ``(state, images, idx) -> (state, metrics)``; ``idx`` is ``(steps, B)`` per device."""

    def chunk(state, images, idx):
        def body(state, batch_idx):
            return train_step(graphdef, config, state, images[batch_idx], axis_name="batch")

        # XLA:CPU runs convolutions inside a while loop about 5x slower than
        # in straight-line code (measured: 520 vs 95 ms per step of the paper
        # model on 28x28 inputs), so on CPU the chunk is fully unrolled.
        unroll = True if jax.default_backend() == "cpu" else 1
        return jax.lax.scan(body, state, idx, unroll=unroll)

    return jax.pmap(chunk, axis_name="batch", donate_argnums=(0,), devices=devices)


def _replicate(tree: PyTree, devices: Sequence[jax.Device]) -> PyTree:
    """Copies every leaf onto each device, stacked along a new leading axis (pmap's layout)."""
    mesh = jax.sharding.Mesh(np.array(devices), ("devices",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("devices"))

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback((len(devices), *x.shape), sharding, lambda _: x[None])

    return jax.tree.map(put, tree)


# ------------------------------------------------------------ data ordering


def epoch_permutation(key_data: np.ndarray, epoch: int, n: int) -> np.ndarray:
    """The example order of ``epoch``: a function of the seed's key and the epoch only."""
    key = jax.random.fold_in(jax.random.wrap_key_data(jnp.asarray(key_data)), epoch)
    return np.asarray(jax.random.permutation(key, n))


def chunk_bounds(step: int, total: int, steps_per_epoch: int, config: TrainConfig) -> int:
    """End (exclusive) of the chunk starting at absolute ``step``.

    Chunks end at multiples of ``steps_per_dispatch``, of ``checkpoint_every``,
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


def _checkpoint_manager(workdir: Path, config: TrainConfig):
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=True)
    return ocp.CheckpointManager(workdir.absolute() / "checkpoints", options=options)


def _save(manager, state: TrainState) -> None:
    import orbax.checkpoint as ocp

    host = jax.device_get(state.as_dict())
    manager.save(int(host["step"]), args=ocp.args.StandardSave(host))


def _restore(manager, template: TrainState, step: int | None = None) -> TrainState:
    import orbax.checkpoint as ocp

    step = manager.latest_step() if step is None else step
    abstract = jax.tree.map(np.asarray, jax.device_get(template.as_dict()))
    restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    return TrainState(**restored)


# ----------------------------------------------------------------- progress


class _Progress:
    """A tqdm bar on a terminal, plain lines otherwise; metrics to ``metrics.jsonl``."""

    def __init__(self, total: int, start: int, workdir: Path, *, enabled: bool):
        from tqdm.auto import tqdm

        self.enabled = enabled
        self.tty = sys.stdout.isatty()
        self.bar = (
            tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, file=sys.stdout)
            if enabled and self.tty
            else None
        )
        self.log = open(workdir / "metrics.jsonl", "a") if enabled else None
        self.total = total
        self.last_print = 0.0

    def update(self, record: dict, steps: int) -> None:
        if not self.enabled:
            return
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        shown = {k: f"{record[k]:.4g}" for k in ("rec", "conn", "examples_per_s") if k in record}
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix(shown, refresh=False)
        elif time.time() - self.last_print > 5 or record["step"] == self.total:
            self.last_print = time.time()
            items = " ".join(f"{k}={v}" for k, v in shown.items())
            print(f"step {record['step']}/{self.total} epoch {record['epoch']} {items}", flush=True)

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
    if jax.process_count() > 1:  # each host trains on its own contiguous shard
        shard = len(images) // jax.process_count()
        images = images[jax.process_index() * shard : (jax.process_index() + 1) * shard]
    return images


def _check_workdir(workdir: Path, resume: bool) -> None:
    if resume:
        if not (workdir / "config.json").is_file():
            raise ValueError(f"--resume: {workdir} holds no run to resume (no config.json).")
    elif workdir.exists() and any(workdir.iterdir()):
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
    """Trains a backbone and evaluates it on the held-out split.

    Args:
      config: the training config.
      workdir: where ``config.json``, ``checkpoints/``, ``metrics.jsonl`` and
        ``summary.json`` go.
      resume: continue from the latest checkpoint in ``workdir``.
      images: training images ``(N, H, W, C)`` uint8 to use instead of
        loading ``config.dataset`` (tests, custom data).
      progress: show progress and write ``metrics.jsonl``.
      stop_after: stop (after checkpointing) once this absolute step is
        reached; used to test interruption.

    Returns:
      The final metrics (also written to ``WORKDIR/summary.json``).

    Raises:
      ValueError: bad config, a non-empty workdir without ``resume``, a
        dataset smaller than one global batch. Nothing is written then.
    """
    workdir = Path(workdir)
    _check_workdir(workdir, resume)
    if resume:
        saved = TrainConfig.from_dict(json.loads((workdir / "config.json").read_text()))
        if saved != config:
            raise ValueError(
                f"--resume with a different config than the one saved in {workdir}: "
                f"saved {saved}, given {config}."
            )
    if images is None:
        images = _load_training_data(config)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, C); got {images.dtype} {images.shape}.")
    devices = jax.local_devices()[: config.devices]
    n_dev = len(devices)
    global_batch = config.batch_size * n_dev
    steps_per_epoch = len(images) // global_batch
    if steps_per_epoch < 1:
        raise ValueError(
            f"The dataset has {len(images)} examples, fewer than one global batch of "
            f"{config.batch_size} x {n_dev} devices = {global_batch}."
        )
    total = steps_per_epoch * config.epochs

    graphdef, state = create_train_state(config, images.shape[1:], jax.random.key(config.seed))
    workdir.mkdir(parents=True, exist_ok=True)
    manager = _checkpoint_manager(workdir, config)
    if resume and manager.latest_step() is not None:
        state = _restore(manager, state)
    else:
        (workdir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    chunk_fn = _make_chunk_fn(graphdef, config, devices)
    state = _replicate(state, devices)
    images_dev = _replicate(images, devices)
    key_data = np.asarray(jax.device_get(state.key[0]))

    step = int(state.step[0])
    report = _Progress(total, step, workdir, enabled=progress)
    perm_epoch, perm = -1, None
    try:
        while step < total:
            end = chunk_bounds(step, total, steps_per_epoch, config)
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
            record = {k_: float(v) for k_, v in metrics.items()}
            record.update(
                step=step,
                epoch=epoch,
                examples_per_s=k * global_batch * jax.process_count() / seconds,
                time=time.time(),
            )
            report.update(record, k)
            if step % config.checkpoint_every == 0 or step == total:
                _save(manager, jax.tree.map(lambda a: a[0], state))
            if stop_after is not None and step >= stop_after:
                break
    finally:
        manager.wait_until_finished()
        report.close()

    final = jax.device_get(jax.tree.map(lambda a: a[0], state))
    summary = {"step": step, "total_steps": total, "completed": step >= total}
    if step >= total:
        summary.update(evaluate(graphdef, final.params, config))
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def evaluate(graphdef: nnx.GraphDef, params: PyTree, config: TrainConfig, **kw) -> dict:
    """Held-out losses and death-time statistics on up to 10 test batches."""
    from corel_jax import data

    try:
        test = data.load(config.dataset, "test", data_dir=config.data_dir).images
    except data.DatasetNotAvailableError:
        return {}
    model = nnx.merge(graphdef, params)
    n = min(len(test) // config.batch_size, 10)
    if n < 1:
        return {}
    x = jnp.asarray(test[: n * config.batch_size]).reshape(n, config.batch_size, *test.shape[1:])
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


def _batch_stats(model, x_uint8, config: TrainConfig) -> dict:
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
    """The trained model of a work directory (latest checkpoint, or ``step``) and its config."""
    workdir = Path(workdir)
    config_path = workdir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{workdir} is not a training work directory (no config.json).")
    config = TrainConfig.from_dict(json.loads(config_path.read_text()))
    manager = _checkpoint_manager(workdir, config)
    if manager.latest_step() is None:
        raise ValueError(f"{workdir} holds no checkpoint yet.")
    shape = _input_shape(workdir, config)
    graphdef, template = create_train_state(config, shape, jax.random.key(config.seed))
    state = _restore(manager, template, step)
    return nnx.merge(graphdef, state.params), config


def _input_shape(workdir: Path, config: TrainConfig) -> tuple[int, ...]:
    from corel_jax import data

    return tuple(data.load(config.dataset, "test", data_dir=config.data_dir).images.shape[1:])


def encode(model: nnx.Module, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Latent codes ``(N, latent_dim)`` float32 of uint8 images ``(N, H, W, C)``.

    Jitted and batched; the last batch is padded, so it compiles once.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C); got shape {images.shape}.")
    graphdef, params = nnx.split(model)

    @jax.jit
    def run(params, x):
        return nnx.merge(graphdef, params).encode(x.astype(jnp.float32) / 255.0)

    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        out.append(np.asarray(run(params, chunk))[: batch_size - pad])
    return np.concatenate(out) if out else np.zeros((0, model.latent_dim), np.float32)


# ---------------------------------------------------------------- command line


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument(
        "--workdir", required=True, help="Where checkpoints, config and metrics go."
    )
    parser.add_argument("--resume", action="store_true", help="Continue the run in --workdir.")
    parser.add_argument("--dataset", default=d.dataset, help="Training dataset (corel_jax.data).")
    parser.add_argument("--data-dir", default=None, help="tfds data dir or IDX folder.")
    parser.add_argument("--max-examples", type=int, default=None, help="Use the first N examples.")
    parser.add_argument("--model", default=d.model, choices=models.MODELS, help="Architecture.")
    parser.add_argument(
        "--filters", type=int, nargs="+", default=list(d.filters), help="Conv channels."
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=list(d.hidden), help="MLP widths.")
    parser.add_argument("--num-branches", type=int, default=d.num_branches, help="Latent branches.")
    parser.add_argument("--branch-dim", type=int, default=d.branch_dim, help="Dims per branch.")
    parser.add_argument("--lam", type=float, default=d.lam, help="Connectivity loss weight lambda.")
    parser.add_argument("--eta", type=float, default=d.eta, help="Target death time eta.")
    parser.add_argument("--metric", default=d.metric, help="Latent metric (l1, l2, linf, ...).")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="Per-device batch.")
    parser.add_argument("--lr", type=float, default=d.learning_rate, help="Adam learning rate.")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="Training epochs.")
    parser.add_argument("--seed", type=int, default=d.seed, help="PRNG seed.")
    parser.add_argument(
        "--steps-per-dispatch", type=int, default=d.steps_per_dispatch, help="Steps per jit call."
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=d.checkpoint_every,
        help="Checkpoint period (steps).",
    )
    parser.add_argument("--devices", type=int, default=None, help="Use the first N local devices.")
    parser.add_argument(
        "--distributed", action="store_true", help="Call jax.distributed.initialize."
    )
    parser.add_argument(
        "--coordinator-address", default=None, help="Multi-host: host:port of process 0."
    )
    parser.add_argument(
        "--num-processes", type=int, default=None, help="Multi-host: number of hosts."
    )
    parser.add_argument(
        "--process-id", type=int, default=None, help="Multi-host: this host's index."
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
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
    )


def run_cli(args: argparse.Namespace) -> int:
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
    print(json.dumps(summary, indent=2))
    print(f"outputs in {Path(args.workdir).absolute()}")
    return 0
