"""Tests for corel_jax.oneclass.reports: the table, the JSON/CSV/Markdown/PNG files."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from corel_jax import oneclass


def _synthetic_result():
    auroc = {"corel": np.array([[0.8, 0.9], [0.6, 0.7]]), "kde": np.array([[0.5, 0.5], [0.4, 0.6]])}
    return oneclass.OneClassResult(auroc, (0, 1), ("cat", "dog"), n=120, runs=2, seed=0)


def test_write_report_files(tmp_path):
    res = _synthetic_result()
    paths = oneclass.write_report(
        res, tmp_path / "out", published={"GEOM": [0.9, 0.8]}, title="t", extra={"k": 1}
    )
    assert set(paths) == {"json", "csv", "md", "png"}
    data = json.loads(paths["json"].read_text())
    assert data["methods"]["corel"]["mean"] == pytest.approx(0.75)
    assert data["methods"]["corel"]["per_class_mean"] == pytest.approx([0.85, 0.65])
    assert data["methods"]["corel"]["per_class_std"] == pytest.approx([0.05, 0.05])
    assert data["methods"]["kde"]["per_class_std"] == pytest.approx([0.0, 0.1])
    assert data["published"] == {"GEOM": [0.9, 0.8]} and data["k"] == 1 and data["n"] == 120
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert len(rows) == 2 * 3 + 3  # 2 methods x (2 classes + mean), published x (2 + mean)
    by = {(r["method"], r["class"]): r for r in rows}
    assert float(by["corel", "0"]["mean"]) == pytest.approx(0.85)
    assert float(by["kde", "1"]["run1"]) == pytest.approx(0.6)
    assert float(by["corel", "mean"]["mean"]) == pytest.approx(0.75)
    assert float(by["GEOM (published)", "mean"]["mean"]) == pytest.approx(0.85)
    assert data["method_labels"] == {"corel": "COREL ball count", "kde": "latent Gaussian KDE"}
    md = paths["md"].read_text()
    assert md.startswith("# t\n")
    assert "| cat | 0.850 ± 0.050 | 0.500 ± 0.000 | 0.900 |" in md
    assert "| mean | **0.750** | **0.500** | **0.850** |" in md
    import matplotlib.image

    img = matplotlib.image.imread(paths["png"])
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="published"):
        oneclass.write_report(res, tmp_path / "bad", published={"GEOM": [0.9]})


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_report_files_get_the_users_permissions(tmp_path, umask):
    """As ``open(path, "w")`` would make them (0o666 less the umask), not mkstemp's 0o600."""
    old = os.umask(umask)
    try:
        paths = oneclass.write_report(_synthetic_result(), tmp_path / "out")
        (tmp_path / "plain").write_text("")
    finally:
        os.umask(old)
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    assert {k: p.stat().st_mode & 0o777 for k, p in paths.items()} == dict.fromkeys(paths, expected)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temporary files left


def test_format_table_has_a_row_per_class_and_a_mean_row():
    lines = oneclass.format_table(_synthetic_result()).splitlines()
    assert (
        lines[0] == "| class | COREL ball count | latent Gaussian KDE |" and len(lines) == 2 + 2 + 1
    )
    assert lines[-1] == "| mean | **0.750** | **0.500** |"


def test_every_method_has_a_name_people_read():
    labels = {m: oneclass.method_label(m) for m in oneclass.METHODS}
    assert labels == {
        "corel": "COREL ball count",
        "lambda0": "ball count, λ=0 backbone",
        "kde": "latent Gaussian KDE",
        "ocsvm": "latent OC-SVM",
        "raw_ocsvm": "raw-pixel OC-SVM",
    }
    assert oneclass.method_label("my_scorer") == "my_scorer"  # a caller's own method


def _drawn_axes(monkeypatch, result, **kwargs):
    """The axes plot_result draws (its figure caught instead of saved)."""
    from corel_jax.oneclass import reports

    figures = []
    monkeypatch.setattr(reports, "save_png", lambda fig, path: figures.append(fig))
    oneclass.plot_result(result, "unused.png", **kwargs)
    (fig,) = figures
    return fig.axes[0]


def test_the_chart_is_zoomed_to_the_data_and_labelled(monkeypatch):
    ax = _drawn_axes(monkeypatch, _synthetic_result(), published={"GEOM, full data": [0.9, 0.8]})
    # the data span [0.4, 0.9] (kde's 0.5 - 0.1 .. corel's 0.85 + 0.05, GEOM's 0.9), widened
    # by 0.01 and rounded out to a 0.05 grid
    assert ax.get_ylim() == pytest.approx((0.35, 0.95))
    assert ax.get_xlabel() and "AUROC" in ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "COREL ball count: 0.750",
        "latent Gaussian KDE: 0.500",
        "GEOM, full data (published): 0.850",
        "chance: 0.5",  # on the axis: drawn as a line
    ]
    assert all(t.count("(") <= 1 for t in legend)  # no stacked brackets

    high = oneclass.OneClassResult(
        {"corel": np.array([[0.93, 0.95], [0.88, 0.9]])}, (0, 1), ("cat", "dog"), 120, 2, 0
    )
    ax = _drawn_axes(monkeypatch, high)
    # [0.88, 0.95] -> [0.87, 0.96] -> grid [0.85, 1.0], and room above 1.0 for whole markers
    assert ax.get_ylim() == pytest.approx((0.85, 1.012))
    assert max(ax.get_yticks()) == pytest.approx(1.0)
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["chance level 0.5 is below the axis (it starts at 0.85)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["COREL ball count: 0.915"]


def test_plots_leave_the_callers_matplotlib_alone(tmp_path):
    """The chart is drawn on its own Agg canvas: pyplot is never imported, the backend kept."""
    code = (
        "import sys, matplotlib, numpy as np\n"
        "matplotlib.use('svg')\n"
        "from corel_jax import oneclass\n"
        "res = oneclass.OneClassResult({'a': np.full((2, 1), 0.7)}, (0, 1), ('x', 'y'), 5, 1, 0)\n"
        f"oneclass.plot_result(res, {str(tmp_path / 'a.png')!r})\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
