"""The paper's one-class evaluation ("Ours-120") and its baselines.

Modules: :mod:`~corel_jax.oneclass.scoring` (COREL's ball count and the
baselines' scorers), :mod:`~corel_jax.oneclass.protocol` (the inlier draws,
:func:`evaluate_methods` and :class:`OneClassResult`),
:mod:`~corel_jax.oneclass.methods` (the compared methods by name) and
:mod:`~corel_jax.oneclass.reports` (tables and files). The protocol is
described in ``docs/method.md#one-class-protocol``.
"""

from corel_jax.oneclass.methods import METHODS, build_methods, pixel_features
from corel_jax.oneclass.protocol import (
    N_INLIERS,
    RUNS,
    Method,
    OneClassResult,
    draw_inliers,
    evaluate_methods,
    evaluate_oneclass,
)
from corel_jax.oneclass.reports import format_table, plot_result, write_report
from corel_jax.oneclass.scoring import (
    Scorer,
    ball_count_scorer,
    count_scores,
    kde_scorer,
    ocsvm_scorer,
)

__all__ = [
    "METHODS",
    "N_INLIERS",
    "RUNS",
    "Method",
    "OneClassResult",
    "Scorer",
    "ball_count_scorer",
    "build_methods",
    "count_scores",
    "draw_inliers",
    "evaluate_methods",
    "evaluate_oneclass",
    "format_table",
    "kde_scorer",
    "ocsvm_scorer",
    "pixel_features",
    "plot_result",
    "write_report",
]
