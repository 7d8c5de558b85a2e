"""Lazy re-exports for a package's ``__init__`` (PEP 562 module ``__getattr__``).

``corel-jax --help`` must answer at once, so importing a package must not
import JAX, NumPy or scikit-learn until one of its names is used. A package
lists what it re-exports from which submodule; the first access of a name
imports that submodule and caches the name on the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["attach"]


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
