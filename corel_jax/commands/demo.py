"""``corel-jax demo``: train and evaluate on data on this machine in one go (under 10 min on a CPU)."""

from __future__ import annotations

import argparse

from corel_jax._checks import check_positive_int
from corel_jax._files import check_directory
from corel_jax.data.catalog import DATASETS
from corel_jax.oneclass.names import N_INLIERS, RUNS
from corel_jax.training.config import TrainConfig

HELP = "Train and evaluate COREL against baselines in one go (under 10 min on a 2-core CPU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax demo``."""
    a = parser.add_argument
    a("--workdir", default="corel_demo", help="Where everything is written: WORKDIR/DATASET/.")
    a("--dataset", default=None, choices=DATASETS, metavar="DATASET",
      help="Default: fashion_mnist if its files are on this machine (apt-get install "
      "dataset-fashion-mnist), else digits (a smoke test).")  # fmt: skip
    a("--data-dir", default=None, help="tfds data dir or IDX folder.")
    a("--offline", action="store_true",
      help="Never download (a --dataset that is not here is an error saying how to get it).")  # fmt: skip
    a("--epochs", type=int, default=None, help="Epochs per backbone (default: what fits the "
      "time budget: 5 on fashion_mnist and mnist, 40 on digits).")  # fmt: skip
    a("--lam", type=float, default=TrainConfig.lam, help="Connectivity loss weight.")
    a("--n", type=int, default=N_INLIERS, help="Inliers per one-class task.")
    a("--runs", type=int, default=RUNS, help="Inlier draws per class.")
    a("--seed", type=int, default=0, help="Training and draw seed.")
    a("--max-examples", type=int, default=None, help="Train on the first N only.")
    a("--max-test-examples", type=int, default=None, help="Score only the first N test examples.")
    a("--one-at-a-time", action="store_true",
      help="Train the two backbones one after the other in this process (by default, on a CPU "
      "with two or more cores, they train side by side, each in a worker process on its own "
      "cores: faster; logs in each backbone's train.log).")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Validates every option, runs the demo, prints the table and the files."""
    check_positive_int(args.n, "--n")
    check_positive_int(args.runs, "--runs")
    for option in ("epochs", "max_examples", "max_test_examples"):
        if getattr(args, option) is not None:
            check_positive_int(getattr(args, option), f"--{option.replace('_', '-')}")
    check_directory(args.workdir, "--workdir")
    from corel_jax import data, oneclass
    from corel_jax.paper.demo import demo_configs, run_demo
    from corel_jax.paper.published import FASHION_MNIST_FULL_DATA

    dataset = args.dataset or data.default_offline_dataset()
    configs = demo_configs(
        dataset, data_dir=args.data_dir, epochs=args.epochs, lam=args.lam, seed=args.seed,
        max_examples=args.max_examples,
    )  # fmt: skip
    data.prepare(dataset, data_dir=args.data_dir, download=not args.offline)
    out = run_demo(
        args.workdir, configs, n=args.n, runs=args.runs, seed=args.seed,
        max_test_examples=args.max_test_examples,
        side_by_side=False if args.one_at_a_time else None,
    )  # fmt: skip
    print()
    print(oneclass.format_table(out.result, published=out.published))
    if out.published:
        means = ", ".join(f"{k} {v:.3f}" for k, v in FASHION_MNIST_FULL_DATA.items())
        print(f"\nPublished means with all ~6,000 inliers per class: {means}.")
    if out.note:
        print(f"\nNote: {out.note}")
    folder = out.paths["death_times"].parent
    print(f"\nfinished in {out.seconds / 60:.1f} min; outputs in {folder.absolute()}:")
    for path in out.paths.values():
        print(f"  {path}")
    return 0
