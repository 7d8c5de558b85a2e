"""Runs one experiment config: train the backbone(s), then the one-class protocol.

Usage:
  python -m experiments.run experiments/configs/cifar100_to_cifar10.py --workdir runs/cifar100_to_cifar10
  python -m experiments.run experiments/configs/fashion_mnist.py --sweep lam=0,1,10,20,40 --workdir runs/fmnist
  python -m experiments.run CONFIG --variant local --workdir /tmp/smoke     # CPU smoke run

Options:
  --set KEY=VALUE       override one TrainConfig field (repeatable)
  --sweep KEY=V1,V2,..  train one backbone per value (repeatable: the product)
  --data-dir DIR        tfds data dir / IDX folder for training and evaluation
  --offline             never download; without it a missing tfds dataset is
                        downloaded and prepared first (tensorflow-datasets)

Each backbone lives in ``WORKDIR/<overrides>/``, named by the overrides other
than ``epochs`` (``WORKDIR/base`` without overrides): an interrupted run is
resumed, a finished one reused, a shorter one extended (``--set epochs=50``
after a 10-epoch run), and a longer one read at the end of the requested epoch
when it kept that checkpoint. Results go to
``WORKDIR/<overrides>/oneclass_<dataset>_n<n>_e<epochs>/`` (JSON, CSV,
Markdown, PNG; a finished one is reused when the command runs again), the
death-time histogram before/after training to
``WORKDIR/<overrides>/death_times_e<epochs>.png``, and the rows of every
command run in ``WORKDIR`` to ``WORKDIR/results.json`` (read by
``experiments/collect.py``). A row records, besides the mean AUROC per method,
the means over the classes the backbone saw and did not see (a config whose
``train`` has ``classes``) and held-out death-time statistics on both.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import logging
import sys
import time
from pathlib import Path

import jax


def load_config(path: str, variant: str) -> dict:
    spec = importlib.util.spec_from_file_location("experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("None", "none"):
        return None
    return text


def overrides_grid(sets: list[str], sweeps: list[str]) -> list[dict]:
    fixed = {}
    for item in sets:
        key, _, value = item.partition("=")
        fixed[key] = _parse_value(value)
    axes = []
    for item in sweeps:
        key, _, values = item.partition("=")
        axes.append([(key, _parse_value(v)) for v in values.split(",")])
    return [dict(fixed, **dict(combo)) for combo in itertools.product(*axes)] or [fixed]


def build_parser() -> argparse.ArgumentParser:
    """The runner's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="experiments/configs/<name>.py")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--variant", default="", help="'' (the paper's setting) or 'local'")
    parser.add_argument("--set", action="append", default=[], dest="sets")
    parser.add_argument("--sweep", action="append", default=[], dest="sweeps")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--offline", action="store_true", help="never download a dataset")
    parser.add_argument(
        "--one-at-a-time", action="store_true",
        help="train a sweep's backbones one after the other in this process (default: on a CPU "
        "with two or more cores, side by side in worker processes, one per core group)",
    )  # fmt: skip
    return parser


def _reusable_row(outdir: Path, config) -> dict | None:
    """The row of an earlier evaluation in ``outdir`` of the same backbone config, if any."""
    path = outdir / "results.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    same = saved.get("train_config") == json.loads(config.to_json())
    return saved.get("row") if same else None


def _merge_rows(path: Path, rows: list[dict]) -> list[dict]:
    """The rows of an earlier ``results.json`` at ``path``, updated with ``rows``."""
    old = json.loads(path.read_text())["rows"] if path.is_file() else []
    new = {(r["name"], r["n"]): r for r in rows}
    kept = [r for r in old if (r["name"], r["n"]) not in new]
    return kept + rows


def _train_side_by_side(runs: dict, ev: dict) -> None:
    """Trains the rows' backbones that need it side by side, where that is faster.

    Rows whose results are already saved are skipped; of several rows sharing
    a backbone directory (other ``epochs``) only the longest trains here (the
    shorter ones are then read from its checkpoints).
    """
    from corel_jax.training.runs import train_backbones

    longest = {}
    for name, (_, config, workdir) in runs.items():
        outdirs = [workdir / f"oneclass_{ev['dataset']}_n{n}_e{config.epochs}" for n in ev["n"]]
        if all(_reusable_row(outdir, config) for outdir in outdirs):
            continue
        if workdir not in longest or config.epochs > longest[workdir][1].epochs:
            longest[workdir] = (name, config)
    # Trains only; the row loop then loads each backbone once.
    train_backbones({name: (config, workdir) for workdir, (name, config) in longest.items()})


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from corel_jax import data, oneclass, plots
    from corel_jax.training.backbone import death_times, death_times_by_group
    from corel_jax.training.config import TrainConfig
    from corel_jax.training.runs import ensure_backbone, initial_model

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.config, args.variant)
    ev = cfg["eval"]
    root = Path(args.workdir)
    grid = overrides_grid(args.sets, args.sweeps)
    datasets = {ev["dataset"]} | {o.get("dataset", cfg["train"]["dataset"]) for o in grid}
    for name in sorted(datasets):  # every dataset is here (or downloaded) before any training
        data.prepare(name, data_dir=args.data_dir, download=not args.offline)
    root.mkdir(parents=True, exist_ok=True)
    train_split = data.load(ev["dataset"], "train", data_dir=args.data_dir)
    test_split = data.load(ev["dataset"], "test", data_dir=args.data_dir)
    test_split = test_split.take(ev.get("max_test_examples"))
    runs = {}
    for overrides in grid:
        name = ",".join(f"{k}={v}" for k, v in overrides.items()) or "base"
        # One backbone directory for all lengths: a longer run extends a shorter one.
        backbone_name = ",".join(f"{k}={v}" for k, v in overrides.items() if k != "epochs")
        workdir = root / (backbone_name or "base")
        config = TrainConfig(**dict(cfg["train"], data_dir=args.data_dir, **overrides))
        runs[name] = (overrides, config, workdir)
    if not args.one_at_a_time:
        _train_side_by_side(runs, ev)
    rows = []
    for name, (overrides, config, workdir) in runs.items():
        outdirs = {n: workdir / f"oneclass_{ev['dataset']}_n{n}_e{config.epochs}" for n in ev["n"]}
        done = {n: _reusable_row(outdir, config) for n, outdir in outdirs.items()}
        if all(done.values()):
            print(f"\n== {name}: reusing the results in {workdir} ==", flush=True)
            rows += list(done.values())
            continue
        t0 = time.time()
        print(f"\n== {name}: backbone on {config.dataset}, {config.epochs} epochs ==", flush=True)
        model, summary = ensure_backbone(config, workdir)
        train_s = time.time() - t0
        seen = oneclass.seen_classes(config, ev["dataset"], train_split.num_classes)

        # The paper's effect: held-out death times before and after training.
        shape = test_split.images.shape[1:]
        deaths = {}
        if shape == tuple(model.input_shape):
            backbones = {
                "initialisation": (initial_model(config, shape), config),
                f"trained, lambda={config.lam:g}": (model, config),
            }
            path = workdir / f"death_times_e{config.epochs}.png"
            plots.plot_death_times(death_times(test_split.images, backbones),
                                   eta=config.eta, path=path, title=f"{name}: death times")  # fmt: skip
            deaths = death_times_by_group(model, config, test_split, seen)

        methods = oneclass.backbone_methods(
            ev["methods"], model, config, train_split, test_split, radius=ev["radius"]
        )
        for n in ev["n"]:
            if done[n]:
                rows.append(done[n])
                continue
            t1 = time.time()
            result = oneclass.evaluate_methods(
                methods, train_split.labels, test_split.labels, n=n, runs=ev["runs"],
                class_names=train_split.class_names, seen_classes=seen,
            )  # fmt: skip
            row = {
                "name": name, "overrides": overrides, "n": n, "epochs": config.epochs,
                "seen_classes": list(seen),
                "means": {m: result.mean(m) for m in result.auroc},
                "means_seen": {m: result.group_mean(m, seen=True) for m in result.auroc},
                "means_unseen": {m: result.group_mean(m, seen=False) for m in result.auroc},
                "train_seconds": train_s, "eval_seconds": time.time() - t1,
                "test_death_mean_abs_dev_from_eta": summary.get("test_death_mean_abs_dev_from_eta"),
                "death_times": deaths,
            }  # fmt: skip
            oneclass.write_report(
                result, outdirs[n], title=f"{cfg['doc']} [{name}, n={n}]",
                extra={"overrides": overrides, "train_summary": summary, "row": row,
                       "train_config": json.loads(config.to_json())},
            )  # fmt: skip
            print(oneclass.format_table(result), flush=True)
            rows.append(row)
    payload = {
        "experiment": cfg["experiment"],
        "config": args.config,
        "variant": args.variant,
        "doc": cfg["doc"],
        "published": cfg["published"],
        "eval": ev,
        "rows": _merge_rows(root / "results.json", rows),
        "device": str(jax.devices()[0]),
    }
    (root / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {root / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
