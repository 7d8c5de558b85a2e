"""The TopoAE table's classical baselines (PCA, Isomap, t-SNE, UMAP), measured.

Protocol (the authors', see docs/topoae.md): each method is fitted on the
training part minus a 15 % validation part with the hyperparameters of the
authors' best runs (experiments/topoae/paper.py). Methods with an
out-of-sample ``transform`` (PCA, Isomap, UMAP) embed the test set and are
measured there (PCA also reconstructs it: the data MSE); t-SNE has none, so
it is measured on a random subsample of its training embedding as large as
the test set. t-SNE starts from a random layout, as scikit-learn 0.21 (the
authors' version) did.

Usage:
  python -m experiments.topoae.baselines                      # everything (long: t-SNE)
  python -m experiments.topoae.baselines --datasets spheres --methods pca umap
  python -m experiments.topoae.baselines --subsample 600      # smoke run

Results are merged into experiments/topoae/results/baselines.{json,md} (one
row per data set and method), next to the measures of the authors' released
latents when experiments/topoae/results/authors_latents.json exists.
Machine of the committed numbers: 2-core x86-64 CPU, no GPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from corel_jax.embedding_metrics import NEIGHBOURHOOD_SIZES, evaluate_embedding
from experiments.topoae import datasets, paper, report

OUT = Path("experiments/topoae/results/baselines.json")
LATENTS = Path("experiments/topoae/results/latents")
BASELINES: tuple[str, ...] = ("pca", "isomap", "tsne", "umap")


def make_method(method: str, params: dict, seed: int):
    """A scikit-learn style estimator; sklearn and umap-learn are imported here only."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(**params, random_state=seed)
    if method == "isomap":
        from sklearn.manifold import Isomap

        return Isomap(**params)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(**params, init="random", random_state=seed)
    if method == "umap":
        from umap import UMAP

        return UMAP(**params, random_state=seed)
    raise ValueError(f"Unknown method {method!r}; expected one of {BASELINES}.")


def run_one(dataset: str, method: str, split: datasets.Split, *, seed: int, subsample: int | None):
    """Fits, embeds and measures one method; returns a result row."""
    params = paper.BASELINE_PARAMS[dataset][method]
    rng = np.random.default_rng(seed)
    fit_idx = datasets.fitting_part(len(split.train), seed=seed)
    test, test_labels = split.test, split.test_labels
    if subsample:
        fit_idx = rng.choice(fit_idx, size=min(len(fit_idx), 3 * subsample), replace=False)
        keep = rng.permutation(len(test))[:subsample]
        test, test_labels = test[keep], test_labels[keep]
    fit = split.train[fit_idx]
    estimator = make_method(method, params, seed)
    t0 = time.perf_counter()
    x_hat = None
    if method == "tsne":
        embedding = estimator.fit_transform(fit)
        pick = rng.permutation(len(fit))[: len(test)]
        x, z, labels = fit[pick], embedding[pick], split.train_labels[fit_idx][pick]
        note = f"measured on {len(x)} random points of its {len(fit)}-point training embedding"
    else:
        estimator.fit(fit)
        x, z, labels = test, estimator.transform(test), test_labels
        if method == "pca":
            x_hat = estimator.inverse_transform(z)
        note = f"fitted on {len(fit)} training points, measured on {len(x)} test points"
    fit_seconds = time.perf_counter() - t0
    if not subsample:  # the figure's panel (experiments.topoae.collect)
        LATENTS.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(LATENTS / f"{dataset}_{method}.npz", z=np.asarray(z, np.float32),
                            labels=labels)  # fmt: skip
    ks = [k for k in NEIGHBOURHOOD_SIZES if 2 * len(x) - 3 * k - 1 > 0 and k < len(x)]
    t0 = time.perf_counter()
    metrics = evaluate_embedding(x, z, x_hat=x_hat, ks=ks)
    logging.info(
        "%s/%s: fit %.0f s, measures %.0f s", dataset, method, fit_seconds, time.perf_counter() - t0
    )
    return {
        "dataset": dataset,
        "method": method,
        "label": "ours",
        "params": params,
        "seed": seed,
        "n_fit": len(fit),
        "n_eval": len(x),
        "fit_seconds": fit_seconds,
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("per_k")},
        "per_k": {k: v for k, v in metrics.items() if k.startswith("per_k")},
        "note": note,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=paper.DATASETS, default=list(paper.DATASETS)
    )
    parser.add_argument("--methods", nargs="+", choices=BASELINES, default=list(BASELINES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--subsample", type=int, default=None, help="smoke run: this many test points"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    rows = []
    for dataset in args.datasets:
        split = datasets.LOADERS[dataset]()
        for method in args.methods:
            if method not in paper.BASELINE_PARAMS[dataset]:
                print(f"skip {dataset}/{method}: no run of the authors to follow")
                continue
            rows.append(run_one(dataset, method, split, seed=args.seed, subsample=args.subsample))
            rows_so_far = report.merge_rows(report.load_rows(args.out), rows)
            table = report.markdown(
                rows_so_far,
                title="TopoAE baselines: our runs",
                source=f"Made by `{report.command('experiments.topoae.baselines', argv)}` "
                f"(the last run) on {report.machine()}.",
                references=report.load_rows(Path(paper.AUTHORS_LATENTS_FILE)),
            )
            report.write(args.out, {"machine": report.machine(), "rows": rows_so_far}, table)
            print(json.dumps({k: rows[-1][k] for k in ("dataset", "method", "metrics")}, indent=1))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
