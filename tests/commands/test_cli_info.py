"""``corel-jax --version`` and ``corel-jax info``."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import jaxlib.version
import pytest

import corel_jax
from corel_jax import commands
from corel_jax.persistence import native_kernel_available

ROOT = Path(__file__).parents[2]


def test_version_has_one_source():
    """pyproject.toml reads the version from corel_jax/_version.py; the package re-exports it."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "corel_jax._version.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", corel_jax.__version__)
    assert not re.search(r"__version__ = ", (ROOT / "corel_jax" / "__init__.py").read_text())


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"corel-jax {corel_jax.__version__}\n"


def test_version_and_help_import_no_jax():
    code = (
        "import contextlib, io, sys\n"
        "from corel_jax import commands\n"
        "for argv in (['--version'], ['info', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        commands.main(argv)\n"
        "assert 'jax' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_info_json_tells_the_truth(capsys):
    assert commands.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["corel_jax"] == corel_jax.__version__
    assert (info["jax"], info["jaxlib"]) == (jax.__version__, jaxlib.version.__version__)
    assert info["backend"] == jax.default_backend()
    assert info["devices"]["count"] == jax.device_count()
    assert info["native_kernel"]["available"] is native_kernel_available()
    assert set(info["extras"]) == {"train", "data", "eval"}
    assert info["extras"]["train"]["flax"] == __import__("flax").__version__


def test_info_text(capsys):
    assert commands.main(["info"]) == 0
    lines = dict(
        re.split(r"\s{2,}", line, maxsplit=1) for line in capsys.readouterr().out.splitlines()
    )
    assert lines["corel-jax"] == corel_jax.__version__
    assert lines["jax, jaxlib"] == f"{jax.__version__}, {jaxlib.version.__version__}"
    assert lines["backend"].startswith(f"{jax.default_backend()}: {jax.device_count()} x ")
    assert lines["C++ CPU kernel"].startswith("yes" if native_kernel_available() else "no: ")
    assert lines["extra [train]"].startswith("flax ")
