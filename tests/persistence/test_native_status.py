"""Whether the C++ kernel is there, and why not: setup.py's build record and what reads it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corel_jax.persistence import _native, native_kernel_available

ROOT = Path(__file__).parents[2]


def test_the_public_flag_is_the_loader_s():
    assert native_kernel_available() is _native.AVAILABLE
    assert isinstance(_native.STATUS, str) and _native.STATUS


@pytest.fixture
def loader(monkeypatch):
    """``_native._load`` with a given build record and jaxlib FFI API version."""

    def load(record, runtime_api=(0, 3)):
        monkeypatch.setattr(_native, "_build_record", lambda: record)
        monkeypatch.setattr(_native, "_runtime_ffi_api", lambda: runtime_api)
        return _native._load()

    return load


@pytest.mark.skipif(not _native.AVAILABLE, reason="the native kernel is not built here")
class TestLoader:
    def test_a_kernel_built_for_this_jaxlib_loads(self, loader):
        module, status, warn = loader({"built": True, "jaxlib": "9.9", "ffi_api": [0, 3]})
        assert module is not None and status == "built against jaxlib 9.9" and not warn

    @pytest.mark.parametrize("built_api", [[0, 4], [1, 0]])
    def test_a_kernel_built_against_a_newer_ffi_api_is_not_registered(self, loader, built_api):
        # registering it would make the whole CPU backend fail to start
        record = {"built": True, "jaxlib": "9.9", "ffi_api": built_api}
        module, status, warn = loader(record, runtime_api=(0, 3))
        assert module is None and warn
        assert "built against jaxlib 9.9" in status and "--no-build-isolation" in status

    def test_a_failed_build_wins_over_a_module_left_by_an_older_build(self, loader):
        record = {"built": False, "jaxlib": "9.9", "ffi_api": [0, 3], "error": "CompileError: x"}
        module, status, warn = loader(record)
        assert module is None and warn and "CompileError: x" in status

    def test_an_older_ffi_api_is_fine(self, loader):
        module, _, _ = loader({"built": True, "jaxlib": "0.6.2", "ffi_api": [0, 1]})
        assert module is not None


def test_a_failed_build_is_recorded_and_then_reported(tmp_path):
    """setup.py records a compiler failure; importing the package then logs a warning."""
    env = {**os.environ, "CC": "false", "CXX": "false"}  # a compiler that always fails
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "temp"), "--force"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr  # the package still installs
    assert "native CPU kernel was not built" in build.stderr
    record = json.loads((tmp_path / "lib/corel_jax/persistence/_native/_build.json").read_text())
    assert record["built"] is False and "CompileError" in record["error"]
    assert record["ffi_api"] == list(_native._runtime_ffi_api())

    # the package as that build would install it: the sources, the record, no kernel
    package = tmp_path / "site" / "corel_jax"
    shutil.copytree(
        ROOT / "corel_jax", package, ignore=shutil.ignore_patterns("*.so", "_build.json")
    )
    shutil.copy(
        tmp_path / "lib/corel_jax/persistence/_native/_build.json", package / "persistence/_native"
    )
    code = (
        "from corel_jax.persistence import native_kernel_available, _native\n"
        "assert not native_kernel_available()\n"
        "print(_native.STATUS)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("it failed to build when corel-jax was installed (CompileError")
    assert "corel_jax's C++ CPU kernel is not used: it failed to build" in run.stderr
