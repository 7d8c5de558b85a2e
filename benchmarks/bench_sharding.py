"""Sharded vs unsharded: the same jitted computation on 8 devices and on one, in one run.

Each row is one computation on a batch with a leading axis of 8 (one item per
device), compiled twice: with that axis sharded over a mesh of 8 forced host
CPU devices (``NamedSharding(mesh, P("data"))``), and with everything on one
device. Both are compiled first (compilation excluded), then their repeats
are interleaved, so a change of machine load hits both alike; the median of
the repeats is reported, with the ratio sharded / unsharded (goal: at most
1.5 on a 2-core CPU, where the 8 devices share the 2 cores), the ratio of the
fastest calls (less sensitive to other jobs on the machine) and the number of
all-gathers in the sharded program. Rows:

* ``loss``: ``jax.value_and_grad`` of the mean of ``jax.vmap(connectivity_loss)``
  over 8 batches of the paper's codes, ``(8, 100, 160)`` (16 branches x 10);
* ``rips_h0``: ``jax.vmap(rips_h0)`` (``algorithm="auto"``: the C++ kernel)
  over 8 clouds of 100 points in 16 dims, deaths and their gradient;
  ``rips_h0_1000``: the same over 8 clouds of 1,000 points;
* ``train_step``: the trainer's chunk (``corel_jax.training.train.make_chunk_fn``)
  of one Adam step of the paper's conv model (16 x 10 branches, lambda 20)
  on 8 batches of 100 digits-sized images (8x8x1 uint8), on a mesh of 8
  devices vs a mesh of one;
* ``raw_ffi``: the fused loss kernel called through ``jax.ffi.ffi_call``
  without a partitioning rule (what the library did before its calls were
  given one), forward only: XLA gathers the batch onto every device;
* ``dispatch``: ``z * 2`` on the loss's ``(8, 100, 160)`` codes: the fixed
  cost of running a program on 8 devices rather than one, which bounds the
  ratio of the small computations.

Usage (8 host devices are forced here, before JAX starts):
  python benchmarks/bench_sharding.py --out benchmarks/results/sharding_cpu.json
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()

import argparse  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _results import write_results  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

from corel_jax.loss import connectivity_loss  # noqa: E402
from corel_jax.persistence import _native, rips_h0  # noqa: E402
from corel_jax.training import (
    parallel,  # noqa: E402
    train as T,  # noqa: E402
)
from corel_jax.training.config import TrainConfig  # noqa: E402
from corel_jax.training.state import create_train_state  # noqa: E402

DEVICES = 8
GOAL = 1.5


def _machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))  # fmt: skip
    except (OSError, subprocess.CalledProcessError, StopIteration):
        name = "unknown CPU"
    return f"{name}, {os.cpu_count()} cores"


class Case:
    """One computation, compiled for the two placements; ``time`` runs each once."""

    def __init__(self, name: str, fn: Callable, args: Callable, mesh8: Mesh, mesh1: Mesh):
        self.name, self.samples = name, {"sharded": [], "unsharded": []}
        self.calls, self.all_gathers, self.compile_seconds = {}, None, {}
        for kind, mesh in (("sharded", mesh8), ("unsharded", mesh1)):
            t0 = time.perf_counter()
            f, inputs = fn(mesh), args(mesh)
            if kind == "sharded" and hasattr(f, "lower"):
                text = f.lower(*inputs()).compile().as_text()
                self.all_gathers = len(re.findall(r"\ball-gather(-start)?\(", text))
            jax.block_until_ready(f(*inputs()))
            self.compile_seconds[kind] = time.perf_counter() - t0
            self.calls[kind] = (f, inputs)

    def time(self) -> None:
        for kind, (f, inputs) in self.calls.items():
            args = inputs()
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            self.samples[kind].append(time.perf_counter() - t0)


def _inputs(x: np.ndarray) -> Callable:
    """``mesh -> (() -> (x,))`` with ``x`` sharded along its first axis over ``mesh``."""

    def place(mesh: Mesh) -> Callable:
        placed = (jax.device_put(x, NamedSharding(mesh, PartitionSpec("data"))),)
        return lambda: placed

    return place


def loss_case(mesh8, mesh1, rng) -> Case:
    z = rng.normal(size=(DEVICES, 100, 160)).astype(np.float32)
    step = jax.jit(jax.value_and_grad(lambda z: jnp.mean(jax.vmap(connectivity_loss)(z))))
    return Case("loss", lambda m: step, _inputs(z), mesh8, mesh1)


def rips_case(mesh8, mesh1, rng, n: int = 100) -> Case:
    x = rng.normal(size=(DEVICES, n, 16)).astype(np.float32)
    deaths = lambda x: jax.vmap(lambda c: rips_h0(c, sort=False).deaths)(x)
    f = jax.jit(jax.value_and_grad(lambda x: jnp.sum(deaths(x))))
    return Case("rips_h0" if n == 100 else f"rips_h0_{n}", lambda m: f, _inputs(x), mesh8, mesh1)


def dispatch_case(mesh8, mesh1, rng) -> Case:
    z = rng.normal(size=(DEVICES, 100, 160)).astype(np.float32)
    f = jax.jit(lambda z: z * 2)
    return Case("dispatch", lambda m: f, _inputs(z), mesh8, mesh1)


def raw_ffi_case(mesh8, mesh1, rng) -> Case:
    z = rng.normal(size=(DEVICES, 100, 160)).astype(np.float32)
    out = (
        jax.ShapeDtypeStruct((), jnp.float32),
        jax.ShapeDtypeStruct((), jnp.float32),
        jax.ShapeDtypeStruct((100, 160), jnp.float32),
    )
    kernel = jax.ffi.ffi_call(_native._LOSS, out, vmap_method="broadcast_all")
    call = lambda z: kernel(z, jnp.float32(2.0), branches=np.int64(16),
                            kind=np.int32(_native.KIND_CODES["l1"]), p=np.float64(1.0))  # fmt: skip
    f = jax.jit(lambda z: jnp.mean(jax.vmap(call)(z)[0]))
    return Case("raw_ffi", lambda m: f, _inputs(z), mesh8, mesh1)


def train_case(mesh8, mesh1, rng) -> Case:
    config = TrainConfig(num_branches=16, branch_dim=10, batch_size=100)
    images = rng.integers(0, 17, size=(DEVICES * 100, 8, 8, 1), dtype=np.uint8)
    _, state = create_train_state(config, images.shape[1:], jax.random.key(0))
    idx = np.arange(DEVICES * 100).reshape(DEVICES, 1, 100)  # (devices, steps, B)
    copies = np.broadcast_to(images, (DEVICES, *images.shape))
    holders = {}

    def args(mesh):
        sharded = NamedSharding(mesh, PartitionSpec("data"))
        placed = (jax.device_put(copies, sharded), jax.device_put(idx, sharded))
        holders[mesh] = {"state": parallel.replicate(state, mesh)}

        def inputs():
            return holders[mesh], *placed

        return inputs

    def fn(mesh):
        chunk = T.make_chunk_fn(mesh)

        def run(holder, images, idx):  # the state is donated: keep the new one
            holder["state"], metrics = chunk(holder["state"], images, idx)
            return metrics

        run.lower = lambda holder, images, idx: chunk.lower(holder["state"], images, idx)
        return run

    return Case("train_step", fn, args, mesh8, mesh1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/sharding_cpu.json")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per placement")
    parser.add_argument("--slow-repeats", type=int, default=10,
                        help="the same for train_step and rips_h0_1000")  # fmt: skip
    args = parser.parse_args()
    if jax.device_count() < DEVICES:
        raise SystemExit(f"needs {DEVICES} devices; got {jax.device_count()}")
    devices = jax.devices()[:DEVICES]
    mesh8, mesh1 = Mesh(np.array(devices), ("data",)), Mesh(np.array(devices[:1]), ("data",))
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()[0]
    fast = [make(mesh8, mesh1, rng) for make in (loss_case, rips_case, raw_ffi_case, dispatch_case)]
    slow = [rips_case(mesh8, mesh1, rng, n=1000), train_case(mesh8, mesh1, rng)]
    for cases, repeats in ((fast, args.repeats), (slow, args.slow_repeats)):
        for _ in range(repeats):
            for case in cases:
                case.time()
    cases = fast + slow
    load_after = os.getloadavg()[0]

    rows = []
    for case in cases:
        med = {k: statistics.median(v) for k, v in case.samples.items()}
        low = {k: min(v) for k, v in case.samples.items()}
        rows.append({
            "name": case.name,
            "sharded_ms": med["sharded"] * 1e3,
            "unsharded_ms": med["unsharded"] * 1e3,
            "ratio": med["sharded"] / med["unsharded"],
            "ratio_of_fastest": low["sharded"] / low["unsharded"],
            "all_gathers_in_sharded_program": case.all_gathers,
            "samples_s": case.samples,
            "compile_s": case.compile_seconds,
        })  # fmt: skip
    machine = _machine()
    result = {
        "machine": machine,
        "jax": jax.__version__,
        "devices": f"{DEVICES} forced host CPU devices on {os.cpu_count()} cores",
        "goal_ratio": GOAL,
        "repeats": {"train_step, rips_h0_1000": args.slow_repeats, "others": args.repeats},
        "load_average_1min": [load_before, load_after],
        "rows": rows,
    }
    lines = [
        f"Machine: {machine}; jax {jax.__version__}; {DEVICES} forced host devices; median of "
        f"{args.repeats} interleaved repeats ({args.slow_repeats} for train_step and rips_h0_1000); 1-min load "
        f"average {load_before:.1f} -> {load_after:.1f}",
        "",
        "| computation | sharded (8 devices) | unsharded (1 device) | ratio | ratio of the "
        "fastest calls | all-gathers |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['name']}` | {r['sharded_ms']:.3g} ms | {r['unsharded_ms']:.3g} ms "
            f"| {r['ratio']:.2f} | {r['ratio_of_fastest']:.2f} "
            f"| {r['all_gathers_in_sharded_program']} |"
        )
    ours = [r for r in rows if r["name"] not in ("raw_ffi", "dispatch")]
    met = all(r["ratio"] <= GOAL for r in ours)
    lines += [
        "",
        f"Goal (sharded at most {GOAL}x unsharded) for the library's computations: "
        f"{'met' if met else 'NOT met'}. `raw_ffi` is the fused kernel without a "
        "partitioning rule and `dispatch` an elementwise op (the fixed cost of an 8-device "
        "program), for comparison. GPU scaling: not measured (no GPU).",
    ]
    result["goal_met"] = met
    write_results(args.out, result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
