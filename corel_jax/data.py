"""Datasets as uint8 NHWC arrays: tensorflow-datasets, local IDX files, scikit-learn digits.

One entry point, :func:`load`, returns a :class:`Split` (images, labels, class
names) for:

======================  =============================================  =====================
name                    source                                         images
======================  =============================================  =====================
``digits``              scikit-learn's embedded 8x8 digits (offline)   (N, 8, 8, 1)
``fashion_mnist``       IDX files (Debian ``dataset-fashion-mnist``)   (N, 28, 28, 1)
                        or tfds ``fashion_mnist``
``mnist``               IDX files in ``data_dir``, or tfds ``mnist``   (N, 28, 28, 1)
``cifar10``             tfds ``cifar10``                               (N, 32, 32, 3)
``cifar100``            tfds ``cifar100``, the 100 fine labels         (N, 32, 32, 3)
``cifar20``             tfds ``cifar100``, the 20 coarse labels        (N, 32, 32, 3)
``svhn``                tfds ``svhn_cropped``                          (N, 32, 32, 3)
``imagenet32``          tfds ``imagenet_resized/32x32`` (1,000         (N, 32, 32, 3)
                        classes; "test" is ImageNet's validation set)
======================  =============================================  =====================

Nothing is downloaded: tfds datasets must already be prepared in ``data_dir``
(or tfds's default, ``$TFDS_DATA_DIR`` / ``~/tensorflow_datasets``); when one
is missing, :class:`DatasetNotAvailableError` says how to get it. Datasets
prepared in the ``array_record`` format are read through ``tfds.data_source``
without TensorFlow; the default ``tfrecord`` format needs ``tensorflow-cpu``.
Importing this module imports neither TensorFlow nor tfds.

Decoded arrays are cached as ``.npz`` files (written atomically) under
``cache_dir`` (default ``$COREL_JAX_CACHE`` or ``~/.cache/corel_jax``), so a
dataset is decoded once.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
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
SPLITS = ("train", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# name -> (tfds name, label feature)
_TFDS = {
    "fashion_mnist": ("fashion_mnist", "label"),
    "mnist": ("mnist", "label"),
    "cifar10": ("cifar10", "label"),
    "cifar100": ("cifar100", "label"),
    "cifar20": ("cifar100", "coarse_label"),
    "svhn": ("svhn_cropped", "label"),
    "imagenet32": ("imagenet_resized/32x32", "label"),
}
_TFDS_SPLIT = {"imagenet32": {"test": "validation"}}

FASHION_MNIST_CLASSES = (
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
CIFAR10_CLASSES = (
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
# The 20 CIFAR-100 superclasses, in the order of the "coarse_label" feature.
CIFAR20_CLASSES = (
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
_FIXED_CLASSES = {
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "mnist": tuple(str(i) for i in range(10)),
    "cifar10": CIFAR10_CLASSES,
    "cifar20": CIFAR20_CLASSES,
    "svhn": tuple(str(i) for i in range(10)),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetNotAvailableError(ValueError):
    """The dataset is not on this machine; the message says how to get it."""


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
      images: ``(N, H, W, C)`` uint8.
      labels: ``(N,)`` int64, in ``[0, len(class_names))``.
      class_names: one name per label.
      name: the dataset name (see :data:`DATASETS`).
      split: "train" or "test".
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    split: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# ---------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzipped or not.

    Format: two zero bytes, a dtype code (0x08 = uint8, ...), the number of
    dimensions, then each dimension as a big-endian uint32, then the data.

    Raises:
      ValueError: not an IDX file, or truncated / too long.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip stream ({err}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()}).")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes of data (truncated or corrupt)."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _idx_dir(name: str, data_dir: str | None) -> Path | None:
    """The folder holding the IDX files for ``name``, if any."""
    candidates = []
    if data_dir is not None:
        candidates += [
            Path(data_dir),
            Path(data_dir) / name,
            Path(data_dir) / name.replace("_", "-"),
        ]
    if name == "fashion_mnist":
        candidates.append(DEBIAN_FASHION_MNIST)
    for d in candidates:
        if all(_find_idx(d, stem) for stems in _IDX_FILES.values() for stem in stems):
            return d
    return None


def _load_idx(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_stem, lbl_stem = _IDX_FILES[split]
    images = read_idx(_find_idx(directory, img_stem))
    labels = read_idx(_find_idx(directory, lbl_stem))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{directory}: IDX images {images.shape} and labels {labels.shape} do not match."
        )
    return images[..., None].astype(np.uint8), labels.astype(np.int64)


# ------------------------------------------------------------------- digits


def _load_digits(split: str) -> Split:
    """scikit-learn's 1,797 8x8 digits; a fixed seeded 75/25 split (1,348 / 449)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(labels))
    n_train = len(labels) - len(labels) // 4
    idx = perm[:n_train] if split == "train" else perm[n_train:]
    idx = np.sort(idx)
    return Split(images[idx], labels[idx], tuple(str(i) for i in range(10)), "digits", split)


# --------------------------------------------------------------------- tfds


def _how_to_get(name: str, data_dir: str | None) -> str:
    tfds_name, _ = _TFDS[name]
    where = data_dir or "~/tensorflow_datasets"
    lines = [
        f"Dataset {name!r} (tfds {tfds_name!r}) is not prepared in {where}, and this machine "
        "cannot download it.",
        "On a machine with internet access, prepare it (array_record needs no TensorFlow to read):",
        f"  python -c \"import tensorflow_datasets as tfds; tfds.builder('{tfds_name}', "
        f"data_dir='{where}').download_and_prepare(file_format='array_record')\"",
        "then copy that folder here and pass --data-dir (or data_dir=) pointing at it.",
    ]
    if name == "imagenet32":
        lines.append(
            "imagenet_resized needs the ImageNet downsampled archives (see the tfds catalog)."
        )
    if name in ("mnist", "fashion_mnist"):
        lines.append(
            "Or give data_dir a folder with the IDX files "
            + ", ".join(f"{s}.gz" for stems in _IDX_FILES.values() for s in stems)
            + (
                " (Debian: apt-get install dataset-fashion-mnist)."
                if name == "fashion_mnist"
                else "."
            )
        )
    return "\n".join(lines)


def _stack_examples(examples, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([np.asarray(e["image"]) for e in examples]).astype(np.uint8)
    labels = np.asarray([int(e[label_key]) for e in examples], np.int64)
    if images.ndim == 3:
        images = images[..., None]
    return images, labels


def _load_tfds(name: str, split: str, data_dir: str | None) -> Split:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetNotAvailableError(
            f"Dataset {name!r} is read through tensorflow-datasets, which is not installed: "
            "pip install 'corel-jax[data]'."
        ) from None
    tfds_name, label_key = _TFDS[name]
    tfds_split = _TFDS_SPLIT.get(name, {}).get(split, split)
    try:
        # array_record / parquet: random access, no TensorFlow.
        source = tfds.data_source(tfds_name, split=tfds_split, data_dir=data_dir, download=False)
        examples = [source[k] for k in range(len(source))]
        images, labels = _stack_examples(examples, label_key)
        builder_info = source.dataset_info
    except NotImplementedError:
        # tfrecord (tfds's default format): needs TensorFlow.
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            raise DatasetNotAvailableError(
                f"Dataset {name!r} is stored as tfrecord, which needs TensorFlow to read: "
                "pip install tensorflow-cpu (or 'corel-jax[data]').\n" + _how_to_get(name, data_dir)
            ) from None
        try:
            ds = tfds.load(tfds_name, split=tfds_split, data_dir=data_dir, download=False)
        except AssertionError:
            raise DatasetNotAvailableError(_how_to_get(name, data_dir)) from None
        images, labels = _stack_examples(list(tfds.as_numpy(ds)), label_key)
        builder_info = tfds.builder(tfds_name, data_dir=data_dir).info
    except (AssertionError, FileNotFoundError):
        raise DatasetNotAvailableError(_how_to_get(name, data_dir)) from None
    names = _FIXED_CLASSES.get(name) or tuple(builder_info.features[label_key].names)
    return Split(images, labels, names, name, split)


# -------------------------------------------------------------------- cache


def _cache_path(name: str, split: str, cache_dir: str | None, source: str) -> Path:
    root = cache_dir or os.environ.get("COREL_JAX_CACHE") or Path.home() / ".cache" / "corel_jax"
    return Path(root) / f"{name}-{split}-{source}.npz"


def _read_cache(path: Path, name: str, split: str) -> Split | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return Split(
                f["images"], f["labels"], tuple(str(c) for c in f["class_names"]), name, split
            )
    except (OSError, KeyError, ValueError):
        return None  # unreadable cache: decode again and overwrite it


def _write_cache(path: Path, data: Split) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f, images=data.images, labels=data.labels, class_names=np.asarray(data.class_names)
            )
        os.replace(tmp, path)  # atomic: readers see the old file or the whole new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- public API


def _check(name: str, split: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {DATASETS}.")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
) -> Split:
    """Loads one split of a dataset as uint8 NHWC images and int64 labels.

    Args:
      name: one of :data:`DATASETS`.
      split: "train" or "test".
      data_dir: where the data is: a tfds data directory, or (mnist,
        fashion_mnist) a folder with the four IDX files. Fashion-MNIST is also
        found in Debian's ``/usr/share/datasets/fashion-mnist``.
      cache_dir: where decoded arrays are cached (see the module docstring).

    Returns:
      A :class:`Split`.

    Raises:
      ValueError: unknown name or split, or a corrupt IDX file.
      DatasetNotAvailableError: the data is not on this machine (the message
        says how to get it).
    """
    _check(name, split)
    if name == "digits":
        return _load_digits(split)
    if name in ("mnist", "fashion_mnist"):
        directory = _idx_dir(name, data_dir)
        if directory is not None:
            images, labels = _load_idx(directory, split)
            return Split(images, labels, _FIXED_CLASSES[name], name, split)
    path = _cache_path(name, split, cache_dir, "tfds")
    cached = _read_cache(path, name, split)
    if cached is not None:
        return cached
    data = _load_tfds(name, split, data_dir)
    _write_cache(path, data)
    return data


def available(name: str, data_dir: str | None = None) -> bool:
    """Whether :func:`load` can read ``name`` here without downloading (cheap check)."""
    _check(name, "train")
    if name == "digits":
        return True
    if name in ("mnist", "fashion_mnist") and _idx_dir(name, data_dir) is not None:
        return True
    try:
        load(name, "test", data_dir=data_dir)
    except DatasetNotAvailableError:
        return False
    return True


def default_offline_dataset() -> str:
    """ "fashion_mnist" when Debian's IDX files are installed, else "digits"."""
    return "fashion_mnist" if _idx_dir("fashion_mnist", None) is not None else "digits"
