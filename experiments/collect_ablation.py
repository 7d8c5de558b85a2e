"""The lambda x branch-layout ablation measured on Fashion-MNIST, beside the authors' CIFAR table.

Usage:
  python -m experiments.collect_ablation WORKDIR [--out-dir experiments/results/ablation]
      [--plot docs/ablation_fashion_mnist.png]

Reads the one-class results of every backbone of the ablation
(``experiments/configs/ablation_fashion_mnist.py``, run by ``experiments/run.py``
into ``WORKDIR``: ``WORKDIR/<overrides>/oneclass_<dataset>_n120_e<epochs>/results.json``)
and prints, per cell (lambda x layout), COREL's mean AUROC over all classes, over
the classes the backbone did not see and over those it saw, next to the
published CIFAR-100 -> CIFAR-10 cell (:data:`corel_jax.paper.published.ABLATION_TABLE`).
A cell without results is "not measured". ``--out-dir`` writes ``table.md``,
``cells.csv`` and ``cells.json`` (per-class means included) there; ``--plot``
draws the two tables as heat-maps side by side.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from corel_jax.paper.published import ABLATION_LAMBDAS, ABLATION_LAYOUTS, ABLATION_TABLE

EXPERIMENT = "ablation_fashion_mnist"
METHOD = "corel"
NOT_MEASURED = "not measured"


def _layout_text(layout: tuple[int, int]) -> str:
    return f"{layout[0]} × {layout[1]}"


def measured_cells(
    workdir: str | Path, *, n: int = 120
) -> dict[tuple[float, tuple[int, int]], dict]:
    """``{(lambda, (branches, dims)): cell}`` of every evaluated backbone in ``workdir``.

    A cell holds the row's ``mean``, ``unseen`` and ``seen`` means of COREL's ball count,
    the per-class means and standard deviations over the draws, the class names, the
    training and evaluation seconds, and on held-out images the mean death time, the mean
    ``|d - eta|`` and the reconstruction error.
    """
    cells = {}
    for path in sorted(Path(workdir).glob(f"*/oneclass_*_n{n}_e*/results.json")):
        saved = json.loads(path.read_text())
        row, config = saved["row"], saved["train_config"]
        if METHOD not in saved["methods"]:
            continue
        key = (float(config["lam"]), (int(config["num_branches"]), int(config["branch_dim"])))
        method = saved["methods"][METHOD]
        summary_of = saved.get("train_summary", {})
        cells[key] = {
            "lam": key[0], "num_branches": key[1][0], "branch_dim": key[1][1], "n": n,
            "epochs": row["epochs"], "mean": row["means"][METHOD],
            "unseen": row["means_unseen"].get(METHOD), "seen": row["means_seen"].get(METHOD),
            "per_class_mean": method["per_class_mean"], "per_class_std": method["per_class_std"],
            "class_names": saved["class_names"], "seen_classes": saved["seen_classes"],
            "train_seconds": row["train_seconds"], "eval_seconds": row["eval_seconds"],
            "test_death_mean_abs_dev_from_eta": row.get("test_death_mean_abs_dev_from_eta"),
            "test_death_mean": summary_of.get("test_death_mean"),
            "test_rec": summary_of.get("test_rec"),
            "source": str(path),
        }  # fmt: skip
    return cells


def _grid(values: dict) -> list[list[float]]:
    """Rows lambda, columns layouts, NaN where a cell has no value."""
    return [
        [values.get((lam, lay), math.nan) for lay in ABLATION_LAYOUTS] for lam in ABLATION_LAMBDAS
    ]


def _table(title: str, cell_text) -> str:
    head = ["λ", *map(_layout_text, ABLATION_LAYOUTS)]
    lines = [
        f"**{title}**",
        "",
        "| " + " | ".join(head) + " |",
        "|---:" + "|---:" * len(ABLATION_LAYOUTS) + "|",
    ]
    for lam in ABLATION_LAMBDAS:
        lines.append(
            f"| {lam:g} | " + " | ".join(cell_text(lam, lay) for lay in ABLATION_LAYOUTS) + " |"
        )
    return "\n".join(lines)


def _best_per_layout(values: dict) -> dict[tuple[int, int], float]:
    """The best value of each layout (column) over lambda, among the cells that have one."""
    best = {}
    for lay in ABLATION_LAYOUTS:
        column = [values[lam, lay] for lam in ABLATION_LAMBDAS if (lam, lay) in values]
        if column:
            best[lay] = max(column)
    return best


def format_tables(cells: dict) -> str:
    """The published CIFAR table and the measured Fashion-MNIST tables (all, unseen / seen) in
    Markdown; the best lambda of each layout in bold."""
    means = {k: c["mean"] for k, c in cells.items()}
    bold = lambda values, best, key, text: f"**{text}**" if values[key] == best[key[1]] else text

    def published(lam, lay):
        best = _best_per_layout(ABLATION_TABLE)
        return bold(ABLATION_TABLE, best, (lam, lay), f"{ABLATION_TABLE[lam, lay]:.3f}")

    def measured(lam, lay):
        if (lam, lay) not in means:
            return NOT_MEASURED
        return bold(means, _best_per_layout(means), (lam, lay), f"{means[lam, lay]:.3f}")

    def split(lam, lay):
        c = cells.get((lam, lay))
        return NOT_MEASURED if c is None else f"{c['unseen']:.3f} / {c['seen']:.3f}"

    return "\n\n".join([
        _table("CIFAR-100 → CIFAR-10, published (ablation_study.ipynb)", published),
        _table("Fashion-MNIST A → all, measured: mean over the 10 classes", measured),
        _table("Fashion-MNIST A → all, measured: unseen (5-9) / seen (0-4) classes", split),
    ])  # fmt: skip


def summary(cells: dict) -> dict:
    """What the comparison rests on: the rank correlation of the two tables over the measured
    cells, the best cell and the best lambda per layout of each, lambda = 1 against 20 at 16 x 10."""
    means = {k: c["mean"] for k, c in cells.items()}
    out = {"measured_cells": len(means), "cells": len(ABLATION_TABLE)}
    for name, values in (("cifar_published", ABLATION_TABLE), ("fashion_mnist", means)):
        if not values:
            continue
        best = max(values, key=values.get)
        out[name] = {
            "best_cell": {"lam": best[0], "layout": list(best[1]), "auroc": values[best]},
            # every lambda that reaches the layout's best (the published 1 x 160 column ties)
            "best_lambdas_per_layout": {
                _layout_text(lay): [lam for lam in ABLATION_LAMBDAS
                                    if values.get((lam, lay)) == top]
                for lay, top in _best_per_layout(values).items()
            },
        }  # fmt: skip
        if (1.0, (16, 10)) in values and (20.0, (16, 10)) in values:
            out[name]["lam1_minus_lam20_at_16x10"] = values[1.0, (16, 10)] - values[20.0, (16, 10)]
    if len(means) >= 3:
        from scipy.stats import spearmanr

        keys = sorted(means)
        rho = spearmanr([ABLATION_TABLE[k] for k in keys], [means[k] for k in keys]).statistic
        out["spearman_rho_over_measured_cells"] = float(rho)
    return out


def cells_csv(cells: dict) -> str:
    """One CSV line per cell of the table, measured or not."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["lam", "num_branches", "branch_dim", "cifar_published", "fmnist_mean",
                "fmnist_unseen", "fmnist_seen", "train_seconds", "eval_seconds",
                "test_death_mean", "test_death_mean_abs_dev_from_eta", "test_rec"])  # fmt: skip
    for lam in ABLATION_LAMBDAS:
        for lay in ABLATION_LAYOUTS:
            c = cells.get((lam, lay))
            fields = ("mean", "unseen", "seen", "train_seconds", "eval_seconds", "test_death_mean",
                      "test_death_mean_abs_dev_from_eta", "test_rec")  # fmt: skip
            measured = [NOT_MEASURED] * len(fields) if c is None else [
                "" if c[f] is None else f"{c[f]:.6f}" for f in fields
            ]  # fmt: skip
            w.writerow([f"{lam:g}", lay[0], lay[1], f"{ABLATION_TABLE[lam, lay]:.3f}", *measured])
    return buf.getvalue()


def plot_heatmaps(cells: dict, path: str | Path) -> None:
    """Two heat-maps, rows lambda and columns layouts: the published CIFAR table and the measured
    Fashion-MNIST means; each cell annotated, a cell not measured in grey."""
    import numpy as np
    from matplotlib import colormaps

    from corel_jax.plots import new_figure, save_png

    means = {k: c["mean"] for k, c in cells.items()}
    panels = [
        ("CIFAR-100 → CIFAR-10 (published)", ABLATION_TABLE),
        ("Fashion-MNIST A → all (measured)", means),
    ]
    fig = new_figure(11.5, 4.4)
    for i, (title, values) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        grid = np.ma.masked_invalid(np.asarray(_grid(values)))
        image = ax.imshow(grid, cmap=colormaps["viridis"].with_extremes(bad="0.85"), aspect="auto")
        fig.colorbar(image, ax=ax, label="mean AUROC (n = 120)")
        for r, lam in enumerate(ABLATION_LAMBDAS):
            for c, lay in enumerate(ABLATION_LAYOUTS):
                v = values.get((lam, lay))
                text = NOT_MEASURED.replace(" ", "\n") if v is None else f"{v:.3f}"
                bright = v is not None and v > float(grid.min() + 0.6 * (grid.max() - grid.min()))
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="black" if v is None or bright else "white")  # fmt: skip
        ax.set_xticks(range(len(ABLATION_LAYOUTS)), list(map(_layout_text, ABLATION_LAYOUTS)))
        ax.set_yticks(range(len(ABLATION_LAMBDAS)), [f"{lam:g}" for lam in ABLATION_LAMBDAS])
        ax.set_xlabel("branches × dims per branch")
        ax.set_ylabel("λ")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The collector's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--out-dir", default=None, help="Write table.md, cells.csv, cells.json.")
    parser.add_argument("--plot", default=None, help="Write the two heat-maps (PNG) here.")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cells = measured_cells(args.workdir)
    if not cells:
        print(f"no ablation results under {args.workdir}", file=sys.stderr)
        return 1
    tables = format_tables(cells)
    print(tables)
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(tables + "\n")
        (out / "cells.csv").write_text(cells_csv(cells))
        payload = {
            "experiment": EXPERIMENT, "summary": summary(cells),
            "published": [{"lam": lam, "num_branches": lay[0], "branch_dim": lay[1], "auroc": v}
                          for (lam, lay), v in ABLATION_TABLE.items()],
            "measured": [dict(c, source=Path(c["source"]).relative_to(args.workdir).as_posix())
                         for c in cells.values()],
        }  # fmt: skip
        (out / "cells.json").write_text(json.dumps(payload, indent=2) + "\n")
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_heatmaps(cells, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
