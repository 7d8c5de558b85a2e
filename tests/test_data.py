"""Tests for corel_jax.data: IDX reader, digits, tfds backend, cache, errors.

The tfds backend is tested two ways, both offline: under ``tfds.testing.mock_data``
(random examples with the real datasets' features), and on a tiny dataset that
the test prepares itself with tfds (array_record and tfrecord), which exercises
the real read path, the metadata checks and the cache.
"""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from corel_jax import data

# The official CIFAR-100 superclasses and their classes, as listed on
# https://www.cs.toronto.edu/~kriz/cifar.html, with the names of the dataset's
# ``meta`` file (``fine_label_names`` / ``coarse_label_names``). Labels index
# the alphabetically sorted names.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
FINE_NAMES = sorted(f for fines in CIFAR100_SUPERCLASSES.values() for f in fines)
COARSE_NAMES = sorted(CIFAR100_SUPERCLASSES)
# fine label -> coarse label
COARSE_OF_FINE = np.array(
    [
        COARSE_NAMES.index(next(c for c, fs in CIFAR100_SUPERCLASSES.items() if f in fs))
        for f in FINE_NAMES
    ]
)


# ---------------------------------------------------------------- helpers


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
        monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)
        mine = write_mnist_like(tmp_path / "mine", n_test=4, seed=2)
        s = data.load("fashion_mnist", "test", data_dir=tmp_path / "mine")
        np.testing.assert_array_equal(s.images[..., 0], mine["test"][0])
        # a data_dir without IDX files (e.g. a tfds dir): Debian's files, before tfds
        s = data.load("fashion_mnist", "test", data_dir=tmp_path / "tfds")
        assert len(s) == 7
        assert s.class_names[0] == "T-shirt/top" and s.class_names[9] == "Ankle boot"
        assert data.default_offline_dataset() == "fashion_mnist"
        monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
        assert data.default_offline_dataset() == "digits"

    def test_corrupt_file_in_the_folder_is_an_error(self, tmp_path):
        write_mnist_like(tmp_path)
        stem = data.IDX_FILES["test"][0]
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20))
        with pytest.raises(ValueError, match=stem):
            data.load("mnist", "test", data_dir=tmp_path)

    @pytest.mark.skipif(
        not data.DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist"
    )
    def test_debian_fashion_mnist(self):
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


# --------------------------------------------------------- tfds, mock data


@pytest.fixture
def tfds():
    return pytest.importorskip("tensorflow_datasets")


TFDS_CASES = [
    ("cifar10", (32, 32, 3), 10),
    ("cifar100", (32, 32, 3), 100),
    ("cifar20", (32, 32, 3), 20),
    ("svhn", (32, 32, 3), 10),
    ("mnist", (28, 28, 1), 10),
    ("fashion_mnist", (28, 28, 1), 10),
    ("imagenet32", (32, 32, 3), 1000),
]


class TestTfdsMock:
    @pytest.mark.parametrize("name,shape,classes", TFDS_CASES)
    def test_shapes_dtypes_labels(self, tfds, tmp_path, monkeypatch, name, shape, classes):
        monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
        for split in ("train", "test"):
            with tfds.testing.mock_data(num_examples=11):
                s = data.load(name, split, data_dir=tmp_path / "tfds", cache_dir=tmp_path / "c")
            check_split(s, n=11, shape=shape, num_classes=classes, name=name, split=split)
        # mock data disagrees with tfds's metadata: never cached
        assert not list(tmp_path.glob("c/*"))

    def test_class_names_match_the_official_lists(self, tfds, tmp_path, monkeypatch):
        monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
        with tfds.testing.mock_data(num_examples=3):
            names = {
                n: data.load(n, "test", data_dir=tmp_path, cache_dir=tmp_path).class_names
                for n, _, _ in TFDS_CASES
            }
            fashion_info = tfds.builder("fashion_mnist").info.features["label"].names
        assert names["cifar100"] == tuple(FINE_NAMES) and len(set(FINE_NAMES)) == 100
        assert names["cifar20"] == tuple(COARSE_NAMES)
        assert names["cifar10"][:3] == ("airplane", "automobile", "bird")
        assert names["fashion_mnist"] == tuple(fashion_info)  # same names as the IDX path
        assert names["svhn"] == names["mnist"] == tuple(str(i) for i in range(10))
        assert names["imagenet32"][0] == "n02119789" and len(set(names["imagenet32"])) == 1000

    def test_cifar20_reads_the_coarse_labels(self, tfds, tmp_path):
        kw = dict(data_dir=tmp_path / "tfds", cache_dir=tmp_path)
        with tfds.testing.mock_data(num_examples=40):
            s = data.load("cifar20", "train", **kw)
            src = tfds.data_source("cifar100", split="train", data_dir=tmp_path / "tfds")
            coarse = np.array([int(src[i]["coarse_label"]) for i in range(len(src))])
            fine = np.array([int(src[i]["label"]) for i in range(len(src))])
        np.testing.assert_array_equal(s.labels, coarse)
        assert not np.array_equal(coarse, fine)  # the two features do differ here

    def test_cifar20_follows_the_superclass_table(self, tfds, tmp_path, rng):
        # A mocked source whose coarse labels follow the official table.
        fine = rng.integers(0, 100, size=60)
        images = rng.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8)
        examples = [
            {
                "image": images[i],
                "label": int(fine[i]),
                "coarse_label": int(COARSE_OF_FINE[fine[i]]),
            }
            for i in range(60)
        ]

        def as_data_source(builder, split, **kwargs):
            return examples

        kw = dict(data_dir=tmp_path / "tfds", cache_dir=tmp_path)
        with tfds.testing.mock_data(as_data_source_fn=as_data_source):
            c100 = data.load("cifar100", "train", **kw)
            c20 = data.load("cifar20", "train", **kw)
        np.testing.assert_array_equal(c100.images, images)
        np.testing.assert_array_equal(c100.labels, fine)
        np.testing.assert_array_equal(c20.labels, COARSE_OF_FINE[c100.labels])
        for f, c in zip(c100.labels, c20.labels, strict=True):
            assert c100.class_names[f] in CIFAR100_SUPERCLASSES[c20.class_names[c]]


# -------------------------------------------- tfds, a really prepared dataset


def _prepare_fake(tfds, data_dir, file_format):
    """Prepares 'corel_fake_images' (train 9 / validation 5, 32x32x3 PNG) in data_dir."""

    class CorelFakeImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        "image": tfds.features.Image(shape=(32, 32, 3)),
                        "label": tfds.features.ClassLabel(names=["a", "b", "c", "d"]),
                    }
                ),
            )

        def _split_generators(self, dl_manager):
            return {
                "train": self._generate_examples(9, 0),
                "validation": self._generate_examples(5, 100),
            }

        def _generate_examples(self, n, offset):
            for i in range(n):
                yield i, {"image": fake_image(offset + i), "label": (offset + i) % 4}

    builder = CorelFakeImages(data_dir=str(data_dir), file_format=file_format)
    builder.download_and_prepare()
    return builder


def fake_image(k):
    return (np.arange(32 * 32 * 3).reshape(32, 32, 3) * (k + 1) % 251).astype(np.uint8)


@pytest.fixture(scope="module", params=["array_record", "tfrecord"])
def prepared(request, tmp_path_factory):
    """A tfds data dir holding 'corel_fake_images' in one file format."""
    tfds = pytest.importorskip("tensorflow_datasets")
    pytest.importorskip("tensorflow")  # tfds writes examples with TensorFlow
    root = tmp_path_factory.mktemp(f"tfds_{request.param}")
    _prepare_fake(tfds, root, request.param)
    return root, request.param


@pytest.fixture
def fake_as_cifar10_and_imagenet(monkeypatch):
    """Routes 'cifar10' and 'imagenet32' to the prepared fake dataset."""
    monkeypatch.setitem(data._TFDS, "cifar10", ("corel_fake_images", "label"))
    monkeypatch.setitem(data._TFDS, "imagenet32", ("corel_fake_images", "label"))


class TestTfdsPrepared:
    def test_reads_the_prepared_examples(
        self, prepared, fake_as_cifar10_and_imagenet, tmp_path, monkeypatch
    ):
        prepared, file_format = prepared
        via_tensorflow = []
        real = data._read_with_tensorflow
        monkeypatch.setattr(
            data, "_read_with_tensorflow", lambda *a: via_tensorflow.append(1) or real(*a)
        )
        train = data.load("cifar10", "train", data_dir=prepared, cache_dir=tmp_path)
        # array_record is read without TensorFlow, tfrecord through tf.data
        assert bool(via_tensorflow) == (file_format == "tfrecord")
        check_split(train, n=9, shape=(32, 32, 3), num_classes=10, name="cifar10", split="train")
        # tfds shuffles by key hash: compare as a set of (label, image) pairs
        expected = {(k % 4, fake_image(k).tobytes()) for k in range(9)}
        assert {
            (int(y), x.tobytes()) for x, y in zip(train.images, train.labels, strict=True)
        } == expected
        # imagenet32's "test" is tfds's "validation"; class names from tfds's metadata
        test = data.load("imagenet32", "test", data_dir=prepared, cache_dir=tmp_path)
        assert {(int(y), x.tobytes()) for x, y in zip(test.images, test.labels, strict=True)} == {
            (k % 4, fake_image(k).tobytes()) for k in range(100, 105)
        }
        assert test.class_names == ("a", "b", "c", "d")
        assert data.available("imagenet32", data_dir=prepared)

    def test_cache_is_written_once_and_read_back(
        self, prepared, fake_as_cifar10_and_imagenet, tmp_path, monkeypatch
    ):
        kw = dict(data_dir=prepared[0], cache_dir=tmp_path / "cache")
        first = data.load("cifar10", "train", **kw)
        files = sorted(p.name for p in (tmp_path / "cache").iterdir())
        assert len(files) == 1 and files[0].startswith("cifar10-train-tfds-")
        assert files[0].endswith(".npz")

        def must_not_decode(*args, **kwargs):
            raise AssertionError("decoded again instead of reading the cache")

        monkeypatch.setattr(data, "_read_tfds", must_not_decode)
        monkeypatch.setattr(data, "_tfds_builder", must_not_decode)
        second = data.load("cifar10", "train", **kw)
        np.testing.assert_array_equal(second.images, first.images)
        np.testing.assert_array_equal(second.labels, first.labels)
        assert second.class_names == first.class_names and second.labels.dtype == np.int64
        # another data dir is another cache entry: decoding it hits the stub
        with pytest.raises(AssertionError, match="decoded again"):
            data.load("cifar10", "train", data_dir=tmp_path / "other", cache_dir=kw["cache_dir"])

    def test_corrupt_cache_is_decoded_again(self, prepared, fake_as_cifar10_and_imagenet, tmp_path):
        kw = dict(data_dir=prepared[0], cache_dir=tmp_path)
        first = data.load("cifar10", "train", **kw)
        (path,) = tmp_path.glob("*.npz")
        path.write_bytes(path.read_bytes()[:100])  # a cut-off file (e.g. copied half-way)
        again = data.load("cifar10", "train", **kw)
        np.testing.assert_array_equal(again.images, first.images)
        np.testing.assert_array_equal(np.load(path)["labels"], first.labels)  # rewritten

    def test_interrupted_cache_write_leaves_no_broken_file(
        self, prepared, fake_as_cifar10_and_imagenet, tmp_path, monkeypatch
    ):
        kw = dict(data_dir=prepared[0], cache_dir=tmp_path)
        first = data.load("cifar10", "train", **kw)
        (path,) = tmp_path.glob("*.npz")
        before = path.read_bytes()
        real_savez = np.savez

        def savez_then_die(file, **arrays):
            real_savez(file, **{k: v[:1] for k, v in arrays.items()})  # a partial write ...
            raise KeyboardInterrupt  # ... then the process is interrupted

        monkeypatch.setattr(np, "savez", savez_then_die)
        path.unlink()
        with pytest.raises(KeyboardInterrupt):
            data.load("cifar10", "train", **kw)
        assert list(tmp_path.iterdir()) == []  # neither a partial cache nor a temp file
        path.write_bytes(before)
        with pytest.raises(KeyboardInterrupt):  # an existing cache is replaced or kept whole
            data._write_cache(path, first)
        assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


# ------------------------------------------------------------------- errors


class TestErrors:
    def test_missing_tfds_dataset_says_how_to_get_it(self, tfds, tmp_path):
        for name, tfds_name in (("cifar10", "cifar10"), ("svhn", "svhn_cropped")):
            with pytest.raises(data.DatasetNotAvailableError) as err:
                data.load(name, "test", data_dir=tmp_path, cache_dir=tmp_path)
            msg = str(err.value)
            assert f"tfds build {tfds_name} --data_dir {tmp_path}" in msg
            assert "download_and_prepare" in msg
            assert not data.available(name, data_dir=tmp_path)
        with pytest.raises(data.DatasetNotAvailableError, match="image-net.org"):
            data.load("imagenet32", "test", data_dir=tmp_path, cache_dir=tmp_path)
        assert list(tmp_path.iterdir()) == []  # nothing downloaded or cached

    def test_missing_mnist_mentions_the_idx_files(self, tfds, tmp_path, monkeypatch):
        with pytest.raises(data.DatasetNotAvailableError, match="train-images-idx3-ubyte.gz"):
            data.load("mnist", "train", data_dir=tmp_path, cache_dir=tmp_path)
        monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
        with pytest.raises(data.DatasetNotAvailableError, match="apt-get install dataset-fashion"):
            data.load("fashion_mnist", "train", data_dir=tmp_path, cache_dir=tmp_path)
        assert not data.available("fashion_mnist", data_dir=tmp_path)

    def test_without_tensorflow_datasets(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
        with pytest.raises(data.DatasetNotAvailableError, match="pip install tensorflow-datasets"):
            data.load("cifar10", "train", data_dir=tmp_path, cache_dir=tmp_path)

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
