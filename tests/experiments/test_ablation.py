"""The Fashion-MNIST ablation's config and collector: cells read back, tables, CSV, heat-maps."""

import csv
import io
import json
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from corel_jax.paper import published
from corel_jax.training.config import TrainConfig
from experiments import collect_ablation, run

CONFIG = (
    Path(__file__).resolve().parents[2] / "experiments" / "configs" / "ablation_fashion_mnist.py"
)


def write_cell(workdir: Path, lam, layout, mean, unseen, seen) -> None:
    """The files experiments/run.py writes for one evaluated backbone (the parts read back)."""
    k, d = layout
    name = f"num_branches={k},branch_dim={d},lam={lam}"
    out = workdir / name / "oneclass_fashion_mnist_n120_e10"
    out.mkdir(parents=True)
    row = {"name": name, "n": 120, "epochs": 10, "means": {"corel": mean},
           "means_unseen": {"corel": unseen}, "means_seen": {"corel": seen},
           "train_seconds": 600.0, "eval_seconds": 9.0, "test_death_mean_abs_dev_from_eta": 0.4}  # fmt: skip
    saved = {
        "row": row, "class_names": [str(i) for i in range(10)], "seen_classes": [0, 1, 2, 3, 4],
        "train_config": {"lam": lam, "num_branches": k, "branch_dim": d},
        "methods": {"corel": {"per_class_mean": [mean] * 10, "per_class_std": [0.0] * 10}},
        "train_summary": {"test_death_mean": 2.1, "test_rec": 30.0},
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps(saved))


@pytest.fixture
def workdir(tmp_path):
    write_cell(tmp_path, 0, (16, 10), 0.90, 0.89, 0.91)
    write_cell(tmp_path, 1, (16, 10), 0.93, 0.92, 0.94)
    write_cell(tmp_path, 20, (16, 10), 0.92, 0.90, 0.94)
    write_cell(tmp_path, 10.0, (1, 160), 0.85, 0.84, 0.86)
    return tmp_path


def test_config_is_the_transfer_split_with_the_papers_protocol():
    cfg = run.load_config(str(CONFIG), "")
    config = TrainConfig(**cfg["train"])
    assert config.classes == (0, 1, 2, 3, 4) and config.dataset == "fashion_mnist"
    assert config.epochs == 10 and config.eta == 2.0 and config.reduction == "mean"
    assert cfg["eval"] | {"methods": None} == cfg["eval"] | {
        "dataset": "fashion_mnist",
        "n": [120],
        "runs": 5,
        "radius": 2.0,
        "methods": None,
    }
    assert cfg["eval"]["methods"] == ["corel"]
    for k, d in published.ABLATION_LAYOUTS:
        TrainConfig(**dict(cfg["train"], num_branches=k, branch_dim=d))


def test_cells_are_read_back(workdir):
    cells = collect_ablation.measured_cells(workdir)
    assert set(cells) == {(0.0, (16, 10)), (1.0, (16, 10)), (20.0, (16, 10)), (10.0, (1, 160))}
    c = cells[1.0, (16, 10)]
    assert (c["mean"], c["unseen"], c["seen"], c["num_branches"]) == (0.93, 0.92, 0.94, 16)


def test_tables_mark_cells_not_measured_and_the_best_lambda(workdir):
    text = collect_ablation.format_tables(collect_ablation.measured_cells(workdir))
    published_table, measured, split = text.split("\n\n**")
    assert "| 10 | **0.645** | **0.748** | 0.754 | **0.767** | **0.742** |" in published_table
    assert (
        "| 1 | not measured | not measured | **0.930** | not measured | not measured |" in measured
    )
    assert "| 20 | not measured | not measured | 0.920 | not measured | not measured |" in measured
    assert "| 0 | not measured | not measured | 0.890 / 0.910 |" in split


def test_csv_has_every_cell_and_the_summary_its_statistics(workdir):
    cells = collect_ablation.measured_cells(workdir)
    rows = list(csv.DictReader(io.StringIO(collect_ablation.cells_csv(cells))))
    assert len(rows) == 25
    by_cell = {(r["lam"], r["num_branches"], r["branch_dim"]): r for r in rows}
    assert by_cell["1", "16", "10"]["fmnist_mean"] == "0.930000"
    assert by_cell["1", "16", "10"]["cifar_published"] == "0.709"
    assert by_cell["1", "16", "10"]["test_rec"] == "30.000000"
    assert by_cell["40", "32", "10"]["fmnist_mean"] == "not measured"

    s = collect_ablation.summary(cells)
    keys = sorted(cells)
    rho = spearmanr([published.ABLATION_TABLE[k] for k in keys], [cells[k]["mean"] for k in keys])
    assert s["spearman_rho_over_measured_cells"] == pytest.approx(rho.statistic)
    assert s["fashion_mnist"]["lam1_minus_lam20_at_16x10"] == pytest.approx(0.01)
    assert s["cifar_published"]["lam1_minus_lam20_at_16x10"] == pytest.approx(-0.051)
    assert s["cifar_published"]["best_lambdas_per_layout"]["1 × 160"] == [1.0, 10.0]
    assert s["fashion_mnist"]["best_cell"] == {"lam": 1.0, "layout": [16, 10], "auroc": 0.93}


def test_main_writes_the_files(workdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    assert (
        collect_ablation.main([str(workdir), "--out-dir", str(out), "--plot", str(out / "h.png")])
        == 0
    )
    assert (out / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads((out / "cells.json").read_text())
    assert len(payload["published"]) == 25 and len(payload["measured"]) == 4
    assert all(not Path(c["source"]).is_absolute() for c in payload["measured"])
    assert (out / "table.md").read_text().count("not measured") == 2 * 21


def test_main_without_results(tmp_path):
    assert collect_ablation.main([str(tmp_path)]) == 1
