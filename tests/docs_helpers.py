"""Reading the README's and the documentation's code blocks: the Python blocks, and the
command lines of the bash blocks checked against the real parsers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def command_lines(text: str) -> list[list[str]]:
    """The commands of a Markdown text's bash blocks, as word lists (comments and
    continuation lines handled; ``a && b`` gives two)."""
    commands = []
    for block in blocks(text, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words:
                    commands.append(words)
    return commands


def check_command_lines(commands: list[list[str]]) -> dict[str, int]:
    """Every corel-jax and experiments command parses (a train command's options make a
    valid TrainConfig; a config file it names exists). Returns how many of each were seen."""
    from corel_jax import commands as cli
    from experiments import collect, run

    parser = cli.build_parser()
    seen = {"corel-jax": 0, "experiments.run": 0, "experiments.collect": 0}
    for words in commands:
        if words[:1] == ["corel-jax"]:
            args = parser.parse_args(words[1:])
            if args.command == "train":
                cli.train.config_from_args(args)
            seen["corel-jax"] += 1
        elif words[:3] == ["python", "-m", "experiments.run"]:
            args = run.build_parser().parse_args(words[3:])
            assert args.config == "CONFIG" or (ROOT / args.config).is_file(), args.config
            seen["experiments.run"] += 1
        elif words[:3] == ["python", "-m", "experiments.collect"]:
            collect.build_parser().parse_args(words[3:])
            seen["experiments.collect"] += 1
    return seen
