"""The loaders' result type, :class:`Split`, and their "not on this machine" error."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["DatasetNotAvailableError", "Split"]


class DatasetNotAvailableError(ValueError):
    """The dataset is not on this machine; the message says how to get it."""


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
      images: ``(N, H, W, C)`` uint8.
      labels: ``(N,)`` int64 in ``[0, len(class_names))``.
      class_names: one name per label value.
      name: the dataset name (a key of :data:`corel_jax.data.CATALOG`).
      split: "train" or "test".
      source: where it was read from (a folder, a tfds data dir, ...).
    """

    images: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray = dataclasses.field(repr=False)
    class_names: tuple[str, ...]
    name: str
    split: str
    source: str = ""

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C), got shape {self.images.shape}.")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) to match images, "
                f"got {self.labels.shape}."
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """The number of classes, ``len(class_names)``."""
        return len(self.class_names)

    def select(self, classes: Sequence[int] | None) -> Split:
        """The examples whose label is in ``classes``, in their order (all of them for None).

        Raises:
          ValueError: a class with no example in this split (the message names it).
        """
        if classes is None:
            return self
        classes = [int(c) for c in classes]
        missing = [c for c in classes if not np.any(self.labels == c)]
        if missing:
            raise ValueError(
                f"classes: {self.name} {self.split} has no example of label(s) {missing} "
                f"(its labels are {sorted(set(self.labels.tolist()))})."
            )
        keep = np.isin(self.labels, classes)
        return dataclasses.replace(self, images=self.images[keep], labels=self.labels[keep])

    def take(self, n: int | None) -> Split:
        """The first ``n`` examples (all of them for None)."""
        if n is None:
            return self
        return dataclasses.replace(self, images=self.images[:n], labels=self.labels[:n])
