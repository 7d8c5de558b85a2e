"""The one-class protocol's defaults and the methods' names.

Constants only, without NumPy or JAX: the command line reads them to build
its ``--help`` at once. :mod:`~corel_jax.oneclass.protocol` and
:mod:`~corel_jax.oneclass.methods` re-export them.
"""

from __future__ import annotations

__all__ = ["DETECTOR_METHODS", "METHODS", "METHOD_LABELS", "N_INLIERS", "RUNS", "method_label"]

N_INLIERS = 120  # inliers per class and run (the paper's headline; also 80 and 500)
RUNS = 5  # independent draws per class

# corel: ball counts on the codes; lambda0: ball counts on the codes of the same
# model trained with lambda = 0; kde / ocsvm: on the codes; raw_ocsvm: on raw pixels.
METHODS: tuple[str, ...] = ("corel", "lambda0", "kde", "ocsvm", "raw_ocsvm")

# What corel_jax.oneclass.CORELDetector scores with (its ``method``): the ball count or the
# latent KDE; its lambda0 baseline is the detector of a lambda = 0 backbone.
DETECTOR_METHODS: tuple[str, ...] = ("corel", "kde")

# What tables and plots call them.
METHOD_LABELS: dict[str, str] = {
    "corel": "COREL ball count",
    "lambda0": "ball count, λ=0 backbone",
    "kde": "latent Gaussian KDE",
    "ocsvm": "latent OC-SVM",
    "raw_ocsvm": "raw-pixel OC-SVM",
}


def method_label(name: str) -> str:
    """The name a person reads for method ``name`` (``name`` itself when it has none).

    Examples:
      >>> method_label("kde"), method_label("my_scorer")
      ('latent Gaussian KDE', 'my_scorer')
    """
    return METHOD_LABELS.get(name, name)
