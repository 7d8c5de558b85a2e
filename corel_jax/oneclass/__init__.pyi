"""The names corel_jax.oneclass re-exports, for type checkers and IDEs.

``corel_jax.oneclass/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax.oneclass.backbone import (
    backbone_methods as backbone_methods,
)
from corel_jax.oneclass.backbone import (
    seen_classes as seen_classes,
)
from corel_jax.oneclass.methods import (
    build_methods as build_methods,
)
from corel_jax.oneclass.methods import (
    pixel_features as pixel_features,
)
from corel_jax.oneclass.names import (
    METHOD_LABELS as METHOD_LABELS,
)
from corel_jax.oneclass.names import (
    METHODS as METHODS,
)
from corel_jax.oneclass.names import (
    N_INLIERS as N_INLIERS,
)
from corel_jax.oneclass.names import (
    RUNS as RUNS,
)
from corel_jax.oneclass.names import (
    method_label as method_label,
)
from corel_jax.oneclass.protocol import (
    Method as Method,
)
from corel_jax.oneclass.protocol import (
    OneClassResult as OneClassResult,
)
from corel_jax.oneclass.protocol import (
    draw_inliers as draw_inliers,
)
from corel_jax.oneclass.protocol import (
    drawn_rows as drawn_rows,
)
from corel_jax.oneclass.protocol import (
    evaluate_methods as evaluate_methods,
)
from corel_jax.oneclass.protocol import (
    evaluate_oneclass as evaluate_oneclass,
)
from corel_jax.oneclass.reports import (
    format_table as format_table,
)
from corel_jax.oneclass.reports import (
    plot_result as plot_result,
)
from corel_jax.oneclass.reports import (
    write_report as write_report,
)
from corel_jax.oneclass.scoring import (
    Scorer as Scorer,
)
from corel_jax.oneclass.scoring import (
    ball_count_scorer as ball_count_scorer,
)
from corel_jax.oneclass.scoring import (
    count_scores as count_scores,
)
from corel_jax.oneclass.scoring import (
    kde_scorer as kde_scorer,
)
from corel_jax.oneclass.scoring import (
    ocsvm_scorer as ocsvm_scorer,
)

__all__ = [
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
    "ocsvm_scorer",
    "pixel_features",
    "plot_result",
    "seen_classes",
    "write_report",
]
