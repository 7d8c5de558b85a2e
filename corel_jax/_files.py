"""Files and folders: atomic writes with the user's permissions, and work-directory checks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["RUN_LOG", "atomic_write", "check_directory"]

# A run's log, written into its work directory by whoever launched it
# (:mod:`corel_jax.training.workers`'s workers); a new run may start beside it.
RUN_LOG = "train.log"


def atomic_write(path: str | os.PathLike, content: bytes | Callable[[BinaryIO], None]) -> Path:
    """Writes a file through a temporary file beside it and ``os.replace``.

    Readers see the old file or the whole new one, never a part. The file gets
    the permissions a plain ``open(path, "w")`` gives a new file (``0o666``
    less the umask, e.g. ``rw-r--r--``), not ``mkstemp``'s private ``0o600``.

    Args:
      path: the file to write; its folder must exist.
      content: the bytes to write, or a function that writes them to an open
        binary file.

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    An interruption (even ``KeyboardInterrupt``) removes the temporary file and
    leaves an existing ``path`` untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL: a fresh file of our own; mode 0o666 is reduced by the umask, as for open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes | bytearray):
                f.write(content)
            else:
                content(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_directory(path: str | os.PathLike, name: str) -> Path:
    """``path`` as a Path; ValueError when a file stands where a directory must be (or be made).

    Args:
      path: a directory that exists or will be created.
      name: how the message names it (e.g. ``"--workdir"``).

    Raises:
      ValueError: ``path``, or one of the folders above it, is a file:
        ``"--workdir: out.txt is a file, not a directory."``
    """
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        if folder.exists() or folder.is_symlink():
            where = "" if folder == path else f" (it would hold {path})"
            raise ValueError(f"{name}: {folder} is a file, not a directory{where}.")
    return path
