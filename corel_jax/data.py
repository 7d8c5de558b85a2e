"""Datasets as uint8 NHWC arrays: tensorflow-datasets, local IDX files, scikit-learn digits.

One entry point, :func:`load`, returns a :class:`Split` (images, labels, class
names) for:

==================  ===============================================  ==================
name                source                                           images
==================  ===============================================  ==================
``digits``          scikit-learn's embedded 8x8 digits (offline)     (N, 8, 8, 1)
``fashion_mnist``   IDX files: ``data_dir``, else Debian's           (N, 28, 28, 1)
                    ``dataset-fashion-mnist``; else tfds
``mnist``           IDX files in ``data_dir``, else tfds ``mnist``   (N, 28, 28, 1)
``cifar10``         tfds ``cifar10``                                 (N, 32, 32, 3)
``cifar100``        tfds ``cifar100``, the 100 fine labels           (N, 32, 32, 3)
``cifar20``         tfds ``cifar100``, its 20 coarse (superclass)    (N, 32, 32, 3)
                    labels (feature ``coarse_label``)
``svhn``            tfds ``svhn_cropped``                            (N, 32, 32, 3)
``imagenet32``      tfds ``imagenet_resized/32x32``: 1,000 classes,  (N, 32, 32, 3)
                    1,281,167 train images; "test" is ImageNet's
                    validation set (50,000)
==================  ===============================================  ==================

Splits are "train" and "test". ``digits`` has no official split: its 1,797
images are split once with a fixed seed into 1,348 train / 449 test images.
Fashion-MNIST and MNIST are 60,000 / 10,000 images.

Nothing is ever downloaded. tfds datasets must already be prepared in
``data_dir`` (or tfds's default, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``);
when one is missing, :class:`DatasetNotAvailableError` says how to prepare it
on a machine with internet access. Datasets prepared in the ``array_record``
format are read through ``tfds.data_source`` without TensorFlow; tfds's default
``tfrecord`` format needs ``tensorflow-cpu``. ``imagenet_resized`` needs the
downsampled ImageNet archives (``Imagenet32_train_npz.zip``,
``Imagenet32_val_npz.zip``, about 3 GB), which image-net.org hands out only to
registered users; tfds cannot fetch them anonymously.

Importing this module imports neither TensorFlow nor tfds; both are imported
inside the tfds backend only.

Datasets read through tfds are decoded once and cached as an ``.npz`` file per
(name, split, data_dir) under ``cache_dir`` (default ``$COREL_JAX_CACHE``, else
``~/.cache/corel_jax``), written atomically. Only complete splits are cached:
data whose size disagrees with tfds's metadata (e.g. under
``tfds.testing.mock_data``) is returned but not cached. IDX files are not
cached: reading Fashion-MNIST's gzipped IDX files takes under a second.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR100_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR20_CLASSES",
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "SPLITS",
    "DatasetNotAvailableError",
    "Split",
    "available",
    "default_offline_dataset",
    "load",
    "read_idx",
]

DATASETS: tuple[str, ...] = (
    "digits",
    "fashion_mnist",
    "mnist",
    "cifar10",
    "cifar100",
    "cifar20",
    "svhn",
    "imagenet32",
)
SPLITS: tuple[str, ...] = ("train", "test")

# Where Debian's ``dataset-fashion-mnist`` package puts the gzipped IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# split -> (images, labels) IDX file names, as distributed (plus ".gz").
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# name -> (tfds name, label feature); split -> tfds split where they differ.
_TFDS: dict[str, tuple[str, str]] = {
    "fashion_mnist": ("fashion_mnist", "label"),
    "mnist": ("mnist", "label"),
    "cifar10": ("cifar10", "label"),
    "cifar100": ("cifar100", "label"),
    "cifar20": ("cifar100", "coarse_label"),
    "svhn": ("svhn_cropped", "label"),
    "imagenet32": ("imagenet_resized/32x32", "label"),
}
_TFDS_SPLIT: dict[str, dict[str, str]] = {"imagenet32": {"test": "validation"}}

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# CIFAR-100's fine labels in label order (its ``fine_label_names``: alphabetical).
CIFAR100_CLASSES: tuple[str, ...] = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
    butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch
    crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
    keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
    mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
    porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
    snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
    tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)
# CIFAR-100's 20 superclasses in coarse-label order (its ``coarse_label_names``).
CIFAR20_CLASSES: tuple[str, ...] = (
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
)
_DIGIT_NAMES = tuple(str(i) for i in range(10))
# Class names that do not depend on tfds's metadata (tfds's code knows cifar100's
# labels only as "0".."99" until the dataset is prepared). imagenet32's 1,000
# WordNet ids come from tfds.
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "digits": _DIGIT_NAMES,
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "mnist": _DIGIT_NAMES,
    "cifar10": CIFAR10_CLASSES,
    "cifar100": CIFAR100_CLASSES,
    "cifar20": CIFAR20_CLASSES,
    "svhn": _DIGIT_NAMES,
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
_CACHE_FORMAT = "v1"  # bump when the cached content changes
_READ_CHUNK = 4096  # examples per tfds read


class DatasetNotAvailableError(ValueError):
    """The dataset is not on this machine; the message says how to get it."""


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
      images: ``(N, H, W, C)`` uint8.
      labels: ``(N,)`` int64 in ``[0, len(class_names))``.
      class_names: one name per label value.
      name: the dataset name (one of :data:`DATASETS`).
      split: "train" or "test".
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C), got shape {self.images.shape}.")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) to match images, "
                f"got {self.labels.shape}."
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """The number of classes, ``len(class_names)``."""
        return len(self.class_names)


# ---------------------------------------------------------------------- IDX


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


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _idx_dir(name: str, data_dir: str | os.PathLike | None) -> Path | None:
    """The first folder holding all four IDX files of ``name``, if any.

    Searched: ``data_dir``, ``data_dir/name``, ``data_dir/name-with-dashes``,
    then (fashion_mnist only) Debian's folder.
    """
    candidates = []
    if data_dir is not None:
        root = Path(data_dir)
        candidates += [root, root / name, root / name.replace("_", "-")]
    if name == "fashion_mnist":
        candidates.append(DEBIAN_FASHION_MNIST)
    for folder in candidates:
        if all(_find_idx(folder, stem) for stems in IDX_FILES.values() for stem in stems):
            return folder
    return None


def _load_idx(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads one split's IDX images ``(N, H, W, 1)`` uint8 and labels ``(N,)`` int64."""
    image_stem, label_stem = IDX_FILES[split]
    images = read_idx(_find_idx(directory, image_stem))
    labels = read_idx(_find_idx(directory, label_stem))
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


# ------------------------------------------------------------------- digits


def _load_digits(split: str) -> Split:
    """scikit-learn's 1,797 8x8 digits, split 1,348 / 449 with a fixed seed.

    Pixel values 0..16 are scaled to 0..255 (``round(v * 255 / 16)``).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(labels))
    n_train = len(labels) - len(labels) // 4
    index = np.sort(perm[:n_train] if split == "train" else perm[n_train:])
    return Split(images[index], labels[index], _DIGIT_NAMES, "digits", split)


# --------------------------------------------------------------------- tfds


def _tfds_data_dir(data_dir: str | os.PathLike | None) -> str:
    """The tfds data directory that ``data_dir=None`` means (tfds's own default)."""
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")


def _how_to_get(name: str, data_dir: str | os.PathLike | None) -> str:
    tfds_name, _ = _TFDS[name]
    where = _tfds_data_dir(data_dir)
    lines = [
        f"Dataset {name!r} (tfds {tfds_name!r}) is not prepared in {where}, and corel_jax "
        "never downloads. On a machine with internet access, prepare it with",
        f"  tfds build {tfds_name} --data_dir {where} --file_format array_record",
        "or",
        f"  python -c \"import tensorflow_datasets as tfds; tfds.builder('{tfds_name}', "
        f"data_dir='{where}').download_and_prepare(file_format='array_record')\"",
        "(array_record is read without TensorFlow; tfrecord needs tensorflow-cpu), then copy "
        "that folder here and pass data_dir= (--data-dir) pointing at it.",
    ]
    if name == "imagenet32":
        lines.append(
            "imagenet_resized needs the downsampled ImageNet archives Imagenet32_train_npz.zip "
            "and Imagenet32_val_npz.zip (about 3 GB) from https://image-net.org (registered "
            "users only)."
        )
    if name in ("mnist", "fashion_mnist"):
        files = ", ".join(f"{stem}.gz" for stems in IDX_FILES.values() for stem in stems)
        lines.append(f"Or pass data_dir= a folder holding the IDX files {files}.")
        if name == "fashion_mnist":
            lines.append(
                f"On Debian/Ubuntu: apt-get install dataset-fashion-mnist (found in "
                f"{DEBIAN_FASHION_MNIST} automatically)."
            )
    return "\n".join(lines)


def _stack(examples: Iterable[dict[str, Any]], label_key: str):
    """Lists of tfds examples -> images ``(n, H, W, C)`` uint8, labels ``(n,)`` int64."""
    examples = list(examples)
    images = np.stack([np.asarray(e["image"]) for e in examples])
    labels = np.asarray([int(e[label_key]) for e in examples], np.int64)
    return images, labels


def _collect(chunks: Iterable[tuple[np.ndarray, np.ndarray]], n: int | None):
    """Concatenates (images, labels) chunks; into one preallocated array when ``n`` is known."""
    if n is None:
        chunks = list(chunks)
        if not chunks:
            raise ValueError("the split is empty.")
        images = np.concatenate([c[0] for c in chunks])
        labels = np.concatenate([c[1] for c in chunks])
    else:
        images = labels = None
        start = 0
        for chunk_images, chunk_labels in chunks:
            if images is None:
                images = np.empty((n, *chunk_images.shape[1:]), np.uint8)
                labels = np.empty((n,), np.int64)
            stop = start + chunk_images.shape[0]
            images[start:stop], labels[start:stop] = chunk_images, chunk_labels
            start = stop
        if images is None or start != n:
            raise ValueError(f"expected {n} examples, read {start}.")
    if images.ndim == 3:  # grayscale stored as (H, W)
        images = images[..., None]
    return images.astype(np.uint8, copy=False), labels.astype(np.int64, copy=False)


def _read_data_source(source, label_key: str):
    """Reads a random-access tfds source (array_record; no TensorFlow) in chunks."""
    n = len(source)

    def chunks():
        for start in range(0, n, _READ_CHUNK):
            yield _stack((source[i] for i in range(start, min(start + _READ_CHUNK, n))), label_key)

    return _collect(chunks(), n)


def _read_with_tensorflow(builder, tfds_split: str, label_key: str, name: str):
    """Reads a tfrecord-prepared split through tf.data (needs TensorFlow)."""
    if importlib.util.find_spec("tensorflow") is None:
        raise DatasetNotAvailableError(
            f"Dataset {name!r} is prepared in {builder.data_dir} as tfrecord, which needs "
            "TensorFlow to read: pip install tensorflow-cpu (or 'corel-jax[data]'), or prepare "
            "it again with --file_format array_record."
        )
    import tensorflow_datasets as tfds

    ds = builder.as_dataset(split=tfds_split, batch_size=_READ_CHUNK, shuffle_files=False)
    chunks = ((b["image"], b[label_key]) for b in tfds.as_numpy(ds))
    return _collect(chunks, None)


def _read_tfds(builder, tfds_split: str, label_key: str, name: str):
    """Images and labels of one split of a tfds builder's prepared data."""
    try:
        source = builder.as_data_source(split=tfds_split)
    except NotImplementedError:  # tfrecord: no random access
        return _read_with_tensorflow(builder, tfds_split, label_key, name)
    return _read_data_source(source, label_key)


def _tfds_builder(name: str, data_dir: str | os.PathLike | None):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetNotAvailableError(
            f"Dataset {name!r} is read through tensorflow-datasets, which is not installed: "
            "pip install tensorflow-datasets (or 'corel-jax[data]').\n"
            + _how_to_get(name, data_dir)
        ) from None
    tfds_name, _ = _TFDS[name]
    # try_gcs=False: never look for (or fetch) the dataset on Google's bucket.
    kwargs = {} if data_dir is None else {"data_dir": os.fspath(data_dir)}
    try:
        return tfds.builder(tfds_name, try_gcs=False, **kwargs)
    except Exception as err:  # e.g. DatasetNotFoundError in an older tfds
        raise DatasetNotAvailableError(
            f"tensorflow-datasets cannot build {tfds_name!r} ({type(err).__name__}: {err}).\n"
            + _how_to_get(name, data_dir)
        ) from None


def _load_tfds(name: str, split: str, data_dir: str | os.PathLike | None) -> tuple[Split, bool]:
    """Reads a prepared tfds dataset; never downloads.

    Returns:
      The split and whether it is complete (as many examples as tfds's
      metadata says: only complete splits are cached).
    """
    builder = _tfds_builder(name, data_dir)
    _, label_key = _TFDS[name]
    tfds_split = _TFDS_SPLIT.get(name, {}).get(split, split)
    try:
        # No download_and_prepare: this only reads files already in data_dir.
        images, labels = _read_tfds(builder, tfds_split, label_key, name)
    except Exception as err:
        if builder.is_prepared():
            raise
        # Not prepared: whatever tfds raised (no dataset_info, no files), the
        # fix is the same. (``tfds.testing.mock_data`` fakes the reads of
        # unprepared datasets, hence reading first and asking second.)
        if isinstance(err, DatasetNotAvailableError):
            raise DatasetNotAvailableError(f"{err}\n{_how_to_get(name, data_dir)}") from None
        raise DatasetNotAvailableError(_how_to_get(name, data_dir)) from None
    class_names = _CLASS_NAMES.get(name) or tuple(builder.info.features[label_key].names)
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"{name}: labels in [{labels.min()}, {labels.max()}] but {len(class_names)} classes."
        )
    complete = False
    if builder.is_prepared():
        try:
            complete = builder.info.splits[tfds_split].num_examples == len(labels)
        except (KeyError, ValueError):
            complete = False
    return Split(images, labels, class_names, name, split), complete


# -------------------------------------------------------------------- cache


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("COREL_JAX_CACHE") or Path.home() / ".cache" / "corel_jax")


def _cache_path(
    name: str, split: str, data_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None
) -> Path:
    """``cache_dir/{name}-{split}-tfds-{hash of the data dir}-v1.npz``."""
    source = os.path.abspath(os.path.expanduser(_tfds_data_dir(data_dir)))
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    return _cache_root(cache_dir) / f"{name}-{split}-tfds-{digest}-{_CACHE_FORMAT}.npz"


def _read_cache(path: Path, name: str, split: str) -> Split | None:
    """The cached split, or None if absent or unreadable (then it is decoded again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            split_data = Split(
                f["images"], f["labels"], tuple(str(c) for c in f["class_names"]), name, split
            )
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    if split_data.images.dtype != np.uint8 or split_data.labels.dtype != np.int64:
        return None
    return split_data


def _write_cache(path: Path, split_data: Split) -> None:
    """Writes the .npz atomically: a temp file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                images=split_data.images,
                labels=split_data.labels,
                class_names=np.asarray(split_data.class_names, dtype=str),
            )
        os.replace(tmp, path)  # readers see the old file or the whole new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- public API


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset name={name!r}; expected one of {DATASETS}.")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split={split!r}; expected one of {SPLITS}.")


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Split:
    """Loads one split of a dataset as uint8 NHWC images and int64 labels.

    Sources, first found wins: ``digits`` from scikit-learn; ``mnist`` and
    ``fashion_mnist`` from IDX files in ``data_dir`` (or ``data_dir/<name>``),
    then (fashion_mnist) Debian's ``/usr/share/datasets/fashion-mnist``, then
    tfds; the other datasets from tfds data prepared in ``data_dir``, through
    the cache.

    Args:
      name: one of :data:`DATASETS`.
      split: "train" or "test".
      data_dir: a tfds data directory, or (mnist, fashion_mnist) a folder with
        the four IDX files (see :data:`IDX_FILES`). None: tfds's default.
      cache_dir: where decoded tfds splits are cached (default
        ``$COREL_JAX_CACHE`` or ``~/.cache/corel_jax``).

    Returns:
      A :class:`Split`: images ``(N, H, W, C)`` uint8, labels ``(N,)`` int64.

    Raises:
      ValueError: unknown ``name`` or ``split``, or a corrupt IDX file.
      DatasetNotAvailableError: the data is not on this machine (the message
        says how to get it). A subclass of ValueError.

    Examples:
      >>> from corel_jax import data
      >>> train = data.load("digits", "train")
      >>> train.images.shape, train.images.dtype, train.num_classes
      ((1348, 8, 8, 1), dtype('uint8'), 10)
    """
    _check_name(name)
    _check_split(split)
    if name == "digits":
        return _load_digits(split)
    if name in ("mnist", "fashion_mnist"):
        folder = _idx_dir(name, data_dir)
        if folder is not None:
            images, labels = _load_idx(folder, split)
            return Split(images, labels, _CLASS_NAMES[name], name, split)
    path = _cache_path(name, split, data_dir, cache_dir)
    cached = _read_cache(path, name, split)
    if cached is not None:
        return cached
    split_data, complete = _load_tfds(name, split, data_dir)
    if complete:
        _write_cache(path, split_data)
    return split_data


def available(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> bool:
    """Whether :func:`load` can read ``name`` here, without decoding anything.

    True for digits, for IDX files found as :func:`load` finds them, for a
    cached split, and for a tfds dataset prepared in ``data_dir`` (in the
    tfrecord format only if TensorFlow is installed).

    Args:
      name: one of :data:`DATASETS`.
      data_dir: as for :func:`load`.
      cache_dir: as for :func:`load`.

    Returns:
      A bool.

    Examples:
      >>> available("digits")
      True
    """
    _check_name(name)
    if name == "digits":
        return True
    if name in ("mnist", "fashion_mnist") and _idx_dir(name, data_dir) is not None:
        return True
    if all(_cache_path(name, s, data_dir, cache_dir).is_file() for s in SPLITS):
        return True
    if importlib.util.find_spec("tensorflow_datasets") is None:
        return False
    try:
        builder = _tfds_builder(name, data_dir)
        if not builder.is_prepared():
            return False
        if builder.info.file_format.value == "tfrecord":
            return importlib.util.find_spec("tensorflow") is not None
    except Exception:
        return False
    return True


def default_offline_dataset() -> str:
    """The dataset to use without a download: "fashion_mnist" if Debian's IDX files are there.

    Returns:
      "fashion_mnist" when ``apt-get install dataset-fashion-mnist`` put its
      files in :data:`DEBIAN_FASHION_MNIST`, else "digits".
    """
    return "fashion_mnist" if _idx_dir("fashion_mnist", None) is not None else "digits"
