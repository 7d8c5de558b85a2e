"""Our measures of the latent spaces the TopoAE authors released with their code.

The authors' repository (github.com/BorgwardtLab/topological-autoencoders)
ships, for SPHERES and Fashion-MNIST, the 2-D test-set latents of one run of
each method (``data/visualizations/<dataset>/<method>/latents.csv``: two
coordinates and the label per row, in test-set order). Paired with our
regenerated test data (the labels must match row for row, which checks that
our SPHERES generator and split reproduce theirs), they give the closest
measured reference for the table that we can obtain here: the paper's table
averages five runs, this is one.

t-SNE's released latents come from a random subsample of the training data
and cannot be paired; they are skipped.

Usage:
  git clone https://github.com/BorgwardtLab/topological-autoencoders /tmp/topoae
  python -m experiments.topoae.authors_latents --repo /tmp/topoae

Writes experiments/topoae/results/authors_latents.{json,md}. The authors'
files are read, not copied.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from corel_jax.embedding_metrics import evaluate_embedding
from experiments.topoae import datasets, paper, report

FOLDERS = {"spheres": "spheres", "fashion_mnist": "FashionMNIST"}
RELEASED = {"isomap": "Isomap", "pca": "PCA", "umap": "UMAP", "ae": "Vanilla", "topoae": "TopoAE"}


def read_latents(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(z, labels)`` from a released ``latents.csv`` (header ``0,1,labels``)."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :2], table[:, 2].astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repo", type=Path, required=True, help="a checkout of the authors' repository"
    )
    parser.add_argument("--out", type=Path, default=Path(paper.AUTHORS_LATENTS_FILE))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    rows = []
    for dataset in paper.DATASETS:
        split = datasets.LOADERS[dataset]()
        for method, folder in RELEASED.items():
            path = args.repo / "data" / "visualizations" / FOLDERS[dataset] / folder / "latents.csv"
            if not path.exists():
                continue
            z, labels = read_latents(path)
            if not np.array_equal(labels, split.test_labels):
                raise ValueError(f"{path}: its labels do not follow our test set's order.")
            metrics = evaluate_embedding(split.test, z)
            logging.info("%s/%s done", dataset, method)
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "label": "authors' latents, 1 run",
                    "metrics": {k: v for k, v in metrics.items() if not k.startswith("per_k")},
                    "per_k": {k: v for k, v in metrics.items() if k.startswith("per_k")},
                    "n_eval": len(z),
                    "note": f"released test latents ({len(z)} points), labels match our test set",
                }
            )
    rows = report.merge_rows([], rows)
    command = report.command("experiments.topoae.authors_latents", argv)
    table = report.markdown(
        rows,
        title="TopoAE: our measures of the authors' released latents",
        source=f"Made by `{command}` on {report.machine()}. No data MSE: no reconstructions were released.",
        references=[],
        published=False,
    )
    report.write(args.out, {"machine": report.machine(), "rows": rows}, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
