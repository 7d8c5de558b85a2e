"""Folders of image files: listed, checked, decoded with Pillow, and cached.

:func:`read_folder` is what :func:`corel_jax.data.load_images` does with a
folder (or one image file); the layouts and conversions are described there
(:mod:`corel_jax.data.images`). Decoding takes two passes: the headers first
(sizes and modes, so that a mix of sizes or of grayscale and colour is
refused before any pixel is decoded), then the pixels, straight into one
``(N, H, W, C)`` array.

A folder is decoded once: the result is cached as an ``.npz`` in the cache
folder of :mod:`corel_jax.data.cache` (``$COREL_JAX_CACHE``, else
``~/.cache/corel_jax``), written atomically and keyed by the folder, the files'
relative paths, sizes and modification times, and ``image_size`` and
``color``; any change to a file decodes the folder again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from corel_jax._extras import require
from corel_jax._files import atomic_write
from corel_jax.data.cache import cache_root

__all__ = ["IMAGE_EXTENSIONS", "convert_image", "pillow", "read_folder"]

logger = logging.getLogger(__name__)

# Suffixes read as images (any case); other files in a folder are skipped.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".bmp", ".gif", ".jpeg", ".jpg", ".pbm", ".pgm", ".png", ".pnm", ".ppm", ".tif", ".tiff",
    ".webp",
)  # fmt: skip

_CACHE_FORMAT = "v1"  # bump when the cached content changes
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_MAX_NAMED = 5  # files named in an error message
_LOG_EVERY_S = 10.0  # seconds between progress lines while decoding

Folder = tuple[np.ndarray, np.ndarray | None, tuple[str, ...], tuple[str, ...]]


def read_folder(
    path: Path,
    *,
    image_size: tuple[int, int] | None,
    color: str | None,
    cache_dir: str | os.PathLike | None = None,
) -> Folder:
    """The images of a folder (or one image file), from the cache when it has them.

    Args:
      path: a folder (flat, or one subfolder per class) or one image file.
      image_size: ``(H, W)`` to resize to, or None (one size needed).
      color: "gray", "rgb", or None (all grayscale or all colour needed).
      cache_dir: the cache folder (default: :func:`corel_jax.data.cache.cache_root`'s).

    Returns:
      ``(images (N, H, W, C) uint8, labels (N,) int64 or None, class names,
      names)``: the names are the files' paths relative to ``path`` (or its
      folder, for a file), in sorted order.

    Raises:
      ValueError: one line: no images, undecodable files (named), a mix of sizes
        or of grayscale and colour.
    """
    files, labels, class_names = _list_images(path)
    stats = [f.stat() for f in files]
    root = path if path.is_dir() else path.parent
    names = tuple(f.relative_to(root).as_posix() for f in files)
    key = [_CACHE_FORMAT, str(path.absolute()), image_size, color,
           [(n, s.st_size, s.st_mtime_ns) for n, s in zip(names, stats, strict=True)]]  # fmt: skip
    digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:16]
    cached_file = cache_root(cache_dir) / f"images-{path.name or 'root'}-{digest}.npz"
    found = _read_cache(cached_file, len(names))
    if found is not None:
        logger.info("read %d images of %s from the cache %s", len(names), path, cached_file)
        return (found[0], found[1], class_names, names)
    images = _decode_all(files, names, root, image_size, color)
    _write_cache(cached_file, images, labels)
    return images, labels, class_names, names


def pillow():
    """``PIL.Image``, or the error naming the extra that installs Pillow."""
    return require("PIL.Image", purpose="reading images")


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _image_files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        (p for p in found if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
         and all(_visible(q) for q in p.relative_to(folder).parents if q.name) and _visible(p)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )  # fmt: skip


def _list_images(path: Path) -> tuple[list[Path], np.ndarray | None, tuple[str, ...]]:
    """The image files of ``path`` in order, their labels (or None) and the class names."""
    if path.is_file():
        return [path], None, ()
    entries = sorted(p for p in path.iterdir() if _visible(p))
    subfolders = [p for p in entries if p.is_dir()]
    flat = _image_files(path, recursive=False)
    if subfolders and flat:
        raise ValueError(
            f"{path} holds both image files ({len(flat)}, e.g. {flat[0].name}) and subfolders "
            f"({', '.join(p.name for p in subfolders[:_MAX_NAMED])}): put every image in a class "
            "subfolder (labelled), or all of them directly in the folder (unlabelled)."
        )
    if not subfolders:
        if not flat:
            others = [p.name for p in entries if p.is_file()]
            also = f" (it holds {len(others)} other files, e.g. {others[0]})" if others else ""
            raise ValueError(f"{path} holds no images{also}; image files end in "
                             f"{', '.join(IMAGE_EXTENSIONS)}.")  # fmt: skip
        return flat, None, ()
    per_class = [_image_files(folder, recursive=True) for folder in subfolders]
    empty = [folder.name for folder, files in zip(subfolders, per_class, strict=True) if not files]
    if empty:
        raise ValueError(
            f"{path}: the class subfolder(s) {', '.join(empty[:_MAX_NAMED])} hold no images "
            f"(image files end in {', '.join(IMAGE_EXTENSIONS)}); remove them or add images."
        )
    files = [f for group in per_class for f in group]
    labels = np.repeat(np.arange(len(per_class), dtype=np.int64), [len(g) for g in per_class])
    return files, labels, tuple(p.name for p in subfolders)


def _orientation_swaps(img) -> bool:
    """Whether the EXIF orientation turns the image by 90 degrees (width and height swap)."""
    try:
        return img.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # a broken EXIF block: the image is read as stored
        return False


def _unreadable(path: str, bad: list[tuple[str, str]], total: int) -> ValueError:
    listed = ", ".join(f"{name} ({why})" for name, why in bad[:_MAX_NAMED])
    more = f" and {len(bad) - _MAX_NAMED} more" if len(bad) > _MAX_NAMED else ""
    return ValueError(f"{len(bad):,} of {total:,} image files in {path} cannot be decoded: "
                      f"{listed}{more}. Remove or replace them.")  # fmt: skip


def _why(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


def _headers(files: list[Path], names: tuple[str, ...], root: Path):
    """Each file's ``(height, width)`` and whether it is grayscale, from its header only."""
    Image = pillow()
    sizes, gray, bad = [], [], []
    for f, name in zip(files, names, strict=True):
        try:
            with Image.open(f) as img:
                w, h = img.size
                sizes.append((w, h) if _orientation_swaps(img) else (h, w))
                gray.append(img.mode in _GRAY_MODES)
        except Exception as err:  # Pillow raises many kinds for a broken file
            bad.append((name, _why(err)))
    if bad:
        raise _unreadable(str(root), bad, len(files))
    return sizes, np.asarray(gray, bool)


def _summary(counts: dict, what) -> str:
    items = sorted(counts.items(), key=lambda kv: -len(kv[1]))
    return ", ".join(f"{what(k)}: {len(v):,} (e.g. {v[0]})" for k, v in items[:_MAX_NAMED])


def _check_uniform(path: Path, names, sizes, gray, image_size, color) -> tuple[int, int, int]:
    """The common ``(H, W, C)`` of the images, or the one-line error of a mix."""
    if image_size is None and len(set(sizes)) > 1:
        by_size: dict = {}
        for name, size in zip(names, sizes, strict=True):
            by_size.setdefault(size, []).append(name)
        raise ValueError(
            f"{path} holds images of {len(by_size)} sizes ("
            f"{_summary(by_size, lambda s: f'{s[0]}x{s[1]}')}); pass --image-size (image_size=) "
            "HEIGHT WIDTH, or one number for squares, to resize them all to one size."
        )
    if color is None and gray.any() and not gray.all():
        kinds = {"grayscale": [n for n, g in zip(names, gray, strict=True) if g],
                 "colour": [n for n, g in zip(names, gray, strict=True) if not g]}  # fmt: skip
        raise ValueError(
            f"{path} mixes grayscale and colour images ({_summary(kinds, str)}); pass --color "
            "(color=) gray to convert the colour ones to luminance, or rgb to copy the grayscale "
            "ones into three channels."
        )
    h, w = image_size or sizes[0]
    channels = {"gray": 1, "rgb": 3, None: 1 if gray.all() else 3}[color]
    return h, w, channels


def convert_image(img, channels: int, size: tuple[int, int]) -> np.ndarray:
    """A Pillow image as ``(H, W, channels)`` uint8 of ``size``: EXIF orientation applied,
    16-bit grayscale scaled to 8 bits, converted to "L" or "RGB" (alpha dropped), resized
    (bilinear) when its size differs."""
    Image, ImageOps = pillow(), require("PIL.ImageOps", purpose="reading images")
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I"):  # 16-bit grayscale -> 8 bits
        img = Image.fromarray(np.clip(np.asarray(img) / 257.0, 0, 255).round().astype(np.uint8))
    img = img.convert("L" if channels == 1 else "RGB")  # drops an alpha channel
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(img, np.uint8).reshape(size[0], size[1], channels)


def _decode_all(files, names, root: Path, image_size, color) -> np.ndarray:
    """Decodes every file into one ``(N, H, W, C)`` uint8 array (two passes: headers, pixels)."""
    Image = pillow()
    start = time.monotonic()
    logger.info("reading %d image files of %s", len(files), root)
    sizes, gray = _headers(files, names, root)
    h, w, c = _check_uniform(root, names, sizes, gray, image_size, color)
    out = np.empty((len(files), h, w, c), np.uint8)
    bad, last = [], time.monotonic()
    for i, (f, name) in enumerate(zip(files, names, strict=True)):
        try:
            with Image.open(f) as img:
                out[i] = convert_image(img, c, (h, w))
        except Exception as err:  # a file whose header reads but whose data is broken
            bad.append((name, _why(err)))
        if time.monotonic() - last > _LOG_EVERY_S:
            last = time.monotonic()
            logger.info("decoded %d of %d images of %s", i + 1, len(files), root)
    if bad:
        raise _unreadable(str(root), bad, len(files))
    logger.info("decoded %d images of %s (%s) in %.1f s", len(files), root,
                "x".join(map(str, (h, w, c))), time.monotonic() - start)  # fmt: skip
    return out


# ------------------------------------------------------------------ the cache


def _read_cache(path: Path, n: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The cached images and labels, or None if absent or unreadable (then decoded again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], (f["labels"] if bool(f["labelled"]) else None)
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != n:
        return None
    return images, labels


def _write_cache(path: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    """Writes the arrays atomically; a cache that cannot be written is skipped with a warning."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(
            f, images=images, labelled=labels is not None,
            labels=labels if labels is not None else np.zeros(0, np.int64),
        ))  # fmt: skip
    except OSError as err:
        logger.warning("cannot cache the decoded images in %s: %s", path, err)
