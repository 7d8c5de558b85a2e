"""Your own images: a folder of image files, or an ``.npz`` / ``.npy`` array, as uint8 NHWC.

:func:`load_images` reads

* a **folder**: flat (every image file in it; no labels), or one subfolder per
  class (each searched recursively; labels are the subfolders in sorted order,
  their names the class names). Files whose suffix is not one of
  :data:`~corel_jax.data.folder.IMAGE_EXTENSIONS` and names starting with ``.`` are skipped; images are
  read in sorted order of their paths. A single image file is a set of one;
* an **array file**: ``.npy`` holding images, or ``.npz`` holding ``images``
  and, optionally, ``labels`` (non-negative ints) and ``class_names``. Images
  are ``(N, H, W, C)`` or ``(N, H, W)`` (grayscale), uint8, other integers in
  0..255, bool, or floats in [0, 1] (scaled by 255 and rounded).

Every image ends as ``(H, W, C)`` uint8 with ``C = 1`` (grayscale) or ``C = 3`` (RGB):

* **Sizes.** Images of different sizes are an error unless ``image_size`` is
  given; with it, every image of another size is resized to it (Pillow's
  bilinear filter, antialiased when shrinking; the aspect ratio is not kept).
* **Grayscale and colour.** ``color=None`` keeps what the images are when
  they are all grayscale or all colour, and refuses a mix (the message counts
  both kinds): which way to convert is the user's choice, since gray to RGB
  triples the input and RGB to gray loses the colour. ``color="gray"``
  converts colour images to luminance (ITU-R 601-2, Pillow's ``"L"``);
  ``color="rgb"`` copies grayscale into three channels. An alpha channel is
  dropped, 16-bit grayscale is scaled to 8 bits (divided by 257), and the
  EXIF orientation of photos is applied.
* **Errors.** An empty folder, files that cannot be decoded (counted, the
  first five named), a mix of sizes or of grayscale and colour: a
  ``ValueError`` whose message is one line and says what to pass.

A folder is decoded once and cached (:mod:`corel_jax.data.folder`); array
files are read each time (they load at once).

Examples:
  >>> from corel_jax.data import load_images
  >>> found = load_images("photos/", image_size=64, color="rgb")  # doctest: +SKIP
  >>> found.images.shape, found.class_names  # doctest: +SKIP
  ((240, 64, 64, 3), ('bad', 'good'))
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corel_jax._checks import is_int
from corel_jax.data.catalog import COLORS

__all__ = [
    "ARRAY_EXTENSIONS",
    "ImageSet",
    "as_image_size",
    "describe_shape",
    "load_images",
    "to_uint8_images",
]

ARRAY_EXTENSIONS: tuple[str, ...] = (".npy", ".npz")


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Images read by :func:`load_images`, with their names and (maybe) labels.

    Attributes:
      images: ``(N, H, W, C)`` uint8, ``C`` 1 or 3.
      labels: ``(N,)`` int64 in ``[0, len(class_names))``, or None (unlabelled).
      class_names: one name per label value (``()`` when unlabelled).
      names: one per image: its path relative to ``source`` (a folder), or its
        index (an array file).
      source: the folder or file read.
    """

    images: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray | None = dataclasses.field(repr=False)
    class_names: tuple[str, ...]
    names: tuple[str, ...] = dataclasses.field(repr=False)
    source: str

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (N, H, W, C); got {self.images.dtype} {self.images.shape}."
            )
        if len(self.names) != len(self.images):
            raise ValueError(f"{len(self.names)} names for {len(self.images)} images.")
        if self.labels is not None and self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must have shape ({len(self.images)},); got {self.labels.shape}."
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def select(self, classes: Sequence[int] | None) -> ImageSet:
        """The images whose label is in ``classes``, in order (all of them for None).

        Raises:
          ValueError: the set has no labels, or a class has no image (the message names it).
        """
        if classes is None:
            return self
        if self.labels is None:
            raise ValueError(
                f"classes: {self.source} has no labels (a flat folder, or an array file without "
                "labels); put each class in its own subfolder to select classes."
            )
        classes = [int(c) for c in classes]
        missing = [c for c in classes if not np.any(self.labels == c)]
        if missing:
            known = ", ".join(f"{i} ({n})" for i, n in enumerate(self.class_names))
            raise ValueError(f"classes: {self.source} has no image of label(s) {missing}; its "
                             f"labels are {known}.")  # fmt: skip
        keep = np.isin(self.labels, classes)
        names = tuple(n for n, k in zip(self.names, keep, strict=True) if k)
        return dataclasses.replace(self, images=self.images[keep], labels=self.labels[keep],
                                   names=names)  # fmt: skip


def describe_shape(shape: Sequence[int]) -> str:
    """``(H, W, C)`` in words: ``"28x28 grayscale"``, ``"32x32 RGB"``, ``"8x8x5"``.

    Examples:
      >>> describe_shape((28, 28, 1)), describe_shape((32, 32, 3))
      ('28x28 grayscale', '32x32 RGB')
    """
    h, w, c = (int(s) for s in shape)
    return f"{h}x{w} " + ({1: "grayscale", 3: "RGB"}[c]) if c in (1, 3) else f"{h}x{w}x{c}"


def as_image_size(
    image_size: int | Sequence[int] | None, name: str = "image_size"
) -> tuple[int, int] | None:
    """``image_size`` as ``(H, W)``: one int is a square; None stays None.

    Raises:
      TypeError, ValueError: not one or two positive ints (the message names ``name``).
    """
    if image_size is None:
        return None
    values = (image_size,) if is_int(image_size) else image_size
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be an int or (height, width); got {image_size!r}.")
    if len(values) not in (1, 2) or not all(is_int(v) and v > 0 for v in values):
        raise ValueError(f"{name} must be one or two positive ints; got {image_size!r}.")
    return (int(values[0]), int(values[-1]))


def to_uint8_images(array: np.ndarray, name: str = "images") -> np.ndarray:
    """Images as ``(N, H, W, C)`` uint8: what :func:`load_images` accepts from an array.

    ``(N, H, W)`` gets a channel axis; uint8 stays; bool, and other integers in
    0..255, are cast; floats must lie in [0, 1] and are scaled by 255 and
    rounded. ``C`` must be 1 or 3.

    Raises:
      ValueError: another shape, dtype or range (the message names ``name``).
    """
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must be images (N, H, W, C) with C = 1 (grayscale) or 3 (RGB), or (N, H, W); "
            f"got shape {a.shape}" + (" (drop the alpha channel)" if a.ndim == 4 and
                                      a.shape[-1] == 4 else "") + "."
        )  # fmt: skip
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype.kind in "iu":
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError(
                f"{name}: integer images must lie in 0..255; got {a.min()}..{a.max()}."
            )
        return a.astype(np.uint8)
    if a.dtype.kind == "f":
        if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
            raise ValueError(f"{name}: float images must lie in [0, 1]; got values in "
                             f"{np.nanmin(a):g}..{np.nanmax(a):g} (or NaN).")  # fmt: skip
        return np.round(a * 255.0).astype(np.uint8)
    raise ValueError(f"{name}: images must be uint8, integers or floats; got {a.dtype}.")


# -------------------------------------------------------------------- the entry point


def load_images(
    path: str | os.PathLike,
    *,
    image_size: int | Sequence[int] | None = None,
    color: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> ImageSet:
    """Reads a folder of images, one image file, or an ``.npz`` / ``.npy`` array file.

    See the module's docstring for the layouts and the conversions, and
    :mod:`corel_jax.data.folder` for the cache of decoded folders.

    Args:
      path: a folder (flat, or one subfolder per class), an image file, or an
        ``.npz`` (``images``, optional ``labels`` and ``class_names``) or ``.npy``.
      image_size: ``(H, W)``, or one int for a square: resize every image of
        another size to it. None: the images must all have one size.
      color: ``"gray"`` or ``"rgb"``: convert every image to it. None: keep
        them, which needs all grayscale or all colour images.
      cache_dir: where decoded folders are cached (default ``$COREL_JAX_CACHE``
        or ``~/.cache/corel_jax``).

    Returns:
      An :class:`ImageSet`: ``(N, H, W, C)`` uint8 images, labels (or None),
      class names, one name per image, the source.

    Raises:
      ValueError: ``path`` does not exist, holds no images, holds files that
        cannot be decoded (the first five named), images of several sizes without
        ``image_size``, a mix of grayscale and colour without ``color``; or a
        malformed array file. The message is one line.
      MissingExtraError: Pillow is not installed.
    """
    from corel_jax.data import folder

    size = as_image_size(image_size)
    if color is not None and color not in COLORS:
        raise ValueError(f"color must be None or one of {COLORS}; got {color!r}.")
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"{path} does not exist.")
    if path.is_file() and path.suffix.lower() in ARRAY_EXTENSIONS:
        return _from_array_file(path, size, color)
    if path.is_file() and path.suffix.lower() not in folder.IMAGE_EXTENSIONS:
        raise ValueError(
            f"{path} is neither a folder, an image file ({', '.join(folder.IMAGE_EXTENSIONS)}) "
            "nor an .npz / .npy array file."
        )
    images, labels, class_names, names = folder.read_folder(
        path, image_size=size, color=color, cache_dir=cache_dir
    )
    return ImageSet(images, labels, class_names, names, str(path))


def _why(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


# -------------------------------------------------------------------- array files


def _from_array_file(path: Path, image_size, color) -> ImageSet:
    """An ``.npy`` of images, or an ``.npz`` with ``images`` (and ``labels``, ``class_names``)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # an .npy file: the images
            arrays = {"images": loaded}
        else:
            with loaded:
                arrays = {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} cannot be read as a NumPy array file: {_why(err)}.") from None
    if "images" not in arrays:
        raise ValueError(f"{path} has no array named 'images' (it holds: "
                         f"{', '.join(sorted(arrays)) or 'nothing'}).")  # fmt: skip
    images = to_uint8_images(arrays["images"], f"{path}: images")
    if len(images) == 0:
        raise ValueError(f"{path} holds no images (its 'images' array has shape {images.shape}).")
    labels, class_names = _array_labels(path, arrays, len(images))
    images = _convert_array(images, as_image_size(image_size), color)
    return ImageSet(images, labels, class_names, tuple(map(str, range(len(images)))), str(path))


def _array_labels(path: Path, arrays: dict, n: int):
    if "labels" not in arrays:
        return None, ()
    labels = np.asarray(arrays["labels"])
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (n and labels.min() < 0):
        raise ValueError(f"{path}: labels must be ({n},) non-negative ints, one per image; got "
                         f"{labels.dtype} {labels.shape}.")  # fmt: skip
    labels = labels.astype(np.int64)
    top = int(labels.max()) + 1
    if "class_names" in arrays:
        class_names = tuple(str(c) for c in np.asarray(arrays["class_names"]).ravel())
        if len(class_names) < top:
            raise ValueError(f"{path}: {len(class_names)} class_names for labels up to {top - 1}.")
    else:
        class_names = tuple(str(c) for c in range(top))
    return labels, class_names


def _convert_array(images: np.ndarray, image_size, color) -> np.ndarray:
    """Images converted to ``color`` and resized to ``image_size`` (each through Pillow)."""
    from corel_jax.data.folder import convert_image, pillow

    Image = pillow()
    h, w, c = images.shape[1:]
    target_c = {"gray": 1, "rgb": 3, None: c}[color]
    target_hw = image_size or (h, w)
    if (target_c, target_hw) == (c, (h, w)):
        return images
    out = np.empty((len(images), *target_hw, target_c), np.uint8)
    for i, image in enumerate(images):
        out[i] = convert_image(Image.fromarray(image[..., 0] if c == 1 else image), target_c,
                               target_hw)  # fmt: skip
    return out
