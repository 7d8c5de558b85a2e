"""The names corel_jax.data re-exports, for type checkers and IDEs.

``corel_jax.data/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax.data.catalog import (
    CATALOG as CATALOG,
    CIFAR10_CLASSES as CIFAR10_CLASSES,
    CIFAR20_CLASSES as CIFAR20_CLASSES,
    CIFAR100_CLASSES as CIFAR100_CLASSES,
    COLORS as COLORS,
    DATASETS as DATASETS,
    DEBIAN_FASHION_MNIST as DEBIAN_FASHION_MNIST,
    FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES,
    SPLITS as SPLITS,
    DatasetInfo as DatasetInfo,
)
from corel_jax.data.folder import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from corel_jax.data.idx import (
    IDX_FILES as IDX_FILES,
    read_idx as read_idx,
)
from corel_jax.data.images import ImageSet as ImageSet, load_images as load_images
from corel_jax.data.loading import (
    available as available,
    default_location as default_location,
    default_offline_dataset as default_offline_dataset,
    load as load,
    prepare as prepare,
)
from corel_jax.data.split import (
    DatasetNotAvailableError as DatasetNotAvailableError,
    Split as Split,
)

__all__ = [
    "CATALOG",
    "CIFAR100_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR20_CLASSES",
    "COLORS",
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "DatasetInfo",
    "DatasetNotAvailableError",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "IMAGE_EXTENSIONS",
    "ImageSet",
    "SPLITS",
    "Split",
    "available",
    "default_location",
    "default_offline_dataset",
    "load",
    "load_images",
    "prepare",
    "read_idx",
]
