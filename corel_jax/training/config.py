"""The training config: one flat, validated, JSON-serialisable dataclass.

Every field's default is the paper's value where it has one (``docs/method.md``):
lambda = 20, eta = 2, the l1 latent metric, 16 branches of 10 dims, batch 100,
Adam with a constant learning rate of 1e-3, 50 epochs. This is the one place
those defaults are written; the command line (``corel-jax train``) and the
experiment configs read them from here. Each field's metadata carries its help
text, from which ``corel-jax train``'s options are generated.

Building a config validates it (a field of the wrong type or range raises
``ValueError`` naming it) without touching any device or JAX backend; checks
that need the devices (``devices`` against the devices present) happen when
training starts.

Examples:
  >>> from corel_jax.training.config import TrainConfig
  >>> config = TrainConfig(dataset="digits", num_branches=8, epochs=2)
  >>> TrainConfig.from_json(config.to_json()) == config
  True
  >>> TrainConfig(lam=-1.0)
  Traceback (most recent call last):
  ...
  ValueError: TrainConfig.lam must be a finite number >= 0; got -1.0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from corel_jax._checks import is_int, is_number
from corel_jax.data.catalog import CATALOG, COLORS, DATASETS

__all__ = ["LAM_SCALES", "PAPER_INPUT_VALUES", "TOPO_TERMS", "TrainConfig"]

# The topological term of the loss (corel_jax.training.objectives): COREL's connectivity loss, the
# Topological Autoencoders paper's signature loss, or none (a plain autoencoder).
TOPO_TERMS: tuple[str, ...] = ("corel", "topoae", "none")

# lam_scale: "paper" uses lambda as given; "per_value" scales it by the input's number of
# values over the paper's (32 x 32 x 3), since the reconstruction loss sums over them.
LAM_SCALES: tuple[str, ...] = ("paper", "per_value")
PAPER_INPUT_VALUES = 32 * 32 * 3


def _field(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its help text and command-line options (``flags``, ``choices``)."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One flat training config; every field has the paper's value as default where it has one.

    Validated on construction: a field of the wrong type or range raises
    ``ValueError`` naming it (``TrainConfig.<field>``), before any work starts.
    ``to_dict``/``from_dict`` and ``to_json``/``from_json`` round-trip every
    field (tuples, e.g. ``metric=("minkowski", 3.0)``, included).
    """

    # Data: a dataset of the catalog, or your own images (``data``; ``dataset`` is then None).
    dataset: str | None = _field("digits", "Training data.", choices=DATASETS)
    data_dir: str | None = _field(
        None, "tfds data dir or IDX folder (the dataset's default location when not given)."
    )
    data: str | None = _field(
        None,
        "Your own images instead of --dataset: a folder (one subfolder per class, or flat) or "
        "an .npz (images, optional labels) / .npy file (docs/own_images.md). The model's input "
        "shape follows the images.",
    )
    image_size: tuple[int, ...] | None = _field(
        None,
        "With --data: resize every image to HEIGHT WIDTH (one number: a square); needed when "
        "their sizes differ.",
    )
    color: str | None = _field(
        None,
        "With --data: convert every image to gray or rgb; needed when grayscale and colour "
        "images are mixed.",
        choices=COLORS,
    )
    max_examples: int | None = _field(None, "Train on the first N examples only.")
    classes: tuple[int, ...] | None = _field(
        None,
        "Train on the images of these labels only, e.g. 0,1,2,3,4 (labels never enter the "
        "loss; all classes when not given).",
    )
    # Model (docs/method.md#the-autoencoder).
    model: str = _field(
        "branch",
        "Autoencoder: branch (the paper's conv model), mlp, or the Topological Autoencoders "
        "paper's spheres_mlp (its SPHERES MLP) or deep_ae (its image MLP).",
    )
    filters: tuple[int, ...] = _field((32, 64, 128), "Conv channels of the branch model.")
    hidden: tuple[int, ...] = _field((256, 128), "Hidden widths of the mlp model.")
    num_branches: int = _field(16, "Number of latent branches.")
    branch_dim: int = _field(10, "Dimensions per branch (latent dim = branches x this).")
    # Loss (docs/method.md#the-connectivity-loss, docs/topoae.md#the-loss).
    topo: str = _field(
        "corel",
        "Topological term: corel (the connectivity loss), topoae (the signature loss of "
        "Topological Autoencoders, divided by the batch size) or none (a plain autoencoder).",
        choices=TOPO_TERMS,
    )
    lam: float = _field(20.0, "Weight lambda of the topological term (0: plain autoencoder).")
    lam_scale: str = _field(
        "paper",
        "How lambda weighs the connectivity loss: paper (as given) or per_value "
        "(times H*W*C / 3072: the paper's 32x32x3 balance per input value, for any image size).",
        choices=LAM_SCALES,
    )
    eta: float = _field(2.0, "Target death time eta.")
    metric: str | tuple[str, float] = _field(
        "l1", "Latent metric of the persistence: l1, l2, linf, ... or minkowski:P."
    )
    reduction: str = _field(
        "mean",
        "How the connectivity loss combines its branch losses: mean (the authors' code) or sum "
        "(the paper's figure caption); sum at lambda equals mean at num_branches x lambda.",
    )
    # Optimisation.
    batch_size: int = _field(100, "Batch size PER DEVICE (the loss is defined per batch).")
    learning_rate: float = _field(1e-3, "Adam learning rate (constant).", flags=("--lr",))
    weight_decay: float = _field(
        0.0, "L2 penalty added to the gradients before Adam (PyTorch Adam's weight_decay)."
    )
    epochs: int = _field(50, "Training epochs (a larger value with --resume extends a run).")
    seed: int = _field(0, "PRNG seed (initialisation and data order).")
    # Engineering.
    devices: int | None = _field(None, "Use the first N local devices (all when not given).")
    steps_per_dispatch: int = _field(10, "Training steps per jitted call (lax.scan chunk).")
    checkpoint_every: int = _field(1000, "Checkpoint period in steps (also at the end).")
    keep_checkpoints: int = _field(2, "Keep the newest N checkpoints.")
    log_every: int = _field(100, "Steps per log line / metrics row (rounded up to chunks).")

    def __post_init__(self):
        # Own images replace the catalog: ``dataset`` left at its default becomes None, and an
        # ``image_size`` of one number is a square.
        if self.data is not None and self.dataset == "digits":
            object.__setattr__(self, "dataset", None)
        if isinstance(self.image_size, list | tuple) and len(self.image_size) == 1:
            object.__setattr__(self, "image_size", tuple(self.image_size) * 2)
        _validate(self)

    def effective_lam(self, input_shape: tuple[int, ...]) -> float:
        """The weight of the connectivity loss for images of ``input_shape`` ``(H, W, C)``.

        ``lam`` with ``lam_scale="paper"``; ``lam * H * W * C / 3072`` with
        ``"per_value"``, which keeps the paper's ratio of the connectivity loss
        to the reconstruction loss (a sum over the ``H * W * C`` values) per
        input value; both are equal on the paper's 32x32x3 images.
        """
        if self.lam_scale == "paper":
            return float(self.lam)
        return float(self.lam) * math.prod(input_shape) / PAPER_INPUT_VALUES

    def to_dict(self) -> dict:
        """A JSON-compatible dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of a dict from :meth:`to_dict` (lists become tuples); validates it."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict; got {type(d).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields: {sorted(unknown)}.")
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fields)

    def catalog_dataset(self) -> str:
        """``dataset``, for a run on a catalog dataset.

        Raises:
          ValueError: the run trains on its own images (``data``), which have no
            catalog entry (no held-out split, no published numbers).
        """
        if self.dataset is None:
            raise ValueError(
                f"this run trains on its own images ({self.data}), not a catalog dataset."
            )
        return self.dataset

    def to_json(self) -> str:
        """The config as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """The config of :meth:`to_json`'s text; validates it."""
        return cls.from_dict(json.loads(text))

    def continues(self, saved: TrainConfig) -> bool:
        """Whether a run of ``saved`` may continue with this config, and if so whether it extends.

        ``keep_checkpoints`` (how many checkpoints are kept on disk) may
        change too: it does not change what is trained.

        Returns:
          False for a resume (an equal config, up to ``keep_checkpoints``),
          True when ``epochs`` is larger (an extension).

        Raises:
          ValueError: any other difference (the message names the fields).
        """
        diff = saved.differences(self)
        changed = set(diff) - {"keep_checkpoints"}
        if changed and not (changed == {"epochs"} and self.epochs > saved.epochs):
            raise ValueError(
                f"the config differs from the saved one (field: (saved, given)): {diff}. Only a "
                "larger number of epochs (it extends the run) and keep_checkpoints may change."
            )
        return "epochs" in changed

    def differences(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """``{field: (self's value, other's value)}`` for every field that differs."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }


def _validate(c: TrainConfig) -> None:
    """Raises ValueError naming the first field of the wrong type or range."""
    from corel_jax.loss.connectivity import REDUCTIONS
    from corel_jax.models import MODELS
    from corel_jax.persistence import parse_metric

    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            raise ValueError(f"TrainConfig.{field} must be {what}; got {getattr(c, field)!r}.")

    _validate_data(c, need)
    for field in ("max_examples", "devices"):
        v = getattr(c, field)
        need(v is None or (is_int(v) and v > 0), field, "a positive int or None")
    _validate_classes(c, need)
    need(isinstance(c.model, str) and c.model in MODELS, "model", f"one of {MODELS}")
    for field in ("filters", "hidden"):
        v = getattr(c, field)
        need(
            isinstance(v, tuple) and len(v) > 0 and all(is_int(f) and f > 0 for f in v),
            field,
            "a non-empty tuple of positive ints",
        )
    for field in ("num_branches", "branch_dim", "batch_size", "epochs"):
        need(is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    need(c.batch_size >= 2, "batch_size", "at least 2 (persistence needs two points)")
    need(is_number(c.lam) and math.isfinite(c.lam) and c.lam >= 0, "lam", "a finite number >= 0")
    need(c.lam_scale in LAM_SCALES, "lam_scale", f"one of {LAM_SCALES}")
    need(c.topo in TOPO_TERMS, "topo", f"one of {TOPO_TERMS}")
    need(c.reduction in REDUCTIONS, "reduction", f"one of {REDUCTIONS}")
    need(
        is_number(c.weight_decay) and math.isfinite(c.weight_decay) and c.weight_decay >= 0,
        "weight_decay",
        "a finite number >= 0",
    )
    need(is_number(c.eta) and math.isfinite(c.eta) and c.eta > 0, "eta", "a finite number > 0")
    try:
        parse_metric(c.metric)
        ok = c.metric != "precomputed" and isinstance(c.metric, str | tuple)
    except (ValueError, TypeError):
        ok = False
    need(ok, "metric", "a point-cloud metric of corel_jax.persistence ('l1', 'l2', 'linf', ...)")
    need(
        is_number(c.learning_rate) and math.isfinite(c.learning_rate) and c.learning_rate > 0,
        "learning_rate",
        "a finite number > 0",
    )
    need(is_int(c.seed) and 0 <= c.seed < 2**63, "seed", "an int in [0, 2**63)")
    for field in ("steps_per_dispatch", "checkpoint_every", "keep_checkpoints", "log_every"):
        need(is_int(getattr(c, field)) and getattr(c, field) > 0, field, "a positive int")
    if c.model == "branch":
        need(
            c.filters[-1] % c.num_branches == 0,
            "num_branches",
            f"a divisor of the last conv layer's channels (filters[-1] = {c.filters[-1]})",
        )


def _validate_data(c: TrainConfig, need) -> None:
    """``dataset`` of the catalog, or ``data`` (own images) with ``image_size`` and ``color``."""
    if c.data is None:
        need(isinstance(c.dataset, str) and c.dataset in DATASETS, "dataset", f"one of {DATASETS}")
        for field in ("image_size", "color"):
            need(getattr(c, field) is None, field, "None unless data (your own images) is given")
    else:
        need(isinstance(c.data, str) and c.data != "", "data", "a path (str) or None")
        need(c.dataset is None, "dataset", "None (or left at its default) when data is given")
    need(c.data_dir is None or isinstance(c.data_dir, str), "data_dir", "a path (str) or None")
    need(
        c.image_size is None or (isinstance(c.image_size, tuple) and len(c.image_size) == 2
                                 and all(is_int(s) and s > 0 for s in c.image_size)),
        "image_size", "None, or one or two positive ints (height, width)",
    )  # fmt: skip
    need(c.color is None or c.color in COLORS, "color", f"None or one of {COLORS}")


def _validate_classes(c: TrainConfig, need) -> None:
    """``classes``: None, or distinct labels of ``dataset`` (ints in ``[0, num_classes)``);
    labels of ``data`` (its class subfolders in sorted order) are checked when it is read."""
    if c.classes is None:
        return
    names = CATALOG[c.catalog_dataset()].class_names if c.data is None else None
    top = len(names) if names is not None else None
    source = c.dataset if c.data is None else "data"
    what = f"None or a non-empty tuple of distinct {source} labels (ints in [0, {top or 'N'}))"
    need(isinstance(c.classes, tuple) and len(c.classes) > 0, "classes", what)
    bad = [k for k in c.classes if not is_int(k) or k < 0 or (top is not None and k >= top)]
    need(not bad, "classes", f"{what}; {bad} are not such labels")
    repeated = sorted({k for k in c.classes if c.classes.count(k) > 1})
    need(not repeated, "classes", f"{what}; {repeated} appear more than once")
