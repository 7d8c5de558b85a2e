"""Tests for corel_jax.data.idx and the IDX datasets (mnist, fashion_mnist) of corel_jax.data."""

import gzip

import numpy as np
import pytest
from data_helpers import check_split, use_idx_dirs, write_idx, write_mnist_like
from references import fashion_mnist

from corel_jax import data

# ---------------------------------------------------------------------- IDX


class TestReadIdx:
    @pytest.mark.parametrize("compress", [True, False])
    @pytest.mark.parametrize(
        "type_code,dtype",
        [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")],
    )
    def test_round_trip(self, tmp_path, rng, compress, type_code, dtype):
        a = (rng.standard_normal((2, 3, 4)) * 100).astype(dtype)
        write_idx(tmp_path / "a", a, compress=compress, type_code=type_code, big_endian_dtype=dtype)
        out = data.read_idx(tmp_path / "a")
        assert out.shape == (2, 3, 4) and out.dtype == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(out, a)

    def test_big_endian_dims_and_values_by_hand(self, tmp_path):
        # 2 int32 values 258 and -1, shape (2,): every byte written by hand.
        raw = b"\x00\x00\x0c\x01" + b"\x00\x00\x00\x02" + b"\x00\x00\x01\x02" + b"\xff\xff\xff\xff"
        (tmp_path / "x").write_bytes(raw)
        np.testing.assert_array_equal(data.read_idx(tmp_path / "x"), [258, -1])

    def test_bad_magic(self, tmp_path):
        for raw in (b"\x01\x02\x08\x01\x00\x00\x00\x02ab", b"\x00\x00\x07\x01\x00\x00\x00\x01a"):
            (tmp_path / "bad").write_bytes(raw)
            with pytest.raises(ValueError, match="bad magic"):
                data.read_idx(tmp_path / "bad")
        (tmp_path / "short").write_bytes(b"\x00")
        with pytest.raises(ValueError, match="not an IDX file"):
            data.read_idx(tmp_path / "short")

    def test_truncated_and_too_long(self, tmp_path):
        write_idx(tmp_path / "t", np.zeros((5, 4), np.uint8), compress=False)
        raw = (tmp_path / "t").read_bytes()
        (tmp_path / "t").write_bytes(raw[:-3])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            data.read_idx(tmp_path / "t")
        (tmp_path / "t").write_bytes(raw + b"\x00")
        with pytest.raises(ValueError, match="truncated or corrupt"):
            data.read_idx(tmp_path / "t")
        (tmp_path / "t").write_bytes(raw[:9])  # header needs 4 + 2 * 4 bytes
        with pytest.raises(ValueError, match="truncated IDX header"):
            data.read_idx(tmp_path / "t")

    def test_corrupt_gzip(self, tmp_path):
        write_idx(tmp_path / "z.gz", np.zeros((50, 4), np.uint8), compress=True)
        raw = (tmp_path / "z.gz").read_bytes()
        (tmp_path / "z.gz").write_bytes(raw[:-10])  # truncated stream
        with pytest.raises(ValueError, match="gzip"):
            data.read_idx(tmp_path / "z.gz")
        (tmp_path / "z.gz").write_bytes(raw[:12] + b"\xff" * 8 + raw[20:])  # garbled deflate
        with pytest.raises(ValueError, match="gzip"):
            data.read_idx(tmp_path / "z.gz")


class TestIdxDatasets:
    @pytest.mark.parametrize("compress", [True, False])
    def test_mnist_from_a_folder(self, tmp_path, compress):
        written = write_mnist_like(tmp_path, compress=compress)
        for split in ("train", "test"):
            s = data.load("mnist", split, data_dir=str(tmp_path), cache_dir=tmp_path / "c")
            check_split(s, n=len(written[split][1]), shape=(28, 28, 1), num_classes=10,
                        name="mnist", split=split)  # fmt: skip
            np.testing.assert_array_equal(s.images[..., 0], written[split][0])
            np.testing.assert_array_equal(s.labels, written[split][1])
            assert s.class_names == tuple(str(i) for i in range(10))
        assert data.available("mnist", data_dir=tmp_path)
        assert not (tmp_path / "c").exists()  # IDX files are read directly, not cached

    def test_subfolder_named_after_the_dataset(self, tmp_path):
        written = write_mnist_like(tmp_path / "fashion-mnist", seed=3)
        s = data.load("fashion_mnist", "test", data_dir=tmp_path)
        np.testing.assert_array_equal(s.labels, written["test"][1])

    def test_explicit_data_dir_wins_over_debian(self, tmp_path, monkeypatch):
        debian = tmp_path / "debian"
        write_mnist_like(debian, n_test=7, seed=1)
        use_idx_dirs(monkeypatch, debian)
        mine = write_mnist_like(tmp_path / "mine", n_test=4, seed=2)
        s = data.load("fashion_mnist", "test", data_dir=tmp_path / "mine")
        np.testing.assert_array_equal(s.images[..., 0], mine["test"][0])
        # a data_dir without IDX files (e.g. a tfds dir): Debian's files, before tfds
        s = data.load("fashion_mnist", "test", data_dir=tmp_path / "tfds")
        assert len(s) == 7
        assert s.class_names[0] == "T-shirt/top" and s.class_names[9] == "Ankle boot"
        assert data.default_offline_dataset() == "fashion_mnist"
        use_idx_dirs(monkeypatch, tmp_path / "absent")
        assert data.default_offline_dataset() == "digits"

    def test_corrupt_file_in_the_folder_is_an_error(self, tmp_path):
        write_mnist_like(tmp_path)
        stem = data.IDX_FILES["test"][0]
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20))
        with pytest.raises(ValueError, match=stem):
            data.load("mnist", "test", data_dir=tmp_path)

    def test_debian_fashion_mnist(self):
        fashion_mnist("reading Debian's Fashion-MNIST (the data of the paper's tables)")
        train, test = data.load("fashion_mnist", "train"), data.load("fashion_mnist", "test")
        check_split(train, n=60000, shape=(28, 28, 1), num_classes=10,
                    name="fashion_mnist", split="train")  # fmt: skip
        check_split(test, n=10000, shape=(28, 28, 1), num_classes=10,
                    name="fashion_mnist", split="test")  # fmt: skip
        # Fashion-MNIST is balanced: 6,000 / 1,000 images per class
        np.testing.assert_array_equal(np.bincount(train.labels), np.full(10, 6000))
        np.testing.assert_array_equal(np.bincount(test.labels), np.full(10, 1000))
        assert train.class_names == (
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        )  # fmt: skip
        assert train.images.min() == 0 and train.images.max() == 255
        assert data.default_offline_dataset() == "fashion_mnist"
        assert data.available("fashion_mnist")
