"""The README's examples run: its Python blocks in order, and its command lines parse."""

import re
import shlex
from pathlib import Path

import pytest

from corel_jax import commands, data
from experiments import collect, run

README = (Path(__file__).parent.parent / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.slow
def test_python_blocks_run_in_order(tmp_path, monkeypatch):
    """Every ```python block of the README, run in order in one namespace (in a temp dir)."""
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("python")
    assert len(blocks) >= 6
    namespace = {}
    for i, block in enumerate(blocks):
        if not data.available("fashion_mnist"):  # the data block's dataset, where it is missing
            block = block.replace('"fashion_mnist"', '"digits"')
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)
    result = namespace["result"]
    assert set(result.methods) == {"corel", "raw_ocsvm"} and result.mean("corel") > 0.5
    assert (tmp_path / "out" / "results.json").is_file()
    assert namespace["train_codes"].shape == (1348, 80)


def test_command_lines_parse():
    """Every corel-jax and experiments command of the README's bash blocks parses (and a
    train command's options make a valid TrainConfig); the configs it names exist."""
    lines = [
        part.split("  #")[0].strip()
        for block in _blocks("bash")
        for line in block.splitlines()
        for part in line.split("&&")
    ]
    parser = commands.build_parser()
    seen = {"corel-jax": 0, "experiments.run": 0, "experiments.collect": 0}
    for line in lines:
        words = shlex.split(line)
        if words[:1] == ["corel-jax"]:
            args = parser.parse_args(words[1:])
            if args.command == "train":
                commands.train.config_from_args(args)
            seen["corel-jax"] += 1
        elif words[:3] == ["python", "-m", "experiments.run"]:
            args = run.build_parser().parse_args(words[3:])
            assert args.config == "CONFIG" or Path(args.config).is_file(), args.config
            seen["experiments.run"] += 1
        elif words[:3] == ["python", "-m", "experiments.collect"]:
            collect.build_parser().parse_args(words[3:])
            seen["experiments.collect"] += 1
    assert seen["corel-jax"] >= 6 and seen["experiments.run"] >= 3 and seen["experiments.collect"]
