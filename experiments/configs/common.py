"""Shared pieces of the experiment configs.

Every experiment config module defines ``get_config(variant: str = "") ->
dict`` with keys:

- ``experiment``: its name (the module's), the key of its rows in
  :data:`corel_jax.paper.published.PAPER_ROWS`;
- ``train``: keyword arguments of :class:`corel_jax.training.config.TrainConfig` for the
  backbone (trained once, without labels, on the auxiliary dataset); fields
  not given take TrainConfig's defaults, which are the paper's;
- ``eval``: the one-class protocol: ``dataset``, ``n`` (a list of inlier
  counts), ``runs``, ``radius``, ``methods``;
- ``published``: the paper's number(s) this config should reproduce, keyed like
  ``"n=120"`` (or by an ablation's setting, e.g. ``"lam=0"``), from
  :mod:`corel_jax.paper.published`;
- ``doc``: one line for the results table.

``variant="local"`` returns a smoke version that runs on a CPU in minutes
(few examples, one epoch, n=20, one run) to check the pipeline end to end.
"""

from __future__ import annotations

from corel_jax.oneclass import RUNS
from corel_jax.paper.published import rows_of
from corel_jax.training.config import TrainConfig

# The one-class protocol of the paper ("Ours-120"): the ball radius is the backbone's eta.
METHODS = ["corel", "kde", "ocsvm"]


def make(
    experiment: str,
    *,
    doc: str,
    variant: str = "",
    train_dataset: str | None = None,
    eval_dataset: str | None = None,
    n: list[int] | None = None,
    published: dict[str, float] | None = None,
    **train_overrides,
) -> dict:
    """Builds the config of ``experiment`` from its published rows.

    The datasets, the inlier counts and the published numbers come from
    :data:`corel_jax.paper.published.PAPER_ROWS`; an experiment without published
    rows (e.g. Fashion-MNIST) passes them. ``variant="local"`` shrinks it to a
    CPU smoke run.
    """
    rows = rows_of(experiment)
    if rows:
        train_dataset, eval_dataset = rows[0].train_dataset, rows[0].eval_dataset
        n = n or sorted({r.n for r in rows})
        published = {r.setting or f"n={r.n}": r.auroc for r in rows}
    if not (train_dataset and eval_dataset and n and published):
        raise ValueError(f"{experiment} has no published rows; pass its datasets, n and numbers.")
    train = dict(dataset=train_dataset, **train_overrides)
    evaluation = dict(
        dataset=eval_dataset, n=list(n), runs=RUNS, radius=TrainConfig.eta, methods=list(METHODS)
    )
    if variant == "local":
        train.update(epochs=1, max_examples=2000)
        evaluation.update(n=[20], runs=1, methods=["corel"], max_test_examples=2000)
    elif variant:
        raise ValueError(f"Unknown variant {variant!r}; expected '' or 'local'.")
    return dict(experiment=experiment, train=train, eval=evaluation, published=published, doc=doc)


# The Topological Autoencoders rows (read by experiments/topoae/run.py): the paper trains at
# most 100 epochs with early stopping after 10 epochs without a lower validation loss.
TOPOAE_MAX_EPOCHS = 100
TOPOAE_PATIENCE = 10


def topoae_row(
    common: dict, epochs: int, *, ae: tuple[int, float], topoae: tuple[float, int, float]
) -> dict[str, TrainConfig]:
    """``{method: TrainConfig}`` of a TopoAE row: a plain AE, TopoAE, and COREL.

    Args:
      common: the fields every method shares (dataset, model, latent, weight decay, ...).
      epochs: epochs to train.
      ae: the plain autoencoder's best run, ``(batch_size, learning_rate)``.
      topoae: TopoAE's best run, ``(lam, batch_size, learning_rate)``. COREL (not in the
        paper's table) takes TopoAE's model, batch size and optimiser with the connectivity
        loss on the codes (l2 metric, eta = 2, ``lam / batch_size`` so that its weight per
        MST edge matches TopoAE's); it is not tuned.
    """
    lam, batch, lr = topoae
    return {
        "ae": TrainConfig(topo="none", lam=0.0, batch_size=ae[0], learning_rate=ae[1],
                          epochs=epochs, **common),
        "topoae": TrainConfig(topo="topoae", lam=lam, batch_size=batch, learning_rate=lr,
                              epochs=epochs, **common),
        "corel": TrainConfig(topo="corel", lam=lam / batch, eta=2.0, metric="l2",
                             batch_size=batch, learning_rate=lr, epochs=epochs, **common),
    }  # fmt: skip
