"""Optional dependencies: import them where needed, or say which extra installs them.

``pip install corel-jax`` installs the core (:mod:`corel_jax.persistence`,
:mod:`corel_jax.loss`, :mod:`corel_jax.diagrams`: JAX and NumPy only). The
other packages need an extra, e.g. ``pip install "corel-jax[train]"`` for
:mod:`corel_jax.models` and :mod:`corel_jax.training`; importing one without
it raises :class:`MissingExtraError` with a one-line message naming the
extra (:func:`check_installed`), and a function that needs an optional
package imports it with :func:`require`.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "check_installed", "extra_status", "require"]

# top-level module -> (the pip package that provides it, the corel-jax extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "flax": ("flax", "train"),
    "optax": ("optax", "train"),
    "orbax": ("orbax-checkpoint", "train"),
    "tqdm": ("tqdm", "train"),
    "tensorflow_datasets": ("tensorflow-datasets", "data"),
    "tensorflow": ("tensorflow-cpu", "data"),
    "PIL": ("pillow", "data"),
    "sklearn": ("scikit-learn", "eval"),
    "matplotlib": ("matplotlib", "eval"),
    "scipy": ("scipy", "eval"),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def _top(module: str) -> str:
    top = module.split(".")[0]
    if top not in EXTRAS:
        raise ValueError(f"module must belong to one of {sorted(EXTRAS)}; got {module!r}.")
    return top


def _missing(module: str, purpose: str) -> MissingExtraError:
    package, extra = EXTRAS[_top(module)]
    return MissingExtraError(f'{package} is needed for {purpose}: pip install "corel-jax[{extra}]"')


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it or its parent packages."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # None if hidden: sys.modules[top] = None
    except (ImportError, ValueError):
        return False
    name = top
    for part in rest:  # submodules: searched in the parent's folders, which are not imported
        folders = spec.submodule_search_locations if spec is not None else None
        if not folders:
            return False
        name = f"{name}.{part}"
        if name in sys.modules:
            spec = getattr(sys.modules[name], "__spec__", None)
            continue
        spec = importlib.machinery.PathFinder.find_spec(name, list(folders))
    return spec is not None


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
    _top(module)
    try:
        return importlib.import_module(module)
    except ImportError:
        raise _missing(module, purpose) from None


def check_installed(modules: Sequence[str], *, purpose: str) -> None:
    """Raises :class:`MissingExtraError` if one of ``modules`` is not installed.

    Nothing is imported (``importlib.util.find_spec``), so a package can
    check its dependencies on import and still import fast.

    Args:
      modules: e.g. ``("flax", "optax", "orbax.checkpoint")``; each top-level
        package must be a key of :data:`EXTRAS`.
      purpose: what needs them, e.g. ``"corel_jax.training"``.

    Raises:
      MissingExtraError: for the first missing module, e.g.
        ``flax is needed for corel_jax.training: pip install "corel-jax[train]"``.
    """
    for module in modules:
        _top(module)
        if not _installed(module):
            raise _missing(module, purpose)


def extra_status() -> dict[str, dict[str, str | None]]:
    """``{extra: {pip package: its installed version, or None}}`` for the extras of :data:`EXTRAS`."""
    status: dict[str, dict[str, str | None]] = {}
    for module, (package, extra) in EXTRAS.items():
        version = None
        if _installed(module):
            for name in (package, module, package.removesuffix("-cpu")):
                try:
                    version = importlib.metadata.version(name)
                    break
                except importlib.metadata.PackageNotFoundError:
                    version = "installed"
        status.setdefault(extra, {})[package] = version
    return status
