"""The names corel_jax.oneclass re-exports, for type checkers and IDEs.

``corel_jax.oneclass/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax.oneclass.backbone import (
    backbone_methods as backbone_methods,
    seen_classes as seen_classes,
)
from corel_jax.oneclass.detector import CORELDetector as CORELDetector
from corel_jax.oneclass.image_report import (
    normal_classes as normal_classes,
    plot_extremes as plot_extremes,
    scores_auroc as scores_auroc,
    write_scores as write_scores,
)
from corel_jax.oneclass.methods import (
    build_methods as build_methods,
    pixel_features as pixel_features,
)
from corel_jax.oneclass.names import (
    DETECTOR_METHODS as DETECTOR_METHODS,
    METHOD_LABELS as METHOD_LABELS,
    METHODS as METHODS,
    N_INLIERS as N_INLIERS,
    RUNS as RUNS,
    method_label as method_label,
)
from corel_jax.oneclass.protocol import (
    Method as Method,
    OneClassResult as OneClassResult,
    draw_inliers as draw_inliers,
    drawn_rows as drawn_rows,
    evaluate_methods as evaluate_methods,
    evaluate_oneclass as evaluate_oneclass,
)
from corel_jax.oneclass.reports import (
    format_table as format_table,
    plot_result as plot_result,
    write_report as write_report,
)
from corel_jax.oneclass.scoring import (
    Scorer as Scorer,
    ball_count_scorer as ball_count_scorer,
    count_scores as count_scores,
    kde_scorer as kde_scorer,
    ocsvm_scorer as ocsvm_scorer,
)

__all__ = [
    "CORELDetector",
    "DETECTOR_METHODS",
    "METHODS",
    "METHOD_LABELS",
    "Method",
    "N_INLIERS",
    "OneClassResult",
    "RUNS",
    "Scorer",
    "backbone_methods",
    "ball_count_scorer",
    "build_methods",
    "count_scores",
    "draw_inliers",
    "drawn_rows",
    "evaluate_methods",
    "evaluate_oneclass",
    "format_table",
    "kde_scorer",
    "method_label",
    "normal_classes",
    "ocsvm_scorer",
    "pixel_features",
    "plot_extremes",
    "plot_result",
    "scores_auroc",
    "seen_classes",
    "write_report",
    "write_scores",
]
