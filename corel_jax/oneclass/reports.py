"""Reports of a one-class evaluation: a Markdown table, and JSON, CSV, Markdown and PNG files."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from corel_jax._extras import require
from corel_jax._files import atomic_write
from corel_jax.oneclass.methods import method_label
from corel_jax.oneclass.protocol import OneClassResult
from corel_jax.plots import new_figure, save_png

__all__ = ["check_published", "format_table", "plot_result", "write_report"]


def check_published(
    result: OneClassResult, published: Mapping[str, Sequence[float]] | None
) -> dict[str, list[float]]:
    """``published`` as ``{name: per-class floats}``; ValueError unless one value per class."""
    out = {}
    for name, values in dict(published or {}).items():
        values = [float(v) for v in values]
        if len(values) != len(result.classes):
            raise ValueError(
                f"published[{name!r}] has {len(values)} values but the result has "
                f"{len(result.classes)} classes."
            )
        out[str(name)] = values
    return out


def format_table(
    result: OneClassResult, *, published: Mapping[str, Sequence[float]] | None = None
) -> str:
    """A Markdown table: per class ``mean ± std`` for each method, and the mean row.

    A result that records ``seen_classes`` gets a ``backbone`` column (``seen``
    / ``unseen``: whether the backbone trained on the class) and, when both
    groups are present, a mean row for each group after the mean over all.

    Args:
      result: the evaluation.
      published: optional ``{name: per-class values}`` shown as extra columns.

    Returns:
      The table, one row per class plus a bold mean row (and the group means).
    """
    methods = list(result.auroc)
    pub = check_published(result, published)
    seen = result.seen
    marker = [] if seen is None else ["backbone"]
    header = ["class", *marker, *map(method_label, methods), *[f"{k} (published)" for k in pub]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, name in enumerate(result.class_names):
        cells = [] if seen is None else ["seen" if seen[i] else "unseen"]
        cells += [f"{result.class_mean(m)[i]:.3f} ± {result.class_std(m)[i]:.3f}" for m in methods]
        cells += [f"{v[i]:.3f}" for v in pub.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [""] * len(marker) + [f"**{result.mean(m):.3f}**" for m in methods]
    cells += [f"**{np.mean(v):.3f}**" for v in pub.values()]
    lines.append("| mean | " + " | ".join(cells) + " |")
    if seen is not None and seen.any() and not seen.all():
        for flag, label in ((False, "unseen"), (True, "seen")):
            cells = [label] + [f"**{result.group_mean(m, seen=flag):.3f}**" for m in methods]
            cells += [f"**{np.mean(np.asarray(v)[seen == flag]):.3f}**" for v in pub.values()]
            lines.append(f"| mean, {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_ROOM_ABOVE_ONE = 0.012


def _axis_range(values: Sequence[np.ndarray]) -> tuple[float, float]:
    """y limits around all ``values``, on a 0.05 grid, within [0, 1]."""
    finite = np.concatenate([np.ravel(v) for v in values])
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    bottom = max(0.0, np.floor((lo - 0.01) * 20) / 20)
    top = min(1.0, np.ceil((hi + 0.01) * 20) / 20)
    return bottom, max(top, bottom + 0.05)


def plot_result(
    result: OneClassResult,
    path: str | os.PathLike,
    *,
    title: str = "",
    published: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """A PNG chart of per-class AUROC, written atomically.

    One column per class; for each method a marker at its mean over runs with
    an error bar of the std, side by side; published values (if any) as
    hollow markers. The legend gives each method's full name
    (:func:`~corel_jax.oneclass.method_label`) and its mean over classes.
    The y-axis is zoomed to the data (markers, not bars, so that nothing
    starts at an arbitrary floor); chance level (0.5) is drawn when it is on
    the axis and named below it otherwise.
    """
    pub = check_published(result, published)
    series: list[tuple[str, np.ndarray, np.ndarray | None, float]] = [
        (method_label(m), result.class_mean(m), result.class_std(m), result.mean(m))
        for m in result.auroc
    ]
    series += [(f"{k} (published)", np.asarray(v), None, float(np.mean(v))) for k, v in pub.items()]
    k = len(result.class_names)
    width = 0.8 / len(series)
    fig = new_figure(max(6.0, 0.9 * k + 2) + 3.0, 4.4)
    ax = fig.add_subplot()
    colors = (
        require("matplotlib", purpose="the plots").rcParams["axes.prop_cycle"].by_key()["color"]
    )
    for j, (label, mean, std, overall) in enumerate(series):
        color = colors[j % len(colors)]
        xs = np.arange(k) + (j - (len(series) - 1) / 2) * width
        hollow = std is None
        ax.errorbar(xs, mean, yerr=std, fmt="D" if hollow else "o", color=color, capsize=2,
                    markersize=5, markerfacecolor="none" if hollow else color,
                    label=f"{label}: {overall:.3f}")  # fmt: skip
    bottom, top = _axis_range([m - (0 if s is None else s) for _, m, s, _ in series]
                              + [m + (0 if s is None else s) for _, m, s, _ in series])  # fmt: skip
    # A marker at AUROC 1.0 stays whole: a little room above the top, no tick beyond 1.
    ax.set_ylim(bottom, top + (_ROOM_ABOVE_ONE if top >= 1.0 else 0.0))
    ax.set_yticks([t for t in ax.get_yticks() if bottom - 1e-9 <= t <= top + 1e-9])
    if bottom < 0.5:
        ax.axhline(0.5, color="gray", linewidth=0.8, linestyle=":", label="chance: 0.5")
    else:
        ax.annotate(f"chance level 0.5 is below the axis (it starts at {bottom:.2f})",
                    xy=(0.0, 0.0), xycoords="axes fraction", xytext=(4, 4),
                    textcoords="offset points", fontsize=8, color="gray")  # fmt: skip
    for x in np.arange(k - 1) + 0.5:  # separate the classes
        ax.axvline(x, color="0.9", linewidth=0.8, zorder=0)
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(
        result.class_names, rotation=30 if k > 5 else 0, ha="right" if k > 5 else "center"
    )
    ax.set_xlabel("inlier class (one one-class task per class)")
    ax.set_ylabel(f"AUROC (mean ± std over {result.runs} runs)")
    ax.set_title(title or f"One-class AUROC, n={result.n}, {result.runs} runs")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("chance"))  # last
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8, title="method: mean AUROC",
              title_fontsize=8)  # fmt: skip
    fig.tight_layout()
    save_png(fig, path)


def write_report(
    result: OneClassResult,
    outdir: str | os.PathLike,
    *,
    published: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
    note: str = "",
    extra: Mapping | None = None,
) -> dict[str, Path]:
    """Writes the results as JSON, CSV, Markdown and a PNG chart, each atomically.

    Args:
      result: the evaluation.
      outdir: the output folder (created).
      published: optional ``{name: per-class values}`` shown beside the results.
      title: a heading for the Markdown and the chart.
      note: a paragraph for the reader, under the heading (and in the JSON).
      extra: more JSON-serialisable entries for ``results.json``.

    Returns:
      ``{"json", "csv", "md", "png"}`` -> the paths of ``results.json``,
      ``results.csv`` (one row per method and class plus a mean row),
      ``results.md`` and ``auroc.png``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pub = check_published(result, published)
    payload = result.to_dict()
    payload["published"] = pub
    payload["method_labels"] = {m: method_label(m) for m in result.auroc}
    if note:
        payload["note"] = note
    payload.update(extra or {})
    paths = {
        "json": outdir / "results.json",
        "csv": outdir / "results.csv",
        "md": outdir / "results.md",
        "png": outdir / "auroc.png",
    }
    atomic_write(paths["json"], (json.dumps(payload, indent=2) + "\n").encode())
    rows = io.StringIO()
    w = csv.writer(rows, lineterminator="\n")
    w.writerow(
        ["method", "class", "class_name", "mean", "std", *[f"run{r}" for r in range(result.runs)],
         "seen"]
    )  # fmt: skip
    blank = [""] * result.runs
    seen = result.seen
    mark = [""] * len(result.classes) if seen is None else ["yes" if s else "no" for s in seen]
    for m in result.auroc:
        for i, (c, name) in enumerate(zip(result.classes, result.class_names, strict=True)):
            w.writerow([m, c, name, f"{result.class_mean(m)[i]:.6f}", f"{result.class_std(m)[i]:.6f}",
                        *[f"{v:.6f}" for v in result.auroc[m][i]], mark[i]])  # fmt: skip
        w.writerow([m, "mean", "", f"{result.mean(m):.6f}", "", *blank, ""])
        for flag, label in ((True, "mean_seen"), (False, "mean_unseen")):
            value = None if seen is None else result.group_mean(m, seen=flag)
            if value is not None:
                w.writerow([m, label, "", f"{value:.6f}", "", *blank, "yes" if flag else "no"])
    for k, values in pub.items():
        for c, name, v in zip(result.classes, result.class_names, values, strict=True):
            w.writerow([f"{k} (published)", c, name, f"{v:.6f}", "", *blank])
        w.writerow([f"{k} (published)", "mean", "", f"{np.mean(values):.6f}", "", *blank])
    atomic_write(paths["csv"], rows.getvalue().encode())
    md = (f"# {title}\n\n" if title else "") + (f"{note}\n\n" if note else "")
    md += format_table(result, published=pub) + "\n"
    atomic_write(paths["md"], md.encode())
    plot_result(result, paths["png"], title=title, published=pub)
    return paths
