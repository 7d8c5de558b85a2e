"""Tests for corel_jax.data's entry points and catalog: digits, errors, sources, imports."""

import subprocess
import sys

import numpy as np
import pytest
from data_helpers import check_split, use_idx_dirs
from references import needs

from corel_jax import data

# ------------------------------------------------------------------- digits


class TestDigits:
    def test_shapes_values_and_split(self):
        from sklearn.datasets import load_digits

        train, test = data.load("digits", "train"), data.load("digits", "test")
        check_split(train, n=1348, shape=(8, 8, 1), num_classes=10, name="digits", split="train")
        check_split(test, n=449, shape=(8, 8, 1), num_classes=10, name="digits", split="test")
        assert train.images.min() == 0 and train.images.max() == 255
        # train + test is exactly sklearn's data, pixels scaled 0..16 -> 0..255
        ref = load_digits()
        ref_rows = np.concatenate(
            [np.round(ref.images.reshape(-1, 64) * 255 / 16), ref.target[:, None]], axis=1
        )
        ours = np.concatenate(
            [
                np.concatenate([train.images, test.images]).reshape(-1, 64),
                np.concatenate([train.labels, test.labels])[:, None],
            ],
            axis=1,
        ).astype(np.float64)
        np.testing.assert_array_equal(
            ours[np.lexsort(ours.T[::-1])], ref_rows[np.lexsort(ref_rows.T[::-1])]
        )
        # every class is in both splits; the split is deterministic
        assert set(train.labels) == set(test.labels) == set(range(10))
        again = data.load("digits", "train")
        np.testing.assert_array_equal(again.images, train.images)
        np.testing.assert_array_equal(again.labels, train.labels)
        assert data.available("digits")


# ------------------------------------------------------------------- errors


class TestErrors:
    def test_missing_tfds_dataset_says_how_to_get_it(self, tfds, tmp_path):
        for name, tfds_name in (("cifar10", "cifar10"), ("svhn", "svhn_cropped")):
            with pytest.raises(data.DatasetNotAvailableError) as err:
                data.load(name, "test", data_dir=tmp_path, cache_dir=tmp_path)
            msg = str(err.value)
            assert f"tfds build {tfds_name} --data_dir {tmp_path}" in msg
            assert "corel_jax.data.prepare() downloads it" in msg
            assert not data.available(name, data_dir=tmp_path)
        with pytest.raises(data.DatasetNotAvailableError, match="image-net.org"):
            data.load("imagenet32", "test", data_dir=tmp_path, cache_dir=tmp_path)
        assert list(tmp_path.iterdir()) == []  # nothing downloaded or cached

    def test_missing_mnist_mentions_the_idx_files(self, tfds, tmp_path, monkeypatch):
        with pytest.raises(data.DatasetNotAvailableError, match="train-images-idx3-ubyte.gz"):
            data.load("mnist", "train", data_dir=tmp_path, cache_dir=tmp_path)
        use_idx_dirs(monkeypatch, tmp_path / "absent")
        with pytest.raises(data.DatasetNotAvailableError, match="apt-get install dataset-fashion"):
            data.load("fashion_mnist", "train", data_dir=tmp_path, cache_dir=tmp_path)
        assert not data.available("fashion_mnist", data_dir=tmp_path)

    @pytest.mark.parametrize("tfds_installed", [True, False])
    def test_missing_fashion_mnist_leads_with_the_offline_fix(
        self, tmp_path, monkeypatch, tfds_installed
    ):
        """One paragraph whose first advice works without a network: Debian's package or IDX files."""
        use_idx_dirs(monkeypatch, tmp_path / "absent")
        if not tfds_installed:
            monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
        else:
            needs("tensorflow_datasets", "loading through TFDS")
        with pytest.raises(data.DatasetNotAvailableError) as err:
            data.prepare("fashion_mnist", data_dir=tmp_path, download=False)
        msg = str(err.value)
        assert "\n" not in msg  # one paragraph
        fixes = msg.split(").", 1)[1]  # after "not on this machine (why)."
        assert fixes.lstrip().startswith("Offline: sudo apt-get install dataset-fashion-mnist")
        assert fixes.index("--data-dir") < fixes.index("tensorflow-datasets")
        assert "train-images-idx3-ubyte.gz" in msg and "tfds build" not in msg
        assert list(tmp_path.iterdir()) == []

    def test_without_tensorflow_datasets(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
        with pytest.raises(
            data.DatasetNotAvailableError, match="tensorflow-datasets, which is not"
        ):
            data.load("cifar10", "train", data_dir=tmp_path, cache_dir=tmp_path)
        with pytest.raises(data.DatasetNotAvailableError, match=r'pip install "corel-jax\[data\]"'):
            data.prepare("cifar10", data_dir=tmp_path, cache_dir=tmp_path)

    def test_unknown_name_and_split(self):
        with pytest.raises(ValueError, match=r"name='cifar11'.*'cifar10'"):
            data.load("cifar11")
        with pytest.raises(ValueError, match=r"split='valid'.*'train', 'test'"):
            data.load("digits", "valid")
        with pytest.raises(ValueError, match="name='imagenet'"):
            data.available("imagenet")
        with pytest.raises(TypeError, match="name must be a str"):
            data.load(10)

    def test_split_checks_its_arrays(self):
        with pytest.raises(ValueError, match="images must be"):
            data.Split(np.zeros((3, 8, 8), np.uint8), np.zeros(3, np.int64), ("a",), "x", "train")
        with pytest.raises(ValueError, match="labels must have shape"):
            data.Split(np.zeros((3, 8, 8, 1), np.uint8), np.zeros(2, np.int64), ("a",), "x", "t")


def test_import_does_not_pull_tensorflow():
    code = (
        "import sys, corel_jax.data\n"
        "bad = [m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ catalog


class TestCatalog:
    def test_every_entry_is_complete(self):
        assert data.DATASETS == tuple(data.CATALOG)
        for name, d in data.CATALOG.items():
            assert d.name == name
            assert d.sources and set(d.sources) <= set(data.catalog.SOURCES), name
            assert len(d.sizes) == len(data.SPLITS) and len(d.image_shape) == 3
            if "tfds" in d.sources:
                assert d.tfds_name, name
            if d.class_names is not None:
                assert len(set(d.class_names)) == len(d.class_names), name
        assert data.CATALOG["imagenet32"].tfds_split("test") == "validation"
        assert data.CATALOG["cifar20"].label_key == "coarse_label"

    def test_split_says_where_it_was_read_from(self, tmp_path, monkeypatch):
        from data_helpers import write_mnist_like

        assert data.load("digits", "test").source == "scikit-learn (embedded)"
        write_mnist_like(tmp_path / "debian")
        use_idx_dirs(monkeypatch, tmp_path / "debian")
        assert data.load("fashion_mnist", "test").source == str(tmp_path / "debian")
        assert data.default_location("fashion_mnist").startswith(
            f"IDX files in {tmp_path / 'debian'}, else tfds data dir"
        )
        assert data.default_location("digits") == "scikit-learn (embedded)"

    def test_take(self):
        split = data.load("digits", "test")
        assert len(split.take(10)) == 10 and split.take(None) is split
        np.testing.assert_array_equal(split.take(10).labels, split.labels[:10])

    def test_digits_without_scikit_learn_names_the_extra(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
        with pytest.raises(ImportError, match=r'pip install "corel-jax\[eval\]"'):
            data.load("digits", "train")
