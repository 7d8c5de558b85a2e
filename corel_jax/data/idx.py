"""IDX files, the format of MNIST and Fashion-MNIST, gzipped or not."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["IDX_FILES", "find_folder", "read_folder", "read_idx"]

# split -> (images, labels) IDX file names, as distributed (plus ".gz").
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type codes (third magic byte) -> big-endian numpy dtypes.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzipped or not.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions ``k``,
    then ``k`` big-endian uint32 sizes, then the values, big-endian, in C
    order. A file starting with the gzip magic ``1f 8b`` is decompressed first.

    Args:
      path: the file.

    Returns:
      The array, with the file's shape, in native byte order.

    Raises:
      ValueError: a corrupt gzip stream, a bad magic number, a truncated
        header, or a data size that disagrees with the header (the message
        names the file).

    Examples:
      >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
      ... # doctest: +SKIP
      >>> images.shape  # doctest: +SKIP
      (10000, 28, 28)

    References:
      LeCun, Cortes and Burges, "The MNIST database",
      http://yann.lecun.com/exdb/mnist/ (section "File formats").
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({err}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file (bad magic number 0x{raw[:4].hex()}; expected "
            "00 00, a type code in {08, 09, 0b, 0c, 0d, 0e} and the number of dimensions)."
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions need {header})."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: the IDX header says shape {shape} ({expected} bytes of data) but the "
            f"file holds {len(raw) - header} bytes of data (truncated or corrupt)."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def find_folder(
    name: str, data_dir: str | os.PathLike | None, defaults: Iterable[Path] = ()
) -> Path | None:
    """The first folder holding all four IDX files of dataset ``name``, if any.

    Searched: ``data_dir``, ``data_dir/name``, ``data_dir/name-with-dashes``,
    then the ``defaults`` (e.g. Debian's folder).
    """
    candidates = []
    if data_dir is not None:
        root = Path(data_dir)
        candidates += [root, root / name, root / name.replace("_", "-")]
    candidates += list(defaults)
    for folder in candidates:
        if all(_find_file(folder, stem) for stems in IDX_FILES.values() for stem in stems):
            return folder
    return None


def read_folder(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split's IDX images ``(N, H, W, 1)`` uint8 and labels ``(N,)`` int64."""
    image_stem, label_stem = IDX_FILES[split]
    found = [_find_file(directory, stem) for stem in (image_stem, label_stem)]
    if found[0] is None or found[1] is None:
        raise FileNotFoundError(f"{directory} lacks the IDX files {image_stem} and {label_stem}.")
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{directory}/{image_stem}: expected uint8 images (N, H, W), "
            f"got {images.dtype} {images.shape}."
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{directory}: {images.shape[0]} images but labels of shape {labels.shape}."
        )
    return images[..., None], labels.astype(np.int64)
