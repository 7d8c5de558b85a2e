"""Tests for corel_jax.data's tfds reader, cache and downloads, offline.

Downloads are tested under ``tfds.testing.mock_data`` with the download
recorded instead of made. Reads, two ways: under ``tfds.testing.mock_data`` (random examples with the real
datasets' features), and on a tiny dataset that the test prepares itself with
tfds (array_record and tfrecord), which exercises the real read path, the
metadata checks and the cache.
"""

import socket

import numpy as np
import pytest
from data_helpers import (
    check_split,
    network,
    recording_downloads,
    use_idx_dirs,
    use_tfds_name,
    write_mnist_like,
)
from references import needs

from corel_jax import data
from corel_jax.data import cache, tfds_reader

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


# --------------------------------------------------------- tfds, mock data


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
        use_idx_dirs(monkeypatch, tmp_path / "absent")
        for split in ("train", "test"):
            with tfds.testing.mock_data(num_examples=11):
                s = data.load(name, split, data_dir=tmp_path / "tfds", cache_dir=tmp_path / "c")
            check_split(s, n=11, shape=shape, num_classes=classes, name=name, split=split)
        # mock data disagrees with tfds's metadata: never cached
        assert not list(tmp_path.glob("c/*"))

    def test_class_names_match_the_official_lists(self, tfds, tmp_path, monkeypatch):
        use_idx_dirs(monkeypatch, tmp_path / "absent")
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
    tfds = needs("tensorflow_datasets", "reading files that TFDS wrote")
    needs("tensorflow", "reading files that TFDS wrote")  # tfds writes them with TensorFlow
    root = tmp_path_factory.mktemp(f"tfds_{request.param}")
    _prepare_fake(tfds, root, request.param)
    return root, request.param


@pytest.fixture
def fake_as_cifar10_and_imagenet(monkeypatch):
    """Routes 'cifar10' and 'imagenet32' to the prepared fake dataset."""
    use_tfds_name(monkeypatch, "cifar10", "corel_fake_images")
    use_tfds_name(monkeypatch, "imagenet32", "corel_fake_images")


class TestTfdsPrepared:
    def test_reads_the_prepared_examples(
        self, prepared, fake_as_cifar10_and_imagenet, tmp_path, monkeypatch
    ):
        prepared, file_format = prepared
        via_tensorflow = []
        real = tfds_reader._read_with_tensorflow
        monkeypatch.setattr(
            tfds_reader, "_read_with_tensorflow", lambda *a: via_tensorflow.append(1) or real(*a)
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

        monkeypatch.setattr(tfds_reader, "read_split", must_not_decode)
        monkeypatch.setattr(tfds_reader, "builder", must_not_decode)
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
            cache.write_cache(path, first)
        assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


# ------------------------------------------- prepare: download, or say how


class TestPrepare:
    """``data.prepare`` downloads through tfds when it may and can; otherwise a clear error."""

    def test_downloads_a_missing_dataset_with_tfds(self, tfds, tmp_path, monkeypatch):
        network(monkeypatch, up=True)
        kw = dict(data_dir=tmp_path / "tfds", cache_dir=tmp_path / "cache")
        with tfds.testing.mock_data(num_examples=7), recording_downloads(tfds) as calls:
            assert data.prepare("cifar10", **kw) is True
            split = data.load("cifar10", "train", **kw)
        assert calls == [("cifar10", {"file_format": "array_record"})]
        check_split(split, n=7, shape=(32, 32, 3), num_classes=10, name="cifar10", split="train")

    @pytest.mark.parametrize("case", ["offline", "no network"])
    def test_otherwise_says_how_to_prepare_it(self, tfds, tmp_path, monkeypatch, case):
        network(monkeypatch, up=False)
        with tfds.testing.mock_data(num_examples=7), recording_downloads(tfds) as calls:
            with pytest.raises(data.DatasetNotAvailableError) as err:
                data.prepare("cifar10", data_dir=tmp_path, download=case != "offline")
        assert calls == []  # no download was even tried
        msg = str(err.value)
        assert f"tfds build cifar10 --data_dir {tmp_path} --file_format array_record" in msg
        if case == "offline":
            assert "--offline" in msg and "Without --offline, corel-jax downloads it" in msg
        else:
            assert "cannot download it here: cannot reach www.cs.toronto.edu:443" in msg
        assert list(tmp_path.iterdir()) == []

    def test_a_failed_download_says_why(self, tfds, tmp_path, monkeypatch):
        network(monkeypatch, up=True)
        failure = ConnectionError("connection reset")
        with tfds.testing.mock_data(num_examples=7), recording_downloads(tfds, error=failure):
            with pytest.raises(data.DatasetNotAvailableError) as err:
                data.prepare("svhn", data_dir=tmp_path)
        assert "the download failed: ConnectionError: connection reset" in str(err.value)
        assert "tfds build svhn_cropped" in str(err.value)

    def test_data_that_is_here_is_left_alone(self, tfds, tmp_path, monkeypatch):
        network(monkeypatch, up=True)
        write_mnist_like(tmp_path / "idx")
        use_idx_dirs(monkeypatch, tmp_path / "absent")
        with recording_downloads(tfds) as calls:
            assert data.prepare("digits") is False
            assert data.prepare("fashion_mnist", data_dir=tmp_path / "idx") is False
            assert data.prepare("mnist", data_dir=tmp_path / "idx", download=False) is False
        assert calls == []

    def test_unreachable_opens_one_connection_per_server(self):
        class Builder:  # what unreachable() reads of a tfds builder
            url_infos = {}

        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there any more: the connection is refused
        try:
            port = listening.getsockname()[1]
            Builder.url_infos = {
                f"http://127.0.0.1:{port}/a.tgz": 1,
                f"http://127.0.0.1:{port}/b": 2,
            }
            assert tfds_reader.unreachable(Builder()) is None
            Builder.url_infos[f"http://127.0.0.1:{closed_port}/c"] = 3
            assert tfds_reader.unreachable(Builder()).startswith(
                f"cannot reach 127.0.0.1:{closed_port}:"
            )
            Builder.url_infos = {}
            assert tfds_reader.unreachable(Builder()) is None  # no servers named: try
        finally:
            listening.close()
