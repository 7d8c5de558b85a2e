"""The names corel_jax re-exports, for type checkers and IDEs.

``corel_jax/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax._version import (
    __version__ as __version__,
)
from corel_jax.diagrams import (
    bottleneck_distance as bottleneck_distance,
    cubical_diagram_loss as cubical_diagram_loss,
    diagram_loss as diagram_loss,
    wasserstein_distance as wasserstein_distance,
)
from corel_jax.loss import (
    branch_deaths as branch_deaths,
    connectivity_loss as connectivity_loss,
    reconstruction_loss as reconstruction_loss,
    signature_loss as signature_loss,
    split_branches as split_branches,
    total_persistence as total_persistence,
)
from corel_jax.persistence import (
    GraphH0 as GraphH0,
    H0Diagram as H0Diagram,
    Metric as Metric,
    PersistenceH0 as PersistenceH0,
    cubical_h0 as cubical_h0,
    graph_h0 as graph_h0,
    native_kernel_available as native_kernel_available,
    pairwise_distances as pairwise_distances,
    rips_h0 as rips_h0,
)

__all__ = [
    "GraphH0",
    "H0Diagram",
    "Metric",
    "PersistenceH0",
    "bottleneck_distance",
    "branch_deaths",
    "connectivity_loss",
    "cubical_diagram_loss",
    "cubical_h0",
    "diagram_loss",
    "graph_h0",
    "native_kernel_available",
    "pairwise_distances",
    "reconstruction_loss",
    "rips_h0",
    "signature_loss",
    "split_branches",
    "total_persistence",
    "wasserstein_distance",
]
