"""Training-step throughput of the paper's setting, with and without the connectivity loss.

The paper's branch autoencoder on 32x32x3 inputs (random uint8 data), batch
100 per device, 16 x 10 branches, Adam: examples/s of the jitted, chunked
training step (``corel_jax.train``'s own chunk function, compile excluded,
median of repeats) for lambda = 20 and lambda = 0 in the same run, the
overhead of the connectivity loss, and the projected time of a full 50-epoch
run on 50,000 examples (CIFAR size).

Usage:
  python benchmarks/bench_train.py --out benchmarks/results/train_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import numpy as np

from corel_jax import train as T


def measure(lam: float, *, chunk: int, repeats: int, input_shape=(32, 32, 3)) -> dict:
    config = T.TrainConfig(lam=lam, steps_per_dispatch=chunk, devices=1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(chunk * config.batch_size, *input_shape), dtype=np.uint8)
    graphdef, state = T.create_train_state(config, input_shape, jax.random.key(0))
    devices = jax.local_devices()[:1]
    chunk_fn = T._make_chunk_fn(graphdef, config, devices)
    state = T._replicate(state, devices)
    images_dev = T._replicate(images, devices)
    idx = np.arange(len(images)).reshape(1, chunk, config.batch_size)
    t0 = time.perf_counter()
    state, metrics = chunk_fn(state, images_dev, idx)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, metrics = chunk_fn(state, images_dev, idx)
        jax.block_until_ready(metrics)
        samples.append((time.perf_counter() - t0) / chunk)
    step = statistics.median(samples)
    return {
        "lam": lam,
        "seconds_per_step": step,
        "examples_per_s": config.batch_size / step,
        "compile_seconds": compile_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/train.json")
    parser.add_argument("--chunk", type=int, default=10, help="steps per dispatch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    dev = jax.devices()[0]
    device = f"{dev.platform}: {dev.device_kind} ({os.cpu_count()} CPU cores)"
    rows = [measure(lam, chunk=args.chunk, repeats=args.repeats) for lam in (20.0, 0.0)]
    overhead = rows[0]["seconds_per_step"] / rows[1]["seconds_per_step"] - 1
    full_run_s = rows[0]["seconds_per_step"] * (50_000 // 100) * 50
    result = {
        "device": device,
        "jax": jax.__version__,
        "rows": rows,
        "connectivity_overhead": overhead,
        "full_run_estimate_seconds": full_run_s,
    }
    lines = [
        f"Device: {device}; paper model, 32x32x3, batch 100, chunks of {args.chunk} steps",
        "",
        "| lambda | ms / step | examples / s |",
        "|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['lam']:g} | {r['seconds_per_step'] * 1e3:.1f} | {r['examples_per_s']:.0f} |"
        )
    lines += [
        "",
        f"Connectivity loss overhead: {overhead * 100:+.1f}% step time.",
        f"Projected 50 epochs x 50,000 examples at lambda=20: {full_run_s / 3600:.2f} h.",
    ]
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(table + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
