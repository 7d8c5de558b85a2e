"""The trainer fails safe: non-finite steps stop it, a work directory in use is refused,
a damaged newest checkpoint is skipped on resume, and checkpoints move between device counts."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest
from train_helpers import assert_same_params, checkpoint_steps, params_of

from corel_jax import commands, data
from corel_jax.training import checkpoint, train as T, workdir
from corel_jax.training.config import TrainConfig
from corel_jax.training.train import NonFiniteError, train_and_evaluate

# A small MLP on 400 digits: 4 steps per epoch, a chunk per step, a checkpoint every 2.
SMALL = dict(
    dataset="digits", model="mlp", hidden=(32,), num_branches=4, branch_dim=2, max_examples=400,
    epochs=2, devices=1, steps_per_dispatch=1, checkpoint_every=2, keep_checkpoints=10,
    log_every=1,
)  # fmt: skip
CONFIG = TrainConfig(**SMALL)
ARGV = ["--dataset", "digits", "--model", "mlp", "--hidden", "32", "--num-branches", "4",
        "--branch-dim", "2", "--max-examples", "400", "--epochs", "2", "--devices", "1",
        "--steps-per-dispatch", "1", "--checkpoint-every", "2", "--keep-checkpoints", "10",
        "--log-every", "1"]  # fmt: skip
ENV = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")


@pytest.fixture
def warnings_of_corel_jax(caplog):
    """caplog, recording corel_jax's warnings (whose logger may not propagate: the command
    line's logging configuration stops it)."""
    logger = logging.getLogger("corel_jax")
    attach = not logger.propagate
    if attach:
        logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="corel_jax"):
            yield caplog
    finally:
        if attach:
            logger.removeHandler(caplog.handler)


def finite_checkpoints(work) -> bool:
    return all(np.all(np.isfinite(p)) for s in checkpoint_steps(work) for p in params_of(work, s))


# ------------------------------------------------------------ non-finite steps


def test_a_nan_input_stops_the_run_at_its_step(tmp_path):
    """A NaN pixel in one example: the run stops at the first step whose batch holds it,
    naming the reconstruction loss, and keeps its finite checkpoints."""
    images = data.load("digits", "train").images[:400].astype(np.float32)
    bad = 123
    images[bad, 3, 3, 0] = np.nan
    from corel_jax.training.state import create_train_state

    _, state = create_train_state(CONFIG, images.shape[1:], jax.random.key(CONFIG.seed))
    position = int(np.flatnonzero(T.epoch_permutation(np.asarray(state.key), 0, 400) == bad)[0])
    step = position // CONFIG.batch_size + 1  # the step (from 1) of epoch 0 that reads it
    with pytest.raises(NonFiniteError) as info:
        train_and_evaluate(CONFIG, tmp_path / "w", images=images, progress=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"training stopped at step {step}: the reconstruction loss (rec)")
    saved = [s for s in range(2, step, 2)]
    assert checkpoint_steps(tmp_path / "w") == saved and finite_checkpoints(tmp_path / "w")
    kept = f"the last checkpoint (step {saved[-1]}) is kept" if saved else "no checkpoint"
    assert kept in message
    rows = [json.loads(line) for line in (tmp_path / "w" / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == list(range(1, step)) and all(
        np.isfinite(r["loss"]) for r in rows
    )


def test_which_term_is_named():
    metrics = {
        "rec": np.array([1.0, 2.0, 3.0]),
        "conn": np.array([1.0, np.inf, np.nan]),
        "loss": np.array([1.0, np.inf, np.nan]),
        "grad_norm": np.array([np.nan, 1.0, 1.0]),
    }
    with pytest.raises(NonFiniteError, match=r"^training stopped at step 11: the gradient"):
        T._check_finite(metrics, 11, 10)
    metrics["grad_norm"][0] = 1.0
    with pytest.raises(NonFiniteError, match=r"step 12: the connectivity loss \(conn\) is inf"):
        T._check_finite(metrics, 11, None)
    T._check_finite({k: v[:1] for k, v in metrics.items()}, 11, None)  # all finite: no error


def test_the_command_exits_1_with_one_line_on_a_huge_learning_rate(tmp_path, capsys):
    work = tmp_path / "w"
    assert commands.main(["train", "--workdir", str(work), *ARGV, "--lr", "1e6"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    found = re.fullmatch(
        r"error: training stopped at step (\d+): the (.+) is (nan|inf|-inf); .*\n", err
    )
    assert found, err
    assert int(found.group(1)) > max(checkpoint_steps(work), default=0)
    assert finite_checkpoints(work) and not (work / "summary.json").exists()


# ---------------------------------------------------------------- the lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from corel_jax.training import workdir
    with workdir.lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
    """
)


def hold_lock(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_work_directory_in_use_is_refused_until_its_process_dies(tmp_path, capsys):
    work = tmp_path / "w"
    work.mkdir()
    holder = hold_lock(work)
    try:
        for resume in (False, True):
            with pytest.raises(
                ValueError, match=rf"in use by another training run \(pid {holder.pid} on"
            ):
                train_and_evaluate(CONFIG, work, resume=resume)
        assert commands.main(["train", "--workdir", str(work), *ARGV]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is in use by another training run" in err
        assert sorted(p.name for p in work.iterdir()) == [workdir.LOCK]  # nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The killed process left its lock file, not its lock.
    assert (work / workdir.LOCK).exists()
    part = train_and_evaluate(CONFIG, work, stop_after=2, progress=False)
    assert part["step"] == 2
    # While a run holds it, another process cannot take it.
    with workdir.lock(work):
        probe = subprocess.run([sys.executable, "-c", HOLDER, str(work)], env=ENV,
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert probe.returncode != 0 and "in use by another training run" in probe.stderr


@pytest.mark.slow  # two training processes side by side
def test_two_commands_in_one_work_directory(tmp_path):
    """The second of two ``corel-jax train`` commands started in the same directory is
    refused while the first runs; the first completes."""
    work = tmp_path / "w"
    argv = [sys.executable, "-m", "corel_jax", "train", "--workdir", str(work), *ARGV]
    first = subprocess.Popen([*argv, "--epochs", "30"], env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        while not (work / "config.json").exists():
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        second = subprocess.run([*argv, "--epochs", "30"], env=ENV, capture_output=True,
                                text=True, timeout=300)  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"in use by another training run (pid {first.pid}" in second.stderr
        assert first.wait(timeout=600) == 0, first.stderr.read()
    finally:
        first.kill()
    assert json.loads((work / "summary.json").read_text())["completed"]


# ------------------------------------------------------------ checkpoints


def damage(work, step):
    """Overwrites the array files of checkpoint ``step``, leaving its folder complete."""
    files = [f for f in (work / "checkpoints" / str(step) / "state").rglob("*") if f.is_file()]
    for f in files:
        if f.parent.name == "d":
            f.write_bytes(b"damaged")
    assert any(f.parent.name == "d" for f in files)


# orbax's reads still in flight when the damaged checkpoint's first read fails call back
# into its closed event loop ("Exception ignored ... Event loop is closed"): harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_resume_skips_a_damaged_newest_checkpoint(tmp_path, warnings_of_corel_jax):
    full = train_and_evaluate(CONFIG, tmp_path / "full", progress=False)
    work = tmp_path / "w"
    train_and_evaluate(CONFIG, work, stop_after=6, progress=False)
    assert checkpoint_steps(work) == [2, 4, 6]
    damage(work, 6)
    done = train_and_evaluate(CONFIG, work, resume=True, progress=False)
    messages = [r.getMessage() for r in warnings_of_corel_jax.records]
    skipped = [m for m in messages if "skipped the checkpoint" in m]
    assert len(skipped) == 1 and "of step 6, which does not restore (" in skipped[0]
    assert f"moved to {work.absolute() / checkpoint.UNREADABLE / '6'}" in skipped[0]
    assert (work / checkpoint.UNREADABLE / "6" / "state").is_dir()
    # resumed from step 4: the same result as the uninterrupted run
    assert done["completed"] and checkpoint_steps(work) == [2, 4, 6, 8]
    assert_same_params(params_of(work), params_of(tmp_path / "full"))
    assert done["test_rec"] == full["test_rec"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_resume_when_no_checkpoint_restores(tmp_path):
    work = tmp_path / "w"
    train_and_evaluate(CONFIG, work, stop_after=2, progress=False)
    damage(work, 2)
    with pytest.raises(ValueError, match=r"none of the checkpoints in .* restores \(steps \[2\]"):
        train_and_evaluate(CONFIG, work, resume=True, progress=False)


@pytest.mark.slow  # a second process trains on 2 devices first
@pytest.mark.multidevice
def test_a_checkpoint_restores_onto_another_device_count(tmp_path, warnings_of_corel_jax):
    """A run checkpointed on 2 devices (by another process) resumes here on 8."""
    if jax.local_device_count() != 8:
        pytest.skip("needs 8 (forced) devices")
    config = TrainConfig(**{**SMALL, "devices": None, "batch_size": 25})  # all devices
    work = tmp_path / "w"
    script = textwrap.dedent(
        f"""
        import jax, numpy as np
        from corel_jax.training.config import TrainConfig
        from corel_jax.training.train import fit
        state, _ = fit(TrainConfig.from_json({config.to_json()!r}), {str(work)!r}, None,
                       stop_after=2, progress=False)
        np.savez({str(tmp_path / "saved.npz")!r}, *jax.tree.leaves(state.params))
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=600)
    assert checkpoint_steps(work) == [2] and checkpoint.read_meta(work, 2)["devices"] == 2
    saved = np.load(tmp_path / "saved.npz")
    assert_same_params(params_of(work, 2), [saved[f"arr_{i}"] for i in range(len(saved.files))])

    state, status = T.fit(config, work, None, resume=True, progress=False)
    assert any(
        "checkpointed on 2 devices on 8" in r.getMessage() for r in warnings_of_corel_jax.records
    )
    # 400 examples in global batches of 8 x 25: 2 steps per epoch, 4 in all
    assert status == {"step": 4, "total_steps": 4, "completed": True}
    assert checkpoint_steps(work) == [2, 4] and checkpoint.read_meta(work, 4)["devices"] == 8
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(state.params))
