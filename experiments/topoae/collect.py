"""Collects the TopoAE table: ours next to the references, and the figure of 2-D latents.

Reads experiments/topoae/results/{baselines,autoencoders,authors_latents}.json
(made by experiments.topoae.baselines, experiments.topoae.run and
experiments.topoae.authors_latents) and writes

* experiments/topoae/results/table.md: per data set, every method (PCA,
  Isomap, t-SNE, UMAP, AE, TopoAE, COREL) with our measures (KL 0.01, KL 0.1,
  KL 1, l-MRRE, l-Cont, l-Trust, l-RMSE, data MSE) above the references: the
  paper's published numbers (not retrievable here: n/a, never guessed) and
  our measures of the test latents the authors released (one run);
* experiments/topoae/results/latents_<dataset>.png: one panel per method,
  the test set's 2-D codes coloured by label, like the paper's figure (each
  panel spans the central 99.6 % of its codes; its title counts the points
  outside).

Usage:
  python -m experiments.topoae.collect
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from experiments.topoae import paper, report

RESULTS = Path("experiments/topoae/results")
TITLES = {"pca": "PCA", "isomap": "Isomap", "tsne": "t-SNE", "umap": "UMAP", "ae": "AE",
          "topoae": "TopoAE", "corel": "COREL"}  # fmt: skip
PANELS = ("pca", "isomap", "tsne", "umap", "ae", "topoae", "corel")


def rows() -> list[dict]:
    """Our rows of both result files, in the table's order."""
    ours = report.load_rows(RESULTS / "baselines.json")
    return report.merge_rows(ours, report.load_rows(RESULTS / "autoencoders.json"))


def differences(ours: list[dict], references: list[dict]) -> str:
    """Markdown: ours / reference - 1 (in %) per measure, for every method with a reference."""
    from corel_jax.embedding_metrics import TABLE_METRICS

    refs = {(r["dataset"], r["method"]): r["metrics"] for r in references}
    lines = [
        "## Ours vs the authors' released latents: relative difference",
        "",
        "| data set | method | " + " | ".join(report.HEADERS[m] for m in TABLE_METRICS) + " |",
        "|---|---|" + "---:|" * len(TABLE_METRICS),
    ]
    for r in ours:
        ref = refs.get((r["dataset"], r["method"]))
        if ref is None:
            continue
        cells = [
            f"{100 * (r['metrics'][m] / ref[m] - 1):+.1f} %"
            if r["metrics"].get(m) is not None and ref.get(m)
            else "-"
            for m in TABLE_METRICS
        ]
        lines.append(f"| {r['dataset']} | {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def view_limits(z: np.ndarray, tail: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Axis limits of a panel: the central ``100 - 2 * tail`` % of each coordinate plus a
    10 % margin, so a few far outliers do not shrink the rest to a dot."""
    lo, hi = np.percentile(z, [tail, 100 - tail], axis=0)
    margin = 0.1 * np.maximum(hi - lo, 1e-12)
    return lo - margin, hi + margin


def figure(dataset: str, out: Path) -> list[str]:
    """Draws the latents of ``dataset`` (one panel per method that has them); returns them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    found = [m for m in PANELS if (RESULTS / "latents" / f"{dataset}_{m}.npz").is_file()]
    if not found:
        return []
    fig = Figure(figsize=(2.6 * len(found), 2.8))
    FigureCanvasAgg(fig)
    for i, method in enumerate(found):
        saved = np.load(RESULTS / "latents" / f"{dataset}_{method}.npz")
        z, labels = saved["z"], saved["labels"]
        ax = fig.add_subplot(1, len(found), i + 1)
        order = np.argsort(labels == labels.max())[::-1] if dataset == "spheres" else None
        if order is not None:  # the enclosing sphere (label 10) drawn first, underneath
            z, labels = z[order], labels[order]
        ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab20" if dataset == "spheres" else "tab10",
                   s=2, linewidths=0, rasterized=True)  # fmt: skip
        lo, hi = view_limits(z)
        outside = int(np.sum(np.any((z < lo) | (z > hi), axis=1)))
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_title(TITLES[method] + (f" ({outside} outside)" if outside else ""), fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{dataset}: test-set latents", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return found


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    ours = rows()
    table = report.markdown(
        ours,
        title="The TopoAE table: ours next to the references",
        source=f"Collected by `{report.command('experiments.topoae.collect', argv)}` from "
        "baselines.json and autoencoders.json; runs on "
        f"{report.machine()}. Notes under each table say how each row was made.",
        references=report.load_rows(Path(paper.AUTHORS_LATENTS_FILE)),
    )
    table += "\n" + differences(ours, report.load_rows(Path(paper.AUTHORS_LATENTS_FILE)))
    (RESULTS / "table.md").write_text(table)
    print(table)
    for dataset in paper.DATASETS:
        out = RESULTS / f"latents_{dataset}.png"
        panels = figure(dataset, out)
        if panels:
            print(f"wrote {out} ({', '.join(TITLES[m] for m in panels)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
