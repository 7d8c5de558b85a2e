"""Figures as PNG files, drawn with matplotlib's object-oriented API on an Agg canvas.

Figures are made with ``matplotlib.figure.Figure`` and drawn by the Agg canvas
directly: matplotlib's global state (its backend, its list of open figures) is
never touched, and a figure is freed when it goes out of scope.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

import numpy as np

from corel_jax._extras import require
from corel_jax._files import atomic_write

__all__ = ["new_figure", "plot_death_times", "save_png"]


def new_figure(width: float, height: float):
    """A matplotlib ``Figure`` of ``width x height`` inches on its own Agg canvas."""
    figure = require("matplotlib.figure", purpose="the plots")
    backend = require("matplotlib.backends.backend_agg", purpose="the plots")
    fig = figure.Figure(figsize=(width, height))
    backend.FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: str | os.PathLike, *, dpi: int = 120) -> None:
    """Writes ``fig`` as a PNG file, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue())


def plot_death_times(
    deaths: Mapping[str, np.ndarray], *, eta: float, path: str | os.PathLike, title: str = ""
) -> None:
    """Overlaid histograms of 0-dim death times, one per label, with a line at ``eta``.

    Args:
      deaths: ``{label: death times (any shape)}``, e.g. before and after training.
      eta: the target death time of the connectivity loss.
      path: the PNG file to write.
      title: the figure's title.
    """
    if not deaths:
        raise ValueError("deaths is empty.")
    values = {label: np.asarray(d, np.float64).ravel() for label, d in deaths.items()}
    hi = float(np.percentile(np.concatenate(list(values.values())), 99.5))
    bins = np.linspace(0.0, max(hi, 2 * eta), 80)
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    for label, d in values.items():
        ax.hist(d, bins=bins, alpha=0.55, label=f"{label} (mean {d.mean():.2f}, std {d.std():.2f})")
    ax.axvline(eta, color="k", linestyle="--", label=f"eta = {eta:g}")
    ax.set_xlabel("0-dim death time (per branch, held-out batches)")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)
