"""Train COREL on offline data and run the one-class protocol against baselines.

``corel-jax demo`` runs the whole method end to end on data that is on this
machine (Fashion-MNIST from Debian's ``dataset-fashion-mnist`` when installed,
else scikit-learn's digits), in about 10 minutes on a 2-core CPU:

1. trains the paper's branch autoencoder with the connectivity loss
   (lambda = 20, eta = 2) and, as a baseline, the same model with lambda = 0;
2. plots the held-out per-branch death times before and after training (the
   paper's effect: with lambda = 20 they pile up at eta);
3. runs the one-class protocol (n = 120 inliers, 5 runs) for COREL's ball
   count and for the lambda = 0 backbone, a latent Gaussian KDE, a latent
   OC-SVM and a raw-pixel OC-SVM, on identical inlier draws;
4. prints the table and writes JSON, CSV, Markdown and PNG files.

Finished backbones in the work directory are reused, an interrupted one is
resumed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

# Published one-class AUROC on Fashion-MNIST with all ~6,000 inliers per class
# (REFERENCE.md §5), for reference next to ours (n = 120).
FASHION_MNIST_PUBLISHED = {
    "GEOM (full data)": [0.994, 0.976, 0.911, 0.899, 0.921, 0.934, 0.833, 0.989, 0.908, 0.992],
}
FASHION_MNIST_PUBLISHED_MEANS = {
    "GEOM": 0.935,
    "RAW-OC-SVM": 0.928,
    "CAE-OC-SVM": 0.917,
    "DSEBM": 0.866,
}

# dataset -> (epochs, steps per dispatch) that fit the 10-minute budget on 2 CPU cores.
_BUDGET = {"fashion_mnist": (5, 10), "digits": (40, 13), "mnist": (5, 10)}


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", default="corel_demo", help="Where everything is written.")
    parser.add_argument(
        "--dataset",
        default=None,
        help="Default: fashion_mnist if its Debian files exist, else digits.",
    )
    parser.add_argument("--data-dir", default=None, help="tfds data dir or IDX folder.")
    parser.add_argument("--epochs", type=int, default=None, help="Default: fits ~10 min on a CPU.")
    parser.add_argument("--lam", type=float, default=20.0, help="Connectivity loss weight.")
    parser.add_argument("--n", type=int, default=120, help="Inliers per one-class task.")
    parser.add_argument("--runs", type=int, default=5, help="Inlier draws per class.")
    parser.add_argument("--seed", type=int, default=0, help="Training and draw seed.")
    parser.add_argument("--max-examples", type=int, default=None, help="Train on the first N only.")
    parser.add_argument(
        "--max-test-examples", type=int, default=None, help="Score only the first N test examples."
    )


def held_out_deaths(model, images: np.ndarray, config, *, batches: int = 10) -> np.ndarray:
    """Per-branch death times of up to ``batches`` test batches of the training batch size."""
    from corel_jax.loss import branch_deaths

    b = config.batch_size
    n = min(batches, len(images) // b)

    @jax.jit
    def deaths(x):
        z = model.encode(x.astype(jnp.float32) / 255.0)
        return branch_deaths(z, num_branches=config.num_branches, metric=config.metric)

    return np.concatenate(
        [np.asarray(deaths(images[i * b : (i + 1) * b])).ravel() for i in range(n)]
    )


def plot_death_histograms(
    deaths: dict[str, np.ndarray], eta: float, path: Path, title: str
) -> None:
    """Overlaid histograms of death times, one per label, with a line at eta."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hi = float(np.percentile(np.concatenate(list(deaths.values())), 99.5))
    bins = np.linspace(0.0, max(hi, 2 * eta), 80)
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, d in deaths.items():
        ax.hist(d, bins=bins, alpha=0.55, label=f"{label} (mean {d.mean():.2f}, std {d.std():.2f})")
    ax.axvline(eta, color="k", linestyle="--", label=f"eta = {eta:g}")
    ax.set_xlabel("0-dim death time (per branch, held-out batches of 100)")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _train(config, workdir: Path) -> dict:
    from corel_jax.train import TrainConfig, train_and_evaluate

    config_path = workdir / "config.json"
    if (
        config_path.is_file()
        and TrainConfig.from_dict(json.loads(config_path.read_text())) != config
    ):
        raise ValueError(
            f"{workdir} holds a backbone trained with other settings; use another --workdir."
        )
    summary_path = workdir / "summary.json"
    if summary_path.is_file():
        print(f"reusing the trained backbone in {workdir}", flush=True)
        return json.loads(summary_path.read_text())
    resume = (workdir / "config.json").is_file()
    return train_and_evaluate(config, workdir, resume=resume)


def run_cli(args: argparse.Namespace) -> int:
    from corel_jax import data, oneclass
    from corel_jax.train import TrainConfig, create_train_state, encode, load_backbone

    start = time.time()
    dataset = args.dataset or data.default_offline_dataset()
    workdir = Path(args.workdir)
    epochs, chunk = _BUDGET.get(dataset, (5, 10))
    try:
        base = dict(
            dataset=dataset,
            data_dir=args.data_dir,
            epochs=args.epochs or epochs,
            seed=args.seed,
            max_examples=args.max_examples,
            steps_per_dispatch=chunk,
            devices=1,
        )
        configs = {
            "corel": TrainConfig(lam=args.lam, **base),
            "lambda0": TrainConfig(lam=0.0, **base),
        }
        train = data.load(dataset, "train", data_dir=args.data_dir)
        test = data.load(dataset, "test", data_dir=args.data_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.max_test_examples:
        test = data.Split(
            test.images[: args.max_test_examples],
            test.labels[: args.max_test_examples],
            test.class_names,
            test.name,
            test.split,
        )
    print(f"corel-jax demo on {dataset}: {len(train)} train / {len(test)} test images", flush=True)
    print(f"outputs go to {workdir.absolute()}", flush=True)

    summaries = {}
    for name, config in configs.items():
        print(f"\n== training the {name} backbone (lambda={config.lam:g}) ==", flush=True)
        try:
            summaries[name] = _train(config, workdir / name)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    print("\n== death times before and after training ==", flush=True)
    cfg = configs["corel"]
    graphdef, init_state = create_train_state(cfg, train.images.shape[1:], jax.random.key(cfg.seed))
    from flax import nnx

    deaths = {
        "initialisation": held_out_deaths(nnx.merge(graphdef, init_state.params), test.images, cfg)
    }
    models = {}
    for name in configs:
        models[name], _ = load_backbone(workdir / name)
        label = f"trained, lambda={configs[name].lam:g}"
        deaths[label] = held_out_deaths(models[name], test.images, configs[name])
    plot_death_histograms(deaths, cfg.eta, workdir / "death_times.png", f"{dataset}: death times")
    for label, d in deaths.items():
        print(f"  {label:>20}: mean {d.mean():.3f}, std {d.std():.3f}, "
              f"mean |d - eta| {np.abs(d - cfg.eta).mean():.3f}")  # fmt: skip

    print("\n== one-class protocol ==", flush=True)
    codes = {name: (encode(m, train.images), encode(m, test.images)) for name, m in models.items()}
    pixels = (oneclass.pixel_features(train.images), oneclass.pixel_features(test.images))
    methods = oneclass.build_methods(
        ["corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"],
        codes=codes["corel"],
        pixels=pixels,
        radius=cfg.eta,
        num_branches=cfg.num_branches,
        metric=cfg.metric,
        baseline_codes=codes["lambda0"],
    )
    try:
        result = oneclass.evaluate_methods(
            methods, train.labels, test.labels, n=args.n, runs=args.runs, seed=args.seed,
            class_names=train.class_names,
        )  # fmt: skip
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    published = FASHION_MNIST_PUBLISHED if dataset == "fashion_mnist" else None
    title = f"{dataset}: one-class AUROC, n={args.n}, {args.runs} runs"
    extra = {
        "dataset": dataset,
        "train_summaries": summaries,
        "published_means_full_data": FASHION_MNIST_PUBLISHED_MEANS if published else {},
        "seconds": time.time() - start,
    }
    paths = oneclass.write_report(
        result, workdir / "oneclass", published=published, title=title, extra=extra
    )
    print()
    print(oneclass.format_table(result, published=published))
    if published:
        means = ", ".join(f"{k} {v:.3f}" for k, v in FASHION_MNIST_PUBLISHED_MEANS.items())
        print(f"\nPublished means with all ~6,000 inliers per class: {means}.")
    print(f"\nfinished in {(time.time() - start) / 60:.1f} min; outputs in {workdir.absolute()}:")
    for p in [workdir / "death_times.png", *paths.values()]:
        print(f"  {p}")
    return 0
