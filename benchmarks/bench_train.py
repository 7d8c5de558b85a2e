"""Training-step throughput of the paper's setting, with and without the connectivity loss.

The paper's branch autoencoder on 32x32x3 inputs (random uint8 data), batch
100, 16 x 10 branches, Adam, on one device: examples/s of
``corel_jax.training.train``'s own jitted chunk function (``steps_per_dispatch`` steps
per dispatch), for lambda = 20 and lambda = 0 in the same run. Both chunk
functions are compiled first (compilation excluded), then the repeats of the
two are interleaved, so a change of machine load hits both alike; the median
of the repeats is reported. The overhead of the connectivity loss is the
ratio of the medians minus one (target: at most +20 %).

With ``--full-run-estimate`` it also projects the time of the paper's full
run, 50 epochs of 50,000 examples (CIFAR size) = 25,000 steps at lambda = 20,
plus the measured compilation time.

Usage:
  python benchmarks/bench_train.py --out benchmarks/results/train_cpu.json --full-run-estimate
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import numpy as np
from _results import write_results

from corel_jax.training import parallel, train as T
from corel_jax.training.config import TrainConfig
from corel_jax.training.state import create_train_state

INPUT_SHAPE = (32, 32, 3)
FULL_RUN_STEPS = 50 * (50_000 // 100)


def build(lam: float, chunk: int) -> dict:
    """Compiles the chunk of ``lam``; returns what :func:`time_chunk` needs."""
    config = TrainConfig(lam=lam, steps_per_dispatch=chunk, devices=1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(chunk * config.batch_size, *INPUT_SHAPE), dtype=np.uint8)
    _, state = create_train_state(config, INPUT_SHAPE, jax.random.key(0))
    mesh = parallel.data_mesh(1)
    run = {
        "lam": lam,
        "fn": T.make_chunk_fn(mesh),
        "state": parallel.replicate(state, mesh),
        "images": parallel.device_copies(images, mesh),
        "idx": np.arange(len(images)).reshape(1, chunk, config.batch_size),
        "chunk": chunk,
        "batch": config.batch_size,
        "samples": [],
    }
    t0 = time.perf_counter()
    time_chunk(run)
    run["compile_seconds"] = time.perf_counter() - t0
    run["samples"].clear()
    return run


def time_chunk(run: dict) -> None:
    """Runs one chunk; appends its seconds per step."""
    t0 = time.perf_counter()
    run["state"], metrics = run["fn"](run["state"], run["images"], run["idx"])
    jax.block_until_ready((run["state"], metrics))
    run["samples"].append((time.perf_counter() - t0) / run["chunk"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/train.json", help="JSON output path")
    parser.add_argument("--chunk", type=int, default=10, help="steps per dispatch")
    parser.add_argument("--repeats", type=int, default=7, help="timed chunks per lambda")
    parser.add_argument(
        "--full-run-estimate",
        action="store_true",
        help="also project the time of 50 epochs x 50,000 examples at lambda=20",
    )
    args = parser.parse_args()

    dev = jax.devices()[0]
    device = f"{dev.platform}: {dev.device_kind} ({os.cpu_count()} CPU cores)"
    load_before = os.getloadavg()[0]
    runs = [build(lam, args.chunk) for lam in (20.0, 0.0)]
    for _ in range(args.repeats):
        for run in runs:
            time_chunk(run)
    load_after = os.getloadavg()[0]

    rows = []
    for run in runs:
        step = statistics.median(run["samples"])
        rows.append(
            {
                "lam": run["lam"],
                "seconds_per_step": step,
                "seconds_per_step_samples": run["samples"],
                "examples_per_s": run["batch"] / step,
                "compile_seconds": run["compile_seconds"],
            }
        )
    overhead = rows[0]["seconds_per_step"] / rows[1]["seconds_per_step"] - 1
    result = {
        "device": device,
        "jax": jax.__version__,
        "input_shape": list(INPUT_SHAPE),
        "batch_size": 100,
        "branches": "16 x 10",
        "steps_per_dispatch": args.chunk,
        "repeats": args.repeats,
        "load_average_1min": [load_before, load_after],
        "rows": rows,
        "connectivity_overhead": overhead,
        "meets_target_20_percent": overhead <= 0.2,
    }
    lines = [
        f"Device: {device}; jax {jax.__version__}; the paper's model, 32x32x3, batch 100,",
        f"16 x 10 branches, chunks of {args.chunk} steps, median of {args.repeats} interleaved "
        f"repeats (1-min load average {load_before:.1f} -> {load_after:.1f})",
        "",
        "| lambda | ms / step | examples / s | compile s |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['lam']:g} | {r['seconds_per_step'] * 1e3:.3g} | {r['examples_per_s']:.0f} "
            f"| {r['compile_seconds']:.1f} |"
        )
    lines += [
        "",
        f"Connectivity loss overhead (lambda=20 vs 0): {overhead * 100:+.1f}% step time "
        f"(target: at most +20%: {'met' if overhead <= 0.2 else 'NOT met'}).",
    ]
    if args.full_run_estimate:
        seconds = rows[0]["seconds_per_step"] * FULL_RUN_STEPS + rows[0]["compile_seconds"]
        result["full_run_estimate"] = {
            "epochs": 50,
            "examples": 50_000,
            "steps": FULL_RUN_STEPS,
            "seconds": seconds,
        }
        lines.append(
            f"Projected 50 epochs x 50,000 examples ({FULL_RUN_STEPS} steps) at lambda=20: "
            + (
                f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min)"
                if seconds >= 600
                else f"{seconds:.0f} s"
            )
            + " on this device."
        )
    table = "\n".join(lines)
    print(table)
    write_results(args.out, result, table)


if __name__ == "__main__":
    main()
