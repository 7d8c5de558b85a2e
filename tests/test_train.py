"""Tests for corel_jax.train: the paper's effect, pmap equivalence, resume, determinism, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from corel_jax import cli, data
from corel_jax import train as T

SMALL = dict(dataset="digits", num_branches=8, steps_per_dispatch=4, checkpoint_every=1000)


def params_of(workdir) -> list[np.ndarray]:
    model, _ = T.load_backbone(workdir)
    from flax import nnx

    return [np.asarray(p) for p in jax.tree.leaves(nnx.state(model, nnx.Param))]


def assert_same_params(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_connectivity_loss_concentrates_deaths_around_eta(tmp_path):
    """The paper's central effect, on real offline data (scikit-learn digits).

    Held-out per-branch death times of a lambda=20 model sit much closer to
    eta than those of the same model trained with lambda=0.
    """
    epochs = 15 if os.environ.get("CI") else 40
    dev = {}
    for lam in (20.0, 0.0):
        config = T.TrainConfig(lam=lam, epochs=epochs, devices=1, **SMALL)
        summary = T.train_and_evaluate(config, tmp_path / f"lam{lam}", progress=False)
        dev[lam] = summary["test_death_mean_abs_dev_from_eta"]
        assert summary["completed"] and np.isfinite(summary["test_rec"])
    assert dev[20.0] < 0.7 * dev[0.0], dev


@pytest.mark.multidevice
def test_pmap_step_equals_single_device_with_averaged_gradients():
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    config = T.TrainConfig(batch_size=20, **SMALL)
    images = data.load("digits", "train").images[:160]
    graphdef, state = T.create_train_state(config, images.shape[1:], jax.random.key(0))
    idx = np.arange(160).reshape(8, 1, 20)  # device d gets examples [20 d, 20 d + 20)

    chunk = T._make_chunk_fn(graphdef, config)
    par_state, metrics = chunk(
        T._replicate(state, jax.local_devices()), T._replicate(images, jax.local_devices()), idx
    )
    par_params = jax.tree.map(lambda a: np.asarray(a[0]), par_state.params)
    # every device holds the same parameters afterwards
    for leaf in jax.tree.leaves(par_state.params):
        np.testing.assert_array_equal(leaf[0], leaf[7])

    loss_fn = T.make_loss_fn(graphdef, config)
    grads = [
        jax.grad(loss_fn, has_aux=True)(
            state.params, jnp.asarray(images[idx[d, 0]], jnp.float32) / 255
        )[0]
        for d in range(8)
    ]
    mean = jax.tree.map(lambda *g: sum(g) / 8, *grads)
    updates, _ = optax.adam(config.learning_rate).update(mean, state.opt_state, state.params)
    ref = optax.apply_updates(state.params, updates)
    for a, b in zip(jax.tree.leaves(par_params), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(par_state.step[0]) == 1


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    config = T.TrainConfig(epochs=3, devices=1, **{**SMALL, "checkpoint_every": 8})
    T.train_and_evaluate(config, tmp_path / "full", progress=False)
    part = T.train_and_evaluate(config, tmp_path / "part", stop_after=16)
    assert not part["completed"] and part["step"] == 16
    done = T.train_and_evaluate(config, tmp_path / "part", resume=True)
    assert done["completed"]
    assert_same_params(params_of(tmp_path / "full"), params_of(tmp_path / "part"))
    steps = [json.loads(line)["step"] for line in (tmp_path / "part" / "metrics.jsonl").open()]
    assert steps == sorted(steps) and steps[-1] == done["total_steps"]


def test_killed_run_resumes_from_a_complete_checkpoint(tmp_path):
    """SIGKILL a training process after its first checkpoint, then resume."""
    args = [
        "--dataset", "digits", "--num-branches", "8", "--epochs", "4", "--devices", "1",
        "--checkpoint-every", "8", "--steps-per-dispatch", "4",
    ]  # fmt: skip
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
    work = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "corel_jax", "train", "--workdir", str(work), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    ckpt = work / "checkpoints"
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_dir() and any(p.name.isdigit() for p in ckpt.iterdir()):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.is_dir() and any(p.name.isdigit() for p in ckpt.iterdir()), "no checkpoint appeared"
    assert cli.main(["train", "--workdir", str(work), "--resume", *args]) == 0
    assert cli.main(["train", "--workdir", str(tmp_path / "ref"), *args]) == 0
    assert_same_params(params_of(work), params_of(tmp_path / "ref"))


def test_same_seed_same_result_and_other_seed_differs(tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        config = T.TrainConfig(epochs=1, seed=seed, devices=1, **SMALL)
        T.train_and_evaluate(config, tmp_path / name, progress=False)
        runs[name] = params_of(tmp_path / name)
    assert_same_params(runs["a"], runs["b"])
    assert any(not np.array_equal(x, y) for x, y in zip(runs["a"], runs["c"], strict=True))


def test_metrics_jsonl_and_summary(tmp_path):
    config = T.TrainConfig(epochs=2, devices=1, **SMALL)
    summary = T.train_and_evaluate(config, tmp_path, progress=True)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert {"step", "epoch", "rec", "conn", "loss", "examples_per_s", "time"} <= set(rows[0])
    assert rows[-1]["step"] == summary["total_steps"] == 2 * (1348 // 100)
    for r in rows:
        np.testing.assert_allclose(r["loss"], r["rec"] + 20.0 * r["conn"], rtol=1e-4)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert T.TrainConfig.from_dict(saved) == config
    assert json.loads((tmp_path / "summary.json").read_text())["completed"]


def test_encode_pads_the_last_batch(tmp_path):
    config = T.TrainConfig(epochs=1, devices=1, **SMALL)
    T.train_and_evaluate(config, tmp_path, progress=False)
    model, loaded = T.load_backbone(tmp_path)
    assert loaded == config
    images = data.load("digits", "test").images
    z = T.encode(model, images, batch_size=100)
    assert z.shape == (449, 80) and z.dtype == np.float32
    direct = np.asarray(model.encode(jnp.asarray(images[:7], jnp.float32) / 255))
    np.testing.assert_allclose(z[:7], direct, rtol=1e-5, atol=1e-5)


class TestBadInput:
    @pytest.mark.parametrize(
        "kwargs,field",
        [
            (dict(lam=-1.0), "lam"),
            (dict(eta=0.0), "eta"),
            (dict(epochs="3"), "epochs"),
            (dict(batch_size=1), "batch_size"),
            (dict(metric="cosine"), "metric"),
            (dict(dataset="cifar11"), "dataset"),
            (dict(num_branches=3), "num_branches"),
            (dict(learning_rate=0), "learning_rate"),
            (dict(devices=10_000), "devices"),
            (dict(model="resnet"), "model"),
        ],
    )
    def test_config_fields(self, kwargs, field):
        with pytest.raises(ValueError, match=rf"TrainConfig\.{field}"):
            T.TrainConfig(**kwargs)

    def test_dataset_smaller_than_a_batch_writes_nothing(self, tmp_path):
        config = T.TrainConfig(max_examples=50, devices=1, **SMALL)
        with pytest.raises(ValueError, match="fewer than one global batch"):
            T.train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    @pytest.mark.multidevice
    def test_global_batch_over_all_devices(self, tmp_path):
        if jax.local_device_count() < 8:
            pytest.skip("needs 8 (forced) devices")
        config = T.TrainConfig(max_examples=700, **SMALL)  # 700 < 100 x 8
        with pytest.raises(ValueError, match="100 x 8 devices = 800"):
            T.train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    def test_workdir_rules(self, tmp_path):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x").write_text("x")
        config = T.TrainConfig(epochs=1, devices=1, **SMALL)
        with pytest.raises(ValueError, match="not empty"):
            T.train_and_evaluate(config, tmp_path / "busy")
        with pytest.raises(ValueError, match="no run to resume"):
            T.train_and_evaluate(config, tmp_path / "none", resume=True)


def test_cli_help_and_errors(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for option in ("--workdir", "--resume", "--epochs", "--seed", "--lam", "--eta", "--dataset"):
        assert option in out
    assert cli.main(["train", "--workdir", str(tmp_path / "w"), "--lam", "-3"]) == 2
    assert "TrainConfig.lam" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_python_dash_m_entry_point(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "corel_jax", "train", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--checkpoint-every" in out.stdout
    assert Path(T.__file__).name == "train.py"
