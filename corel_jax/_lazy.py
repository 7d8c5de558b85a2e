"""Lazy re-exports for a package's ``__init__`` (PEP 562 module ``__getattr__``).

``corel-jax --help`` must answer at once, so importing a package must not
import JAX, NumPy or scikit-learn until one of its names is used. A package
lists what it re-exports from which submodule; the first access of a name
imports that submodule and caches the name on the package.

The list is written once, as the imports of the package's type stub
``__init__.pyi`` (:func:`attach_stub`; the layout of the scientific Python
ecosystem's SPEC 1 and ``lazy_loader``): type checkers and IDEs read the
stub and see every name with its type, and at run time the same imports are
the lazy map.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["attach", "attach_stub", "stub_exports"]


def attach(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of a package that re-exports lazily.

    Args:
      package: the package's ``__name__``.
      exports: ``{submodule: names it exports}``, e.g. ``{"loss": ["connectivity_loss"]}``.

    Returns:
      ``(__getattr__, __dir__, __all__)`` for the package's namespace. Names
      that are not exports but submodules (``package.idx``) are imported too.

    Examples:
      >>> # in corel_jax/data/__init__.py
      >>> __getattr__, __dir__, __all__ = attach(__name__, {"loading": ["load"]})  # doctest: +SKIP
    """
    where = {name: f"{package}.{sub}" for sub, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, sorted(where)


def stub_exports(package: str, init_file: str) -> dict[str, list[str]]:
    """``{submodule: names}`` imported by the type stub next to a package's ``__init__.py``.

    Reads the ``from package.sub import name as name`` statements of
    ``__init__.pyi`` (other imports, e.g. of ``typing``, are the stub's
    own); dunder names (e.g. ``__version__``, which the package imports
    eagerly) are left out.
    """
    stub = Path(init_file).with_suffix(".pyi")
    exports: dict[str, list[str]] = {}
    for node in ast.parse(stub.read_text()).body:
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if not node.module.startswith(package + "."):
            continue
        sub = node.module[len(package) + 1 :]
        names = [a.name for a in node.names if not a.name.startswith("__")]
        if names:
            exports.setdefault(sub, []).extend(names)
    return exports


def attach_stub(
    package: str, init_file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """:func:`attach` with the exports read from the package's ``__init__.pyi``.

    Args:
      package: the package's ``__name__``.
      init_file: its ``__file__``.

    Returns:
      ``(__getattr__, __dir__, __all__)``, as :func:`attach`.

    Examples:
      >>> # in corel_jax/training/__init__.py, next to __init__.pyi
      >>> __getattr__, __dir__, __all__ = attach_stub(__name__, __file__)  # doctest: +SKIP
    """
    return attach(package, stub_exports(package, init_file))
