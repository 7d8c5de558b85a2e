"""The loaders' entry points: :func:`load`, :func:`prepare`, :func:`available`, and more.

Each kind of source of :data:`~corel_jax.data.catalog.SOURCES` has a reader
here; :func:`load` tries a dataset's sources in the order its catalog entry
gives, and the first that has the data wins.
"""

from __future__ import annotations

import importlib.util
import os

from corel_jax.data import cache, idx, tfds_reader
from corel_jax.data.catalog import SPLITS, DatasetInfo, check_split, info
from corel_jax.data.digits import read_digits
from corel_jax.data.split import DatasetNotAvailableError, Split

__all__ = ["available", "default_location", "default_offline_dataset", "load", "prepare"]

PathLike = str | os.PathLike


def _class_names(d: DatasetInfo) -> tuple[str, ...]:
    if d.class_names is None:  # only the tfds datasets take theirs from tfds
        raise ValueError(f"The catalog gives no class names for {d.name!r}.")
    return d.class_names


def _from_sklearn(d: DatasetInfo, split: str, data_dir, cache_dir) -> Split:
    images, labels = read_digits(split)
    return Split(images, labels, _class_names(d), d.name, split, "scikit-learn (embedded)")


def _from_idx(d: DatasetInfo, split: str, data_dir, cache_dir) -> Split | None:
    folder = idx.find_folder(d.name, data_dir, d.idx_dirs)
    if folder is None:
        return None
    images, labels = idx.read_folder(folder, split)
    return Split(images, labels, _class_names(d), d.name, split, str(folder))


def _from_tfds(d: DatasetInfo, split: str, data_dir, cache_dir) -> Split:
    path = cache.cache_path(d.name, split, data_dir, cache_dir)
    cached = cache.read_cache(path, d.name, split)
    if cached is not None:
        return cached
    images, labels, class_names, complete = tfds_reader.read(d, split, data_dir)
    source = f"tfds data dir {tfds_reader.data_dir_of(data_dir)}"
    split_data = Split(images, labels, class_names, d.name, split, source)
    if complete:
        cache.write_cache(path, split_data)
    return split_data


def _from_generator(d: DatasetInfo, split: str, data_dir, cache_dir) -> Split:
    """SPHERES, generated (seed 42) and split as the Topological Autoencoders paper did:
    float32 standardised points as ``(N, 1, 1, 101)`` "images"."""
    from corel_jax.data.spheres import make_spheres, split_spheres

    parts = split_spheres(*make_spheres(seed=42), seed=42)
    points, labels = (parts.train, parts.train_labels) if split == "train" else (
        parts.test, parts.test_labels)  # fmt: skip
    images = points.reshape(len(points), *d.image_shape)
    return Split(
        images, labels, _class_names(d), d.name, split, "corel_jax.data.spheres (generated)"
    )


# source -> reader(info, split, data_dir, cache_dir) -> Split, or None when not found there
_READERS = {
    "sklearn": _from_sklearn, "idx": _from_idx, "tfds": _from_tfds, "generated": _from_generator,
}  # fmt: skip


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
) -> Split:
    """Loads one split of a dataset as uint8 NHWC images and int64 labels.

    Sources, first found wins (see :data:`~corel_jax.data.CATALOG`): ``digits``
    from scikit-learn; ``mnist`` and ``fashion_mnist`` from IDX files in
    ``data_dir`` (or ``data_dir/<name>``), then (fashion_mnist) Debian's
    ``/usr/share/datasets/fashion-mnist``, then tfds; the other datasets from
    tfds data prepared in ``data_dir``, through the cache.

    Args:
      name: a key of :data:`~corel_jax.data.CATALOG`.
      split: "train" or "test".
      data_dir: a tfds data directory, or (mnist, fashion_mnist) a folder with
        the four IDX files (see :data:`~corel_jax.data.IDX_FILES`). None: the
        dataset's default location (:func:`default_location`).
      cache_dir: where decoded tfds splits are cached (default
        ``$COREL_JAX_CACHE`` or ``~/.cache/corel_jax``).

    Returns:
      A :class:`~corel_jax.data.Split`: images ``(N, H, W, C)`` uint8, labels
      ``(N,)`` int64, and ``source``, where it was read from.

    Raises:
      ValueError: unknown ``name`` or ``split``, or a corrupt IDX file.
      DatasetNotAvailableError: the data is not on this machine (the message
        says how to get it; :func:`prepare` downloads it). A subclass of
        ValueError.
      MissingExtraError: the reader needs an optional dependency that is not
        installed (digits: scikit-learn).

    Examples:
      >>> from corel_jax import data
      >>> train = data.load("digits", "train")
      >>> train.images.shape, train.images.dtype, train.num_classes
      ((1348, 8, 8, 1), dtype('uint8'), 10)
    """
    d = info(name)
    check_split(split)
    for source in d.sources:
        found = _READERS[source](d, split, data_dir, cache_dir)
        if found is not None:
            return found
    raise AssertionError(f"{name}: its last source {d.sources[-1]!r} must raise or return.")


def prepare(
    name: str,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    download: bool = True,
    no_download: str = "--offline",
) -> bool:
    """Makes sure :func:`load` can read ``name``: finds it here, or downloads it.

    Datasets found as :func:`load` finds them are left alone. A tfds dataset
    that is not prepared in ``data_dir`` is downloaded and prepared there by
    tensorflow-datasets (with its progress bars; ``array_record`` format) when
    ``download`` is True and its servers can be reached.

    Args:
      name: a key of :data:`~corel_jax.data.CATALOG`.
      data_dir: as for :func:`load`.
      cache_dir: as for :func:`load`.
      download: False never downloads (the commands' ``--offline``).
      no_download: why ``download`` is False, as the error message says it
        (the option that turned downloads off).

    Returns:
      Whether it downloaded the dataset.

    Raises:
      DatasetNotAvailableError: the data is not here and cannot be downloaded
        (``download=False``, no network, tensorflow-datasets missing, or the
        download failed); the message says how to get it.
    """
    d = info(name)
    if available(name, data_dir, cache_dir=cache_dir) or "sklearn" in d.sources:
        return False  # digits without scikit-learn: load says which extra installs it
    if "tfds" in d.sources and download:
        tfds_reader.download(d, data_dir)
        return True
    if "tfds" not in d.sources:
        raise DatasetNotAvailableError(tfds_reader.how_to_get(d, data_dir, why="not found"))
    why = f"{no_download}: not downloaded"
    then = tfds_reader.AFTER_OFFLINE if no_download == "--offline" else ""
    raise DatasetNotAvailableError(tfds_reader.how_to_get(d, data_dir, why=why, then=then))


def available(
    name: str,
    data_dir: PathLike | None = None,
    *,
    cache_dir: PathLike | None = None,
) -> bool:
    """Whether :func:`load` can read ``name`` here, without decoding anything.

    True for digits (with scikit-learn installed), for IDX files found as
    :func:`load` finds them, for a cached split, and for a tfds dataset prepared
    in ``data_dir`` (in the tfrecord format only if TensorFlow is installed).

    Examples:
      >>> available("digits")
      True
    """
    d = info(name)
    for source in d.sources:
        if source == "generated" or (
            source == "sklearn" and importlib.util.find_spec("sklearn") is not None
        ):
            return True
        if source == "idx" and idx.find_folder(d.name, data_dir, d.idx_dirs) is not None:
            return True
        if source == "tfds":
            cached = (cache.cache_path(name, s, data_dir, cache_dir).is_file() for s in SPLITS)
            if all(cached) or tfds_reader.is_ready(d, data_dir):
                return True
    return False


def default_location(name: str) -> str:
    """Where :func:`load` reads ``name`` from when no ``data_dir`` is given, in words.

    Examples:
      >>> default_location("digits")
      'scikit-learn (embedded)'
    """
    d = info(name)
    places = []
    for source in d.sources:
        if source == "sklearn":
            places.append("scikit-learn (embedded)")
        elif source == "idx":
            places += [f"IDX files in {folder}" for folder in d.idx_dirs]
        elif source == "tfds":
            places.append(f"tfds data dir {tfds_reader.data_dir_of(None)}")
        elif source == "generated":
            places.append("generated (corel_jax.data.spheres)")
    return ", else ".join(places)


def default_offline_dataset() -> str:
    """The dataset to use without a download: "fashion_mnist" if Debian's IDX files are there.

    Returns:
      "fashion_mnist" when ``apt-get install dataset-fashion-mnist`` put its
      files in :data:`~corel_jax.data.DEBIAN_FASHION_MNIST`, else "digits".
    """
    d = info("fashion_mnist")
    return "fashion_mnist" if idx.find_folder(d.name, None, d.idx_dirs) is not None else "digits"
