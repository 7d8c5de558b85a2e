"""Trains and measures the autoencoders of one TopoAE table row (plain AE, TopoAE, COREL).

Protocol (the authors', docs/topoae.md): every method trains with
``corel-jax``'s trainer (:func:`corel_jax.training.train.train_and_evaluate`) on the
whole training part, checkpointing once per epoch. Early stopping is
emulated from those checkpoints: the validation loss (the full training
loss, BatchNorm in evaluation mode) on a fixed random 15 % of the training
part is computed per epoch, and the evaluated model is the best epoch up to
the first run of ``patience`` epochs without a lower validation loss (the
authors stop there and restore the best). The test set is then encoded and
measured (:func:`corel_jax.embedding_metrics.evaluate_embedding`); the data
MSE is the per-value MSE of that model's test reconstructions.

Usage:
  python -m experiments.topoae.run --row spheres                   # AE, TopoAE, COREL
  python -m experiments.topoae.run --row fashion_mnist --epochs 10 --methods ae topoae

Writes experiments/topoae/results/autoencoders.{json,md} (one row per data
set and method) and experiments/topoae/results/latents/<row>_<method>.npz
(test latents and labels, for the figure of experiments.topoae.collect).
Runs live in runs/topoae/<row>/<method> (resumed when present).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from corel_jax.embedding_metrics import NEIGHBOURHOOD_SIZES, evaluate_embedding
from corel_jax.training import checkpoint, objectives, train as T
from corel_jax.training.config import TrainConfig
from corel_jax.training.state import create_train_state
from experiments.topoae import datasets, paper, report

logger = logging.getLogger("experiments.topoae.run")
OUT = Path("experiments/topoae/results/autoencoders.json")
LATENTS = Path("experiments/topoae/results/latents")
ROWS = {"spheres": "topoae_spheres", "fashion_mnist": "topoae_fashion_mnist"}


def row_module(row: str):
    """The config module of a row (experiments/configs/topoae_<row>.py)."""
    return importlib.import_module(f"experiments.configs.{ROWS[row]}")


def _restorer(workdir: Path, config: TrainConfig, input_shape):
    """``restore(step) -> (params, rest)``: checkpoint ``step``'s model state, and the graphdef
    of the model in evaluation mode (BatchNorm on its running averages)."""
    graphdef, state = create_train_state(config, input_shape, jax.random.key(0))
    model = nnx.merge(graphdef, state.params, state.batch_stats, copy=True)
    model.eval()
    graphdef = nnx.split(model, nnx.Param, ...)[0]

    def restore(step: int):
        arrays = checkpoint.restore(workdir, step, state.arrays())
        return arrays["params"], arrays.get("batch_stats", state.batch_stats)

    return graphdef, restore


def _batched(fn, x: np.ndarray, batch: int):
    """``fn`` over whole batches of ``x`` (the last partial batch dropped)."""
    return [fn(x[i : i + batch]) for i in range(0, len(x) - batch + 1, batch)]


def validation_losses(workdir: Path, config: TrainConfig, raw: np.ndarray, steps: list[int]):
    """The mean training loss on ``raw`` (evaluation mode), per checkpoint step."""
    graphdef, restore = _restorer(workdir, config, raw.shape[1:])
    loss_fn = jax.jit(objectives.make_loss_fn(graphdef, config, dtype=raw.dtype))
    losses = []
    for step in steps:
        params, rest = restore(step)

        def one(b, params=params, rest=rest):
            x = objectives.prepare_inputs(jnp.asarray(b), config.model)
            return float(loss_fn(params, rest, x)[0])

        losses.append(float(np.mean(_batched(one, raw, config.batch_size))))
    return losses


def early_stopping(losses: list[float], patience: int) -> tuple[int, int]:
    """``(best, stopped)`` epoch indices: the best loss up to the first ``patience``
    epochs without a lower one (``stopped`` is the last epoch that ran)."""
    best = 0
    for epoch, value in enumerate(losses):
        if value < losses[best]:
            best = epoch
        if epoch - best >= patience:
            return best, epoch
    return best, len(losses) - 1


def encode(model: nnx.Module, raw: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, ...]:
    """Test inputs as the model sees them, their codes and reconstructions (flattened)."""
    graphdef, state = nnx.split(model)

    @jax.jit
    def run(state, b):
        x = objectives.prepare_inputs(b, config.model)
        x_hat, z = nnx.merge(graphdef, state)(x)
        return x.reshape(len(b), -1), z, x_hat.reshape(len(b), -1)

    parts = [run(state, jnp.asarray(raw[i : i + 1000])) for i in range(0, len(raw), 1000)]
    return tuple(np.concatenate([np.asarray(p[j], np.float64) for p in parts]) for j in range(3))


def run_method(
    row: str, method: str, config: TrainConfig, *, patience: int, root: Path, seed: int = 0
) -> dict:
    """Trains (or resumes), early-stops and measures one method with one seed."""
    from corel_jax import data

    train = data.load(config.dataset, "train")
    test = data.load(config.dataset, "test")
    per_epoch = len(train.images) // config.batch_size
    # One dispatch and one checkpoint per epoch: every chunk has the same length (one compile).
    config = dataclasses.replace(
        config, seed=seed, checkpoint_every=per_epoch, keep_checkpoints=config.epochs,
        steps_per_dispatch=per_epoch, log_every=per_epoch,
    )  # fmt: skip
    workdir = root / row / (method if seed == 0 else f"{method}_seed{seed}")
    t0 = time.perf_counter()
    resume = (workdir / "config.json").is_file()
    T.train_and_evaluate(config, workdir, resume=resume, progress=True)
    train_seconds = time.perf_counter() - t0
    steps = [per_epoch * (e + 1) for e in range(config.epochs)]
    fitting = datasets.fitting_part(len(train.images), seed=0)
    held = np.setdiff1d(np.arange(len(train.images)), fitting)  # the 15 % validation part
    losses = validation_losses(workdir, config, train.images[held], steps)
    best, stopped = early_stopping(losses, patience)
    graphdef, restore = _restorer(workdir, config, train.images.shape[1:])
    model = nnx.merge(graphdef, *restore(steps[best]), copy=True)
    x, z, x_hat = encode(model, test.images, config)
    ks = [k for k in NEIGHBOURHOOD_SIZES if k < len(x)]
    metrics = evaluate_embedding(x, z, x_hat=x_hat, ks=ks)
    if seed == 0:  # the figure shows seed 0
        LATENTS.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(LATENTS / f"{row}_{method}.npz", z=z.astype(np.float32),
                            labels=test.labels)  # fmt: skip
    note = (
        f"{config.epochs} epochs run (paper: at most {row_module(row).MAX_EPOCHS}); "
        f"best validation epoch {best + 1}, "
        + (
            f"early stopping would have stopped after epoch {stopped + 1}; "
            if stopped - best >= patience
            else f"early stopping had not stopped by the last epoch ({stopped + 1}); "
        )
        + ("resumed an earlier run, then " if resume else "")
        + f"trained for {train_seconds:.0f} s on {report.machine()}"
        + f" (seed {seed})"
    )
    logger.info("%s/%s: %s", row, method, note)
    return {
        "dataset": row,
        "method": method,
        "label": "ours",
        "machine": report.machine(),
        "params": config.to_dict(),
        "n_eval": len(x),
        "train_seconds": train_seconds,
        "validation_losses": losses,
        "best_epoch": best + 1,
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("per_k")},
        "note": note,
    }


def combine(runs: list[dict]) -> dict:
    """One table row of several seeds' runs: the mean metrics, their std and each run."""
    row = dict(runs[0])
    if len(runs) > 1:
        names = list(runs[0]["metrics"])
        values = {
            m: [r["metrics"][m] for r in runs if r["metrics"].get(m) is not None] for m in names
        }
        row["metrics"] = {m: float(np.mean(v)) if v else None for m, v in values.items()}
        row["std"] = {
            m: float(np.std(v, ddof=1)) if len(v) > 1 else None for m, v in values.items()
        }
        row["runs"] = runs
        spread = ", ".join(f"{m} {row['std'][m]:.2g}" for m in names if row["std"][m] is not None)
        row["note"] = (
            f"mean of {len(runs)} seeds ({', '.join(str(r['params']['seed']) for r in runs)}); "
            f"std: {spread}. Seed 0: {runs[0]['note']}"
        )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", choices=tuple(ROWS), required=True)
    parser.add_argument("--methods", nargs="+", default=None, help="default: all of the row")
    parser.add_argument("--epochs", type=int, default=None, help="default: the paper's maximum")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one run per seed; the table shows their mean and std")  # fmt: skip
    parser.add_argument("--root", type=Path, default=Path("runs/topoae"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logger.setLevel(logging.INFO)
    module = row_module(args.row)
    configs = module.configs(args.epochs or module.MAX_EPOCHS)
    for method in args.methods or list(configs):
        runs = [
            run_method(
                args.row,
                method,
                configs[method],
                patience=module.PATIENCE,
                root=args.root,
                seed=seed,
            )  # fmt: skip
            for seed in args.seeds
        ]
        row = combine(runs)
        rows = report.merge_rows(report.load_rows(args.out), [row])
        table = report.markdown(
            rows,
            title="TopoAE table: our autoencoders",
            source=f"Made by `{report.command('experiments.topoae.run', argv)}` (the last run) "
            f"on {report.machine()}.",
            references=report.load_rows(Path(paper.AUTHORS_LATENTS_FILE)),
        )
        report.write(args.out, {"machine": report.machine(), "rows": rows}, table)
        print(json.dumps({k: row[k] for k in ("dataset", "method", "metrics", "note")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
