"""The ``.npz`` cache of decoded tfds splits, keyed by (name, split, data dir).

Decoded image folders (:mod:`corel_jax.data.folder`) are cached in the same folder.

Decoding a tfds dataset takes minutes; its cache entry loads in seconds. Only
complete splits are cached, each written atomically, and an unreadable entry is
decoded again. IDX files and digits are not cached (they load in under a second).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from corel_jax._files import atomic_write
from corel_jax.data.split import Split
from corel_jax.data.tfds_reader import data_dir_of

__all__ = ["cache_path", "cache_root", "read_cache", "write_cache"]

_CACHE_FORMAT = "v1"  # bump when the cached content changes


def cache_root(cache_dir: str | os.PathLike | None) -> Path:
    """The cache folder: ``cache_dir``, else ``$COREL_JAX_CACHE``, else ``~/.cache/corel_jax``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("COREL_JAX_CACHE") or Path.home() / ".cache" / "corel_jax")


def cache_path(
    name: str, split: str, data_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None
) -> Path:
    """``cache_dir/{name}-{split}-tfds-{hash of the data dir}-v1.npz``.

    ``cache_dir=None`` is ``$COREL_JAX_CACHE``, else ``~/.cache/corel_jax``.
    """
    source = os.path.abspath(os.path.expanduser(data_dir_of(data_dir)))
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    return cache_root(cache_dir) / f"{name}-{split}-tfds-{digest}-{_CACHE_FORMAT}.npz"


def read_cache(path: Path, name: str, split: str) -> Split | None:
    """The cached split, or None if absent or unreadable (then it is decoded again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            names = tuple(str(c) for c in f["class_names"])
            split_data = Split(f["images"], f["labels"], names, name, split, str(path))
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    if split_data.images.dtype != np.uint8 or split_data.labels.dtype != np.int64:
        return None
    return split_data


def write_cache(path: Path, split_data: Split) -> None:
    """Writes the .npz atomically (readers see the old file or the whole new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path,
        lambda f: np.savez(
            f,
            images=split_data.images,
            labels=split_data.labels,
            class_names=np.asarray(split_data.class_names, dtype=str),
        ),
    )
