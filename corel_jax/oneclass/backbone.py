"""A trained backbone in the one-class protocol: its codes as methods, and the classes it saw.

:func:`backbone_methods` encodes the train and test splits with a backbone
(:func:`corel_jax.training.backbone.encode`) and builds the compared methods
on the codes (:func:`corel_jax.oneclass.methods.build_methods`);
:func:`seen_classes` says which labels trained the backbone, so that results
can be reported on the seen and the unseen classes apart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from corel_jax.data import Split
from corel_jax.models import Autoencoder
from corel_jax.oneclass.methods import build_methods, pixel_features
from corel_jax.oneclass.protocol import Method
from corel_jax.training.backbone import encode
from corel_jax.training.config import TrainConfig

if TYPE_CHECKING:
    from corel_jax.persistence import Metric

__all__ = ["backbone_methods", "seen_classes"]

logger = logging.getLogger(__name__)


def backbone_methods(
    names: Sequence[str],
    model: Autoencoder,
    config: TrainConfig,
    train: Split,
    test: Split,
    *,
    radius: float | None = None,
    baseline: Autoencoder | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, Method]:
    """The one-class methods ``names`` on a backbone's codes of ``train`` and ``test``.

    Encodes both splits with ``model`` (and ``baseline``, the ``lambda = 0``
    backbone, for the method ``lambda0``) and builds the methods with
    :func:`corel_jax.oneclass.build_methods`. With ``rows``
    (:func:`corel_jax.oneclass.drawn_rows` of the protocol to run), only those
    train images are encoded and turned into pixel features: the rest of the
    train features are NaN, never read by that protocol.

    Args:
      names: some of :data:`corel_jax.oneclass.METHODS`.
      model: the backbone.
      config: its config (branches, metric, ``eta``).
      train: the split the inliers are drawn from.
      test: the scored split.
      radius: the ball radius (default: ``config.eta``).
      baseline: the ``lambda = 0`` backbone.
      rows: the only train rows to compute features for (default: all).

    Returns:
      ``{name: Method}``.
    """
    if tuple(train.images.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"{train.name} images have shape {train.images.shape[1:]} but the backbone takes "
            f"{tuple(model.input_shape)}."
        )
    used = len(train) if rows is None else len(rows)
    logger.info("encoding %d train and %d test images of %s", used, len(test), train.name)
    on_train = functools.partial(_rows_only, images=train.images, rows=rows)
    codes = (on_train(functools.partial(encode, model)), encode(model, test.images))
    baseline_codes = None
    if baseline is not None and "lambda0" in names:
        baseline_codes = (on_train(functools.partial(encode, baseline)),
                          encode(baseline, test.images))  # fmt: skip
    pixels = None
    if "raw_ocsvm" in names:
        pixels = (on_train(pixel_features), pixel_features(test.images))
    return build_methods(
        names, codes=codes, pixels=pixels, radius=config.eta if radius is None else radius,
        num_branches=config.num_branches, metric=cast("Metric", config.metric),  # validated by TrainConfig
        baseline_codes=baseline_codes,
    )  # fmt: skip


def _rows_only(
    features: Callable[[np.ndarray], np.ndarray], *, images: np.ndarray, rows: np.ndarray | None
) -> np.ndarray:
    """``features(images)``, computed for ``rows`` only (the other rows NaN) when given."""
    if rows is None:
        return features(images)
    part = features(images[rows])
    out = np.full((len(images), *part.shape[1:]), np.nan, part.dtype)
    out[rows] = part
    return out


def seen_classes(config: TrainConfig, dataset: str, num_classes: int) -> tuple[int, ...]:
    """The labels of ``dataset`` whose images trained the backbone of ``config``.

    All ``num_classes`` labels for a backbone of ``dataset`` trained without
    ``classes``, its ``classes`` otherwise, and none for a backbone of another
    dataset.
    """
    if dataset != config.dataset:
        return ()
    return tuple(range(num_classes)) if config.classes is None else tuple(config.classes)
