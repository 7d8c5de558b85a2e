"""Speed of corel_jax.persistence against its peers, measured side by side.

Two tables, printed and written as JSON:

(a) the paper's training step: ``connectivity_loss`` forward + backward on a
    batch of 100 codes, 16 branches x 10 dims, l1 metric, jitted; against
    torch-topological's ``VietorisRipsComplex(dim=0, p=1)`` looped over the 16
    branches (what a PyTorch user writes; forward + backward), and against
    scipy (cdist + minimum_spanning_tree per branch, forward only).
(b) single clouds, 16 dims, l2, n = 100 ... 20,000: ``rips_h0`` (auto, and
    each algorithm) against scipy single linkage, gudhi, giotto-ph and
    ripser; and the peak memory (max RSS of a fresh process, minus that of a
    process that only imported the libraries) at the largest n.

Peers that are not installed are reported as missing. Timings are the median
of repeated runs after a warm-up (JAX compile time reported separately).

Usage:
  python benchmarks/bench_persistence.py --out benchmarks/results/persistence_cpu.json
  python benchmarks/bench_persistence.py --quick   # n up to 1,000, fewer repeats
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.loss import connectivity_loss
from corel_jax.persistence import rips_h0


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def timeit(fn: Callable[[], object], *, repeats: int, min_time: float = 0.2) -> float:
    """Median seconds per call; each sample averages enough calls to last ``min_time``."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / once / repeats))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


# ---------------------------------------------------------------- (a) paper step


def bench_paper_step(repeats: int) -> dict:
    rng = np.random.default_rng(0)
    z_np = rng.normal(scale=0.5, size=(100, 160)).astype(np.float32)
    rows = {}

    z = jnp.asarray(z_np)
    step = jax.jit(jax.value_and_grad(lambda z: connectivity_loss(z, eta=2.0, num_branches=16)))
    t0 = time.perf_counter()
    jax.block_until_ready(step(z))
    compile_s = time.perf_counter() - t0
    rows["corel_jax (jit, fwd+bwd)"] = {
        "seconds": timeit(lambda: jax.block_until_ready(step(z)), repeats=repeats),
        "compile_seconds": compile_s,
    }

    if have("torch_topological"):
        import torch
        from torch_topological.nn import VietorisRipsComplex

        torch.set_num_threads(os.cpu_count() or 1)
        vr = VietorisRipsComplex(dim=0, p=1)
        zt = torch.tensor(z_np, requires_grad=True)

        def torch_step():
            zt.grad = None
            total = 0.0
            for b in range(16):
                deaths = vr(zt[:, 10 * b : 10 * b + 10])[0].diagram[:, 1]
                deaths = deaths[torch.isfinite(deaths)]
                total = total + (2.0 - deaths).abs().sum()
            (total / 16).backward()
            return total

        rows["torch-topological (loop over 16 branches, fwd+bwd)"] = {
            "seconds": timeit(torch_step, repeats=repeats)
        }
    else:
        rows["torch-topological (loop over 16 branches, fwd+bwd)"] = {"missing": True}

    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    def scipy_step():
        total = 0.0
        for b in range(16):
            s = z_np[:, 10 * b : 10 * b + 10]
            total += np.abs(2.0 - minimum_spanning_tree(cdist(s, s, "cityblock")).data).sum()
        return total / 16

    rows["scipy (cdist + MST per branch, fwd only)"] = {
        "seconds": timeit(scipy_step, repeats=repeats)
    }
    ours = rows["corel_jax (jit, fwd+bwd)"]["seconds"]
    for r in rows.values():
        if "seconds" in r:
            r["ratio_vs_corel_jax"] = r["seconds"] / ours
    return rows


# ------------------------------------------------------------- (b) single clouds


def _peer_fns(x: np.ndarray) -> dict[str, Callable[[], object] | None]:
    fns: dict[str, Callable[[], object] | None] = {}
    from scipy.cluster.hierarchy import linkage

    x64 = x.astype(np.float64)
    fns["scipy single linkage"] = lambda: linkage(x64, method="single", metric="euclidean")
    if have("gudhi"):
        import gudhi

        def run_gudhi():
            st = gudhi.RipsComplex(points=x64).create_simplex_tree(max_dimension=1)
            st.persistence()
            return st.persistence_intervals_in_dimension(0)

        fns["gudhi"] = run_gudhi
    else:
        fns["gudhi"] = None
    if have("gph"):
        from gph import ripser_parallel

        fns["giotto-ph"] = lambda: ripser_parallel(x, maxdim=0, n_threads=-1)
    else:
        fns["giotto-ph"] = None
    if have("ripser"):
        from ripser import ripser

        fns["ripser"] = lambda: ripser(x, maxdim=0)
    else:
        fns["ripser"] = None
    return fns


# Largest n each peer is run at (beyond it: minutes or > 10 GB of memory here).
PEER_MAX_N = {"scipy single linkage": 20_000, "gudhi": 4_000, "giotto-ph": 20_000, "ripser": 20_000}


def bench_single_clouds(sizes: list[int], repeats: int) -> dict:
    rng = np.random.default_rng(0)
    table = {}
    for n in sizes:
        x = rng.normal(size=(n, 16)).astype(np.float32)
        xj = jnp.asarray(x)
        reps = repeats if n <= 4000 else max(3, repeats // 3)
        row = {}
        for alg in ("auto", "dense", "matrix_free"):
            if alg == "dense" and n * n * 4 > 8e9:
                continue
            f = jax.jit(lambda x, alg=alg: rips_h0(x, metric="l2", algorithm=alg).deaths)
            t0 = time.perf_counter()
            jax.block_until_ready(f(xj))
            compile_s = time.perf_counter() - t0
            row[f"corel_jax {alg}"] = {
                "seconds": timeit(lambda f=f, xj=xj: jax.block_until_ready(f(xj)), repeats=reps),
                "first_call_seconds": compile_s,
            }
        for name, fn in _peer_fns(x).items():
            if fn is None:
                row[name] = {"missing": True}
            elif n > PEER_MAX_N[name]:
                row[name] = {"skipped": f"n > {PEER_MAX_N[name]}"}
            else:
                row[name] = {"seconds": timeit(fn, repeats=reps if n < 20_000 else 1)}
        ours = row["corel_jax auto"]["seconds"]
        for r in row.values():
            if "seconds" in r:
                r["ratio_vs_corel_jax"] = r["seconds"] / ours
        table[n] = row
        print(
            f"  n={n}: "
            + ", ".join(f"{k} {v.get('seconds', float('nan')):.4g}s" for k, v in row.items()),
            flush=True,
        )
    return table


_MEM_SNIPPET = textwrap.dedent(
    """
    import resource, sys, numpy as np
    import jax, jax.numpy as jnp
    from scipy.cluster.hierarchy import linkage
    from corel_jax.persistence import rips_h0
    which, n = sys.argv[1], int(sys.argv[2])
    x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    if which.startswith("corel_jax"):
        alg = which.split()[-1]
        jax.block_until_ready(rips_h0(jnp.asarray(x), metric="l2", algorithm=alg).deaths)
    elif which == "scipy":
        linkage(x.astype(np.float64), method="single")
    elif which == "giotto-ph":
        from gph import ripser_parallel
        ripser_parallel(x, maxdim=0, n_threads=-1)
    elif which == "baseline":
        pass
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def peak_memory_mib(n: int) -> dict:
    def run(which: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _MEM_SNIPPET, which, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip().splitlines()[-1]) / 1024.0

    base = run("baseline")
    result = {"baseline_process_mib": base}
    cases = ["corel_jax auto", "corel_jax matrix_free", "corel_jax dense", "scipy"]
    if have("gph"):
        cases.append("giotto-ph")
    for which in cases:
        result[which] = run(which) - base
        print(f"  peak memory n={n} {which}: {result[which]:.0f} MiB above baseline", flush=True)
    return result


# ----------------------------------------------------------------------- output


def fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def markdown(results: dict) -> str:
    lines = [
        f"Device: {results['device']}",
        "",
        "(a) paper step: 16 branches x 100 points x 10 dims, l1",
        "",
    ]
    lines += ["| implementation | time per step | time / corel_jax |", "|---|---:|---:|"]
    for name, r in results["paper_step"].items():
        if "seconds" in r:
            lines.append(
                f"| {name} | {fmt_seconds(r['seconds'])} | {r['ratio_vs_corel_jax']:.1f}x |"
            )
        else:
            lines.append(f"| {name} | not installed | |")
    lines += ["", "(b) single clouds, 16 dims, l2 (time, and ratio to corel_jax auto)", ""]
    sizes = list(results["single_clouds"])
    names = list(results["single_clouds"][sizes[0]])
    lines.append("| implementation | " + " | ".join(f"n={n}" for n in sizes) + " |")
    lines.append("|---|" + "---:|" * len(sizes))
    for name in names:
        cells = []
        for n in sizes:
            r = results["single_clouds"][n].get(name, {})
            if "seconds" in r:
                cells.append(f"{fmt_seconds(r['seconds'])} ({r['ratio_vs_corel_jax']:.2g}x)")
            elif "missing" in r:
                cells.append("not installed")
            else:
                cells.append(r.get("skipped", "-"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if results.get("peak_memory_mib"):
        mem = results["peak_memory_mib"]
        lines += ["", f"Peak memory at n={mem['n']} (MiB above a process that only imported):", ""]
        lines += ["| implementation | MiB |", "|---|---:|"]
        for k, v in mem.items():
            if k not in ("n", "baseline_process_mib"):
                lines.append(f"| {k} | {v:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/persistence.json")
    parser.add_argument("--quick", action="store_true", help="n <= 1000, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()

    sizes = args.sizes or ([100, 1000] if args.quick else [100, 1000, 4000, 20000])
    repeats = 3 if args.quick else args.repeats
    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    results = {
        "device": f"{dev.platform}: {dev.device_kind} ({os.cpu_count()} CPU cores, {cpu})",
        "jax": jax.__version__,
    }
    print(f"# {results['device']}, jax {jax.__version__}", flush=True)
    print("(a) paper step ...", flush=True)
    results["paper_step"] = bench_paper_step(repeats)
    print("(b) single clouds ...", flush=True)
    results["single_clouds"] = bench_single_clouds(sizes, repeats)
    if not args.no_memory:
        results["peak_memory_mib"] = {"n": max(sizes), **peak_memory_mib(max(sizes))}
    table = markdown(results)
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, default=str)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(table + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
