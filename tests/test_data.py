"""Tests for corel_jax.data: IDX reader, digits, tfds path under mock_data, cache, errors."""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from corel_jax import data

tfds = pytest.importorskip("tensorflow_datasets")


def write_idx(path, array: np.ndarray, *, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def write_mnist_like(folder, n_train=12, n_test=5, *, compress=True):
    rng = np.random.default_rng(0)
    out = {}
    for split, n, (img, lbl) in (
        ("train", n_train, ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")),
        ("test", n_test, ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")),
    ):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / (img + suffix), images, compress=compress)
        write_idx(folder / (lbl + suffix), labels, compress=compress)
        out[split] = (images, labels)
    return out


class TestIdx:
    @pytest.mark.parametrize("compress", [True, False])
    def test_reader_round_trip(self, tmp_path, compress):
        a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
        write_idx(tmp_path / "a.idx", a, compress=compress)
        np.testing.assert_array_equal(data.read_idx(tmp_path / "a.idx"), a)

    def test_bad_magic_and_truncation(self, tmp_path):
        (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
        with pytest.raises(ValueError, match="bad magic"):
            data.read_idx(tmp_path / "bad")
        a = np.zeros((5, 4), np.uint8)
        write_idx(tmp_path / "t", a, compress=False)
        (tmp_path / "t").write_bytes((tmp_path / "t").read_bytes()[:-3])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            data.read_idx(tmp_path / "t")
        (tmp_path / "z.gz").write_bytes(gzip.compress(b"\x00" * 40)[:-10])
        with pytest.raises(ValueError, match="gzip|IDX"):
            data.read_idx(tmp_path / "z.gz")

    @pytest.mark.parametrize("compress", [True, False])
    def test_mnist_from_a_folder(self, tmp_path, compress):
        written = write_mnist_like(tmp_path, compress=compress)
        for split in ("train", "test"):
            s = data.load("mnist", split, data_dir=str(tmp_path))
            np.testing.assert_array_equal(s.images[..., 0], written[split][0])
            np.testing.assert_array_equal(s.labels, written[split][1])
            assert s.images.dtype == np.uint8 and s.labels.dtype == np.int64
            assert s.class_names == tuple(str(i) for i in range(10))

    @pytest.mark.skipif(
        not data.DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist"
    )
    def test_debian_fashion_mnist(self):
        train = data.load("fashion_mnist", "train")
        test = data.load("fashion_mnist", "test")
        assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
        assert set(np.unique(train.labels)) == set(range(10))
        np.testing.assert_array_equal(np.bincount(test.labels), np.full(10, 1000))
        assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
        assert data.default_offline_dataset() == "fashion_mnist"


class TestDigits:
    def test_shapes_split_and_range(self):
        from sklearn.datasets import load_digits

        train, test = data.load("digits", "train"), data.load("digits", "test")
        assert train.images.shape == (1348, 8, 8, 1) and test.images.shape == (449, 8, 8, 1)
        assert train.images.dtype == np.uint8 and train.images.max() == 255
        # the split is a partition of sklearn's data, and deterministic
        ref = load_digits()
        assert len(train) + len(test) == len(ref.target)
        np.testing.assert_array_equal(
            np.sort(np.concatenate([train.labels, test.labels])), np.sort(ref.target)
        )
        np.testing.assert_array_equal(data.load("digits", "train").images, train.images)
        np.testing.assert_allclose(
            np.sort(np.concatenate([train.images, test.images]).reshape(-1)),
            np.sort(np.round(ref.images * 255 / 16).reshape(-1)),
        )


class TestTfds:
    @pytest.mark.parametrize(
        "name,shape,classes",
        [
            ("cifar10", (32, 32, 3), 10),
            ("cifar100", (32, 32, 3), 100),
            ("cifar20", (32, 32, 3), 20),
            ("svhn", (32, 32, 3), 10),
            ("mnist", (28, 28, 1), 10),
            ("imagenet32", (32, 32, 3), 1000),
        ],
    )
    def test_mock_data(self, tmp_path, name, shape, classes):
        with tfds.testing.mock_data(num_examples=11):
            s = data.load(name, "test", data_dir=str(tmp_path / "tfds"), cache_dir=str(tmp_path))
        assert s.images.shape == (11, *shape) and s.images.dtype == np.uint8
        assert s.labels.dtype == np.int64 and s.labels.min() >= 0 and s.labels.max() < classes
        assert len(s.class_names) == classes

    def test_cifar20_reads_the_coarse_labels(self, tmp_path):
        with tfds.testing.mock_data(num_examples=30):
            s = data.load(
                "cifar20", "train", data_dir=str(tmp_path / "tfds"), cache_dir=str(tmp_path)
            )
            src = tfds.data_source("cifar100", split="train", data_dir=str(tmp_path / "tfds"))
            coarse = np.array([int(src[i]["coarse_label"]) for i in range(len(src))])
            fine = np.array([int(src[i]["label"]) for i in range(len(src))])
        np.testing.assert_array_equal(s.labels, coarse)
        assert not np.array_equal(s.labels, fine)
        assert s.class_names[0] == "aquatic_mammals" and s.class_names[-1] == "vehicles_2"

    def test_cache_is_used_and_atomic(self, tmp_path, monkeypatch):
        with tfds.testing.mock_data(num_examples=6):
            first = data.load(
                "cifar10", "train", data_dir=str(tmp_path / "t"), cache_dir=str(tmp_path)
            )
        cached = list(tmp_path.glob("*.npz"))
        assert [p.name for p in cached] == ["cifar10-train-tfds.npz"]
        assert not list(tmp_path.glob("*.tmp"))

        def boom(*a, **k):
            raise AssertionError("decoded again instead of reading the cache")

        monkeypatch.setattr(data, "_load_tfds", boom)
        second = data.load(
            "cifar10", "train", data_dir=str(tmp_path / "t"), cache_dir=str(tmp_path)
        )
        np.testing.assert_array_equal(first.images, second.images)
        assert second.class_names == data.CIFAR10_CLASSES
        # a corrupt cache file is decoded again, not trusted
        cached[0].write_bytes(b"garbage")
        monkeypatch.undo()
        with tfds.testing.mock_data(num_examples=6):
            third = data.load(
                "cifar10", "train", data_dir=str(tmp_path / "t"), cache_dir=str(tmp_path)
            )
        assert third.images.shape == (6, 32, 32, 3)


class TestErrors:
    def test_missing_tfds_dataset_says_how_to_get_it(self, tmp_path):
        with pytest.raises(data.DatasetNotAvailableError, match="download_and_prepare"):
            data.load("cifar10", "test", data_dir=str(tmp_path), cache_dir=str(tmp_path))
        assert not data.available("svhn", data_dir=str(tmp_path))

    def test_missing_mnist_mentions_idx_files(self, tmp_path):
        with pytest.raises(data.DatasetNotAvailableError, match="train-images-idx3-ubyte"):
            data.load("mnist", "train", data_dir=str(tmp_path), cache_dir=str(tmp_path))

    def test_unknown_name_and_split(self):
        with pytest.raises(ValueError, match="Unknown dataset 'cifar11'.*cifar10"):
            data.load("cifar11")
        with pytest.raises(ValueError, match="Unknown split 'valid'.*train"):
            data.load("digits", "valid")


def test_import_does_not_pull_tensorflow():
    code = (
        "import sys, corel_jax.data\n"
        "bad = [m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
