"""Using a trained backbone: build its model, load it, encode images, measure its death times.

A backbone is the autoencoder of a training run (:mod:`corel_jax.training.train`);
its encoder maps images to codes of ``num_branches x branch_dim`` values. The
held-out statistics here (reconstruction loss, connectivity loss, per-branch
death times on test batches of the training batch size) are what training
reports at its end and what the demo and the experiments plot.

Examples:
  >>> from corel_jax.training.backbone import load_backbone, encode
  >>> model, config = load_backbone("runs/fmnist")  # doctest: +SKIP
  >>> codes = encode(model, images_uint8)  # (N, 160) float32  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from corel_jax import loss as losses
from corel_jax._checks import check_positive_int
from corel_jax.models import Autoencoder
from corel_jax.training import checkpoint
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import build_model, prepare_inputs

if TYPE_CHECKING:
    from corel_jax.data import Split

__all__ = [
    "death_summary",
    "death_times",
    "death_times_by_group",
    "encode",
    "evaluate",
    "held_out_statistics",
    "load_backbone",
]


def _key_path(path) -> tuple[str, ...]:
    return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def load_backbone(
    workdir: str | os.PathLike, step: int | None = None
) -> tuple[Autoencoder, TrainConfig]:
    """The trained model of a work directory and its config.

    Args:
      workdir: a directory written by :func:`corel_jax.training.train.train_and_evaluate`.
      step: the checkpoint to load (default: the latest complete one).

    Returns:
      ``(model, config)``: a fresh ``nnx`` model holding the checkpoint's
      parameters (and BatchNorm statistics, for models that have them), and
      the config saved with it.

    Raises:
      ValueError: ``workdir`` holds no checkpoint (or not ``step``).
    """
    workdir = Path(workdir)
    latest = checkpoint.latest_step(workdir)
    if latest is None:
        raise ValueError(f"{workdir} holds no complete training checkpoint.")
    step = latest if step is None else step
    if not checkpoint.step_dir(workdir, step).is_dir():
        raise ValueError(f"{workdir} holds no checkpoint of step {step}.")
    meta = checkpoint.read_meta(workdir, step)
    if meta is not None:
        config = TrainConfig.from_dict(meta["config"])
        input_shape = tuple(meta["input_shape"])
    else:  # the old format: the config beside the checkpoints, the shape from the data
        from corel_jax import data

        config = TrainConfig.from_json((workdir / "config.json").read_text())
        split = data.load(config.catalog_dataset(), "test", data_dir=config.data_dir)
        input_shape = split.images.shape[1:]
    # Shapes only (no initialisation: on a CPU, compiling the random initialisers of the
    # paper's model takes ~10 s); every value comes from the checkpoint.
    model = nnx.eval_shape(lambda: build_model(config, input_shape, rngs=nnx.Rngs(0)))
    graphdef, params, *others = nnx.split(model, nnx.Param, ...)
    rest = others[0]  # every other variable (BatchNorm statistics, ...)
    restored = checkpoint.restore(workdir, step)

    def fill(state, item: str):
        """``state`` with every leaf taken from the checkpoint's ``item``."""
        leaves = jax.tree_util.tree_leaves_with_path(restored.get(item, {}))
        saved = {_key_path(path): leaf for path, leaf in leaves}

        def take(path, leaf):
            value = saved.get(_key_path(path))
            if value is None or value.shape != leaf.shape:
                raise ValueError(
                    f"{workdir}: checkpoint {step} does not fit its config at {item} {path}."
                )
            return jnp.asarray(value, leaf.dtype)

        return jax.tree_util.tree_map_with_path(take, state)

    # Models with BatchNorm (TopoAE's) also saved their running statistics.
    rest = fill(rest, "batch_stats") if jax.tree.leaves(rest) else rest
    return nnx.merge(graphdef, fill(params, "params"), rest), config


def encode(model: Autoencoder, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Latent codes of images, jitted and batched.

    Args:
      model: an autoencoder with ``encode`` (e.g. from :func:`load_backbone`).
      images: ``(N, H, W, C)`` uint8 images, scaled inside to the range the model
        was trained on ([0, 1] for COREL's models, [-1, 1] for the TopoAE
        paper's: :func:`corel_jax.training.objectives.prepare_inputs`), or
        float data (such as SPHERES), used as it is.
      batch_size: examples per call; the last batch is padded, so the
        function compiles once.

    Returns:
      ``(N, latent_dim)`` float32 codes.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C); got shape {images.shape}.")
    check_positive_int(batch_size, "batch_size")
    graphdef, state = nnx.split(model)
    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        out.append(
            np.asarray(_encode_batch(graphdef, state, chunk), np.float32)[: batch_size - pad]
        )
    if not out:
        return np.zeros((0, model.latent_dim), np.float32)
    return np.concatenate(out)


# Jitted once per model structure and input shape, not once per model: the
# demo's backbones share their compilations.
@functools.partial(jax.jit, static_argnums=0)
def _encode_batch(graphdef: nnx.GraphDef, state: nnx.State, batch: jax.Array) -> jax.Array:
    model = nnx.merge(graphdef, state)
    return model.encode(prepare_inputs(batch, model))


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _batch_statistics(graphdef, num_branches, metric, eta, state, x_uint8):
    """(rec, conn, deaths (K, B - 1)) of one held-out batch."""
    x = x_uint8.astype(jnp.float32) / 255.0
    x_hat, z = nnx.merge(graphdef, state)(x)
    deaths = losses.branch_deaths(z, num_branches=num_branches, metric=metric)
    conn = jnp.mean(jnp.sum(jnp.abs(eta - deaths), -1))
    return losses.reconstruction_loss(x_hat, x), conn, deaths


def held_out_statistics(
    model: Autoencoder, images: np.ndarray, config: TrainConfig, *, max_batches: int = 10
) -> dict[str, np.ndarray]:
    """Per-batch losses and death times on held-out images, in batches of ``config.batch_size``.

    Args:
      model: the autoencoder.
      images: ``(N, H, W, C)`` uint8 images, used in order.
      config: gives the batch size, branches, metric and ``eta``.
      max_batches: use at most this many whole batches.

    Returns:
      ``rec`` and ``conn``, ``(n,)`` per batch (``conn`` as the connectivity
      loss defines it, whatever ``lam``), and ``deaths``, ``(n, K, B - 1)``:
      the per-branch 0-dim death times of each batch. ``n`` may be 0.
    """
    b = config.batch_size
    n = min(len(images) // b, max_batches)
    graphdef, state = nnx.split(model)
    static = (graphdef, config.num_branches, config.metric, float(config.eta))
    per_batch = [
        jax.device_get(_batch_statistics(*static, state, images[i * b : (i + 1) * b]))
        for i in range(n)
    ]
    k, width = config.num_branches, b - 1
    return {
        "rec": np.asarray([p[0] for p in per_batch], np.float64),
        "conn": np.asarray([p[1] for p in per_batch], np.float64),
        "deaths": np.asarray([p[2] for p in per_batch], np.float32).reshape(n, k, width),
    }


def death_summary(deaths: np.ndarray, *, eta: float) -> dict[str, float]:
    """``mean``, ``std`` and ``mean_abs_dev_from_eta`` (mean of ``|d - eta|``) of death times."""
    deaths = np.asarray(deaths, np.float64).ravel()
    return {
        "mean": float(deaths.mean()),
        "std": float(deaths.std()),
        "mean_abs_dev_from_eta": float(np.abs(deaths - eta).mean()),
    }


def evaluate(
    model: Autoencoder,
    config: TrainConfig,
    *,
    input_shape: Sequence[int] | None = None,
    max_batches: int = 10,
) -> dict[str, float]:
    """Held-out losses and death-time statistics on the test split of ``config.dataset``.

    The test images of ``config.classes`` only, when the backbone was trained on those. On up to ``max_batches`` batches of ``config.batch_size`` test examples, in order.

    Returns:
      ``test_rec``, ``test_conn`` (means over batches), ``test_death_mean``,
      ``test_death_std`` and ``test_death_mean_abs_dev_from_eta`` (over all
      per-branch death times of those batches). Empty when the test split is
      unavailable, smaller than one batch, or of another image shape than
      ``input_shape``, and for a backbone of your own images (``config.data``).
    """
    from corel_jax import data

    if config.data is not None:
        return {}

    try:
        split = data.load(config.catalog_dataset(), "test", data_dir=config.data_dir)
        test = split.select(config.classes).images  # held out from the training distribution
    except data.DatasetNotAvailableError:
        return {}
    if input_shape is not None and tuple(test.shape[1:]) != tuple(input_shape):
        return {}
    stats = held_out_statistics(model, test, config, max_batches=max_batches)
    if len(stats["rec"]) == 0:
        return {}
    out = {"test_rec": float(stats["rec"].mean()), "test_conn": float(stats["conn"].mean())}
    out.update(
        {f"test_death_{k}": v for k, v in death_summary(stats["deaths"], eta=config.eta).items()}
    )
    return out


def death_times(
    images: np.ndarray,
    backbones: Mapping[str, tuple[Autoencoder, TrainConfig]],
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


def death_times_by_group(
    model: Autoencoder,
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
      seen: the labels the backbone was trained on (:func:`corel_jax.oneclass.backbone.seen_classes`).
      max_batches: whole batches of ``config.batch_size`` images per group.

    Returns:
      ``{"seen": ..., "unseen": ...}``, each :func:`death_summary`
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
