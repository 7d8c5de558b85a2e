"""Shared pieces of the experiment configs.

Every experiment config module defines ``get_config(variant: str = "") ->
dict`` with keys:

- ``train``: keyword arguments of :class:`corel_jax.train.TrainConfig` for the
  backbone (trained once, without labels, on the auxiliary dataset);
- ``eval``: the one-class protocol: ``dataset``, ``n`` (a list of inlier
  counts), ``runs``, ``radius``, ``methods``;
- ``published``: the paper's number(s) this row should reproduce, keyed like
  ``"n=120"``;
- ``doc``: one line for the results table.

``variant="local"`` returns a smoke version that runs on a CPU in minutes
(few examples, one epoch, n=20, one run) to check the pipeline end to end.
"""

from __future__ import annotations

import copy

# REFERENCE.md §3: the paper's training setting.
PAPER_TRAIN = dict(
    model="branch",
    filters=(32, 64, 128),
    num_branches=16,
    branch_dim=10,
    lam=20.0,
    eta=2.0,
    metric="l1",
    batch_size=100,
    learning_rate=1e-3,
    epochs=50,
    seed=0,
)

# REFERENCE.md §4: the one-class protocol ("Ours-120").
PAPER_EVAL = dict(n=[120], runs=5, radius=2.0, methods=["corel", "kde", "ocsvm"])


def make(
    *,
    train_dataset: str,
    eval_dataset: str,
    published: dict[str, float],
    doc: str,
    n: list[int] | None = None,
    variant: str = "",
    **train_overrides,
) -> dict:
    """Builds a config dict; ``variant="local"`` shrinks it to a CPU smoke run."""
    train = dict(PAPER_TRAIN, dataset=train_dataset, **train_overrides)
    evaluation = dict(copy.deepcopy(PAPER_EVAL), dataset=eval_dataset)
    if n is not None:
        evaluation["n"] = list(n)
    if variant == "local":
        train.update(epochs=1, max_examples=2000)
        evaluation.update(n=[20], runs=1, methods=["corel"], max_test_examples=2000)
    elif variant:
        raise ValueError(f"Unknown variant {variant!r}; expected '' or 'local'.")
    return dict(train=train, eval=evaluation, published=published, doc=doc)
