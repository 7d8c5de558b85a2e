"""Atomic file writes: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, content: bytes | Callable[[BinaryIO], None]) -> Path:
    """Writes a file through a temporary file beside it and ``os.replace``.

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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes | bytearray):
                f.write(content)
            else:
                content(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
