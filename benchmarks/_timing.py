"""Timing shared by the benchmark scripts: interleaved medians, jitted calls, durations."""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable

import jax


def have(module: str) -> bool:
    """Whether ``module`` (a peer library) is installed."""
    return importlib.util.find_spec(module) is not None


def interleaved(
    fns: dict[str, Callable[[], object]], *, repeats: int, min_time: float = 0.1
) -> dict[str, float]:
    """Median seconds per call of each function; the repeats are interleaved.

    Each repeat times every function once, so a change of machine load hits all
    of them alike; each sample averages enough calls to last about ``min_time``.
    The functions must be compiled already (``jitted`` does it).
    """
    inner = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        inner[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def jitted(fn, *args) -> tuple[Callable[[], object], float]:
    """A no-argument timed call of ``jax.jit(fn)(*args)`` and its first-call seconds."""
    f = jax.jit(fn)
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    return (lambda: jax.block_until_ready(f(*args))), time.perf_counter() - t0


def fmt_seconds(seconds: float) -> str:
    """``seconds`` in us, ms or s, as the benchmark tables print it."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
