"""Reading datasets prepared by tensorflow-datasets, without ever downloading.

Datasets prepared in the ``array_record`` format are read through
``tfds.data_source`` without TensorFlow; tfds's default ``tfrecord`` format
needs ``tensorflow-cpu``. TensorFlow and tfds are imported here only, and only
when a tfds dataset is read.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from corel_jax.data.catalog import DatasetInfo
from corel_jax.data.idx import IDX_FILES
from corel_jax.data.split import DatasetNotAvailableError

__all__ = ["builder", "data_dir_of", "how_to_get", "is_ready", "read"]

_READ_CHUNK = 4096  # examples per read


def data_dir_of(data_dir: str | os.PathLike | None) -> str:
    """The tfds data directory that ``data_dir=None`` means (tfds's own default)."""
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")


def how_to_get(info: DatasetInfo, data_dir: str | os.PathLike | None) -> str:
    """The message of a missing dataset: how to prepare it on a machine with internet."""
    where = data_dir_of(data_dir)
    lines = [
        f"Dataset {info.name!r} (tfds {info.tfds_name!r}) is not prepared in {where}, and "
        "corel_jax never downloads. On a machine with internet access, prepare it with",
        f"  tfds build {info.tfds_name} --data_dir {where} --file_format array_record",
        "or",
        f"  python -c \"import tensorflow_datasets as tfds; tfds.builder('{info.tfds_name}', "
        f"data_dir='{where}').download_and_prepare(file_format='array_record')\"",
        "(array_record is read without TensorFlow; tfrecord needs tensorflow-cpu), then copy "
        "that folder here and pass data_dir= (--data-dir) pointing at it.",
    ]
    if info.hint:
        files = ", ".join(f"{stem}.gz" for stems in IDX_FILES.values() for stem in stems)
        lines.append(info.hint.format(files=files))
    return "\n".join(lines)


def builder(info: DatasetInfo, data_dir: str | os.PathLike | None):
    """tfds's builder of ``info.tfds_name`` in ``data_dir``; never looks online."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetNotAvailableError(
            f"Dataset {info.name!r} is read through tensorflow-datasets, which is not installed: "
            'pip install tensorflow-datasets (or "corel-jax[data]").\n' + how_to_get(info, data_dir)
        ) from None
    # try_gcs=False: never look for (or fetch) the dataset on Google's bucket.
    kwargs = {} if data_dir is None else {"data_dir": os.fspath(data_dir)}
    try:
        return tfds.builder(info.tfds_name, try_gcs=False, **kwargs)
    except Exception as err:  # e.g. DatasetNotFoundError in an older tfds
        raise DatasetNotAvailableError(
            f"tensorflow-datasets cannot build {info.tfds_name!r} ({type(err).__name__}: {err}).\n"
            + how_to_get(info, data_dir)
        ) from None


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


def _read_with_tensorflow(tfds_builder, tfds_split: str, label_key: str, name: str):
    """Reads a tfrecord-prepared split through tf.data (needs TensorFlow)."""
    if importlib.util.find_spec("tensorflow") is None:
        raise DatasetNotAvailableError(
            f"Dataset {name!r} is prepared in {tfds_builder.data_dir} as tfrecord, which needs "
            'TensorFlow to read: pip install tensorflow-cpu (or "corel-jax[data]"), or prepare '
            "it again with --file_format array_record."
        )
    import tensorflow_datasets as tfds

    ds = tfds_builder.as_dataset(split=tfds_split, batch_size=_READ_CHUNK, shuffle_files=False)
    chunks = ((b["image"], b[label_key]) for b in tfds.as_numpy(ds))
    return _collect(chunks, None)


def read_split(tfds_builder, tfds_split: str, label_key: str, name: str):
    """Images and labels of one split of a tfds builder's prepared data."""
    try:
        source = tfds_builder.as_data_source(split=tfds_split)
    except NotImplementedError:  # tfrecord: no random access
        return _read_with_tensorflow(tfds_builder, tfds_split, label_key, name)
    return _read_data_source(source, label_key)


def read(info: DatasetInfo, split: str, data_dir: str | os.PathLike | None):
    """Reads a prepared tfds dataset; never downloads.

    Returns:
      ``(images, labels, class_names, complete)``: ``complete`` says whether
      the split has as many examples as tfds's metadata says (only complete
      splits are cached; ``tfds.testing.mock_data`` gives incomplete ones).
    """
    tfds_builder = builder(info, data_dir)
    tfds_split = info.tfds_split(split)
    try:
        # No download_and_prepare: this only reads files already in data_dir.
        images, labels = read_split(tfds_builder, tfds_split, info.label_key, info.name)
    except Exception as err:
        if tfds_builder.is_prepared():
            raise
        # Not prepared: whatever tfds raised (no dataset_info, no files), the
        # fix is the same. (``tfds.testing.mock_data`` fakes the reads of
        # unprepared datasets, hence reading first and asking second.)
        if isinstance(err, DatasetNotAvailableError):
            raise DatasetNotAvailableError(f"{err}\n{how_to_get(info, data_dir)}") from None
        raise DatasetNotAvailableError(how_to_get(info, data_dir)) from None
    class_names = info.class_names or tuple(tfds_builder.info.features[info.label_key].names)
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"{info.name}: labels in [{labels.min()}, {labels.max()}] but "
            f"{len(class_names)} classes."
        )
    complete = False
    if tfds_builder.is_prepared():
        try:
            complete = tfds_builder.info.splits[tfds_split].num_examples == len(labels)
        except (KeyError, ValueError):
            complete = False
    return images, labels, class_names, complete


def is_ready(info: DatasetInfo, data_dir: str | os.PathLike | None) -> bool:
    """Whether ``info`` is prepared in ``data_dir`` in a format this machine can read."""
    if importlib.util.find_spec("tensorflow_datasets") is None:
        return False
    try:
        tfds_builder = builder(info, data_dir)
        if not tfds_builder.is_prepared():
            return False
        if tfds_builder.info.file_format.value == "tfrecord":
            return importlib.util.find_spec("tensorflow") is not None
    except Exception:
        return False
    return True
