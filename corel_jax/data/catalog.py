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

__all__ = [
    "CATALOG",
    "CIFAR100_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR20_CLASSES",
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "DIGIT_NAMES",
    "FASHION_MNIST_CLASSES",
    "SOURCES",
    "SPLITS",
    "DatasetInfo",
    "check_split",
    "info",
]

SPLITS: tuple[str, ...] = ("train", "test")
# Kinds of source a dataset can be read from (see corel_jax.data.loading).
SOURCES: tuple[str, ...] = ("sklearn", "idx", "tfds")

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
      description: one line for documentation and help texts.
      sources: kinds of source tried in order, from :data:`SOURCES`.
      image_shape: ``(H, W, C)`` of one image.
      sizes: ``{split: number of examples}`` of the complete splits.
      class_names: one name per label, or None to take them from tfds's
        metadata (imagenet32's 1,000 WordNet ids).
      tfds_name: the tensorflow-datasets name (``"tfds"`` source).
      label_key: the tfds feature holding the label.
      tfds_splits: ``{our split: tfds split}`` where they differ.
      idx_dirs: folders searched for IDX files when no ``data_dir`` has them.
      hint: how to get the data besides tfds, for the "not available" message.
    """

    name: str
    description: str
    sources: tuple[str, ...]
    image_shape: tuple[int, int, int]
    sizes: Mapping[str, int]
    class_names: tuple[str, ...] | None
    tfds_name: str | None = None
    label_key: str = "label"
    tfds_splits: Mapping[str, str] = dataclasses.field(default_factory=dict)
    idx_dirs: tuple[Path, ...] = ()
    hint: str = ""

    def tfds_split(self, split: str) -> str:
        """The tfds split that holds our ``split``."""
        return self.tfds_splits.get(split, split)


_IDX_HINT = "Or pass data_dir= (--data-dir) a folder holding the four IDX files {files}."

CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "digits", "scikit-learn's 1,797 embedded 8x8 digits, split 1,348 / 449 (offline)",
            ("sklearn",), (8, 8, 1), {"train": 1348, "test": 449}, DIGIT_NAMES,
        ),
        DatasetInfo(
            "fashion_mnist", "Fashion-MNIST, 28x28 grayscale, 10 classes",
            ("idx", "tfds"), (28, 28, 1), {"train": 60000, "test": 10000}, FASHION_MNIST_CLASSES,
            tfds_name="fashion_mnist", idx_dirs=(DEBIAN_FASHION_MNIST,),
            hint=_IDX_HINT + "\nOn Debian/Ubuntu: apt-get install dataset-fashion-mnist "
            f"(found in {DEBIAN_FASHION_MNIST} automatically).",
        ),
        DatasetInfo(
            "mnist", "MNIST, 28x28 grayscale digits",
            ("idx", "tfds"), (28, 28, 1), {"train": 60000, "test": 10000}, DIGIT_NAMES,
            tfds_name="mnist", hint=_IDX_HINT,
        ),
        DatasetInfo(
            "cifar10", "CIFAR-10, 32x32 colour, 10 classes",
            ("tfds",), (32, 32, 3), {"train": 50000, "test": 10000}, CIFAR10_CLASSES,
            tfds_name="cifar10",
        ),
        DatasetInfo(
            "cifar100", "CIFAR-100, its 100 fine labels",
            ("tfds",), (32, 32, 3), {"train": 50000, "test": 10000}, CIFAR100_CLASSES,
            tfds_name="cifar100",
        ),
        DatasetInfo(
            "cifar20", "CIFAR-100 with its 20 coarse (superclass) labels",
            ("tfds",), (32, 32, 3), {"train": 50000, "test": 10000}, CIFAR20_CLASSES,
            tfds_name="cifar100", label_key="coarse_label",
        ),
        DatasetInfo(
            "svhn", "SVHN cropped digits, 32x32 colour",
            ("tfds",), (32, 32, 3), {"train": 73257, "test": 26032}, DIGIT_NAMES,
            tfds_name="svhn_cropped",
        ),
        DatasetInfo(
            "imagenet32", "ImageNet downsampled to 32x32, 1,000 classes; test = its validation set",
            ("tfds",), (32, 32, 3), {"train": 1281167, "test": 50000}, None,
            tfds_name="imagenet_resized/32x32", tfds_splits={"test": "validation"},
            hint="imagenet_resized needs the downsampled ImageNet archives "
            "Imagenet32_train_npz.zip and Imagenet32_val_npz.zip (about 3 GB) from "
            "https://image-net.org (registered users only).",
        ),
    )
}  # fmt: skip

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
