"""The offline demo runs end to end (short settings) and writes its outputs."""

import json

from corel_jax import commands


def test_demo_on_digits(tmp_path, capsys):
    work = tmp_path / "demo"
    args = [
        "demo",
        "--workdir",
        str(work),
        "--dataset",
        "digits",
        "--epochs",
        "3",
        "--runs",
        "1",
        "--n",
        "20",
    ]
    assert commands.main(args) == 0
    out = capsys.readouterr().out
    assert "| mean |" in out and str(work.absolute()) in out
    results = json.loads((work / "oneclass" / "results.json").read_text())
    assert set(results["methods"]) == {"corel", "lambda0", "kde", "ocsvm", "raw_ocsvm"}
    assert 0.5 < results["methods"]["corel"]["mean"] <= 1.0
    for f in (
        "death_times.png",
        "oneclass/auroc.png",
        "oneclass/results.csv",
        "oneclass/results.md",
    ):
        assert (work / f).stat().st_size > 0
    summaries = results["train_summaries"]
    # the connectivity loss pulls held-out death times towards eta
    assert (
        summaries["corel"]["test_death_mean_abs_dev_from_eta"]
        < summaries["lambda0"]["test_death_mean_abs_dev_from_eta"]
    )
    # a second run reuses the finished backbones
    assert commands.main(args) == 0
    assert "reusing the trained backbone" in capsys.readouterr().out
    # other settings in the same workdir are refused, not silently mixed
    assert commands.main([*args[:-4], "--epochs", "4"]) == 2
