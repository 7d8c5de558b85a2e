"""Reading datasets prepared by tensorflow-datasets, and preparing them when the user may.

:func:`read` only reads files already prepared in the data dir; it never
downloads. :func:`download` is the one place that does: it prepares a dataset
with tfds's ``download_and_prepare`` (and its progress bars), after checking
that the dataset's servers can be reached at all, so that a machine without a
network gets the "how to get it" message at once instead of minutes of
retries. Datasets are prepared in the ``array_record`` format, which is read
through ``tfds.data_source`` without TensorFlow; tfds's default ``tfrecord``
format needs ``tensorflow-cpu``. TensorFlow and tfds are imported here only,
and only when a tfds dataset is read or prepared.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import urllib.parse
from collections.abc import Iterable
from typing import Any

import numpy as np

from corel_jax.data.catalog import DatasetInfo
from corel_jax.data.idx import IDX_FILES
from corel_jax.data.split import DatasetNotAvailableError

__all__ = ["builder", "data_dir_of", "download", "how_to_get", "is_ready", "read", "unreachable"]

logger = logging.getLogger(__name__)

_READ_CHUNK = 4096  # examples per read
_CONNECT_TIMEOUT = 5.0  # seconds to wait for each of a dataset's servers
_FILE_FORMAT = "array_record"  # what download() prepares: read without TensorFlow

# How to get the download, by what stopped it (the last part of the message).
AFTER_LOAD = (
    "corel_jax.data.prepare() downloads it with tensorflow-datasets (the commands call it "
    "unless --offline is given)."
)
AFTER_OFFLINE = "Without --offline, corel-jax downloads it with tensorflow-datasets."
AFTER_NO_TFDS = 'pip install "corel-jax[data]" and corel-jax downloads it with tensorflow-datasets.'


def data_dir_of(data_dir: str | os.PathLike | None) -> str:
    """The tfds data directory that ``data_dir=None`` means (tfds's own default)."""
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")


def how_to_get(
    info: DatasetInfo, data_dir: str | os.PathLike | None, *, why: str, then: str = ""
) -> str:
    """The message of a dataset that is not here: why, then the fixes, offline ones first.

    Args:
      info: the dataset.
      data_dir: where it was looked for.
      why: a short clause, e.g. ``"--offline: not downloaded"``.
      then: how the download would happen (e.g. :data:`AFTER_OFFLINE`), or "".

    Returns:
      One paragraph: the catalog's other way (``info.hint``: Debian's
      package, IDX files) when it has one, then the download; datasets that
      only tfds provides get the command that prepares them elsewhere.
    """
    files = ", ".join(f"{stem}.gz" for stems in IDX_FILES.values() for stem in stems)
    text = f"Dataset {info.name!r} is not on this machine ({why})."
    if info.hint:
        text += " " + info.hint.format(files=files)
    if then:
        text += " " + then
    if "idx" not in info.sources:
        where = data_dir_of(data_dir)
        text += (
            f"\nOn a machine with internet access: tfds build {info.tfds_name} --data_dir "
            f"{where} --file_format {_FILE_FORMAT}; then copy {where} here and pass --data-dir "
            "(data_dir=) pointing at it."
        )
    return text


def builder(info: DatasetInfo, data_dir: str | os.PathLike | None):
    """tfds's builder of ``info.tfds_name`` in ``data_dir``; never looks online."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        why = "it is read through tensorflow-datasets, which is not installed"
        raise DatasetNotAvailableError(
            how_to_get(info, data_dir, why=why, then=AFTER_NO_TFDS)
        ) from None
    # try_gcs=False: never look for (or fetch) the dataset on Google's bucket.
    kwargs = {} if data_dir is None else {"data_dir": os.fspath(data_dir)}
    try:
        return tfds.builder(info.tfds_name, try_gcs=False, **kwargs)
    except Exception as err:  # e.g. DatasetNotFoundError in an older tfds
        why = f"tensorflow-datasets cannot build {info.tfds_name!r}: {type(err).__name__}: {err}"
        raise DatasetNotAvailableError(how_to_get(info, data_dir, why=why)) from None


def unreachable(tfds_builder) -> str | None:
    """Why the servers of a builder's downloads cannot be reached, or None when they can.

    Opens (and closes) one TCP connection per server named in the builder's
    download checksums, ``_CONNECT_TIMEOUT`` seconds each; nothing is
    downloaded. A builder that names no servers is assumed reachable.
    """
    try:
        urls = list(tfds_builder.url_infos or {})
    except Exception:  # a builder without registered checksums
        urls = []
    servers = set()
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname:
            servers.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    for host, port in sorted(servers):
        try:
            socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT).close()
        except OSError as err:
            return f"cannot reach {host}:{port}: {err}"
    return None


def download(info: DatasetInfo, data_dir: str | os.PathLike | None) -> None:
    """Downloads and prepares a tfds dataset in ``data_dir``, with tfds's progress bars.

    Raises:
      DatasetNotAvailableError: tfds is not installed, the servers cannot be
        reached (no network), or the download or preparation failed; the
        message says how to get the data otherwise.
    """
    tfds_builder = builder(info, data_dir)
    problem = unreachable(tfds_builder)
    if problem is not None:
        why = f"cannot download it here: {problem}"
        raise DatasetNotAvailableError(how_to_get(info, data_dir, why=why))
    logger.info("downloading %s with tensorflow-datasets into %s", info.tfds_name,
                data_dir_of(data_dir))  # fmt: skip
    try:
        tfds_builder.download_and_prepare(file_format=_FILE_FORMAT)
    except Exception as err:
        why = f"the download failed: {type(err).__name__}: {err}"
        raise DatasetNotAvailableError(how_to_get(info, data_dir, why=why)) from err


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
        filled: tuple[np.ndarray, np.ndarray] | None = None
        start = 0
        for chunk_images, chunk_labels in chunks:
            if filled is None:
                filled = np.empty((n, *chunk_images.shape[1:]), np.uint8), np.empty((n,), np.int64)
            stop = start + chunk_images.shape[0]
            filled[0][start:stop], filled[1][start:stop] = chunk_images, chunk_labels
            start = stop
        if filled is None or start != n:
            raise ValueError(f"expected {n} examples, read {start}.")
        images, labels = filled
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
    missing = f"no tfds data in {data_dir_of(data_dir)}"
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
            missing = str(err)
        raise DatasetNotAvailableError(
            how_to_get(info, data_dir, why=missing, then=AFTER_LOAD)
        ) from None
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
