"""The names corel_jax.training re-exports, for type checkers and IDEs.

``corel_jax.training/__init__.py`` imports them lazily, on first use; it reads this
file's imports (``corel_jax._lazy.attach_stub``), so they are written once.
"""

from corel_jax.training.backbone import (
    encode as encode,
    load_backbone as load_backbone,
)
from corel_jax.training.config import (
    TrainConfig as TrainConfig,
)
from corel_jax.training.runs import (
    ensure_backbone as ensure_backbone,
    ensure_backbones as ensure_backbones,
)
from corel_jax.training.train import (
    train_and_evaluate as train_and_evaluate,
)

__all__ = [
    "TrainConfig",
    "encode",
    "ensure_backbone",
    "ensure_backbones",
    "load_backbone",
    "train_and_evaluate",
]
