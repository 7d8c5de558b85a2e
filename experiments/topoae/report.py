"""JSON results and Markdown tables of the TopoAE measures, with references side by side."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from corel_jax.embedding_metrics import TABLE_METRICS
from experiments.topoae import paper

HEADERS = {
    "kl_0.01": "KL 0.01",
    "kl_0.1": "KL 0.1",
    "kl_1": "KL 1",
    "l_mrre": "l-MRRE",
    "l_continuity": "l-Cont",
    "l_trustworthiness": "l-Trust",
    "l_rmse": "l-RMSE",
    "data_mse": "data MSE",
}


def machine() -> str:
    """Where this process computes: the CPU's architecture and JAX's accelerator, if any."""
    import jax

    device = jax.devices()[0]
    accelerator = "no GPU" if device.platform == "cpu" else f"{device.device_kind} GPU"
    return f"{platform.machine()} CPU, {accelerator}"


def command(module: str, argv: list[str] | None) -> str:
    """The command line that ran ``module`` with ``argv`` (default: this process's)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m", module, *args])


def load_rows(path: Path) -> list[dict]:
    """The ``rows`` of a results file, or [] when it does not exist yet."""
    return json.loads(path.read_text())["rows"] if path.exists() else []


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with the (dataset, method) rows of ``new`` replaced or added."""
    key = lambda r: (r["dataset"], r["method"])
    merged = {key(r): r for r in old}
    merged.update({key(r): r for r in new})
    return sorted(merged.values(), key=lambda r: (r["dataset"], paper.METHODS.index(r["method"])))


def _cells(metrics: dict | None) -> str:
    if metrics is None:
        return " | ".join("n/a" for _ in TABLE_METRICS)
    return " | ".join(
        f"{metrics[m]:.4g}" if metrics.get(m) is not None else "-" for m in TABLE_METRICS
    )


def markdown(
    rows: list[dict], *, title: str, source: str, references: list[dict], published: bool = True
) -> str:
    """One table per data set: each row of ``rows`` above its references.

    Args:
      rows: result rows (``dataset``, ``method``, ``metrics``, ``note``).
      title: heading of the document.
      source: how ``rows`` were made (the command).
      references: rows of the authors' released latents (may be empty).
      published: add the paper's row under each method.
    """
    refs = {(r["dataset"], r["method"]): r for r in references}
    lines = [f"# {title}", "", source, ""]
    for dataset in paper.DATASETS:
        mine = [r for r in rows if r["dataset"] == dataset]
        if not mine:
            continue
        lines += [
            f"## {dataset}",
            "",
            "| method | source | " + " | ".join(HEADERS[m] for m in TABLE_METRICS) + " |",
            "|---|---|" + "---:|" * len(TABLE_METRICS),
        ]
        for r in mine:
            lines.append(f"| {r['method']} | {r.get('label', 'ours')} | {_cells(r['metrics'])} |")
            ref = refs.get((dataset, r["method"]))
            if ref is not None and ref is not r:
                lines.append(f"| | authors' latents, 1 run | {_cells(ref['metrics'])} |")
            if published:
                numbers = paper.PUBLISHED.get(dataset, {}).get(r["method"])
                lines.append(f"| | published (paper) | {_cells(numbers)} |")
        notes = [f"- {r['method']}: {r['note']}" for r in mine if r.get("note")]
        lines += ["", *notes, ""] if notes else [""]
    if published:
        lines += [
            "published (paper): not retrieved (docs/topoae.md); n/a, not guessed.",
            "",
        ]
    return "\n".join(lines)


def write(path: Path, payload: dict, table: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    path.with_suffix(".md").write_text(table)
