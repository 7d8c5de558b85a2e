"""``corel-jax oneclass``: the one-class protocol on a trained backbone, against baselines."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from corel_jax._checks import check_positive, check_positive_int
from corel_jax._files import check_directory
from corel_jax.data.catalog import DATASETS
from corel_jax.oneclass.names import METHODS, N_INLIERS, RUNS

HELP = "One-class evaluation of a trained backbone (docs/method.md#one-class-protocol)."

logger = logging.getLogger("corel_jax.commands")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax oneclass``."""
    a = parser.add_argument
    a("--workdir", required=True, help="The backbone's training work directory.")
    a("--baseline-workdir", default=None,
      help="The same model trained with lambda=0 (adds the method lambda0).")  # fmt: skip
    a("--dataset", default=None, choices=DATASETS, metavar="DATASET",
      help="Evaluation dataset (default: the backbone's).")  # fmt: skip
    a("--data-dir", default=None, help="tfds data dir or IDX folder (default: the backbone's for "
      "its own dataset, else the evaluation dataset's default location).")  # fmt: skip
    a("--offline", action="store_true",
      help="Never download (a dataset that is not here is an error saying how to get it).")  # fmt: skip
    a("--n", type=int, default=N_INLIERS, help="Inliers per class and run.")
    a("--runs", type=int, default=RUNS, help="Independent inlier draws per class.")
    a("--radius", type=float, default=None, help="Ball radius (default: the backbone's eta).")
    a("--seed", type=int, default=0, help="Seed of the inlier draws.")
    a("--outdir", default=None, help="Default: WORKDIR/oneclass_DATASET.")
    a("--methods", default="corel,kde,ocsvm,raw_ocsvm",
      help=f"Comma-separated subset of {','.join(METHODS)} (lambda0 needs --baseline-workdir; "
      "it is added automatically when that is given).")  # fmt: skip
    a("--max-test-examples", type=int, default=None, help="Score only the first N test examples.")


def _method_names(args: argparse.Namespace) -> list[str]:
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METHODS))
    if unknown or not names:
        raise ValueError(f"--methods: unknown {unknown}; expected some of {METHODS}.")
    if args.baseline_workdir and "lambda0" not in names:
        names.insert(1 if "corel" in names else 0, "lambda0")
    if "lambda0" in names and not args.baseline_workdir:
        raise ValueError("Method 'lambda0' needs --baseline-workdir.")
    return names


def _describe(seen: tuple[int, ...], names: tuple[str, ...]) -> str:
    if not seen:
        return "none of these classes (another dataset)"
    if len(seen) == len(names):
        return "all classes"
    return "classes " + ", ".join(f"{c} ({names[c]})" for c in seen) + " only"


def run(args: argparse.Namespace) -> int:
    """Encodes, evaluates every method, prints the table and writes the report."""
    names = _method_names(args)
    check_positive_int(args.n, "--n")
    check_positive_int(args.runs, "--runs")
    if args.radius is not None:
        check_positive(args.radius, "--radius")
    if args.max_test_examples is not None:
        check_positive_int(args.max_test_examples, "--max-test-examples")
    if args.outdir is not None:
        check_directory(args.outdir, "--outdir")
    import numpy as np

    from corel_jax import data, oneclass
    from corel_jax.training.backbone import load_backbone

    model, config = load_backbone(args.workdir)
    dataset = args.dataset or config.dataset
    if dataset is None:  # a backbone of own images (corel-jax train --data)
        raise ValueError(f"--dataset: the backbone in {args.workdir} was trained on {config.data}; "
                         "name a catalog dataset to evaluate it on, or score images with "
                         "corel-jax score.")  # fmt: skip
    # The backbone's data_dir is that of its own dataset; another dataset has its own.
    data_dir = args.data_dir or (config.data_dir if dataset == config.dataset else None)
    data.prepare(dataset, data_dir=data_dir, download=not args.offline)
    train = data.load(dataset, "train", data_dir=data_dir)
    test = data.load(dataset, "test", data_dir=data_dir).take(args.max_test_examples)
    logger.info("evaluating on %s, read from %s", dataset, train.source)
    radius = float(config.eta if args.radius is None else args.radius)
    baseline = load_backbone(args.baseline_workdir)[0] if "lambda0" in names else None
    # Only the inliers the protocol draws are encoded (a class smaller than n is an error).
    classes = np.unique(test.labels)
    rows = oneclass.drawn_rows(train.labels, classes, n=args.n, runs=args.runs, seed=args.seed)
    methods = oneclass.backbone_methods(
        names, model, config, train, test, radius=radius, baseline=baseline, rows=rows
    )
    seen = oneclass.seen_classes(config, dataset, train.num_classes)
    logger.info("the backbone was trained on %s", _describe(seen, train.class_names))
    result = oneclass.evaluate_methods(
        methods, train.labels, test.labels, n=args.n, runs=args.runs, seed=args.seed,
        classes=classes, class_names=train.class_names, seen_classes=seen,
    )  # fmt: skip
    outdir = Path(args.outdir or Path(args.workdir) / f"oneclass_{dataset}")
    title = f"{dataset}: one-class AUROC, n={args.n}, {args.runs} runs, radius {radius:g}"
    extra = {
        "dataset": dataset,
        "data_source": train.source,
        "radius": radius,
        "workdir": str(args.workdir),
        "baseline_workdir": args.baseline_workdir,
        "num_test": len(test),
        "backbone_dataset": config.dataset,
        "backbone_classes": None if config.classes is None else list(config.classes),
    }
    oneclass.write_report(result, outdir, title=title, extra=extra)
    print(oneclass.format_table(result))
    if 0 < len(seen) < len(result.classes):
        print("\nmean AUROC over the unseen / seen classes: " + ", ".join(
            f"{m} {result.group_mean(m, seen=False):.3f} / {result.group_mean(m, seen=True):.3f}"
            for m in result.auroc
        ))  # fmt: skip
    print(f"outputs in {outdir.absolute()}")
    return 0
