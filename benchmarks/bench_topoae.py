"""TopoAE training step and signature loss: corel_jax vs torch-topological, side by side.

The paper's SPHERES setting: the MLP autoencoder 101-32-32-2 (BatchNorm),
batch 28, Adam (lr 2.7e-4, weight decay 1e-5), loss = MSE reconstruction +
lambda * topological loss / batch size (lambda 0.434), on batches of the
SPHERES training split. Both sides compute the same topological term,
torch-topological's ``SignatureLoss(p=2, normalise=True)`` on
``VietorisRipsComplex(dim=0)`` pairings, i.e. ``signature_loss(x, z,
squared=False)`` here:

* corel_jax: one ``jax.jit``-compiled step per dispatch (the nnx model and
  optimiser state raveled into one vector), and the same step 100 times
  per dispatch under ``lax.scan``;
* corel_jax's trainer (``corel_jax.training.train``'s jitted ``lax.scan`` chunk of
  ``data_parallel_step``, ``TrainConfig(topo="topoae", model="spheres_mlp")``): what
  ``corel-jax train`` runs, with the authors' term (squared, learnable latent
  scale), 100 steps per dispatch;
* PyTorch: the same architecture and optimiser, eager, with
  torch-topological computing both pairings every step (its usual use).

Also the loss alone (forward + backward w.r.t. the codes) for both. Repeats
of all variants are interleaved so that a change of machine load hits them
alike; medians are reported with the torch / corel_jax ratios.

Usage:
  python benchmarks/bench_topoae.py --out benchmarks/results/topoae_cpu.json
"""

from __future__ import annotations

import argparse
import os

# torch-topological imports POT, whose TensorFlow backend, loaded next to torch,
# makes torch.optim.Adam crash on this machine: keep POT off TensorFlow.
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")

import platform
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _results import write_results
from flax import nnx
from jax.flatten_util import ravel_pytree

from corel_jax.data.spheres import make_spheres, split_spheres
from corel_jax.loss import signature_loss
from corel_jax.models.topoae import SpheresAutoencoder

BATCH = 28
LR = 0.000272683866289072
LAM = 0.43357738971723536
WEIGHT_DECAY = 1e-5
SCAN_STEPS = 100


def batches(count: int) -> np.ndarray:
    """``(count, BATCH, 101)`` float32 training batches of SPHERES."""
    split = split_spheres(*make_spheres())
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(split.train))[: count * BATCH]
    return split.train[idx].reshape(count, BATCH, -1)


# ---------------------------------------------------------------- corel_jax


def _train_step(model: SpheresAutoencoder, optimizer: nnx.Optimizer, x: jax.Array) -> jax.Array:
    def loss_fn(model):
        x_hat, z = model(x)
        topo = signature_loss(x, z, squared=False)
        return jnp.mean((x - x_hat) ** 2) + LAM * topo / x.shape[0]

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def jax_step_functions(data: np.ndarray) -> dict[str, Callable[[], object]]:
    model = SpheresAutoencoder(rngs=nnx.Rngs(0))
    tx = optax.chain(optax.add_decayed_weights(WEIGHT_DECAY), optax.adam(LR))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    xs = jnp.asarray(data)
    counter = {"i": 0}

    # The model and optimiser state travel as one flat vector (ravel_pytree):
    # one argument to dispatch instead of ~70 arrays, whose per-argument
    # overhead would otherwise exceed the step itself on this CPU.
    graphdef, state = nnx.split((model, optimizer))
    flat, unravel = ravel_pytree(state)
    holder = {"flat": flat}

    def step(flat, x):
        m, o = nnx.merge(graphdef, unravel(flat))
        loss = _train_step(m, o, x)
        return ravel_pytree(nnx.state((m, o)))[0], loss

    one = jax.jit(step, donate_argnums=0)
    chunk = jax.jit(lambda flat, xs: jax.lax.scan(step, flat, xs), donate_argnums=0)
    batches_on_device = list(xs)

    def run_one():
        x = batches_on_device[counter["i"] % len(xs)]
        counter["i"] += 1
        holder["flat"], loss = one(holder["flat"], x)
        return loss

    def run_chunk():
        holder["flat"], losses = chunk(holder["flat"], xs[:SCAN_STEPS])
        return losses

    x0 = xs[0]
    z0 = jnp.asarray(np.random.default_rng(1).normal(size=(BATCH, 2)), jnp.float32)
    loss_alone = jax.jit(jax.value_and_grad(lambda z: signature_loss(x0, z, squared=False)))
    return {
        "step": run_one,
        "chunk": run_chunk,
        "loss": lambda: loss_alone(z0),
    }


def trainer_chunk_function(data: np.ndarray) -> Callable[[], object]:
    """``corel_jax.training.train``'s chunk of ``SCAN_STEPS`` TopoAE steps, as ``corel-jax train`` runs it."""
    from corel_jax.training import parallel, train
    from corel_jax.training.config import TrainConfig

    config = TrainConfig(
        dataset="spheres", model="spheres_mlp", topo="topoae", lam=LAM, num_branches=1,
        branch_dim=2, batch_size=BATCH, learning_rate=LR, weight_decay=WEIGHT_DECAY, devices=1,
    )  # fmt: skip
    mesh = parallel.data_mesh(1)
    points = data.reshape(-1, 1, 1, data.shape[-1])
    _, state = train.create_train_state(config, points.shape[1:], jax.random.key(0))
    holder = {"state": parallel.replicate(state, mesh)}
    images = parallel.device_copies(points, mesh)
    idx = np.arange(len(points)).reshape(1, SCAN_STEPS, BATCH)
    chunk = train.make_chunk_fn(mesh)

    def run_chunk():
        holder["state"], metrics = chunk(holder["state"], images, idx)
        return metrics["loss"]

    return run_chunk


# ---------------------------------------------------------------- PyTorch


def torch_step_functions(data: np.ndarray) -> dict[str, Callable[[], object]]:
    import torch
    from torch_topological.nn import SignatureLoss, VietorisRipsComplex

    nn = torch.nn
    torch.manual_seed(0)
    block = lambda a, b: [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
    encoder = nn.Sequential(*block(101, 32), *block(32, 32), nn.Linear(32, 2))
    decoder = nn.Sequential(*block(2, 32), *block(32, 32), nn.Linear(32, 101))
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.Adam(params, lr=LR, weight_decay=WEIGHT_DECAY)
    complex_ = VietorisRipsComplex(dim=0, p=2)
    signature = SignatureLoss(p=2)
    xs = torch.tensor(data)
    counter = {"i": 0}

    def run_one():
        x = xs[counter["i"] % len(xs)]
        counter["i"] += 1
        z = encoder(x)
        x_hat = decoder(z)
        topo = signature((x, complex_(x)), (z, complex_(z)))
        loss = torch.mean((x - x_hat) ** 2) + LAM * topo / x.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x0 = xs[0]
    z0 = torch.tensor(np.random.default_rng(1).normal(size=(BATCH, 2)), dtype=torch.float32)

    def loss_alone():
        z = z0.clone().requires_grad_(True)
        value = signature((x0, complex_(x0)), (z, complex_(z)))
        value.backward()
        return value

    return {"step": run_one, "loss": loss_alone}


# ---------------------------------------------------------------- timing


def timed(fn: Callable[[], object], calls: int, per_call: int = 1) -> float:
    """Seconds per unit of work: ``calls`` calls of ``fn``, ``per_call`` units each."""
    t0 = time.perf_counter()
    for _ in range(calls):
        out = fn()
    jax.block_until_ready(out) if isinstance(out, jax.Array | tuple) else None
    return (time.perf_counter() - t0) / (calls * per_call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/topoae_cpu.json")
    parser.add_argument("--calls", type=int, default=200, help="steps per timed sample")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import torch

    default_threads = torch.get_num_threads()
    data = batches(SCAN_STEPS)
    ours, theirs = jax_step_functions(data), torch_step_functions(data)
    # name -> (function, calls per sample, steps per call, torch threads or None)
    variants: dict[str, tuple[Callable[[], object], int, int, int | None]] = {
        "step/corel_jax": (ours["step"], args.calls, 1, None),
        "step/corel_jax scan": (ours["chunk"], max(1, args.calls // SCAN_STEPS), SCAN_STEPS, None),
        "loss/corel_jax": (ours["loss"], args.calls, 1, None),
        "step/corel_jax trainer": (
            trainer_chunk_function(data),
            max(1, args.calls // SCAN_STEPS),
            SCAN_STEPS,
            None,
        ),
    }
    for threads in sorted({1, default_threads}):
        variants[f"step/torch {threads}t"] = (theirs["step"], args.calls, 1, threads)
        variants[f"loss/torch {threads}t"] = (theirs["loss"], args.calls, 1, threads)

    def run(name: str, calls: int, per_call: int) -> float:
        fn, _, _, threads = variants[name]
        if threads is not None:
            torch.set_num_threads(threads)
        return timed(fn, calls, per_call)

    warmup = {name: run(name, 3, 1) for name in variants}  # includes compilation
    load_before = os.getloadavg()[0]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (_, calls, per_call, _) in variants.items():
            samples[name].append(run(name, calls, per_call))
    load_after = os.getloadavg()[0]
    torch.set_num_threads(default_threads)
    median = {name: statistics.median(s) for name, s in samples.items()}

    def best_torch(what: str) -> tuple[str, float]:
        name = min((n for n in median if n.startswith(f"{what}/torch")), key=median.get)
        return name.split()[-1], median[name]

    rows = []
    for label, ours_name, what in [
        ("training step, 1 step / dispatch", "step/corel_jax", "step"),
        (f"training step, {SCAN_STEPS} steps / dispatch (lax.scan)", "step/corel_jax scan", "step"),
        (
            f"training step, corel_jax.training.train (TopoAE term of the authors' code), {SCAN_STEPS} "
            "steps / dispatch",
            "step/corel_jax trainer",
            "step",
        ),
        ("signature loss alone, forward + backward", "loss/corel_jax", "loss"),
    ]:
        threads, theirs_s = best_torch(what)
        rows.append(
            {
                "what": label,
                "corel_jax_ms": median[ours_name] * 1e3,
                "torch_topological_ms": theirs_s * 1e3,
                "torch_threads": threads,
                "ratio": theirs_s / median[ours_name],
            }
        )
    device = f"{platform.machine()} CPU ({os.cpu_count()} cores), no GPU"
    meets = rows[0]["ratio"] >= 10
    result = {
        "device": device,
        "jax": jax.__version__,
        "torch": torch.__version__,
        "setting": {"batch": BATCH, "lr": LR, "lambda": LAM, "weight_decay": WEIGHT_DECAY},
        "repeats": args.repeats,
        "calls_per_sample": args.calls,
        "load_average_1min": [load_before, load_after],
        "rows": rows,
        "median_seconds": median,
        "samples_seconds": samples,
        "warmup_seconds_per_call": warmup,
        "meets_target_10x_step": meets,
    }
    lines = [
        f"Device: {device}; jax {jax.__version__}, torch {torch.__version__}, torch-topological; "
        f"SPHERES MLP 101-32-32-2, batch {BATCH}, Adam; median of {args.repeats} interleaved "
        f"samples of {args.calls} steps (1-min load average {load_before:.1f} -> {load_after:.1f}). "
        f"torch timed with 1 and {default_threads} threads; its faster setting is shown.",
        "",
        "| what | corel_jax (ms) | torch-topological (ms) | torch threads | torch / corel_jax |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['what']} | {r['corel_jax_ms']:.3f} | {r['torch_topological_ms']:.3f} "
            f"| {r['torch_threads']} | {r['ratio']:.1f}x |"
        )
    lines += [
        "",
        "All medians (ms): "
        + ", ".join(f"{name} {value * 1e3:.3f}" for name, value in median.items())
        + ".",
        f"Target (training step >= 10x faster, 1 step / dispatch): {'met' if meets else 'NOT met'}.",
    ]
    table = "\n".join(lines)
    print(table)
    write_results(args.out, result, table)


if __name__ == "__main__":
    main()
