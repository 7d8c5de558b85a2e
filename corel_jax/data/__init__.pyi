"""The names corel_jax.data re-exports, for type checkers and IDEs.

``corel_jax.data/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax.data.catalog import (
    CATALOG as CATALOG,
)
from corel_jax.data.catalog import (
    CIFAR10_CLASSES as CIFAR10_CLASSES,
)
from corel_jax.data.catalog import (
    CIFAR20_CLASSES as CIFAR20_CLASSES,
)
from corel_jax.data.catalog import (
    CIFAR100_CLASSES as CIFAR100_CLASSES,
)
from corel_jax.data.catalog import (
    DATASETS as DATASETS,
)
from corel_jax.data.catalog import (
    DEBIAN_FASHION_MNIST as DEBIAN_FASHION_MNIST,
)
from corel_jax.data.catalog import (
    FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES,
)
from corel_jax.data.catalog import (
    SPLITS as SPLITS,
)
from corel_jax.data.catalog import (
    DatasetInfo as DatasetInfo,
)
from corel_jax.data.idx import (
    IDX_FILES as IDX_FILES,
)
from corel_jax.data.idx import (
    read_idx as read_idx,
)
from corel_jax.data.loading import (
    available as available,
)
from corel_jax.data.loading import (
    default_location as default_location,
)
from corel_jax.data.loading import (
    default_offline_dataset as default_offline_dataset,
)
from corel_jax.data.loading import (
    load as load,
)
from corel_jax.data.loading import (
    prepare as prepare,
)
from corel_jax.data.split import (
    DatasetNotAvailableError as DatasetNotAvailableError,
)
from corel_jax.data.split import (
    Split as Split,
)

__all__ = [
    "CATALOG",
    "CIFAR100_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR20_CLASSES",
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "DatasetInfo",
    "DatasetNotAvailableError",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "SPLITS",
    "Split",
    "available",
    "default_location",
    "default_offline_dataset",
    "load",
    "prepare",
    "read_idx",
]
