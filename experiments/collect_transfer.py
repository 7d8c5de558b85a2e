"""The Fashion-MNIST transfer study's table: seen / unseen means per method, lambda, direction, length.

Usage:
  python -m experiments.collect_transfer runs/ [--out TABLE.md] [--plot AUROC.png]
      [--plot-lambda LAMBDA.png] [--json ROWS.json]

Reads the ``results.json`` of the transfer configs (``experiments/configs/
fashion_mnist_transfer_*.py``, written by ``experiments/run.py``) under the
given folders and prints one Markdown row per (direction, epochs, lambda): for
each method the mean AUROC over the five classes the backbone did NOT see and
over the five it saw, and the held-out death times on both groups' test
images. ``--plot`` draws, per direction and length, unseen against seen AUROC
of COREL (lambda = 20), the lambda = 0 backbone's ball count, the latent KDE and
OC-SVM (of the lambda = 20 backbone) and the raw-pixel OC-SVM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

METHODS = {"corel": "ball count", "kde": "latent KDE", "ocsvm": "latent OC-SVM",
           "raw_ocsvm": "raw-pixel OC-SVM"}  # fmt: skip
PREFIX = "fashion_mnist_transfer_"


def transfer_rows(folders: list[str]) -> list[dict]:
    """Every row of the transfer study under ``folders``, with its direction, sorted."""
    rows = []
    for path in sorted(p for f in folders for p in Path(f).rglob("results.json")):
        if "oneclass_" in str(path):
            continue
        payload = json.loads(path.read_text())
        if not payload.get("experiment", "").startswith(PREFIX):
            continue
        direction = payload["experiment"][len(PREFIX) :].upper()
        for row in payload["rows"]:
            lam = float(row["overrides"].get("lam", 20.0))
            scale = row["overrides"].get("lam_scale", "paper")
            setting = f"{lam:g}" + (" per value" if scale == "per_value" else "")
            rows.append(dict(row, direction=direction, lam=lam, lam_scale=scale, setting=setting,
                             source=str(path)))  # fmt: skip
    key = lambda r: (r["direction"], r["epochs"], r["lam_scale"] != "paper", r["lam"], r["n"])
    return sorted(rows, key=key)


def _pair(row: dict, method: str) -> str:
    u, s = row["means_unseen"].get(method), row["means_seen"].get(method)
    return "-" if u is None or s is None else f"{u:.3f} / {s:.3f}"


def _deaths(row: dict, key: str) -> str:
    d = row.get("death_times", {})
    if "seen" not in d or "unseen" not in d:
        return "-"
    return f"{d['unseen'][key]:.2f} / {d['seen'][key]:.2f}"


def format_rows(rows: list[dict]) -> str:
    """The Markdown table of :func:`transfer_rows`."""
    header = ["backbone → one-class", "epochs", "λ", *[f"{v} (unseen / seen)" for v in
              METHODS.values()], "death mean", "mean abs(d − η)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|" + "---:|" * (len(header) - 3)]
    for r in rows:
        cells = [f"{r['direction']} → all", str(r["epochs"]), r["setting"]]
        cells += [_pair(r, m) for m in METHODS]
        cells += [_deaths(r, "mean"), _deaths(r, "mean_abs_dev_from_eta")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_rows(rows: list[dict], path: str) -> None:
    """Unseen (x) against seen (y) mean AUROC: COREL's ball count for each lambda, the latent KDE
    of the lambda = 0 backbone and the raw-pixel OC-SVM; one panel per direction and length."""
    from corel_jax.plots import new_figure, save_png

    panels = sorted({(r["direction"], r["epochs"]) for r in rows})
    # one colour per lambda in every panel
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    fig = new_figure(4.2 * len(panels), 4.4)
    for i, (direction, epochs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        by_lam = {
            r["setting"]: r for r in rows if (r["direction"], r["epochs"]) == (direction, epochs)
        }
        # COREL's ball count for every lambda, the best baseline (the latent KDE on the
        # lambda = 0 codes) and the raw-pixel OC-SVM (the same for every backbone).
        points = [(f"ball count, λ={setting}", row, "corel") for setting, row in by_lam.items()]
        if "0" in by_lam:
            points.append(("latent KDE, λ=0 backbone", by_lam["0"], "kde"))
        points.append(("raw-pixel OC-SVM", next(iter(by_lam.values())), "raw_ocsvm"))
        for label, row, m in points:
            u, s = row["means_unseen"].get(m), row["means_seen"].get(m)
            if u is not None and s is not None:
                marker, color = {"kde": ("s", "C8"), "raw_ocsvm": ("^", "C7")}.get(
                    m, ("o", f"C{settings.index(row['setting']) % 7}")
                )
                ax.scatter(u, s, s=40, label=label, marker=marker, color=color)
        lo = min([0.5] + [v for r in by_lam.values() for g in ("means_unseen", "means_seen")
                          for v in r[g].values() if v is not None]) - 0.02  # fmt: skip
        ax.plot([lo, 1], [lo, 1], color="gray", linewidth=0.8)
        ax.set_xlim(lo, 1)
        ax.set_ylim(lo, 1)
        ax.set_xlabel("mean AUROC, unseen classes")
        ax.set_ylabel("mean AUROC, seen classes")
        ax.set_title(f"{direction} → all, {epochs} epochs", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_png(fig, path)


def plot_lambda(rows: list[dict], path: str) -> None:
    """Mean AUROC on the unseen classes against lambda, one line per method; a panel per direction."""
    from corel_jax.plots import new_figure, save_png

    rows = [r for r in rows if r["lam_scale"] == "paper"]
    panels = sorted({(r["direction"], r["epochs"]) for r in rows})
    fig = new_figure(4.2 * len(panels), 3.8)
    for i, (direction, epochs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        mine = sorted((r for r in rows if (r["direction"], r["epochs"]) == (direction, epochs)),
                      key=lambda r: r["lam"])  # fmt: skip
        ticks = list(range(len(mine)))
        for m, label in METHODS.items():
            ax.plot(ticks, [r["means_unseen"].get(m, float("nan")) for r in mine], marker="o",
                    label=label)  # fmt: skip
        ax.set_xticks(ticks, [f"{r['lam']:g}" for r in mine])
        ax.set_xlabel("λ of the backbone")
        ax.set_ylabel("mean AUROC, unseen classes")
        ax.set_title(f"{direction} → all, {epochs} epochs", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_png(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The collector's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--out", default=None, help="Also write the table here.")
    parser.add_argument("--plot", default=None, help="Write the seen/unseen plot (PNG) here.")
    parser.add_argument("--plot-lambda", default=None,
                        help="Write the unseen AUROC against lambda (PNG) here.")  # fmt: skip
    parser.add_argument("--json", default=None, help="Write the rows (JSON) here.")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    rows = transfer_rows(args.folders)
    if not rows:
        print("no transfer results.json found", file=sys.stderr)
        return 1
    table = format_rows(rows)
    print(table)
    for path in (args.out, args.plot, args.plot_lambda, args.json):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if args.out:
        Path(args.out).write_text(table + "\n")
    if args.plot:
        plot_rows(rows, args.plot)
    if args.plot_lambda:
        plot_lambda(rows, args.plot_lambda)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
