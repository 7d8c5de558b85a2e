"""Builds the comparison table of all finished experiments against the paper.

Usage:
  python -m experiments.collect runs/ [--out runs/RESULTS.md]

Reads every ``results.json`` under the given folders (written by
``experiments/run.py``) and prints one Markdown row per (experiment, setting,
n): our mean AUROC per method next to the published COREL number of
:data:`corel_jax.paper.published.PAPER_ROWS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def rows_of(path: Path) -> list[str]:
    """The table rows of one ``results.json``."""
    from corel_jax.paper.published import published_auroc

    payload = json.loads(path.read_text())
    experiment = payload.get("experiment", "")
    out = []
    for row in payload["rows"]:
        setting = ",".join(f"{k}={v}" for k, v in row["overrides"].items())
        pub = published_auroc(experiment, n=row["n"], setting=setting)
        if pub is None:  # a setting the paper has no number for: its default row
            pub = published_auroc(experiment, n=row["n"])
        means = ", ".join(f"{m} {v:.3f}" for m, v in row["means"].items())
        pub_text = f"{pub:.3f}" if isinstance(pub, float) else "-"
        ours = row["means"].get("corel")
        diff = f"{ours - pub:+.3f}" if isinstance(pub, float) and ours is not None else "-"
        out.append(
            f"| {payload['doc']} | {row['name']} | {row['n']} | {means} | {pub_text} | {diff} |"
        )
    return out


def build_parser() -> argparse.ArgumentParser:
    """The collector's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lines = [
        "| experiment | setting | n | ours (mean AUROC per method) | COREL published | diff |",
        "|---|---|---:|---|---:|---:|",
    ]
    found = sorted(
        p for f in args.folders for p in Path(f).rglob("results.json") if "oneclass_" not in str(p)
    )
    for path in found:
        lines += rows_of(path)
    if len(lines) == 2:
        print("no results.json found", file=sys.stderr)
        return 1
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
