"""The methods compared in a one-class study, by name: COREL and its baselines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from corel_jax.oneclass.names import METHOD_LABELS, METHODS, method_label
from corel_jax.oneclass.protocol import Method

if TYPE_CHECKING:  # JAX is imported when methods are built, not with this module
    from corel_jax.persistence import Metric

__all__ = ["METHODS", "METHOD_LABELS", "build_methods", "method_label", "pixel_features"]


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Raw-pixel features: ``(N, H, W, C)`` uint8 -> ``(N, H*W*C)`` float32 in ``[0, 1]``."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"images must have a batch axis; got shape {images.shape}.")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def build_methods(
    names: Sequence[str],
    *,
    codes: tuple[np.ndarray, np.ndarray],
    pixels: tuple[np.ndarray, np.ndarray] | None = None,
    radius: float,
    num_branches: int,
    metric: Metric,
    baseline_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Method]:
    """The named methods of :data:`METHODS` over (train, test) features.

    ``corel``: ball counts on the codes; ``lambda0``: ball counts on the codes
    of the same model trained with ``lambda = 0`` (``baseline_codes``);
    ``kde``/``ocsvm``: :func:`~corel_jax.oneclass.kde_scorer` /
    :func:`~corel_jax.oneclass.ocsvm_scorer` on the codes; ``raw_ocsvm``:
    the OC-SVM on raw pixels (:func:`pixel_features`).

    Args:
      names: some of :data:`METHODS`, in the order of the result.
      codes: ``(train, test)`` codes of the backbone.
      pixels: ``(train, test)`` raw-pixel features (for ``raw_ocsvm``).
      radius: the ball radius (the backbone's ``eta``).
      num_branches: branches of the code.
      metric: the latent metric of the backbone.
      baseline_codes: ``(train, test)`` codes of the ``lambda = 0`` backbone.

    Returns:
      ``{name: Method}`` in the order of ``names``.
    """
    from corel_jax.oneclass.scoring import ball_count_scorer, kde_scorer, ocsvm_scorer

    ball = ball_count_scorer(radius=radius, num_branches=num_branches, metric=metric)

    def given(features: tuple[np.ndarray, np.ndarray] | None, name: str, argument: str):
        if features is None:
            raise ValueError(f"Method {name!r} needs {argument}.")
        return features

    table = {
        "corel": lambda: Method(ball, *codes),
        "kde": lambda: Method(kde_scorer(), *codes),
        "ocsvm": lambda: Method(ocsvm_scorer(), *codes),
        "raw_ocsvm": lambda: Method(ocsvm_scorer(), *given(pixels, "raw_ocsvm", "pixels")),
        "lambda0": lambda: Method(ball, *given(baseline_codes, "lambda0", "baseline_codes")),
    }
    out = {}
    for name in names:
        if name not in table:
            raise ValueError(f"Unknown method {name!r}; expected some of {METHODS}.")
        if name == "lambda0" and baseline_codes is None:
            raise ValueError("Method 'lambda0' needs a baseline backbone (--baseline-workdir).")
        if name == "raw_ocsvm" and pixels is None:
            raise ValueError("Method 'raw_ocsvm' needs the raw-pixel features (pixels=...).")
        out[name] = table[name]()
    return out
