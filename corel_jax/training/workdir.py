"""A training run's work directory: its rules, and a lock that keeps a second run out.

A run owns its work directory while it trains: it holds an exclusive
``fcntl.flock`` on ``WORKDIR/.lock``, which holds its process id and host.
The kernel releases the lock when the process ends, however it ends (a
killed run leaves the file but no lock), so a stale lock never blocks a
resume. A second run (a resume, or the same command started twice) in a
directory whose lock is held is refused before it reads or writes anything.
On a shared file system (a multi-host run) only process 0 takes the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from corel_jax._files import RUN_LOG, check_directory
from corel_jax.training.config import TrainConfig

__all__ = ["LOCK", "check_workdir", "lock", "try_lock"]

LOCK = ".lock"


def check_workdir(workdir: Path, resume: bool, config: TrainConfig) -> bool:
    """The rules of a work directory; returns whether ``config`` extends the saved run.

    Without ``resume`` the directory must be absent or empty (but for its
    lock and the run's log); with it, it must hold a run whose config
    ``config`` may continue (:meth:`TrainConfig.continues`).

    Raises:
      ValueError: naming the rule that is broken.
    """
    check_directory(workdir, "workdir")
    if not resume:
        if workdir.is_dir() and any(p.name not in (RUN_LOG, LOCK) for p in workdir.iterdir()):
            raise ValueError(
                f"The work directory {workdir} is not empty; pass resume=True (--resume) to "
                "continue the run in it, or choose a new directory."
            )
        return False
    if not (workdir / "config.json").is_file():
        raise ValueError(f"resume: {workdir} holds no run to resume (no config.json).")
    try:
        return config.continues(TrainConfig.from_json((workdir / "config.json").read_text()))
    except ValueError as err:
        raise ValueError(f"resume: in {workdir}, {err}") from None


def _acquire(workdir: Path, *, create: bool) -> int | None:
    """An open descriptor of ``WORKDIR/.lock``, exclusively locked; None when there is
    no lock file and ``create`` is False.

    Raises:
      ValueError: another process holds the lock.
    """
    path = workdir / LOCK
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o666)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ValueError(
            f"The work directory {workdir} is in use by another training run ({holder}); "
            "wait for it to end, or choose another directory."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def lock(workdir: str | os.PathLike) -> Iterator[None]:
    """Holds the lock of ``workdir`` (created if needed) while the block runs.

    Raises:
      ValueError: another process holds it.
    """
    fd = _acquire(Path(workdir), create=True)
    assert fd is not None  # create=True: acquired or raised
    try:
        yield
    finally:
        os.close(fd)


def try_lock(workdir: Path, stack: contextlib.ExitStack, *, create: bool) -> bool:
    """Takes the lock of ``workdir`` until ``stack`` closes; returns whether it was taken.

    With ``create=False`` a directory without a lock file is not touched
    (False); with ``create=True`` the directory must exist.

    Raises:
      ValueError: another process holds the lock.
    """
    fd = _acquire(workdir, create=create)
    if fd is None:
        return False
    stack.callback(os.close, fd)
    return True
