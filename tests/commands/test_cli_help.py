"""``corel-jax --help`` and ``COMMAND --help``: what they say, and that they answer at once."""

import re
import subprocess
import sys

import pytest

from corel_jax import commands
from corel_jax.data.catalog import DATASETS

HEAVY = ("jax", "flax", "optax", "orbax", "numpy", "tensorflow", "tensorflow_datasets", "sklearn",
         "matplotlib", "torch")  # fmt: skip


def _help(*argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        commands.main([*argv, "--help"])
    assert exit_info.value.code == 0
    return exit_info


def _option_help(text: str) -> dict[str, str]:
    """``{--option: its help text, on one line}`` of an argparse help page."""
    options, current = {}, None
    for line in text.split("options:", 1)[1].splitlines():
        match = re.match(r"  (-\w, )?(--[\w-]+)", line)
        if match:
            current = match.group(2)
            options[current] = line[match.end() :]
        elif current:
            options[current] += " " + line.strip()
    return {k: " ".join(v.split()) for k, v in options.items()}


@pytest.mark.parametrize("command", [c for c in commands.COMMANDS if c != "info"])
def test_help_shows_each_default_once_and_only_real_ones(command, capsys):
    _help(command)
    options = _option_help(capsys.readouterr().out)
    # score reads its backbone (--backbone) and images (--inliers, --images) from paths
    data_options = ("--backbone", "--images") if command == "score" else ("--workdir", "--dataset")
    assert all(o in options for o in data_options)
    for option, text in options.items():
        assert "(default: None)" not in text, option
        assert len(re.findall(r"default:", text, flags=re.I)) <= 1, (option, text)
    for flag in ("--quiet", "--verbose"):
        assert "default" not in options[flag]
    # a required option has no default to show; the choices of --dataset are listed
    if command in ("train", "oneclass"):
        assert "default" not in options["--workdir"]
    if command == "score":
        assert all("default" not in options[o] for o in ("--backbone", "--inliers", "--images"))
    else:
        assert f"One of: {', '.join(DATASETS)}." in options["--dataset"]


def test_tuple_defaults_show_as_they_are_typed(capsys):
    _help("train")
    options = _option_help(capsys.readouterr().out)
    assert options["--filters"].endswith("(default: 32 64 128)")
    assert options["--dataset"].endswith("(default: digits)")


def test_help_imports_no_heavy_module():
    """``corel-jax --help`` and every ``COMMAND --help`` import neither JAX nor NumPy & co."""
    code = (
        "import contextlib, io, sys\n"
        "from corel_jax import commands\n"
        f"for argv in ([], *([c] for c in {list(commands.COMMANDS)!r})):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        commands.main([*argv, '--help'])\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_imports_jax_only_when_its_exports_are_used():
    code = (
        "import sys, corel_jax\n"
        "assert 'jax' not in sys.modules\n"
        "from corel_jax import rips_h0, connectivity_loss, data\n"
        "assert 'jax' in sys.modules and callable(rips_h0) and callable(connectivity_loss)\n"
        "assert 'rips_h0' in dir(corel_jax) and corel_jax.data is data\n"
        "assert sorted(corel_jax.__all__) == corel_jax.__all__ and 'rips_h0' in corel_jax.__all__\n"
        "try:\n"
        "    corel_jax.nope\n"
        "except AttributeError as err:\n"
        "    assert 'nope' in str(err)\n"
        "else:\n"
        "    raise AssertionError('corel_jax.nope exists')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
