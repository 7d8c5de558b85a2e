"""Speed of corel_jax.persistence against its peers, measured side by side.

Three tables, printed and written as JSON and Markdown; every row of a table
comes from the same run, and the timings of a table are interleaved (each
repeat times every row once), so a change of machine load hits all rows alike:

(a) the paper's training step: the connectivity loss forward + backward on a
    batch of 100 codes, 16 branches x 10 dims, l1, jitted. corel_jax rows:
    ``connectivity_loss`` (auto: the fused kernel, one call per batch), and
    the unfused loss (``rips_h0`` per branch through its custom VJP) with
    each MST algorithm. Peers: torch-topological's
    ``VietorisRipsComplex(dim=0, p=1)`` looped over the 16 branches (what a
    PyTorch user writes; forward + backward) and scipy (cdist +
    minimum_spanning_tree per branch, forward only).
(b) single clouds, 16 dims, l2, n = 100 ... 20,000: ``rips_h0`` with each
    algorithm against scipy single linkage, gudhi, giotto-ph and ripser.
(c) the peak memory of one call at the largest n, each implementation in a
    fresh ``python`` process: the rise of its peak resident set (``VmHWM``
    of ``/proc/self/status``, reset through ``/proc/self/clear_refs`` after
    imports, data and JAX compilation) over the resident set before the
    call. (Not ``ru_maxrss``: Linux carries a parent's peak across fork +
    exec, so every child reported the benchmark process' own peak.)

On a GPU the Pallas rows are added; on a CPU the Pallas kernels would only
run in interpret mode, which is not a speed, so they are left out. Peers
that are not installed are reported as missing. Timings are medians of
repeated samples after a warm-up (JAX compile time reported separately).

Usage:
  python benchmarks/bench_persistence.py --out benchmarks/results/persistence_cpu.json
  python benchmarks/bench_persistence.py --quick   # n up to 1,000, fewer repeats
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import textwrap
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from _results import write_results
from _timing import fmt_seconds, have, interleaved, jitted

from corel_jax.loss import connectivity_loss, split_branches
from corel_jax.persistence import rips_h0

ON_GPU = jax.default_backend() in ("gpu", "cuda", "rocm")
# The MST algorithms measured (Pallas only where it compiles to a kernel).
ALGORITHMS = (
    ([] if ON_GPU else ["native"])
    + ["matrix_free", "dense", "boruvka"]
    + (["pallas"] if ON_GPU else [])
)


# ---------------------------------------------------------------- (a) paper step

FUSED = "corel_jax connectivity_loss (auto: fused kernel)"


def unfused_loss(z, algorithm: str):
    """The loss written with rips_h0 per branch (its custom VJP), one MST algorithm."""
    per_branch = lambda s: rips_h0(s, metric="l1", sort=False, algorithm=algorithm).deaths
    deaths = jax.vmap(per_branch)(split_branches(z, 16))
    return jnp.mean(jnp.sum(jnp.abs(2.0 - deaths), axis=-1))


def bench_paper_step(repeats: int) -> dict:
    rng = np.random.default_rng(0)
    z_np = rng.normal(scale=0.5, size=(100, 160)).astype(np.float32)
    z = jnp.asarray(z_np)
    fns, compile_s = {}, {}
    fns[FUSED], compile_s[FUSED] = jitted(
        jax.value_and_grad(lambda z: connectivity_loss(z, eta=2.0, num_branches=16, metric="l1")),
        z,
    )
    for alg in ALGORITHMS:
        name = f"corel_jax unfused, rips_h0 algorithm={alg}"
        fns[name], compile_s[name] = jitted(
            jax.value_and_grad(lambda z, a=alg: unfused_loss(z, a)), z
        )

    rows: dict[str, dict] = {}
    torch_name = "torch-topological (loop over 16 branches, fwd+bwd, {} threads)"
    if have("torch_topological"):
        import torch
        from torch_topological.nn import VietorisRipsComplex

        vr = VietorisRipsComplex(dim=0, p=1)
        zt = torch.tensor(z_np, requires_grad=True)

        def torch_step(threads):
            torch.set_num_threads(threads)
            zt.grad = None
            total = 0.0
            for b in range(16):
                deaths = vr(zt[:, 10 * b : 10 * b + 10])[0].diagram[:, 1]
                deaths = deaths[torch.isfinite(deaths)]
                total = total + (2.0 - deaths).abs().sum()
            (total / 16).backward()
            return total

        # Both thread counts: the peer is credited with its faster one.
        for threads in sorted({1, os.cpu_count() or 1}):
            fns[torch_name.format(threads)] = lambda t=threads: torch_step(t)
    else:
        rows[torch_name.format("any")] = {"missing": True}

    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    def scipy_step():
        total = 0.0
        for b in range(16):
            s = z_np[:, 10 * b : 10 * b + 10]
            total += np.abs(2.0 - minimum_spanning_tree(cdist(s, s, "cityblock")).data).sum()
        return total / 16

    fns["scipy (cdist + MST per branch, fwd only)"] = scipy_step
    times = interleaved(fns, repeats=repeats)
    for name, seconds in times.items():
        rows[name] = {"seconds": seconds}
        if name in compile_s:
            rows[name]["compile_seconds"] = compile_s[name]
    ours = rows[FUSED]["seconds"]
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


# Largest n each implementation is run at: beyond it, minutes per call or
# more memory than a 24 GiB machine shared with other jobs has (ripser needs
# 3.5 GB at n = 8,000, growing as n^2).
MAX_N = {"gudhi": 4_000, "giotto-ph": 4_000, "ripser": 4_000, "corel_jax dense": 8_192}


def bench_single_clouds(sizes: list[int], repeats: int) -> dict:
    rng = np.random.default_rng(0)
    table = {}
    for n in sizes:
        x = rng.normal(size=(n, 16)).astype(np.float32)
        xj = jnp.asarray(x)
        fns, row = {}, {}
        for alg in ["auto"] + ALGORITHMS:
            name = f"corel_jax {alg}"
            if n > MAX_N.get(name, n):
                row[name] = {"skipped": f"n > {MAX_N[name]}"}
                continue
            fns[name], first = jitted(
                lambda x, a=alg: rips_h0(x, metric="l2", algorithm=a).deaths, xj
            )
            row[name] = {"first_call_seconds": first}
        for name, fn in _peer_fns(x).items():
            if fn is None:
                row[name] = {"missing": True}
            elif n > MAX_N.get(name, n):
                row[name] = {"skipped": f"n > {MAX_N[name]}"}
            else:
                fns[name] = fn
        reps = repeats if n <= 4000 else 1
        for name, seconds in interleaved(fns, repeats=reps, min_time=0.1).items():
            row.setdefault(name, {})["seconds"] = seconds
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
    import sys, numpy as np
    import jax, jax.numpy as jnp
    from scipy.cluster.hierarchy import linkage
    from corel_jax.persistence import rips_h0

    def status(key):  # kB, of this process alone
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key))

    which, n = sys.argv[1], int(sys.argv[2])
    x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    if which.startswith("corel_jax"):
        alg = which.split()[-1]
        xj = jnp.asarray(x)
        fn = jax.jit(lambda x: rips_h0(x, metric="l2", algorithm=alg).deaths)
        fn = fn.lower(xj).compile()  # (the compiler's memory is not counted)
        run = lambda: jax.block_until_ready(fn(xj))
    elif which == "scipy":
        run = lambda: linkage(x.astype(np.float64), method="single")
    elif which == "giotto-ph":
        from gph import ripser_parallel
        run = lambda: ripser_parallel(x, maxdim=0, n_threads=-1)
    before = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    run()
    print(status("VmHWM:") - before)
    """
)


def peak_memory_mib(n: int) -> dict:
    """Peak resident memory of one call at ``n`` points, each in a fresh process."""

    def run(which: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _MEM_SNIPPET, which, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip().splitlines()[-1]) / 1024.0

    result = {}
    cases = [f"corel_jax {a}" for a in ["auto"] + ALGORITHMS if n <= MAX_N.get(f"corel_jax {a}", n)]
    cases += ["scipy"] + (["giotto-ph"] if have("gph") and n <= MAX_N["giotto-ph"] else [])
    for which in cases:
        result[which] = run(which)
        print(f"  peak memory n={n} {which}: {result[which]:.0f} MiB", flush=True)
    return result


# ----------------------------------------------------------------------- output


def markdown(results: dict) -> str:
    load = results.get("load_average_1min", [float("nan")] * 2)
    lines = [
        f"Device: {results['device']}; jax {results['jax']}; "
        f"1-min load average {load[0]:.1f} -> {load[1]:.1f}",
        "",
        "(a) paper step: 16 branches x 100 points x 10 dims, l1, fwd+bwd (time, and ratio to "
        "the fused corel_jax loss)",
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
    ratio = [
        results["single_clouds"][n].get("corel_jax boruvka", {}).get("seconds", float("nan"))
        / results["single_clouds"][n].get("corel_jax matrix_free", {}).get("seconds", float("nan"))
        for n in sizes
    ]
    lines += [
        "",
        "XLA Borůvka / XLA Prim loop (matrix_free): "
        + ", ".join(f"n={n}: {r:.2f}x" for n, r in zip(sizes, ratio, strict=True)),
    ]
    if results.get("peak_memory_mib"):
        mem = results["peak_memory_mib"]
        lines += [
            "",
            f"Peak memory of one call at n={mem['n']} (MiB above the resident set before it; "
            "fresh process per row):",
            "",
        ]
        lines += ["| implementation | MiB |", "|---|---:|"]
        for k, v in mem.items():
            if k != "n":
                lines.append(f"| {k} | {v:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/persistence.json")
    parser.add_argument("--quick", action="store_true", help="n <= 1000, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--only-paper-step", action="store_true")
    args = parser.parse_args()

    sizes = args.sizes or ([100, 1000] if args.quick else [100, 1000, 4000, 20000])
    repeats = 3 if args.quick else args.repeats
    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    results = {
        "device": f"{dev.platform}: {dev.device_kind} ({os.cpu_count()} CPU cores, {cpu})",
        "jax": jax.__version__,
    }
    load_before = os.getloadavg()[0]
    print(f"# {results['device']}, jax {jax.__version__}", flush=True)
    print("(a) paper step ...", flush=True)
    results["paper_step"] = bench_paper_step(repeats)
    if args.only_paper_step:
        for name, r in results["paper_step"].items():
            print(f"  {name}: {fmt_seconds(r['seconds'])} ({r['ratio_vs_corel_jax']:.1f}x)")
        results["load_average_1min"] = [load_before, os.getloadavg()[0]]
        write_results(args.out, results)
        return
    print("(b) single clouds ...", flush=True)
    results["single_clouds"] = bench_single_clouds(sizes, repeats)
    if not args.no_memory:
        results["peak_memory_mib"] = {"n": max(sizes), **peak_memory_mib(max(sizes))}
    results["load_average_1min"] = [load_before, os.getloadavg()[0]]
    table = markdown(results)
    print(table)
    write_results(args.out, results, table)


if __name__ == "__main__":
    main()
