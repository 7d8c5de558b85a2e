"""Backbones trained side by side in worker processes: same runs as one after the other."""

import dataclasses
import json

import jax
import numpy as np
import pytest
from flax import nnx

from corel_jax.training import runs, workers
from corel_jax.training.config import TrainConfig

TRAIN = "corel_jax.training.runs:_train_in_worker"  # what runs.train_backbones runs in each worker


def _config(**kw) -> TrainConfig:
    base = dict(dataset="digits", model="mlp", hidden=(32,), num_branches=4, branch_dim=2,
                max_examples=400, epochs=2, devices=1, log_every=1)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "cores,count,expected",
    [
        ([0, 1], 2, [[0], [1]]),
        ([0, 1, 2, 3, 4], 2, [[0, 1, 2], [3, 4]]),
        ([2, 5, 7], 3, [[2], [5], [7]]),
        ([0, 1, 2, 3], 1, [[0, 1, 2, 3]]),
    ],
)
def test_core_groups_are_disjoint_and_cover_the_cores(cores, count, expected):
    groups = workers.core_groups(cores, count)
    assert groups == expected
    assert sorted(c for g in groups for c in g) == sorted(cores)


def test_core_groups_rejects_more_workers_than_cores():
    with pytest.raises(ValueError, match="workers must be in 1..2"):
        workers.core_groups([0, 1], 3)


def test_needs_training_follows_the_work_directory(tmp_path):
    config = _config(epochs=1)
    assert runs.needs_training(config, tmp_path / "new")
    runs.ensure_backbone(config, tmp_path / "run")
    assert not runs.needs_training(config, tmp_path / "run")  # finished
    assert runs.needs_training(dataclasses.replace(config, epochs=2), tmp_path / "run")  # extend
    with pytest.raises(ValueError, match="other settings"):
        runs.needs_training(dataclasses.replace(config, lam=3.0), tmp_path / "run")


def _params(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(nnx.state(model, nnx.Param))]


TWO_CORES = pytest.mark.skipif(len(workers.available_cores()) < 2, reason="needs two CPU cores")


@pytest.mark.slow
@TWO_CORES
def test_side_by_side_trains_the_same_backbones_as_one_after_the_other(tmp_path):
    configs = {"corel": _config(lam=1.0), "lambda0": _config(lam=0.0)}
    together = runs.ensure_backbones(
        {n: (c, tmp_path / "together" / n) for n, c in configs.items()}, side_by_side=True
    )
    apart = runs.ensure_backbones(
        {n: (c, tmp_path / "apart" / n) for n, c in configs.items()}, side_by_side=False
    )
    for name in configs:
        workdir = tmp_path / "together" / name
        log = (workdir / "train.log").read_text()
        assert "training" in log or "step" in log  # the worker's own log
        assert not (tmp_path / "apart" / name / "train.log").exists()
        rows = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
        assert rows[-1]["step"] == 2 * (400 // 100)
        # Same data order, init and steps: equal up to float rounding (1 vs 2 threads).
        for a, b in zip(_params(together[name][0]), _params(apart[name][0]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert together[name][1]["completed"] and apart[name][1]["completed"]
    # The lambda = 0 run differs from the COREL run (the workers did not mix them up).
    p0, p1 = _params(together["lambda0"][0]), _params(together["corel"][0])
    assert any(not np.allclose(a, b) for a, b in zip(p0, p1, strict=True))
    # A second call finds both finished and trains nothing.
    assert not any(runs.needs_training(c, tmp_path / "together" / n) for n, c in configs.items())


def test_a_target_that_is_not_module_colon_function_is_refused_before_any_worker(tmp_path):
    jobs = {"a": (_config(epochs=1), tmp_path / "a")}
    with pytest.raises(ValueError, match="package.module:function"):
        workers.train_side_by_side(
            jobs, {"a": 4}, target="corel_jax.training.runs._train_in_worker"
        )
    with pytest.raises(AttributeError):
        workers.train_side_by_side(
            jobs, {"a": 4}, target="corel_jax.training.runs:no_such_function"
        )
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
@TWO_CORES
def test_a_failing_worker_is_reported_with_its_log(tmp_path):
    bad = _config(dataset="mnist", data_dir=str(tmp_path / "no-such-folder"))
    jobs = {"good": (_config(epochs=1), tmp_path / "good"), "bad": (bad, tmp_path / "bad")}
    with pytest.raises(RuntimeError, match=r"bad \(exit code 1\)") as err:
        workers.train_side_by_side(jobs, {"good": 4, "bad": 4}, target=TRAIN)
    assert "good (exit code" not in str(err.value)
    assert (tmp_path / "good" / "summary.json").is_file()  # the other worker finished
