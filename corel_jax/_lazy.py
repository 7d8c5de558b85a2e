"""Lazy re-exports for a package's ``__init__`` (PEP 562 module ``__getattr__``).

``corel-jax --help`` must answer at once, so importing a package must not
import JAX, NumPy or scikit-learn until one of its names is used. A package
lists what it re-exports from which submodule (a list of names, or ``"*"``
for everything in the submodule's ``__all__``, so that the names are written
once); the first access of a name imports that submodule and caches the name
on the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

__all__ = ["attach"]


class _LazyNames(Sequence):
    """A sorted list of names computed on first use (a package's lazy ``__all__``)."""

    def __init__(self, compute: Callable[[], list[str]]):
        self._compute, self._names = compute, None

    def _get(self) -> list[str]:
        if self._names is None:
            self._names = self._compute()
        return self._names

    def __getitem__(self, index):
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self._get())


def attach(
    package: str, exports: Mapping[str, Sequence[str] | Literal["*"]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], Sequence[str]]:
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of a package that re-exports lazily.

    Args:
      package: the package's ``__name__``.
      exports: ``{submodule: names it exports}``, e.g. ``{"loss": ["connectivity_loss"]}``,
        or ``{"loss": "*"}`` for all of ``corel_jax.loss.__all__`` (that
        submodule is then imported when a name is not found elsewhere, or
        when ``__all__`` / ``dir()`` is read).

    Returns:
      ``(__getattr__, __dir__, __all__)`` for the package's namespace. Names
      that are not exports but submodules (``package.idx``) are imported too.

    Examples:
      >>> # in corel_jax/data/__init__.py
      >>> __getattr__, __dir__, __all__ = attach(__name__, {"loading": ["load"]})  # doctest: +SKIP
    """
    where = {
        name: f"{package}.{sub}" for sub, names in exports.items() if names != "*" for name in names
    }
    star = [f"{package}.{sub}" for sub, names in exports.items() if names == "*"]

    def resolve_star() -> None:
        for module in star:
            for name in importlib.import_module(module).__all__:
                where.setdefault(name, module)
        star.clear()

    def __getattr__(name: str) -> object:
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                if star and not name.startswith("__"):
                    resolve_star()
                    if name in where:
                        return __getattr__(name)
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        resolve_star()
        return sorted(where)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names()))

    return __getattr__, __dir__, (_LazyNames(names) if star else sorted(where))
