"""The independent references the tests compare with, and what a missing one means.

A test that needs an optional reference (PyTorch, torch-topological, POT, GUDHI,
scikit-learn, ...), the native C++ kernel or Fashion-MNIST asks for it here:

* outside CI a missing one skips the test, and the reason names what goes
  unchecked (``pytest -ra`` lists the reasons);
* with ``CI=true`` (``.ci/run``) it fails the test with one line naming it: a
  green CI run has checked everything, none of it was skipped.

``pip install -e ".[test,compare]"`` installs every reference package (a CPU build
of PyTorch is enough: install it first to avoid a CUDA build, as ``.ci/run`` does); the
native kernel is built by ``pip install``; Debian's ``dataset-fashion-mnist`` package
holds Fashion-MNIST.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# What installs each reference (named in the skip reason / failure).
INSTALL = {
    "torch": 'a CPU build of PyTorch, then pip install -e ".[compare]"',
    "torch_topological": 'pip install -e ".[compare]"',
    "ot": 'POT: pip install -e ".[test]"',
}


def missing(what: str, unchecked: str) -> NoReturn:
    """Skips the running test (fails it under ``CI=true``): ``what`` is missing."""
    message = f"{what} is missing, so {unchecked} is not checked"
    if CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def needs(module: str, unchecked: str) -> ModuleType:
    """Imports ``module`` (e.g. ``"torch"``, ``"gudhi.wasserstein"``) or reports it missing.

    Args:
      module: the module to import.
      unchecked: what the calling test checks with it (for the message).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        absent = err.name or module.split(".")[0]
        install = INSTALL.get(absent.split(".")[0], 'pip install -e ".[test]"')
        needs = "" if module.startswith(absent) else f", which needs {absent}"
        missing(f"{module}{needs} ({install})", unchecked)


def native_kernel(unchecked: str = "the C++ CPU kernel (the default on a CPU)") -> None:
    """Reports the native C++ kernel missing unless it was built."""
    from corel_jax.persistence import _native

    if not _native.AVAILABLE:
        missing("the native C++ kernel (built by pip install -e .)", unchecked)


def fashion_mnist(unchecked: str) -> None:
    """Reports Fashion-MNIST missing unless Debian's IDX files are installed."""
    from corel_jax import data

    if not data.DEBIAN_FASHION_MNIST.is_dir():
        missing(
            f"Fashion-MNIST ({data.DEBIAN_FASHION_MNIST}; apt-get install dataset-fashion-mnist)",
            unchecked,
        )
