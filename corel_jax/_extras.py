"""Optional dependencies: import them where needed, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "require"]

# module -> (the pip package, the corel-jax extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "eval"),
    "matplotlib": ("matplotlib", "eval"),
    "tensorflow_datasets": ("tensorflow-datasets", "data"),
    "tensorflow": ("tensorflow-cpu", "data"),
    "PIL": ("pillow", "data"),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def require(module: str, *, purpose: str) -> ModuleType:
    """Imports an optional dependency.

    Args:
      module: the module to import, e.g. ``"sklearn.metrics"``; its top-level
        package must be a key of :data:`EXTRAS`.
      purpose: what needs it, for the message (e.g. ``"the one-class AUROC"``).

    Returns:
      The module.

    Raises:
      MissingExtraError: it is not installed. The message is one line, e.g.
        ``scikit-learn is needed for the one-class AUROC: pip install "corel-jax[eval]"``.
    """
    top = module.split(".")[0]
    if top not in EXTRAS:
        raise ValueError(f"module must belong to one of {sorted(EXTRAS)}; got {module!r}.")
    try:
        return importlib.import_module(module)
    except ImportError:
        package, extra = EXTRAS[top]
        raise MissingExtraError(
            f'{package} is needed for {purpose}: pip install "corel-jax[{extra}]"'
        ) from None
