"""What each dataset is: one table, :data:`CATALOG`, read by every loader.

Each entry says where the data comes from (its ``sources``, tried in order),
its image shape, its class names, its tfds name and label feature, the folders
searched by default and how to get it when it is missing. Adding a dataset is
adding a row here (and, for a new kind of source, a reader in
:mod:`corel_jax.data.loading`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

SPLITS: tuple[str, ...] = ("train", "test")
# Kinds of source a dataset can be read from (see corel_jax.data.loading).
SOURCES: tuple[str, ...] = ("sklearn", "idx", "tfds", "generated")

# What your own images may be converted to (corel_jax.data.folder): grayscale (1 channel) or RGB.
COLORS: tuple[str, ...] = ("gray", "rgb")

# Where Debian's ``dataset-fashion-mnist`` package puts the gzipped IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

DIGIT_NAMES: tuple[str, ...] = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
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
# SPHERES (corel_jax.data.spheres): ten small spheres and the one that encloses them.
SPHERES_CLASSES: tuple[str, ...] = (*(f"sphere {i}" for i in range(10)), "enclosing sphere")
# CIFAR-100's 20 superclasses in coarse-label order (its ``coarse_label_names``).
CIFAR20_CLASSES: tuple[str, ...] = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One dataset: what it is and where it is read from.

    Attributes:
      name: the name :func:`corel_jax.data.load` takes.
      sources: kinds of source tried in order, from :data:`SOURCES`.
      image_shape: ``(H, W, C)`` of one image.
      sizes: ``(train, test)`` numbers of examples of the complete splits.
      class_names: one name per label, or None to take them from tfds's
        metadata (imagenet32's 1,000 WordNet ids).
      tfds_name: the tensorflow-datasets name (``"tfds"`` source).
      label_key: the tfds feature holding the label.
      tfds_splits: ``{our split: tfds split}`` where they differ.
      idx_dirs: folders searched for IDX files when no ``data_dir`` has them.
      hint: how to get the data besides tfds's download (e.g. offline), the first
        advice of the "not on this machine" message; ``{files}`` stands for
        the IDX file names.
    """

    name: str
    sources: tuple[str, ...]
    image_shape: tuple[int, int, int]
    sizes: tuple[int, int]
    class_names: tuple[str, ...] | None
    tfds_name: str | None = None
    label_key: str = "label"
    tfds_splits: Mapping[str, str] = dataclasses.field(default_factory=dict)
    idx_dirs: tuple[Path, ...] = ()
    hint: str = ""

    def tfds_split(self, split: str) -> str:
        """The tfds split that holds our ``split``."""
        return self.tfds_splits.get(split, split)


# How to get a dataset without tensorflow-datasets; leads the "not on this machine" message.
_IDX_HINT = "Offline: pass --data-dir (data_dir=) a folder holding its four IDX files ({files})."
_FASHION_HINT = (
    "Offline: sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu; read from "
    f"{DEBIAN_FASHION_MNIST} automatically), or pass --data-dir (data_dir=) a folder holding "
    "its four IDX files ({files})."
)
_IMAGENET_HINT = (
    "imagenet_resized needs the downsampled ImageNet archives Imagenet32_train_npz.zip and "
    "Imagenet32_val_npz.zip (about 3 GB) from https://image-net.org (registered users only)."
)
_DEBIAN = (DEBIAN_FASHION_MNIST,)
_VALIDATION = {"test": "validation"}  # imagenet32's test split is ImageNet's validation set

# fmt: off
CATALOG: dict[str, DatasetInfo] = {d.name: d for d in (
    #           name             sources          image shape  (train, test)     class names            tfds name, label feature, ...
    DatasetInfo("digits",        ("sklearn",),    (8, 8, 1),   (1348, 449),      DIGIT_NAMES),
    DatasetInfo("fashion_mnist", ("idx", "tfds"), (28, 28, 1), (60000, 10000),   FASHION_MNIST_CLASSES, "fashion_mnist", idx_dirs=_DEBIAN, hint=_FASHION_HINT),
    DatasetInfo("mnist",         ("idx", "tfds"), (28, 28, 1), (60000, 10000),   DIGIT_NAMES,           "mnist", hint=_IDX_HINT),
    DatasetInfo("cifar10",       ("tfds",),       (32, 32, 3), (50000, 10000),   CIFAR10_CLASSES,       "cifar10"),
    DatasetInfo("cifar100",      ("tfds",),       (32, 32, 3), (50000, 10000),   CIFAR100_CLASSES,      "cifar100"),
    DatasetInfo("cifar20",       ("tfds",),       (32, 32, 3), (50000, 10000),   CIFAR20_CLASSES,       "cifar100", "coarse_label"),
    DatasetInfo("svhn",          ("tfds",),       (32, 32, 3), (73257, 26032),   DIGIT_NAMES,           "svhn_cropped"),
    DatasetInfo("spheres",       ("generated",),  (1, 1, 101), (9000, 1000),     SPHERES_CLASSES),
    DatasetInfo("imagenet32",    ("tfds",),       (32, 32, 3), (1281167, 50000), None,                  "imagenet_resized/32x32", tfds_splits=_VALIDATION, hint=_IMAGENET_HINT),
)}
# fmt: on

DATASETS: tuple[str, ...] = tuple(CATALOG)


def info(name: str) -> DatasetInfo:
    """The catalog entry of ``name``; TypeError/ValueError for a bad name."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    if name not in CATALOG:
        raise ValueError(f"Unknown dataset name={name!r}; expected one of {tuple(CATALOG)}.")
    return CATALOG[name]


def check_split(split: str) -> None:
    """Raises ValueError unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split={split!r}; expected one of {SPLITS}.")
