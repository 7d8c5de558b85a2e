"""Few-shot novelty detection on a trained backbone, scikit-learn style: :class:`CORELDetector`.

A backbone trained once on unlabelled images (``corel-jax train``) encodes a
few inlier images of a new class (the paper's 120); a new image is scored by
how many inlier codes lie within ``radius`` of its code, branch by branch
(COREL's ball count, :func:`corel_jax.oneclass.count_scores`;
``docs/method.md#one-class-protocol``). Higher scores are more normal, as
scikit-learn's ``score_samples`` has it.

The interface is scikit-learn's for novelty detection (``LocalOutlierFactor(novelty=True)``,
``OneClassSVM``) and PyOD's: ``fit(inliers)`` returns the detector;
``score_samples``, ``decision_function = score_samples - offset_`` and
``predict`` (+1 normal, -1 novel) score new images; ``get_params`` /
``set_params`` (and so ``sklearn.base.clone``) work; set parameters are
used from the next ``fit`` on.

The threshold: ``offset_`` is the ``contamination`` quantile (``np.percentile``,
linear interpolation) of the inliers' **leave-one-out** scores, each inlier
scored against the others: an image of the inlier distribution then falls
below it with probability about ``contamination``, as scikit-learn's
``IsolationForest`` and PyOD set theirs. Scored against all inliers, each
inlier would count itself in every branch: its ball count exceeds a new
image's by exactly ``num_branches`` (it lies in its own balls), which the
leave-one-out count removes.

Baselines through the same interface: ``method="kde"`` scores by the latent
Gaussian KDE (:func:`corel_jax.oneclass.kde_scorer`) of the same codes; the
paper's ``lambda = 0`` baseline is this detector on the backbone trained with
``lam=0`` (``CORELDetector.from_backbone(lambda0_run)``).

Examples:
  >>> from corel_jax.data import load_images
  >>> from corel_jax.oneclass import CORELDetector
  >>> detector = CORELDetector.from_backbone("runs/fmnist").fit(load_images("sneakers/").images)
  ... # doctest: +SKIP
  >>> scores = detector.score_samples(load_images("new/").images)  # doctest: +SKIP
  >>> novel = detector.predict(load_images("new/").images) == -1  # doctest: +SKIP

References:
  Hofer et al., Connectivity-Optimized Representation Learning via Persistent
  Homology, ICML 2019, Sec. 5. scikit-learn's novelty detection
  (https://scikit-learn.org/stable/modules/outlier_detection.html).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from corel_jax._checks import check_positive, check_positive_int, is_number
from corel_jax.data.images import ImageSet, describe_shape, load_images, to_uint8_images
from corel_jax.models import Autoencoder
from corel_jax.oneclass.names import DETECTOR_METHODS
from corel_jax.oneclass.scoring import Scorer, ball_count_scorer, kde_scorer
from corel_jax.training.backbone import encode, load_backbone
from corel_jax.training.config import TrainConfig

__all__ = ["DETECTOR_METHODS", "CORELDetector"]

ImagesLike = np.ndarray | ImageSet | str | os.PathLike


class CORELDetector:
    """Scores images by their backbone codes' closeness to a few inliers; higher = more normal.

    Args:
      model: the backbone, an autoencoder with ``encode`` (e.g. from
        :func:`corel_jax.training.backbone.load_backbone`).
      config: its training config; gives the defaults of ``radius`` (its
        ``eta``), ``num_branches``, ``metric``, ``image_size`` and ``color``.
      method: ``"corel"`` (the ball count) or ``"kde"`` (the latent Gaussian
        KDE baseline).
      radius: the ball radius (default: ``config.eta``, else the paper's 2).
      num_branches: the code's branches (default: ``config.num_branches``,
        else the model's, else 1).
      metric: the latent metric (default: ``config.metric``, else "l1").
      contamination: in ``(0, 0.5]``: the share of inliers' leave-one-out
        scores below ``offset_``, the threshold of :meth:`predict`.
      batch_size: images per jitted encoding call; scoring goes block by
        block, so any number of images fits in memory.
      image_size: for images given as a path, the size they are resized to
        (default: the backbone's ``config.image_size``).
      color: for images given as a path, ``"gray"`` or ``"rgb"`` (default:
        the backbone's ``config.color``).

    Attributes:
      inliers_: ``(n, D)`` the inliers' codes (set by :meth:`fit`, as the others).
      offset_: the threshold: ``decision_function = score_samples - offset_``.
      loo_scores_: ``(n,)`` the inliers' leave-one-out scores.
      scorer_: ``scorer(inlier_codes, codes) -> scores`` of ``method``.
    """

    def __init__(
        self,
        model: Autoencoder,
        *,
        config: TrainConfig | None = None,
        method: str = "corel",
        radius: float | None = None,
        num_branches: int | None = None,
        metric: Any = None,
        contamination: float = 0.1,
        batch_size: int = 1000,
        image_size: int | tuple[int, int] | None = None,
        color: str | None = None,
    ):
        # scikit-learn's convention: store the parameters as given; fit checks them.
        self.model = model
        self.config = config
        self.method = method
        self.radius = radius
        self.num_branches = num_branches
        self.metric = metric
        self.contamination = contamination
        self.batch_size = batch_size
        self.image_size = image_size
        self.color = color

    @classmethod
    def from_backbone(
        cls, workdir: str | os.PathLike, *, step: int | None = None, **params
    ) -> CORELDetector:
        """The detector of the backbone trained in ``workdir`` (``corel-jax train --workdir``).

        Args:
          workdir: a training run's work directory.
          step: its checkpoint to use (default: the latest).
          **params: the other parameters of :class:`CORELDetector`.

        Raises:
          ValueError: ``workdir`` holds no checkpoint.
        """
        model, config = load_backbone(workdir, step)
        return cls(model, config=config, **params)

    # ------------------------------------------------------------ scikit-learn's protocol

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters of ``__init__`` as ``{name: value}`` (``deep`` is scikit-learn's; no
        parameter is an estimator)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> CORELDetector:
        """Sets parameters (used from the next :meth:`fit` on); returns the detector.

        Raises:
          ValueError: an unknown parameter name.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for CORELDetector; valid "
                                 f"parameters are {valid}.")  # fmt: skip
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {k: p.default for k, p in inspect.signature(type(self)).parameters.items()}
        shown = [f"{type(self.model).__name__}(...)"]
        shown += [f"{k}={v!r}" for k, v in self.get_params().items()
                  if k not in ("model", "config") and v != defaults[k]]  # fmt: skip
        return f"CORELDetector({', '.join(shown)})"

    # ------------------------------------------------------------------------ fitting

    def fit(self, X: ImagesLike, y: Any = None) -> CORELDetector:
        """Encodes the inliers and sets the threshold ``offset_``.

        Args:
          X: the inlier images: ``(n, H, W, C)`` or ``(n, H, W)`` uint8 (or
            floats in [0, 1]), an :class:`~corel_jax.data.ImageSet`, or a path
            that :func:`~corel_jax.data.load_images` reads; ``n >= 2``.
          y: ignored (scikit-learn's signature).

        Returns:
          The detector.

        Raises:
          ValueError: a bad parameter, fewer than 2 images, or images of
            another shape than the backbone takes.
        """
        settings = self._settings()
        codes = self._codes(self._images(X, "X"))
        if len(codes) < 2:
            raise ValueError(f"X: fit needs at least 2 inlier images; got {len(codes)}.")
        scorer = self._make_scorer(settings)
        if self.method == "corel":
            # Each inlier lies in its own ball in every branch (distance 0 <= radius): leaving
            # it out removes exactly num_branches from its count.
            loo = np.asarray(scorer(codes, codes), np.float64) - settings["num_branches"]
        else:
            loo = np.concatenate([
                np.asarray(scorer(np.delete(codes, i, axis=0), codes[i : i + 1]), np.float64)
                for i in range(len(codes))
            ])  # fmt: skip
        self.inliers_, self.loo_scores_, self.scorer_ = codes, loo, scorer
        self.offset_ = float(np.percentile(loo, 100.0 * settings["contamination"]))
        return self

    def score_samples(self, X: ImagesLike) -> np.ndarray:
        """``(N,)`` float64 scores, higher = more normal: ball counts (``method="corel"``) or
        log-densities (``"kde"``) against the inliers of :meth:`fit`.

        Args:
          X: images as :meth:`fit` takes them (any number of them: encoded
            and scored ``batch_size`` at a time).
        """
        self._check_fitted()
        images = self._images(X, "X")
        step = check_positive_int(self.batch_size, "batch_size")
        parts = [
            np.asarray(self.scorer_(self.inliers_, self._codes(images[i : i + step])), np.float64)
            for i in range(0, len(images), step)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, np.float64)

    def decision_function(self, X: ImagesLike) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for the images :meth:`predict` calls novel."""
        self._check_fitted()
        return self.score_samples(X) - self.offset_

    def predict(self, X: ImagesLike) -> np.ndarray:
        """``(N,)`` int: +1 for normal images, -1 for novel ones (``decision_function < 0``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # ---------------------------------------------------------------------- helpers

    def _settings(self) -> dict[str, Any]:
        """The parameters checked, with the backbone's defaults filled in."""
        if self.method not in DETECTOR_METHODS:
            raise ValueError(f"method must be one of {DETECTOR_METHODS}; got {self.method!r}.")
        c = self.contamination
        if not (is_number(c) and 0 < c <= 0.5):
            raise ValueError(f"contamination must be a number in (0, 0.5]; got {c!r}.")
        check_positive_int(self.batch_size, "batch_size")
        config = self.config
        radius = self.radius if self.radius is not None else (config.eta if config else 2.0)
        k = self.num_branches or (config.num_branches if config else None)
        k = k or int(getattr(self.model, "num_branches", 1))
        latent = int(self.model.latent_dim)
        if latent % check_positive_int(k, "num_branches"):
            raise ValueError(f"num_branches={k} does not divide the code width {latent}.")
        metric = self.metric if self.metric is not None else (config.metric if config else "l1")
        return {"radius": check_positive(radius, "radius"), "num_branches": int(k),
                "metric": metric, "contamination": float(c)}  # fmt: skip

    def _make_scorer(self, settings: dict[str, Any]) -> Scorer:
        if self.method == "kde":
            return kde_scorer()
        return ball_count_scorer(radius=settings["radius"], num_branches=settings["num_branches"],
                                 metric=settings["metric"])  # fmt: skip

    def _images(self, X: ImagesLike, name: str) -> np.ndarray:
        """``X`` as ``(N, H, W, C)`` uint8 of the backbone's input shape."""
        if isinstance(X, str | os.PathLike):
            config = self.config
            X = load_images(
                X,
                image_size=self.image_size or (config.image_size if config else None),
                color=self.color or (config.color if config else None),
            )
        images = X.images if isinstance(X, ImageSet) else to_uint8_images(X, name)
        expected = tuple(int(s) for s in self.model.input_shape)
        if images.shape[1:] != expected:
            raise ValueError(
                f"{name}: the images are {describe_shape(images.shape[1:])} but the backbone "
                f"takes {describe_shape(expected)} images; resize or convert them "
                "(corel_jax.data.load_images(path, image_size=..., color=...))."
            )
        return images

    def _codes(self, images: np.ndarray) -> np.ndarray:
        return encode(self.model, images, batch_size=check_positive_int(self.batch_size,
                                                                        "batch_size"))  # fmt: skip

    def _check_fitted(self) -> None:
        if not hasattr(self, "offset_"):
            raise ValueError("This CORELDetector is not fitted yet: call fit(inlier_images) first.")
