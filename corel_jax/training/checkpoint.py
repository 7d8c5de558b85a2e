"""Checkpoints of plain pytrees with orbax: the arrays of a training state and a JSON meta item.

A checkpoint of step ``s`` is the folder ``WORKDIR/checkpoints/s`` with two
items: ``state`` (orbax ``StandardSave`` of a pytree of arrays) and ``meta``
(JSON: the config, the input shape, the device count). Orbax writes into
``s.orbax-checkpoint-tmp-*`` and renames the folder when it is complete, so a
killed run never leaves a half-written checkpoint that a reader would take;
:func:`latest_step` sees complete checkpoints only. Checkpoints written before
the ``meta`` item have a single ``default`` item; :func:`restore` reads them.

A checkpoint that is complete but does not restore (its files damaged after
it was written) is skipped by :func:`restore_newest`, which falls back to the
newest one that restores and moves the unreadable ones to
``WORKDIR/unreadable_checkpoints/`` (so that the resumed run can write its
own checkpoints of those steps).

This module knows nothing of models or configs: it saves and restores
pytrees and dicts.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = [
    "FORMAT",
    "UNREADABLE",
    "all_steps",
    "latest_step",
    "manager",
    "read_meta",
    "restore",
    "restore_newest",
    "save",
    "step_dir",
]

logger = logging.getLogger(__name__)

PyTree = Any

# The meta item's "format": 2 = items "state" and "meta".
FORMAT = 2
# Where restore_newest moves the checkpoints that do not restore.
UNREADABLE = "unreadable_checkpoints"


def _ocp():
    import orbax.checkpoint as ocp

    return ocp


def step_dir(workdir: str | os.PathLike, step: int) -> Path:
    """The folder of the checkpoint of ``step``."""
    return Path(workdir).absolute() / "checkpoints" / str(step)


def manager(workdir: str | os.PathLike, *, keep: int | None = None, create: bool = True):
    """An orbax ``CheckpointManager`` of ``WORKDIR/checkpoints`` keeping the newest ``keep``."""
    ocp = _ocp()
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=create)
    return ocp.CheckpointManager(Path(workdir).absolute() / "checkpoints", options=options)


def save(checkpoints, step: int, arrays: PyTree, meta: Mapping[str, Any]) -> None:
    """Saves host arrays and a JSON-serialisable meta dict as checkpoint ``step`` (async).

    Args:
      checkpoints: a :func:`manager`; call its ``wait_until_finished`` before exiting.
      step: the checkpoint's step.
      arrays: a pytree of arrays (fetched to the host here).
      meta: JSON-serialisable; ``"format"`` is added.
    """
    ocp = _ocp()
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(jax.device_get(arrays)),
        meta=ocp.args.JsonSave({"format": FORMAT, **meta}),
    )
    checkpoints.save(int(step), args=args)


def latest_step(workdir: str | os.PathLike) -> int | None:
    """The newest complete checkpoint's step, or None (orbax skips ``*.orbax-checkpoint-tmp-*``)."""
    if not (Path(workdir) / "checkpoints").is_dir():
        return None
    checkpoints = manager(workdir, create=False)
    try:
        return checkpoints.latest_step()
    finally:
        checkpoints.close()


def all_steps(workdir: str | os.PathLike) -> list[int]:
    """The steps of the complete checkpoints, ascending."""
    if not (Path(workdir) / "checkpoints").is_dir():
        return []
    checkpoints = manager(workdir, create=False)
    try:
        return sorted(checkpoints.all_steps())
    finally:
        checkpoints.close()


def read_meta(workdir: str | os.PathLike, step: int) -> dict | None:
    """The ``meta`` item of checkpoint ``step``; None for the single-item format."""
    if not (step_dir(workdir, step) / "meta").is_dir():
        return None
    ocp = _ocp()
    checkpoints = manager(workdir, create=False)
    try:
        restored = checkpoints.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(restored["meta"])
    finally:
        checkpoints.close()


def restore(workdir: str | os.PathLike, step: int, template: PyTree | None = None) -> PyTree:
    """The arrays of checkpoint ``step``.

    Args:
      workdir: the run's directory.
      step: a complete checkpoint's step.
      template: a pytree of arrays with the saved structure, shapes and
        dtypes; the result has its structure. None: the tree as saved
        (nested dicts with string keys, numpy arrays).

    Returns:
      The restored pytree, on the host.
    """
    ocp = _ocp()
    abstract = None if template is None else jax.tree.map(np.asarray, jax.device_get(template))
    checkpoints = manager(workdir, create=False)
    try:
        if (step_dir(workdir, step) / "state").is_dir():
            args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            return checkpoints.restore(step, args=args)["state"]
        # the single-item format of earlier runs
        return checkpoints.restore(step, args=ocp.args.StandardRestore(abstract))
    finally:
        checkpoints.close()


def _reason(err: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an error, without tensorstore's spec, at most ``limit`` chars."""
    lines = str(err).strip().splitlines()
    text = (lines[0] if lines else "").split(" [tensorstore_spec=")[0]
    text = f"{type(err).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def restore_newest(
    workdir: str | os.PathLike, template: PyTree | None = None, *, set_aside: bool = True
) -> tuple[int, PyTree, dict | None] | None:
    """The newest checkpoint that restores: ``(step, arrays, meta)``; None if there is none.

    Checkpoints that do not restore (arrays and meta, as :func:`restore` and
    :func:`read_meta` read them) are skipped with a warning that names them
    and the error; with ``set_aside`` they are moved to
    ``WORKDIR/unreadable_checkpoints/`` (pass False on all processes of a
    multi-process run but one).

    Raises:
      ValueError: there are checkpoints, and none of them restores.
    """
    steps = all_steps(workdir)
    for step in reversed(steps):
        try:
            arrays = restore(workdir, step, template)
            meta = read_meta(workdir, step)
        except Exception as err:  # orbax and tensorstore raise many kinds; all mean "unreadable"
            where = ""
            if set_aside:
                where = f"; moved to {_set_aside(workdir, step)}"
            logger.warning(
                "resume: skipped the checkpoint of step %d, which does not restore (%s)%s",
                step, _reason(err), where,
            )  # fmt: skip
            continue
        return step, arrays, meta
    if steps:
        raise ValueError(
            f"resume: none of the checkpoints in {Path(workdir) / 'checkpoints'} restores "
            f"(steps {steps}; see the warnings above)."
        )
    return None


def _set_aside(workdir: str | os.PathLike, step: int) -> Path:
    """Moves the checkpoint of ``step`` to ``WORKDIR/unreadable_checkpoints/``; returns where."""
    folder = Path(workdir).absolute() / UNREADABLE
    folder.mkdir(exist_ok=True)
    target, k = folder / str(step), 1
    while target.exists():
        target, k = folder / f"{step}-{k}", k + 1
    shutil.move(step_dir(workdir, step), target)
    return target
