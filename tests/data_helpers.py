"""Helpers of the data tests: IDX writers, split checks, catalog patches, fake downloads."""

import contextlib
import dataclasses
import gzip
import struct
from unittest import mock

import numpy as np

from corel_jax import data


def write_idx(path, array, *, compress, type_code=0x08, big_endian_dtype=">u1"):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">I", s) for s in array.shape
    )
    raw = header + np.ascontiguousarray(array, dtype=big_endian_dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def write_mnist_like(folder, n_train=12, n_test=5, *, compress=True, seed=0):
    """Writes the four IDX files; returns {split: (images, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        img_stem, lbl_stem = data.IDX_FILES[split]
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / (img_stem + suffix), images, compress=compress)
        write_idx(folder / (lbl_stem + suffix), labels, compress=compress)
        out[split] = (images, labels)
    return out


def check_split(s, *, n, shape, num_classes, name, split):
    assert s.images.shape == (n, *shape) and s.images.dtype == np.uint8
    assert s.labels.shape == (n,) and s.labels.dtype == np.int64
    assert s.labels.min() >= 0 and s.labels.max() < num_classes
    assert len(s.class_names) == s.num_classes == num_classes
    assert (s.name, s.split, len(s)) == (name, split, n)


def use_idx_dirs(monkeypatch, *folders):
    """Makes fashion_mnist's default IDX folders (Debian's) ``folders`` for one test."""
    info = dataclasses.replace(data.CATALOG["fashion_mnist"], idx_dirs=tuple(folders))
    monkeypatch.setitem(data.CATALOG, "fashion_mnist", info)


def use_tfds_name(monkeypatch, name, tfds_name):
    """Reads dataset ``name`` from the tfds dataset ``tfds_name`` for one test."""
    info = dataclasses.replace(data.CATALOG[name], tfds_name=tfds_name)
    monkeypatch.setitem(data.CATALOG, name, info)


@contextlib.contextmanager
def recording_downloads(tfds, *, error=None):
    """Replaces tfds's ``download_and_prepare`` by a recorder; yields its calls.

    Inside ``tfds.testing.mock_data`` (which makes the download a no-op and
    fakes the reads), so nothing is downloaded: the calls say what would be.
    """
    calls = []

    def download_and_prepare(self, **kwargs):
        calls.append((self.name, kwargs))
        if error is not None:
            raise error

    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare):
        yield calls


def network(monkeypatch, up: bool):
    """Makes every dataset server reachable (``up``) or not, without touching the network."""
    from corel_jax.data import tfds_reader

    problem = None if up else "cannot reach www.cs.toronto.edu:443: no network (test)"
    monkeypatch.setattr(tfds_reader, "unreachable", lambda builder: problem)
