"""The experiment configs are valid, the runner's option parsing and the collector work."""

import json
from pathlib import Path

import pytest

from corel_jax.paper import published
from corel_jax.training.config import TrainConfig
from experiments import collect, run

# Found from this file, so that pytest may run from any folder.
CONFIG_DIR = Path(__file__).resolve().parents[2] / "experiments" / "configs"
CONFIGS = sorted(
    p
    for p in CONFIG_DIR.glob("*.py")
    if p.stem not in ("__init__", "common", "transfer") and not p.stem.startswith("topoae_")
)
# The TopoAE rows' configs (read by experiments/topoae/run.py): one TrainConfig per method.
TOPOAE_CONFIGS = sorted(CONFIG_DIR.glob("topoae_*.py"))


@pytest.mark.parametrize("path", TOPOAE_CONFIGS, ids=lambda p: p.stem)
def test_topoae_configs_build_valid_train_configs(path):
    import importlib

    module = importlib.import_module(f"experiments.configs.{path.stem}")
    configs = module.configs()
    assert configs and all(isinstance(c, TrainConfig) for c in configs.values())
    for config in configs.values():
        assert TrainConfig.from_json(config.to_json()) == config
        assert config.dataset == module.ROW


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("variant", ["", "local"])
def test_configs_build_valid_train_configs(path, variant):
    cfg = run.load_config(str(path), variant)
    config = TrainConfig(**cfg["train"])
    assert config.batch_size == 100 and config.eta == 2.0 and config.learning_rate == 1e-3
    if not variant:
        assert config.epochs >= 10 and config.num_branches * config.branch_dim == 160
        assert cfg["eval"]["runs"] == 5 and cfg["eval"]["radius"] == 2.0
    assert cfg["published"] and cfg["doc"]


def test_paper_rows_carry_the_published_numbers():
    cfg = run.load_config(str(CONFIG_DIR / "cifar100_to_cifar10.py"), "")
    assert cfg["published"] == {"n=80": 0.744, "n=120": 0.755, "n=500": 0.770}
    assert cfg["eval"]["n"] == [80, 120, 500] and TrainConfig(**cfg["train"]).lam == 20.0
    assert cfg["train"]["dataset"] == "cifar100" and cfg["eval"]["dataset"] == "cifar10"


def test_overrides_grid():
    grid = run.overrides_grid(["epochs=3"], ["lam=0,20", "num_branches=8,16"])
    assert len(grid) == 4 and {"epochs": 3, "lam": 0, "num_branches": 8} in grid
    assert run.overrides_grid([], []) == [{}]
    assert run.overrides_grid(["data_dir=None", "eta=0.5"], []) == [{"data_dir": None, "eta": 0.5}]


def test_collect_builds_the_table(tmp_path, capsys):
    payload = {
        "experiment": "cifar100_to_cifar10", "doc": "row",
        "rows": [{"name": "base", "overrides": {}, "n": 120, "means": {"corel": 0.70, "kde": 0.6}}],
    }  # fmt: skip
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text(json.dumps(payload))
    assert collect.main([str(tmp_path), "--out", str(tmp_path / "t.md")]) == 0
    line = (tmp_path / "t.md").read_text().splitlines()[-1]
    assert line == "| row | base | 120 | corel 0.700, kde 0.600 | 0.755 | -0.055 |"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_published_numbers_come_from_the_one_table(path):
    """Each config's published numbers are its rows of corel_jax.paper.published, and its
    docstring quotes them."""
    cfg = run.load_config(str(path), "")
    assert cfg["experiment"] == path.stem
    rows = published.rows_of(path.stem)
    doc = path.read_text().split('"""')[1]
    if rows:
        assert cfg["published"] == {r.setting or f"n={r.n}": r.auroc for r in rows}
        assert cfg["eval"]["n"] == sorted({r.n for r in rows})
        assert cfg["train"]["dataset"] == rows[0].train_dataset
        assert cfg["eval"]["dataset"] == rows[0].eval_dataset
    for value in cfg["published"].values():
        assert f"{value:.3f}" in doc, (path.stem, value)


def test_collect_compares_ablation_settings(tmp_path):
    payload = {
        "experiment": "ablation_lambda", "doc": "lambda",
        "rows": [{"name": f"lam={lam}", "overrides": {"lam": lam}, "n": 120,
                  "means": {"corel": 0.6}} for lam in (0, 1)],
    }  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(payload))
    assert collect.rows_of(tmp_path / "results.json") == [
        "| lambda | lam=0 | 120 | corel 0.600 | 0.547 | +0.053 |",
        "| lambda | lam=1 | 120 | corel 0.600 | 0.709 | -0.109 |",
    ]


def test_collect_compares_each_ablation_cell(tmp_path):
    """A row of the lambda x layout ablation is compared with its cell, whatever the order of
    the overrides; a lambda the table does not have gets no published value."""
    overrides = [{"num_branches": 1, "branch_dim": 160, "lam": 0},
                 {"lam": 10.0, "branch_dim": 10, "num_branches": 32},
                 {"num_branches": 16, "branch_dim": 20, "lam": 5}]  # fmt: skip
    payload = {
        "experiment": "ablation_branches", "doc": "cells",
        "rows": [{"name": ",".join(f"{k}={v}" for k, v in o.items()), "overrides": o, "n": 120,
                  "means": {"corel": 0.7}} for o in overrides],
    }  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(payload))
    published_cells = [line.split(" | ")[-2] for line in collect.rows_of(tmp_path / "results.json")]
    assert published_cells == ["0.500", "0.767", "-"]


def test_ablation_configs_sweep_the_published_table():
    lam = run.load_config(str(CONFIG_DIR / "ablation_lambda.py"), "")
    assert lam["published"] == {f"lam={k:g}": published.ABLATION_TABLE[k, (16, 10)]
                                for k in published.ABLATION_LAMBDAS}  # fmt: skip
    cells = run.load_config(str(CONFIG_DIR / "ablation_branches.py"), "")
    assert cells["published"] == {
        published.ablation_setting(k, lay): v for (k, lay), v in published.ABLATION_TABLE.items()
    }
    assert cells["eval"]["n"] == [120] and cells["eval"]["radius"] == 2.0
    # every layout of the table is a valid TrainConfig of the paper's model
    for k, d in published.ABLATION_LAYOUTS:
        TrainConfig(**dict(cells["train"], num_branches=k, branch_dim=d))


def test_early_stopping_emulation_finds_where_the_authors_code_stops():
    from experiments.topoae.run import early_stopping

    # the best epoch (index 2) then `patience` epochs without a lower loss: stops at 5,
    # and the later, lower loss is never seen
    assert early_stopping([5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 1.0], patience=3) == (2, 5)
    # an equal loss is no improvement
    assert early_stopping([5.0, 3.0, 3.0, 3.0, 3.0], patience=3) == (1, 4)
    # never triggered: the best epoch, and the last epoch that ran
    assert early_stopping([5.0, 4.0, 4.5, 4.2, 3.9], patience=3) == (4, 4)
