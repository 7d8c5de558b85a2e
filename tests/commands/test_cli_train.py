"""Tests for corel_jax.commands (the entry point) and corel_jax.commands.train."""

import dataclasses
import os
import subprocess
import sys

import pytest
from train_helpers import ARGS, CONFIG

from corel_jax import commands
from corel_jax.commands import train as train_command
from corel_jax.training.backbone import load_backbone
from corel_jax.training.config import TrainConfig


def test_cli_help_options_and_errors(capsys, tmp_path):
    with pytest.raises(SystemExit):
        commands.main(["train", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--dataset", "--data-dir", "--model", "--num-branches", "--branch-dim", "--lam", "--eta",
        "--metric", "--batch-size", "--lr", "--epochs", "--seed", "--workdir", "--resume",
        "--checkpoint-every", "--max-examples", "--distributed",
    ):  # fmt: skip
        assert option in out
    args = commands.build_parser().parse_args(["train", "--workdir", "w", *ARGS])
    assert train_command.config_from_args(args) == CONFIG
    assert commands.main(["train", "--workdir", str(tmp_path / "w"), "--lam", "-3"]) == 2
    assert "TrainConfig.lam must be a finite number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_cli_run_prints_progress_and_summary(tmp_path):
    """A tiny run through ``python -m corel_jax train`` (stdout not a tty: plain lines)."""
    out = subprocess.run(
        [sys.executable, "-m", "corel_jax", "train", "--workdir", str(tmp_path / "w"),
         "--dataset", "digits", "--model", "mlp", "--hidden", "32", "--num-branches", "4",
         "--epochs", "1", "--devices", "1",
         "--max-examples", "300", "--steps-per-dispatch", "3", "--log-every", "1"],
        env=dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["3/3"]
    assert "rec" in lines[0] and "conn" in lines[0] and "examples/s" in lines[0]
    assert '"completed": true' in out.stdout
    model, config = load_backbone(tmp_path / "w")
    assert config.max_examples == 300 and model.latent_dim == 40


def test_train_options_are_generated_from_every_config_field(capsys):
    with pytest.raises(SystemExit):
        commands.main(["train", "--help"])
    out = capsys.readouterr().out
    for f in dataclasses.fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')}" in out, f.name
        assert f.metadata["help"].split()[0] in out, f.name
    args = commands.build_parser().parse_args(["train", "--workdir", "w"])
    assert train_command.config_from_args(args) == TrainConfig()  # the defaults are the config's
    args = commands.build_parser().parse_args(
        ["train", "--workdir", "w", "--metric", "minkowski:3", "--filters", "8", "16",
         "--lr", "0.01", "--data-dir", "/d", "--max-examples", "5", "--classes", "4,0,2"]
    )  # fmt: skip
    config = train_command.config_from_args(args)
    assert config.classes == (4, 0, 2)
    assert config.metric == ("minkowski", 3.0) and config.filters == (8, 16)
    assert config.learning_rate == 0.01 and config.data_dir == "/d" and config.max_examples == 5


def test_errors_are_one_line_on_stderr_with_status_2(tmp_path, capsys, monkeypatch):
    # a missing optional dependency names the extra that installs it
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert commands.main(["train", "--workdir", str(tmp_path / "w"), *ARGS]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == 'error: scikit-learn is needed for the digits dataset: pip install "corel-jax[eval]"\n'
    )
    assert not (tmp_path / "w").exists()


def test_quiet_hides_progress(tmp_path, capsys):
    argv = ["train", "--workdir", str(tmp_path / "w"), "--dataset", "digits",
            "--model", "mlp", "--hidden", "32", "--num-branches", "4", "--branch-dim", "2",
            "--epochs", "1", "--devices", "1", "--max-examples", "200",
            "--steps-per-dispatch", "2", "--log-every", "1"]  # fmt: skip
    assert commands.main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "step " not in out and '"completed": true' in out


def test_a_bad_option_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.main(["train", "--workdir", "w", "--epochs", "many"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --epochs: invalid int value: 'many'" in err
    assert err.startswith("corel-jax train: error:") and "(see corel-jax train --help)" in err


@pytest.mark.parametrize("resume", [False, True])
def test_a_file_as_workdir_is_named_before_any_work(tmp_path, capsys, monkeypatch, resume):
    import corel_jax.training.train

    def forbidden(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(corel_jax.training.train, "train_and_evaluate", forbidden)
    file = tmp_path / "run.txt"
    file.write_text("mine")
    argv = ["train", "--workdir", str(file), *ARGS, *(["--resume"] if resume else [])]
    assert commands.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: --workdir: {file} is a file, not a directory.\n"
    assert file.read_text() == "mine"


class TestDownloads:
    """``train --dataset cifar10``: downloaded through tfds when it may and can, else a clear error.

    Under ``tfds.testing.mock_data`` with the download recorded, never made.
    """

    @pytest.fixture
    def trained(self, monkeypatch):
        """The configs that would be trained (training itself is replaced)."""
        import corel_jax.training.train

        configs = []
        monkeypatch.setattr(corel_jax.training.train, "train_and_evaluate",
                            lambda config, workdir, resume: configs.append(config) or {})  # fmt: skip
        return configs

    def test_a_missing_dataset_is_downloaded_first(self, tfds, tmp_path, monkeypatch, trained):
        from data_helpers import network, recording_downloads

        network(monkeypatch, up=True)
        argv = ["train", "--workdir", str(tmp_path / "w"), "--dataset", "cifar10",
                "--data-dir", str(tmp_path / "tfds")]  # fmt: skip
        with tfds.testing.mock_data(num_examples=5), recording_downloads(tfds) as calls:
            assert commands.main(argv) == 0
        assert calls == [("cifar10", {"file_format": "array_record"})]
        assert [c.dataset for c in trained] == ["cifar10"]

    @pytest.mark.parametrize("case", ["--offline", "no network", "--distributed"])
    def test_otherwise_the_error_says_how_to_prepare_it(
        self, tfds, tmp_path, monkeypatch, capsys, trained, case
    ):
        from data_helpers import network, recording_downloads

        network(monkeypatch, up=case != "no network")
        argv = ["train", "--workdir", str(tmp_path / "w"), "--dataset", "cifar10",
                "--data-dir", str(tmp_path)]  # fmt: skip
        argv += [case] if case.startswith("--") else []
        with tfds.testing.mock_data(num_examples=5), recording_downloads(tfds) as calls:
            assert commands.main(argv) == 2
        err = capsys.readouterr().err
        assert calls == [] and trained == []
        assert err.startswith("error: ") and "Traceback" not in err
        assert f"tfds build cifar10 --data_dir {tmp_path} --file_format array_record" in err
        if case == "no network":
            assert "cannot download it here" in err
        elif case == "--offline":
            assert "--offline: not downloaded" in err and "Without --offline" in err
        else:
            assert "--distributed (every host reads the same prepared data" in err
            assert "--offline" not in err
