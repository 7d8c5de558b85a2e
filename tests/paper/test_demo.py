"""``corel-jax demo``: options checked before any work, one folder per dataset, the digits note,
and a short end-to-end run that writes its outputs."""

import json
import os

import pytest

from corel_jax import commands
from corel_jax.paper import demo
from corel_jax.training import runs, workers
from corel_jax.training.config import TrainConfig

DIGITS = ["--dataset", "digits", "--epochs", "3", "--runs", "1", "--n", "20"]


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if a backbone is trained, reused or even looked for."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before every option was checked")

    for module in (runs, demo):  # the demo calls the names it imported from runs
        for name in ("ensure_backbone", "ensure_backbones", "train_backbones"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr(runs, "train_and_evaluate", forbidden)
    monkeypatch.setattr(workers, "train_side_by_side", forbidden)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs must be a positive int; got 0."),
        (["--epochs", "-3"], "--epochs must be a positive int; got -3."),
        (["--n", "-5"], "--n must be a positive int; got -5."),
        (["--runs", "0"], "--runs must be a positive int; got 0."),
        (["--max-examples", "0"], "--max-examples must be a positive int; got 0."),
        (["--max-test-examples", "-1"], "--max-test-examples must be a positive int; got -1."),
        (["--lam", "-1"], "TrainConfig.lam must be a finite number >= 0"),
        # more inliers than a class holds: found from the data, still before training
        (["--n", "1000"], "n=1000 inliers per class are more than digits has for some classes"),
    ],
)
def test_every_option_is_checked_before_any_work(tmp_path, capsys, no_training, argv, message):
    work = tmp_path / "demo"
    assert commands.main(["demo", "--workdir", str(work), "--dataset", "digits", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not work.exists()


@pytest.mark.parametrize("where", ["itself", "above"])
def test_a_file_as_workdir_is_named_at_once(tmp_path, capsys, no_training, where):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    workdir = file if where == "itself" else file / "demo"
    assert commands.main(["demo", "--workdir", str(workdir), *DIGITS]) == 2
    err = capsys.readouterr().err
    assert f"--workdir: {file} is a file, not a directory" in err and "Traceback" not in err
    assert file.read_text() == "mine"


def test_other_settings_in_a_dataset_folder_are_named(tmp_path, capsys, no_training):
    """Each dataset has its own folder; when a backbone's settings differ, the fields are named."""
    work = tmp_path / "demo"
    configs = demo.demo_configs("digits", epochs=3)
    # a fashion_mnist run in the same workdir lives elsewhere and is not in the way
    other = demo.demo_configs("fashion_mnist")["corel"]
    (work / "fashion_mnist" / "corel").mkdir(parents=True)
    (work / "fashion_mnist" / "corel" / "config.json").write_text(other.to_json())
    (work / "digits" / "corel").mkdir(parents=True)
    saved = TrainConfig.from_dict(dict(configs["corel"].to_dict(), lam=5.0, seed=7))
    (work / "digits" / "corel" / "config.json").write_text(saved.to_json())
    assert commands.main(["demo", "--workdir", str(work), *DIGITS]) == 2
    err = capsys.readouterr().err
    assert f"{work / 'digits' / 'corel'} holds a backbone trained with other settings" in err
    assert "lam 5.0 there, 20.0 now" in err and "seed 7 there, 0 now" in err
    assert "epochs" not in err.split("(", 1)[1].split(")")[0]  # only the fields that differ


def test_demo_configs_take_the_epochs_given():
    assert demo.demo_configs("digits", epochs=1)["corel"].epochs == 1
    assert demo.demo_configs("digits")["corel"].epochs == 40  # the budget's default
    with pytest.raises(ValueError, match="epochs"):
        demo.demo_configs("digits", epochs=0)


@pytest.mark.parametrize("flag, expected", [([], None), (["--one-at-a-time"], False)])
def test_one_at_a_time_trains_in_the_demo_process(tmp_path, monkeypatch, flag, expected):
    seen = {}

    def fake_run_demo(workdir, configs, **kwargs):
        seen.update(kwargs)
        raise _Stop  # stop here: only the arguments matter

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    with pytest.raises(_Stop):
        commands.main(["demo", "--workdir", str(tmp_path / "w"), *DIGITS, *flag])
    assert seen["side_by_side"] is expected


class _Stop(Exception):
    pass


def test_ctrl_c_ends_with_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", interrupted)
    assert commands.main(["demo", "--workdir", str(tmp_path / "w"), *DIGITS]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: ") and "run the same command again" in err


@pytest.mark.slow
def test_demo_on_digits(tmp_path, capsys):
    work = tmp_path / "demo"
    args = ["demo", "--workdir", str(work), *DIGITS]
    assert commands.main(args) == 0
    out = capsys.readouterr().out
    root = work / "digits"  # each dataset in its own folder
    assert "| mean |" in out and str(root.absolute()) in out
    # digits is said to be a smoke test, on screen (first and last) and in the report
    assert out.count("smoke test") >= 2 and "Fashion-MNIST" in out
    assert out.rstrip().split("\nNote: ")[1].startswith("digits (8x8 images")
    results = json.loads((root / "oneclass" / "results.json").read_text())
    assert results["note"] == demo.SMOKE_TEST_NOTE
    md = (root / "oneclass" / "results.md").read_text()
    assert "(a smoke test)" in md.splitlines()[0] and demo.SMOKE_TEST_NOTE in md
    assert set(results["methods"]) == {"corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"}
    assert 0.5 < results["methods"]["corel"]["mean"] <= 1.0
    umask = os.umask(0)
    os.umask(umask)
    for f in (
        "death_times.png",
        "oneclass/auroc.png",
        "oneclass/results.csv",
        "oneclass/results.md",
        "oneclass/results.json",
    ):
        assert (root / f).stat().st_size > 0
        assert (root / f).stat().st_mode & 0o777 == 0o666 & ~umask, f  # as open() gives
    summaries = results["train_summaries"]
    # the connectivity loss pulls held-out death times towards eta
    assert (
        summaries["corel"]["test_death_mean_abs_dev_from_eta"]
        < summaries["lambda0"]["test_death_mean_abs_dev_from_eta"]
    )
    # a second run reuses the finished backbones
    assert commands.main(args) == 0
    assert "reusing the trained backbone" in capsys.readouterr().out
    # other settings in the same folder are refused, not silently mixed, and named
    assert commands.main([*args, "--seed", "1"]) == 2
    assert "seed 0 there, 1 now" in capsys.readouterr().err
