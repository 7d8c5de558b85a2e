"""Tests for corel_jax.train: the paper's effect, pmap equivalence, resume, determinism, errors.

Most tests share one short reference run on scikit-learn's digits (the
``reference`` fixture, made through the command line), so the file stays
within a few minutes on a 2-core CPU.
"""

import json
import os
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

from corel_jax import cli, data
from corel_jax import loss as L
from corel_jax import train as T

# One config, spelled twice: as command-line options and as a TrainConfig.
ARGS = [
    "--dataset", "digits", "--num-branches", "8", "--epochs", "2", "--devices", "1",
    "--checkpoint-every", "8", "--steps-per-dispatch", "4", "--log-every", "5",
    "--keep-checkpoints", "10",
]  # fmt: skip
CONFIG = T.TrainConfig(
    dataset="digits",
    num_branches=8,
    epochs=2,
    devices=1,
    checkpoint_every=8,
    steps_per_dispatch=4,
    log_every=5,
    keep_checkpoints=10,
)
# On a GPU, float32 convolutions may run in TF32 and reductions in other orders, and runs
# are bitwise reproducible only with XLA's deterministic ops (CPU runs always are).
GPU = jax.default_backend() == "gpu"
TOL = dict(rtol=2e-3, atol=2e-3) if GPU else dict(rtol=1e-5, atol=1e-5)
reproducible = pytest.mark.skipif(
    GPU and "--xla_gpu_deterministic_ops=true" not in os.environ.get("XLA_FLAGS", ""),
    reason="GPU runs are reproducible only with XLA_FLAGS=--xla_gpu_deterministic_ops=true",
)
STEPS_PER_EPOCH = 1348 // 100  # digits' train split, batch 100, last batch dropped
TOTAL = 2 * STEPS_PER_EPOCH


def params_of(workdir, step=None) -> list[np.ndarray]:
    model, _ = T.load_backbone(workdir, step)
    return [np.asarray(p) for p in jax.tree.leaves(nnx.state(model, nnx.Param))]


def assert_same_params(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def checkpoint_steps(workdir) -> list[int]:
    return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A complete 2-epoch run of CONFIG made with ``corel-jax train``."""
    workdir = tmp_path_factory.mktemp("reference") / "run"
    assert cli.main(["train", "--workdir", str(workdir), *ARGS]) == 0
    return workdir


# ------------------------------------------------------------ the paper's effect


@pytest.mark.slow
def test_connectivity_loss_concentrates_deaths_around_eta(tmp_path):
    """The paper's central effect, on real offline data (scikit-learn digits).

    Held-out per-branch death times of a lambda=20 model sit closer to eta
    and spread less than those of the same model trained with lambda=0 (whose
    latent scale is not controlled). CI=true: 40 epochs (520 steps, about a
    minute); otherwise 120 epochs.
    """
    epochs = 40 if os.environ.get("CI") else 120
    summaries, deaths = {}, {}
    test = data.load("digits", "test").images[:400].reshape(4, 100, 8, 8, 1)
    for lam in (20.0, 0.0):
        config = T.TrainConfig(
            dataset="digits", num_branches=8, lam=lam, epochs=epochs, devices=1,
            steps_per_dispatch=STEPS_PER_EPOCH,
        )  # fmt: skip
        summaries[lam] = T.train_and_evaluate(config, tmp_path / f"lam{lam:g}", progress=False)
        assert summaries[lam]["completed"] and np.isfinite(summaries[lam]["test_rec"])
        # An independent look: recompute the deaths of 4 held-out batches from the backbone.
        model, _ = T.load_backbone(tmp_path / f"lam{lam:g}")
        deaths[lam] = np.stack(
            [
                np.asarray(L.branch_deaths(jnp.asarray(T.encode(model, x)), num_branches=8))
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
    spread = {lam: d.std() for lam, d in deaths.items()}
    assert dev[20.0] < 0.6 * dev[0.0], dev
    assert spread[20.0] < 0.6 * spread[0.0], spread
    assert summaries[20.0]["test_conn"] < 0.6 * summaries[0.0]["test_conn"]


# ------------------------------------------------------------------- the step


@pytest.mark.multidevice
def test_pmap_step_equals_single_device_with_averaged_gradients():
    if jax.local_device_count() < 8:
        pytest.skip("needs 8 (forced) devices")
    config = T.TrainConfig(batch_size=20, num_branches=8)
    images = data.load("digits", "train").images[:160]
    graphdef, state = T.create_train_state(config, images.shape[1:], jax.random.key(0))
    idx = np.arange(160).reshape(8, 1, 20)  # device d gets examples [20 d, 20 d + 20)

    devices = jax.local_devices()
    chunk = T._make_chunk_fn(devices)
    par_state, metrics = chunk(T._replicate(state, devices), T._replicate(images, devices), idx)
    for leaf in jax.tree.leaves(par_state.params):  # all replicas agree
        for d in range(1, 8):
            np.testing.assert_array_equal(leaf[0], leaf[d])
    assert np.all(np.asarray(par_state.step) == 1)

    # Reference: one device, the 8 batches' gradients averaged, one Adam step.
    loss_fn = T.make_loss_fn(graphdef, config)
    grads, recs = [], []
    for d in range(8):
        x = jnp.asarray(images[idx[d, 0]], jnp.float32) / 255
        g, aux = jax.grad(loss_fn, has_aux=True)(state.params, x)
        grads.append(g)
        recs.append(float(aux["rec"]))
    mean = jax.tree.map(lambda *g: sum(g) / 8, *grads)
    updates, _ = optax.adam(1e-3).update(mean, state.opt_state, state.params)
    ref = optax.apply_updates(state.params, updates)
    par = jax.tree.map(lambda a: np.asarray(a[0]), par_state.params)
    for a, b in zip(jax.tree.leaves(par), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(metrics["rec"])[:, 0], np.mean(recs), rtol=1e-5)


@jax.default_matmul_precision("highest")  # no TF32 on GPUs: float32 throughout
def test_train_step_is_a_pure_adam_step_on_the_papers_loss():
    config = T.TrainConfig(num_branches=8, lam=20.0, eta=2.0)
    images = data.load("digits", "train").images[:100]
    graphdef, state = T.create_train_state(config, images.shape[1:], jax.random.key(3))
    new, metrics = jax.jit(T.train_step)(state, images)

    x = jnp.asarray(images, jnp.float32) / 255

    def loss(params):  # the paper's loss, written out
        x_hat, z = nnx.merge(graphdef, params)(x)
        rec = jnp.mean(jnp.sum(jnp.abs(x - x_hat), axis=(1, 2, 3)))
        deaths = L.branch_deaths(z, num_branches=8)
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
    assert T.TrainConfig.from_dict(saved) == CONFIG
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["completed"] and summary["step"] == summary["total_steps"] == TOTAL
    assert checkpoint_steps(reference) == [8, 16, 24, 26]


def test_checkpoint_holds_the_config_and_load_backbone_restores_it(reference):
    model, config = T.load_backbone(reference)
    assert config == CONFIG
    meta = T._read_meta(reference, TOTAL)
    assert (
        meta["input_shape"] == [8, 8, 1]
        and meta["devices"] == 1
        and T.TrainConfig.from_dict(meta["config"]) == CONFIG
    )
    # config.json is not needed to load the backbone
    assert model.latent_dim == 80 and tuple(model.input_shape) == (8, 8, 1)
    early, final = params_of(reference, 8), params_of(reference)
    assert not all(np.array_equal(a, b) for a, b in zip(early, final, strict=True))


@reproducible
def test_same_seed_same_result_other_seed_differs(reference, tmp_path):
    for seed, same in ((0, True), (1, False)):
        config = T.TrainConfig(**{**CONFIG.to_dict(), "seed": seed})
        part = T.train_and_evaluate(config, tmp_path / str(seed), progress=False, stop_after=8)
        assert part == {"step": 8, "total_steps": TOTAL, "completed": False}
        a, b = params_of(tmp_path / str(seed), 8), params_of(reference, 8)
        if same:
            assert_same_params(a, b)
        else:
            assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@reproducible
def test_interrupted_run_resumes_exactly_and_skips_incomplete_checkpoints(reference, tmp_path):
    work = tmp_path / "part"
    part = T.train_and_evaluate(CONFIG, work, stop_after=16, progress=True)
    assert part == {"step": 16, "total_steps": TOTAL, "completed": False}
    assert checkpoint_steps(work) == [8, 16] and not (work / "summary.json").exists()
    # What a run killed while writing step 24 leaves behind: orbax's temporary folder.
    junk = work / "checkpoints" / "24.orbax-checkpoint-tmp-1700000000000000"
    (junk / "state").mkdir(parents=True)
    (junk / "state" / "_METADATA").write_text("{truncated")
    assert T._latest_step(work) == 16
    done = T.train_and_evaluate(CONFIG, work, resume=True, progress=True)
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
    latest = T._latest_step(work)
    assert latest is not None and latest < TOTAL and not (work / "summary.json").exists()
    assert cli.main(["train", "--workdir", str(work), "--resume", *ARGS]) == 0
    assert_same_params(params_of(work), params_of(reference))


# ----------------------------------------------------------------- encoding


def test_encode_matches_the_model_and_pads_the_last_batch(reference):
    model, _ = T.load_backbone(reference)
    images = data.load("digits", "test").images
    z = T.encode(model, images, batch_size=100)
    assert z.shape == (449, 80) and z.dtype == np.float32
    direct = np.asarray(model.encode(jnp.asarray(images, jnp.float32) / 255))
    np.testing.assert_allclose(z, direct, **TOL)
    assert T.encode(model, images[:0]).shape == (0, 80)
    with pytest.raises(ValueError, match="images"):
        T.encode(model, images[..., 0])
    with pytest.raises(ValueError, match="batch_size"):
        T.encode(model, images, batch_size=0)


# ---------------------------------------------------------------- bad input


class TestBadInput:
    @pytest.mark.parametrize(
        "kwargs,field",
        [
            (dict(lam=-1.0), "lam"),
            (dict(lam=float("nan")), "lam"),
            (dict(eta=0.0), "eta"),
            (dict(epochs="3"), "epochs"),
            (dict(epochs=True), "epochs"),
            (dict(batch_size=1), "batch_size"),
            (dict(metric="cosine"), "metric"),
            (dict(dataset="cifar11"), "dataset"),
            (dict(num_branches=3), "num_branches"),
            (dict(learning_rate=0), "learning_rate"),
            (dict(devices=10_000), "devices"),
            (dict(model="resnet"), "model"),
            (dict(filters=[32, 64, 128]), "filters"),
            (dict(log_every=0), "log_every"),
            (dict(max_examples=-5), "max_examples"),
            (dict(seed=-1), "seed"),
        ],
    )
    def test_config_fields(self, kwargs, field):
        with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be"):
            T.TrainConfig(**kwargs)

    def test_from_dict_rejects_unknown_fields(self):
        with pytest.raises(ValueError, match="Unknown TrainConfig fields: \\['lambda'\\]"):
            T.TrainConfig.from_dict({"lambda": 20})

    def test_dataset_smaller_than_a_batch_writes_nothing(self, tmp_path):
        config = T.TrainConfig(max_examples=50, devices=1)
        with pytest.raises(ValueError, match="50 examples .* fewer than one global batch"):
            T.train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    @pytest.mark.multidevice
    def test_global_batch_over_all_devices(self, tmp_path):
        if jax.local_device_count() < 8:
            pytest.skip("needs 8 (forced) devices")
        config = T.TrainConfig(max_examples=700)  # 700 < 100 x 8
        with pytest.raises(ValueError, match="batch_size 100 x 8 devices = 800"):
            T.train_and_evaluate(config, tmp_path / "w")
        assert not (tmp_path / "w").exists()

    def test_images_must_be_uint8_nhwc(self, tmp_path):
        with pytest.raises(ValueError, match="images must be uint8"):
            T.train_and_evaluate(CONFIG, tmp_path / "w", images=np.zeros((200, 8, 8, 1)))
        assert not (tmp_path / "w").exists()

    def test_workdir_rules(self, reference, tmp_path):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x").write_text("x")
        with pytest.raises(ValueError, match="not empty; pass resume=True"):
            T.train_and_evaluate(CONFIG, tmp_path / "busy")
        with pytest.raises(ValueError, match="no run to resume"):
            T.train_and_evaluate(CONFIG, tmp_path / "none", resume=True)
        assert not (tmp_path / "none").exists()
        other = T.TrainConfig(**{**CONFIG.to_dict(), "lam": 1.0})
        with pytest.raises(ValueError, match=r"config differs .*'lam': \(20.0, 1.0\)"):
            T.train_and_evaluate(other, reference, resume=True)
        with pytest.raises(ValueError, match="no complete training checkpoint"):
            T.load_backbone(tmp_path / "busy")
        with pytest.raises(ValueError, match="no checkpoint of step 3"):
            T.load_backbone(reference, 3)


# --------------------------------------------------------------- command line


def test_cli_help_options_and_errors(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--dataset", "--data-dir", "--model", "--num-branches", "--branch-dim", "--lam", "--eta",
        "--metric", "--batch-size", "--lr", "--epochs", "--seed", "--workdir", "--resume",
        "--checkpoint-every", "--max-examples", "--distributed",
    ):  # fmt: skip
        assert option in out
    args = cli.build_parser().parse_args(["train", "--workdir", "w", *ARGS])
    assert T.config_from_args(args) == CONFIG
    assert cli.main(["train", "--workdir", str(tmp_path / "w"), "--lam", "-3"]) == 2
    assert "TrainConfig.lam must be a finite number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_cli_run_prints_progress_and_summary(tmp_path):
    """A tiny run through ``python -m corel_jax train`` (stdout not a tty: plain lines)."""
    out = subprocess.run(
        [sys.executable, "-m", "corel_jax", "train", "--workdir", str(tmp_path / "w"),
         "--dataset", "digits", "--num-branches", "4", "--epochs", "1", "--devices", "1",
         "--max-examples", "300", "--steps-per-dispatch", "3", "--log-every", "1"],
        env=dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["3/3"]
    assert "rec" in lines[0] and "conn" in lines[0] and "examples/s" in lines[0]
    assert '"completed": true' in out.stdout
    model, config = T.load_backbone(tmp_path / "w")
    assert config.max_examples == 300 and model.latent_dim == 40
