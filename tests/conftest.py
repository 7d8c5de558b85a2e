"""Shared test fixtures.

Eight host CPU devices are forced *before* JAX is imported so that the pmap /
shard_map tests can run on a CPU-only machine.

Memory: after each test module, and after any test that leaves the process
600 MiB larger than after the last clean-up, JAX's compilation caches (and the training loop's
cached ``pmap`` functions) are dropped and the freed heap is handed back to
the system (``malloc_trim``), so that compiled programs do not pile up over
the ~40 modules of the suite (peak under 3 GB). With ``COREL_TEST_MEMLOG=FILE``
each module appends ``module, RSS at its end, RSS after the clean-up, peak
RSS so far`` (MiB) and the module's wall time (s) to FILE.

Compilation: the suite compiles the same small programs many times (every test
that trains the digits model compiles its step, its evaluation and its encoder;
the clean-ups above drop them). JAX's persistent compilation cache, in a fresh
temporary folder for each session (so every program is still compiled once per
session) and shared with the processes the tests start (through the
``JAX_COMPILATION_CACHE_DIR`` environment variable), turns the repeats into
loads. ``COREL_TEST_COMPILATION_CACHE=0`` turns it off.

References: tests that need an optional reference (PyTorch, GUDHI, the native
kernel, Fashion-MNIST, ...) ask ``references.py`` for it; outside CI a missing
one is a skip naming what goes unchecked, with ``CI=true`` a failure. Under
``CI=true`` the run ends with the number of skipped tests (0 expected).
"""

import atexit
import ctypes
import gc
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("COREL_TEST_COMPILATION_CACHE", "1") != "0":
    _cache_dir = tempfile.mkdtemp(prefix="corel-jax-tests-xla-cache-")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache_dir
    # every program, however quick to compile: the eager ops of a model's construction too
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc (Linux)."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return float("nan"), float("nan")
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


# When the resident size has grown by more than this (MiB) since the last clean-up, the
# compiled programs are also dropped after a test (not only after each module): a module
# of many small shapes, such as test_persistence.py, otherwise grows by ~70 MiB per test
# to over 3 GiB. Relative, because what the earlier modules imported (TensorFlow, torch)
# stays resident: ~1.5 GiB late in the suite.
_TEST_RSS_GROWTH_MIB = 600
_rss_after_cleanup = [0.0]


def _drop_compiled_programs() -> None:
    """Clears JAX's compilation caches and the training loop's, and trims the heap."""
    if "corel_jax.training.train" in sys.modules:
        sys.modules["corel_jax.training.train"]._chunk_fn.cache_clear()
    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    gc.collect()
    if sys.platform == "linux":  # hand the freed heap back to the system
        ctypes.CDLL(None).malloc_trim(0)
    _rss_after_cleanup[0] = _rss_mib()[0]


@pytest.fixture(autouse=True)
def _bound_memory_per_test():
    """Drops the compiled programs after a test that leaves the process much larger than
    after the last clean-up."""
    yield
    if _rss_mib()[0] > _rss_after_cleanup[0] + _TEST_RSS_GROWTH_MIB:
        _drop_compiled_programs()


@pytest.fixture(autouse=True, scope="module")
def _free_memory_between_modules(request):
    """Drops JAX's compiled programs after each module; logs the memory if asked."""
    start = time.monotonic()
    yield
    before, _ = _rss_mib()
    _drop_compiled_programs()
    log = os.environ.get("COREL_TEST_MEMLOG")
    if log:
        rss, peak = _rss_mib()
        with open(log, "a") as f:
            f.write(
                f"{request.module.__name__},{before:.0f},{rss:.0f},{peak:.0f},{time.monotonic() - start:.0f}\n"
            )


def pytest_runtest_setup(item):
    """A test marked ``native`` needs the native C++ kernel: without it, a skip naming it
    (a failure under ``CI=true``)."""
    if item.get_closest_marker("native"):
        from references import native_kernel

        native_kernel()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Under ``CI=true``: the number of skipped tests (0 expected), and why."""
    from references import CI

    if not CI:
        return
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.write_line(f"CI: {len(skipped)} tests skipped (0 expected).")
    for report in skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.write_line(f"  skipped {report.nodeid}: {reason}")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator; each test gets a fresh one."""
    return np.random.default_rng(0)


@pytest.fixture
def tfds():
    """tensorflow_datasets, or a skip naming it (a failure under ``CI=true``)."""
    from references import needs

    return needs("tensorflow_datasets", "the TFDS route")


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """A complete 2-epoch run of ``train_helpers.CONFIG`` made with ``corel-jax train``."""
    from train_helpers import ARGS

    from corel_jax import commands

    workdir = tmp_path_factory.mktemp("reference") / "run"
    assert commands.main(["train", "--workdir", str(workdir), *ARGS]) == 0
    return workdir
