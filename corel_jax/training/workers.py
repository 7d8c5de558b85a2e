"""Training several backbones at once on a CPU: one worker process per group of cores.

XLA:CPU keeps a 2-core machine only partly busy with one small model (the
paper's autoencoder at batch size 100 used about 1.6 of 2 cores), so two
backbones trained one after the other take longer than the same two trained
side by side, each in its own process pinned to its own cores (measured on a
2-core AMD EPYC without AVX-512: 106 ms per step for one process on both
cores; 165 ms per step for each of two processes on one core each, i.e. 83 ms
per step of the pair). :func:`train_side_by_side` does that for the demo and
the experiments (:func:`corel_jax.training.runs.train_backbones`): every run is the
function it names, called with the run's config and workdir in its own process
(same configs, checkpoints, resumption), only the schedule changes. This module
knows nothing of training: it schedules processes, pins them, collects their logs
and shows their progress.

Each worker is a fresh (spawned) Python process pinned to its cores before
JAX starts; it writes its log to ``WORKDIR/train.log`` and its metrics to
``WORKDIR/metrics.jsonl`` as a normal run does, and the parent shows one
progress bar per run (log lines when stdout is not a terminal). An
interrupted parent (Ctrl-C) interrupts the workers, which save what
:func:`corel_jax.training.train.fit` saves; running the same command again resumes.
"""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from corel_jax._files import RUN_LOG

__all__ = ["available_cores", "core_groups", "train_side_by_side", "worth_it"]

logger = logging.getLogger(__name__)

_SINGLE_THREAD_FLAG = "--xla_cpu_multi_thread_eigen=false"


def available_cores() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_groups(cores: Sequence[int], workers: int) -> list[list[int]]:
    """Splits ``cores`` into ``workers`` disjoint, contiguous groups of (nearly) equal size.

    Examples:
      >>> core_groups([0, 1, 2, 3, 4], 2)
      [[0, 1, 2], [3, 4]]
    """
    if workers < 1 or workers > len(cores):
        raise ValueError(f"workers must be in 1..{len(cores)} (the cores); got {workers}.")
    size, extra = divmod(len(cores), workers)
    groups, start = [], 0
    for i in range(workers):
        end = start + size + (i < extra)
        groups.append(list(cores[start:end]))
        start = end
    return groups


def worth_it(num_runs: int) -> bool:
    """Whether :func:`train_side_by_side` beats training one run after the other here.

    True when there are at least two runs to train, the default JAX backend
    is the CPU and this process may use at least two cores. Reads the backend
    (so imports JAX).
    """
    import jax

    return num_runs >= 2 and jax.default_backend() == "cpu" and len(available_cores()) >= 2


def _resolve(target: str):
    """``"package.module:function"`` -> the function (imported here)."""
    module, sep, function = target.partition(":")
    if not sep or not module or not function:
        raise ValueError(f"target must be 'package.module:function'; got {target!r}.")
    return getattr(importlib.import_module(module), function)


def _worker(target: str, config_json: str, workdir: str, cores: list[int]) -> None:
    """A worker's body: pin to ``cores``, send the output to the log, then run ``target``.

    Runs in a spawned process; ``target`` is imported only after the pinning
    and the XLA flags are set, so JAX starts on the worker's cores.
    """
    os.sched_setaffinity(0, cores)
    if len(cores) == 1:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_SINGLE_THREAD_FLAG}"
    Path(workdir).mkdir(parents=True, exist_ok=True)
    log = open(Path(workdir) / RUN_LOG, "a", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)  # orbax / absl: warnings only
    logging.getLogger("corel_jax").setLevel(logging.INFO)

    _resolve(target)(config_json, workdir)


def _last_step(workdir: Path) -> int:
    """The step of the last row of ``workdir/metrics.jsonl`` (0 if none)."""
    path = workdir / "metrics.jsonl"
    if not path.is_file():
        return 0
    lines = path.read_text().strip().splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError):
            continue
    return 0


def _log_tail(workdir: Path, lines: int = 15) -> str:
    path = workdir / RUN_LOG
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class _Display:
    """One tqdm bar per run on a terminal; a log line per run every ``every`` seconds otherwise."""

    def __init__(self, totals: Mapping[str, int], starts: Mapping[str, int], every: float = 30.0):
        self.totals, self.every, self.last_log = dict(totals), every, time.monotonic()
        self.bars = {}
        if sys.stdout.isatty():
            from tqdm.auto import tqdm

            width = max(map(len, totals))
            self.bars = {
                name: tqdm(
                    total=total,
                    initial=starts[name],
                    desc=name.ljust(width),
                    unit="step",
                    position=i,
                    dynamic_ncols=True,
                )  # fmt: skip
                for i, (name, total) in enumerate(totals.items())
            }

    def update(self, steps: Mapping[str, int]) -> None:
        if self.bars:
            for name, step in steps.items():
                bar = self.bars[name]
                bar.update(max(0, min(step, bar.total) - bar.n))
        elif time.monotonic() - self.last_log >= self.every:
            self.last_log = time.monotonic()
            logger.info("side by side: %s", ", ".join(
                f"{name} step {steps[name]}/{total}" for name, total in self.totals.items()
            ))  # fmt: skip

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _stop(procs, *, grace: float = 5.0, save: float = 60.0) -> None:
    """Stops interrupted workers the way an interrupted run stops: they save, then exit.

    A Ctrl-C on a terminal reaches the workers too (one process group); a
    SIGINT sent to this process alone does not, so the workers still running
    after ``grace`` seconds get one. Any still alive ``save`` seconds later
    are terminated.
    """
    for proc in procs:
        proc.join(timeout=grace)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGINT)
    for proc in procs:
        proc.join(timeout=save)
        if proc.is_alive():
            proc.terminate()
            proc.join()


def train_side_by_side(
    runs: Mapping[str, tuple[Any, str | os.PathLike]],
    total_steps: Mapping[str, int],
    *,
    target: str,
    poll_seconds: float = 1.0,
) -> None:
    """Trains ``runs`` at once, each in a worker process pinned to its own cores.

    Args:
      runs: ``name -> (config, workdir)``; a config has ``to_json()``. At most
        as many runs as the cores this process may use.
      total_steps: ``name -> last step`` of each run (for the progress display).
      target: ``"package.module:function"``, the function each worker calls as
        ``function(config_json, workdir)``; it writes ``workdir/metrics.jsonl``
        rows with a ``step`` (for the progress display). Named, not passed, so
        that the worker imports it (and JAX) only once pinned to its cores.
      poll_seconds: how often the display reads the runs' ``metrics.jsonl``.

    Raises:
      RuntimeError: a worker failed; the message holds the end of its log
        (``WORKDIR/train.log``). The other workers are finished first.
      KeyboardInterrupt: re-raised after the workers have stopped.
    """
    _resolve(target)  # a wrong name fails here, not in every worker
    groups = core_groups(available_cores(), len(runs))
    context = multiprocessing.get_context("spawn")  # never fork a process that runs JAX
    procs = {}
    for (name, (config, workdir)), cores in zip(runs.items(), groups, strict=True):
        logger.info("training %s in a worker process on core(s) %s; log: %s", name,
                    ",".join(map(str, cores)), Path(workdir) / RUN_LOG)  # fmt: skip
        proc = context.Process(
            target=_worker,
            args=(target, config.to_json(), str(workdir), cores),
            name=f"train-{name}",
        )
        proc.start()
        procs[name] = proc
    workdirs = {name: Path(workdir) for name, (_, workdir) in runs.items()}
    display = _Display(total_steps, {n: _last_step(w) for n, w in workdirs.items()})
    try:
        while any(p.is_alive() for p in procs.values()):
            display.update({n: _last_step(w) for n, w in workdirs.items()})
            time.sleep(poll_seconds)
        display.update({n: _last_step(w) for n, w in workdirs.items()})
    except KeyboardInterrupt:
        _stop(procs.values())
        raise
    finally:
        display.close()
    failed = {name: p.exitcode for name, p in procs.items() if p.exitcode != 0}
    if failed:
        details = "\n\n".join(
            f"{name} (exit code {code}), end of {workdirs[name] / RUN_LOG}:\n"
            f"{_log_tail(workdirs[name])}"
            for name, code in failed.items()
        )
        raise RuntimeError(f"training failed in a worker process:\n{details}")
