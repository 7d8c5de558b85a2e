"""``corel-jax demo``: train and evaluate on offline data in one go (~10 min on a CPU)."""

from __future__ import annotations

import argparse

from corel_jax._checks import check_positive_int
from corel_jax.config import TrainConfig
from corel_jax.oneclass.protocol import N_INLIERS, RUNS

HELP = "Train and evaluate on offline data in one go (~10 min on a CPU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax demo``."""
    a = parser.add_argument
    a("--workdir", default="corel_demo", help="Where everything is written.")
    a("--dataset", default=None,
      help="Default: fashion_mnist if its Debian files exist, else digits.")  # fmt: skip
    a("--data-dir", default=None, help="tfds data dir or IDX folder.")
    a("--epochs", type=int, default=None, help="Default: fits ~10 min on a CPU.")
    a("--lam", type=float, default=TrainConfig.lam, help="Connectivity loss weight.")
    a("--n", type=int, default=N_INLIERS, help="Inliers per one-class task.")
    a("--runs", type=int, default=RUNS, help="Inlier draws per class.")
    a("--seed", type=int, default=0, help="Training and draw seed.")
    a("--max-examples", type=int, default=None, help="Train on the first N only.")
    a("--max-test-examples", type=int, default=None, help="Score only the first N test examples.")


def run(args: argparse.Namespace) -> int:
    """Validates the options, runs the demo, prints the table and the files."""
    check_positive_int(args.n, "--n")
    check_positive_int(args.runs, "--runs")
    from corel_jax import data, oneclass
    from corel_jax.demo import demo_configs, run_demo
    from corel_jax.published import FASHION_MNIST_FULL_DATA

    dataset = args.dataset or data.default_offline_dataset()
    configs = demo_configs(
        dataset, data_dir=args.data_dir, epochs=args.epochs, lam=args.lam, seed=args.seed,
        max_examples=args.max_examples,
    )  # fmt: skip
    out = run_demo(
        args.workdir, configs, n=args.n, runs=args.runs, seed=args.seed,
        max_test_examples=args.max_test_examples,
    )  # fmt: skip
    print()
    print(oneclass.format_table(out.result, published=out.published))
    if out.published:
        means = ", ".join(f"{k} {v:.3f}" for k, v in FASHION_MNIST_FULL_DATA.items())
        print(f"\nPublished means with all ~6,000 inliers per class: {means}.")
    workdir = out.paths["death_times"].parent
    print(f"\nfinished in {out.seconds / 60:.1f} min; outputs in {workdir.absolute()}:")
    for path in out.paths.values():
        print(f"  {path}")
    return 0
