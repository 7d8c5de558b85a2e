"""Tests for corel_jax.training.train: the paper's effect, the mesh step, resume, extension, errors.

Most tests share one short reference run on scikit-learn's digits (the
``reference`` fixture of conftest.py, made through the command line), so the
file stays within a few minutes on a 2-core CPU.
"""

import json
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from train_helpers import (
    ARGS,
    CONFIG,
    GPU,
    TOTAL,
    assert_same_params,
    checkpoint_steps,
    params_of,
    reproducible,
)

from corel_jax import commands, data, loss as L
from corel_jax.training import checkpoint, parallel, train as T
from corel_jax.training.backbone import encode, load_backbone
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import make_loss_fn
from corel_jax.training.state import create_train_state, train_step
from corel_jax.training.train import train_and_evaluate

# ------------------------------------------------------------ the paper's effect


def test_connectivity_loss_concentrates_deaths_around_eta(tmp_path):
    """The paper's central effect, on real offline data (scikit-learn digits), with a small
    MLP autoencoder (the demo, ``tests/paper/test_demo.py``, shows it for the paper's
    convolutional model).

    Held-out per-branch death times of a lambda=20 model sit closer to eta and spread less
    relative to their mean than those of the same model trained with lambda=0 (whose latent
    scale is not controlled): 10 epochs (130 steps) each.
    """
    summaries, deaths = {}, {}
    test = data.load("digits", "test").images[:400].reshape(4, 100, 8, 8, 1)
    for lam in (20.0, 0.0):
        config = TrainConfig(
            dataset="digits", model="mlp", hidden=(64,), num_branches=8, lam=lam, epochs=10,
            metric="l1", devices=1, steps_per_dispatch=13,
        )  # fmt: skip
        summaries[lam] = train_and_evaluate(config, tmp_path / f"lam{lam:g}", progress=False)
        assert summaries[lam]["completed"] and np.isfinite(summaries[lam]["test_rec"])
        # An independent look: recompute the deaths of 4 held-out batches from the backbone.
        model, _ = load_backbone(tmp_path / f"lam{lam:g}")
        deaths[lam] = np.stack(
            [
                np.asarray(
                    L.branch_deaths(jnp.asarray(encode(model, x)), num_branches=8, metric="l1")
                )
                for x in test
            ]
        )
        assert deaths[lam].shape == (4, 8, 99)
        np.testing.assert_allclose(
            np.abs(deaths[lam] - 2.0).mean(),
            summaries[lam]["test_death_mean_abs_dev_from_eta"],
            rtol=1e-4,
        )
    dev = {lam: np.abs(d - 2.0).mean() for lam, d in deaths.items()}
    spread = {lam: d.std() / d.mean() for lam, d in deaths.items()}
    assert dev[20.0] < 0.6 * dev[0.0], dev
    assert spread[20.0] < 0.6 * spread[0.0], spread
    assert summaries[20.0]["test_conn"] < 0.6 * summaries[0.0]["test_conn"]


# ------------------------------------------------------------------- the step


@pytest.mark.multidevice
def test_mesh_step_equals_single_device_with_averaged_gradients():
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    config = TrainConfig(batch_size=20, num_branches=8, model="mlp", hidden=(32,))
    images = data.load("digits", "train").images[:160]
    graphdef, state = create_train_state(config, images.shape[1:], jax.random.key(0))
    idx = np.arange(160).reshape(8, 1, 20)  # device d gets examples [20 d, 20 d + 20)

    mesh = parallel.data_mesh(8)
    chunk = T.make_chunk_fn(mesh)
    par_state, metrics = chunk(
        parallel.replicate(state, mesh), parallel.device_copies(images, mesh), idx
    )
    for leaf in jax.tree.leaves(par_state.params):  # replicated on all devices, all equal
        shards = [np.asarray(s.data) for s in leaf.addressable_shards]
        assert len(shards) == 8 and all(np.array_equal(shards[0], x) for x in shards)
    assert int(parallel.host_value(par_state.step)) == 1

    # Reference: one device, the 8 batches' gradients averaged, one Adam step.
    loss_fn = make_loss_fn(graphdef, config)
    grads, recs = [], []
    for d in range(8):
        x = jnp.asarray(images[idx[d, 0]], jnp.float32) / 255
        g, (aux, _) = jax.grad(loss_fn, has_aux=True)(state.params, state.batch_stats, x)
        grads.append(g)
        recs.append(float(aux["rec"]))
    mean = jax.tree.map(lambda *g: sum(g) / 8, *grads)
    updates, _ = optax.adam(1e-3).update(mean, state.opt_state, state.params)
    ref = optax.apply_updates(state.params, updates)
    par = parallel.host_value(par_state.params)
    for a, b in zip(jax.tree.leaves(par), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(metrics["rec"])[0], np.mean(recs), rtol=1e-5)
    np.testing.assert_allclose(metrics["grad_norm"][0], optax.tree.norm(mean), rtol=1e-5)


@jax.default_matmul_precision("highest")  # no TF32 on GPUs: float32 throughout
def test_train_step_is_a_pure_adam_step_on_the_papers_loss():
    config = TrainConfig(num_branches=8, lam=20.0, eta=2.0, metric="l1", model="mlp", hidden=(32,))
    images = data.load("digits", "train").images[:100]
    graphdef, state = create_train_state(config, images.shape[1:], jax.random.key(3))
    new, metrics = jax.jit(train_step)(state, images)

    x = jnp.asarray(images, jnp.float32) / 255

    def loss(params):  # the paper's loss, written out
        x_hat, z = nnx.merge(graphdef, params)(x)
        rec = jnp.mean(jnp.sum(jnp.abs(x - x_hat), axis=(1, 2, 3)))
        deaths = L.branch_deaths(z, num_branches=8, metric="l1")
        return rec + 20.0 * jnp.mean(jnp.sum(jnp.abs(2.0 - deaths), axis=-1))

    value, grad = jax.value_and_grad(loss)(state.params)
    np.testing.assert_allclose(metrics["loss"], value, rtol=1e-5)
    np.testing.assert_allclose(metrics["loss"], metrics["rec"] + 20 * metrics["conn"], rtol=1e-5)
    # The gradient the step used: Adam's first moment after one step from zero is 0.1 g.
    adam = new.opt_state[0]
    used = jax.tree.map(lambda m: m / 0.1, adam.mu)
    for a, b in zip(jax.tree.leaves(used), jax.tree.leaves(grad), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=(1e-3 if GPU else 1e-5) * np.abs(b).max())
    np.testing.assert_allclose(int(adam.count), 1)
    # And the step is Adam's (default betas, lr 1e-3) on that gradient. (Comparing with
    # Adam on `grad` directly is ill-conditioned: for g ~ 0 the first step is -lr sign(g).)
    updates, _ = optax.adam(1e-3).update(used, state.opt_state, state.params)
    ref = optax.apply_updates(state.params, updates)
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(new.step) == 1 and int(state.step) == 0  # the input is not modified


@pytest.mark.parametrize("shape", [(8, 8, 1), (32, 32, 3)])
def test_lam_per_value_scales_lambda_by_the_input_size(shape):
    """lam_scale="per_value" is the paper's loss with lam * H*W*C / 3072 (the same on 32x32x3)."""
    per_value = TrainConfig(
        num_branches=8, lam=20.0, lam_scale="per_value", model="mlp", hidden=(32,)
    )
    lam = 20.0 * np.prod(shape) / 3072
    assert per_value.effective_lam(shape) == pytest.approx(lam)
    assert TrainConfig(num_branches=8, lam=20.0).effective_lam(shape) == 20.0  # the default
    graphdef, state = create_train_state(per_value, shape, jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (100, *shape))
    value, (metrics, _) = make_loss_fn(graphdef, per_value)(state.params, state.batch_stats, x)
    np.testing.assert_allclose(value, metrics["rec"] + lam * metrics["conn"], rtol=1e-6)
    same = TrainConfig(num_branches=8, lam=float(lam), model="mlp", hidden=(32,))  # paper's scale
    same_value = make_loss_fn(graphdef, same)(state.params, state.batch_stats, x)[0]
    np.testing.assert_allclose(value, same_value, rtol=1e-6)


# --------------------------------------------------------- runs and resumption


def test_metrics_jsonl_config_and_summary(reference):
    rows = [json.loads(line) for line in (reference / "metrics.jsonl").open()]
    assert {"step", "epoch", "rec", "conn", "loss", "examples_per_s", "time"} <= set(rows[0])
    # Chunks end at 4, 8, 12, 13 (epoch end), 16, 20, 24, 26; a row is written when a
    # chunk crosses a multiple of log_every = 5, and at the end.
    assert [r["step"] for r in rows] == [8, 12, 16, 20, 26]
    assert [r["epoch"] for r in rows] == [0, 0, 1, 1, 1]
    for r in rows:
        np.testing.assert_allclose(r["loss"], r["rec"] + 20.0 * r["conn"], rtol=1e-4)
        assert r["examples_per_s"] > 0
    saved = json.loads((reference / "config.json").read_text())
    assert TrainConfig.from_dict(saved) == CONFIG
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["completed"] and summary["step"] == summary["total_steps"] == TOTAL
    assert checkpoint_steps(reference) == [8, 16, 24, 26]


def test_checkpoint_holds_the_config_and_load_backbone_restores_it(reference):
    model, config = load_backbone(reference)
    assert config == CONFIG
    meta = checkpoint.read_meta(reference, TOTAL)
    assert (
        meta["input_shape"] == [8, 8, 1]
        and meta["devices"] == 1
        and TrainConfig.from_dict(meta["config"]) == CONFIG
    )
    # config.json is not needed to load the backbone
    assert model.latent_dim == 80 and tuple(model.input_shape) == (8, 8, 1)
    early, final = params_of(reference, 8), params_of(reference)
    assert not all(np.array_equal(a, b) for a, b in zip(early, final, strict=True))


@reproducible
def test_same_seed_same_result_other_seed_differs(reference, tmp_path):
    for seed, same in ((0, True), (1, False)):
        config = TrainConfig(**{**CONFIG.to_dict(), "seed": seed})
        part = train_and_evaluate(config, tmp_path / str(seed), progress=False, stop_after=8)
        assert part == {"step": 8, "total_steps": TOTAL, "completed": False}
        a, b = params_of(tmp_path / str(seed), 8), params_of(reference, 8)
        if same:
            assert_same_params(a, b)
        else:
            assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@reproducible
def test_interrupted_run_resumes_exactly_and_skips_incomplete_checkpoints(reference, tmp_path):
    work = tmp_path / "part"
    part = train_and_evaluate(CONFIG, work, stop_after=16, progress=True)
    assert part == {"step": 16, "total_steps": TOTAL, "completed": False}
    assert checkpoint_steps(work) == [8, 16] and not (work / "summary.json").exists()
    # What a run killed while writing step 24 leaves behind: orbax's temporary folder.
    junk = work / "checkpoints" / "24.orbax-checkpoint-tmp-1700000000000000"
    (junk / "state").mkdir(parents=True)
    (junk / "state" / "_METADATA").write_text("{truncated")
    assert checkpoint.latest_step(work) == 16
    done = train_and_evaluate(CONFIG, work, resume=True, progress=True)
    assert done["completed"] and done["step"] == TOTAL
    assert_same_params(params_of(work), params_of(reference))
    assert done["test_rec"] == json.loads((reference / "summary.json").read_text())["test_rec"]
    steps = [json.loads(line)["step"] for line in (work / "metrics.jsonl").open()]
    assert steps == [8, 12, 16, 20, 26]


@reproducible
def test_killed_run_resumes_from_a_complete_checkpoint(reference, tmp_path):
    """SIGKILL a ``corel-jax train`` process after its first checkpoint, then --resume."""
    work = tmp_path / "killed"
    proc = subprocess.Popen(  # the same environment (XLA_FLAGS) as this process
        [sys.executable, "-m", "corel_jax", "train", "--workdir", str(work), *ARGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if (work / "checkpoints").is_dir() and checkpoint_steps(work):
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    latest = checkpoint.latest_step(work)
    assert latest is not None and latest < TOTAL and not (work / "summary.json").exists()
    assert commands.main(["train", "--workdir", str(work), "--resume", *ARGS]) == 0
    assert_same_params(params_of(work), params_of(reference))


@reproducible
def test_resume_with_more_epochs_extends_the_run(tmp_path):
    """A finished 2-epoch run resumed with epochs=3 equals a 3-epoch run from scratch.

    A small MLP on 300 digits: 3 steps per epoch, chunks of at most 2 steps.
    """
    small = dict(
        dataset="digits",
        model="mlp",
        hidden=(32,),
        num_branches=4,
        branch_dim=2,
        devices=1,
        max_examples=300,
        steps_per_dispatch=2,
        checkpoint_every=4,
        log_every=1,
    )  # fmt: skip  (3 steps per epoch)
    shorter, longer = TrainConfig(epochs=2, **small), TrainConfig(epochs=3, **small)
    work = tmp_path / "extended"
    assert train_and_evaluate(shorter, work, progress=True)["step"] == 6
    done = train_and_evaluate(longer, work, resume=True, progress=True)
    assert done["completed"] and done["step"] == done["total_steps"] == 9
    assert TrainConfig.from_json((work / "config.json").read_text()) == longer
    assert json.loads((work / "summary.json").read_text())["step"] == 9
    assert load_backbone(work)[1] == longer
    scratch = train_and_evaluate(longer, tmp_path / "scratch", progress=True)
    assert_same_params(params_of(work), params_of(tmp_path / "scratch"))
    assert done["test_rec"] == scratch["test_rec"]
    # the same chunks (ends at multiples of 2 and 4 and at epoch ends 3, 6, 9) as from scratch
    steps = [json.loads(line)["step"] for line in (work / "metrics.jsonl").open()]
    assert steps == [
        json.loads(line)["step"] for line in (tmp_path / "scratch/metrics.jsonl").open()
    ]
    assert steps == [2, 3, 4, 6, 8, 9]


# ---------------------------------------------------------------- bad input


class TestBadInput:
    def test_dataset_smaller_than_a_batch_writes_nothing(self, tmp_path):
        config = TrainConfig(max_examples=50, devices=1)
        with pytest.raises(ValueError, match="50 examples .* fewer than one global batch"):
            train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    @pytest.mark.multidevice
    def test_global_batch_over_all_devices(self, tmp_path):
        if jax.local_device_count() < 8:
            pytest.skip("needs 8 (forced) devices")
        config = TrainConfig(max_examples=700)  # 700 < 100 x 8
        with pytest.raises(ValueError, match="batch_size 100 x 8 devices = 800"):
            train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    def test_more_devices_than_there_are_writes_nothing(self, tmp_path):
        # Checked when training starts: building a config queries no device.
        with pytest.raises(ValueError, match=r"TrainConfig\.devices must be None or an int in"):
            train_and_evaluate(TrainConfig(devices=10_000), tmp_path / "w")
        assert not (tmp_path / "w").exists()

    def test_images_must_be_uint8_nhwc(self, tmp_path):
        with pytest.raises(ValueError, match="images must be uint8"):
            train_and_evaluate(CONFIG, tmp_path / "w", images=np.zeros((200, 8, 8, 1)))
        assert not (tmp_path / "w").exists()

    def test_workdir_rules(self, reference, tmp_path):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x").write_text("x")
        with pytest.raises(ValueError, match="not empty; pass resume=True"):
            train_and_evaluate(CONFIG, tmp_path / "busy")
        with pytest.raises(ValueError, match="no run to resume"):
            train_and_evaluate(CONFIG, tmp_path / "none", resume=True)
        assert not (tmp_path / "none").exists()
        other = TrainConfig(**{**CONFIG.to_dict(), "lam": 1.0})
        with pytest.raises(ValueError, match=r"config differs .*'lam': \(20.0, 1.0\)"):
            train_and_evaluate(other, reference, resume=True)
        fewer = TrainConfig(**{**CONFIG.to_dict(), "epochs": 1})
        with pytest.raises(ValueError, match=r"config differs .*'epochs': \(2, 1\)"):
            train_and_evaluate(fewer, reference, resume=True)
        with pytest.raises(ValueError, match="no complete training checkpoint"):
            load_backbone(tmp_path / "busy")
        with pytest.raises(ValueError, match="no checkpoint of step 3"):
            load_backbone(reference, 3)
