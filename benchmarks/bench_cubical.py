"""Speed of cubical_h0 and graph_h0 against GUDHI, cripser and torch-topological.

Two tables, printed and written as JSON and Markdown; every row of a table
comes from the same run, and the timings of a column are interleaved (each
repeat times every row once), so a change of machine load hits all rows alike:

(a) images, sublevel filtration, 8 neighbours (GUDHI's
    ``CubicalComplex(top_dimensional_cells=...)``): a batch of 128 28x28
    images (``jax.vmap``; the peers loop), one 256x256 and one 512x512
    image. corel_jax rows: ``cubical_h0`` with each algorithm, forward (the
    diagram) and forward + backward (``jax.value_and_grad`` of the sum of the
    squared lifetimes), jitted. Peers, forward: GUDHI (``compute_persistence``
    and ``persistence_intervals_in_dimension(0)``: it computes H1 as well,
    which it cannot skip), cripser (``computePH(maxdim=0)``, its
    V-construction); forward + backward: torch-topological's
    ``CubicalComplex`` (GUDHI inside, gradients through PyTorch).
(b) lower-star filtrations of random graphs with ``m`` edges on ``m / 4``
    vertices (so about 4 components of one vertex at m = 10^4 and none
    above): ``graph_h0`` forward and forward + backward against GUDHI's
    SimplexTree (``insert_batch`` of the vertices and edges, then
    ``compute_persistence``; building the tree included, as a user must).

The ratios are GUDHI's forward time over ours. Timings are medians of
repeated samples after a warm-up (JAX compile time reported separately).
Peers that are not installed are reported as missing.

Usage (one core, as the figures in docs/graph_h0.md were measured):
  taskset -c 0 python benchmarks/bench_cubical.py --out benchmarks/results/cubical_cpu.json
  python benchmarks/bench_cubical.py --quick   # smaller sizes, fewer repeats

On a GPU only the XLA path (``boruvka``) runs; the peers run on the host CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from _results import write_results
from _timing import fmt_seconds, have, interleaved, jitted

from corel_jax.persistence import _union_find, cubical_h0, graph_h0

# the C++ kernel runs on CPUs only; elsewhere the XLA Borůvka path is the one "auto" takes
ON_CPU = jax.default_backend() == "cpu"
ALGORITHMS = (["native"] if _union_find.AVAILABLE and ON_CPU else []) + ["boruvka"]
# peers that are installed but fail: name -> the first line of the error
FAILED: dict[str, str] = {}


def squared_lifetimes(result) -> jax.Array:
    return jnp.sum(result.persistence() ** 2)


# ------------------------------------------------------------------- images


def image_fns(images: np.ndarray, batched: bool, slow_xla: bool):
    """Timed calls for one column: ``images`` is (B, H, W) if batched, else (H, W)."""
    fns, compile_s = {}, {}
    x = jnp.asarray(images)
    for alg in ALGORITHMS:
        if alg == "boruvka" and slow_xla:
            continue
        one = lambda i, a=alg: cubical_h0(i, algorithm=a)  # noqa: E731
        fwd = (
            (lambda x, o=one: jax.vmap(o)(x).diagram())
            if batched
            else (lambda x, o=one: o(x).diagram())
        )
        loss = (lambda x, o=one: jnp.sum(jax.vmap(lambda i: squared_lifetimes(o(i)))(x))) if batched \
            else (lambda x, o=one: squared_lifetimes(o(x)))  # fmt: skip
        for name, fn in (
            (f"corel_jax {alg}, fwd", fwd),
            (f"corel_jax {alg}, fwd+bwd", jax.value_and_grad(loss)),
        ):
            fns[name], compile_s[name] = jitted(fn, x)
    stack = images if batched else images[None]
    if have("gudhi"):
        import gudhi

        def run_gudhi():
            for image in stack:
                cc = gudhi.CubicalComplex(top_dimensional_cells=image)
                cc.compute_persistence()
                cc.persistence_intervals_in_dimension(0)

        fns["gudhi, fwd"] = run_gudhi
    if have("cripser"):
        import cripser

        stack64 = stack.astype(np.float64)
        fns["cripser, fwd"] = lambda: [cripser.computePH(i, maxdim=0) for i in stack64]
    if have("torch_topological"):
        import torch
        from torch_topological.nn import CubicalComplex

        torch.set_num_threads(1)
        layer = CubicalComplex(dim=2)
        xt = torch.tensor(stack)

        def run_torch():
            x = xt.clone().requires_grad_(True)
            total = 0.0
            for per_image in layer(x):
                diagram = per_image[0].diagram
                finite = torch.isfinite(diagram[:, 1])
                total = total + ((diagram[finite, 1] - diagram[finite, 0]) ** 2).sum()
            total.backward()

        try:
            run_torch()
            fns["torch-topological, fwd+bwd"] = run_torch
        except Exception as err:  # noqa: BLE001 - a peer that does not run is reported
            FAILED["torch-topological, fwd+bwd"] = (
                f"{type(err).__name__}: {str(err).splitlines()[0]}"
            )
    return fns, compile_s


def bench_images(quick: bool, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    columns = {
        "128 x 28x28": (rng.random((128, 28, 28)).astype(np.float32), True),
        "256x256": (rng.random((256, 256)).astype(np.float32), False),
        "512x512": (rng.random((512, 512)).astype(np.float32), False),
    }
    if quick:
        columns.pop("512x512")
    out = {}
    for column, (images, batched) in columns.items():
        print(f"images: {column}", flush=True)
        fns, compile_s = image_fns(images, batched, slow_xla=False)
        times = interleaved(
            fns, min_time=0.05, repeats=repeats if column != "512x512" else max(3, repeats // 2)
        )
        out[column] = {
            name: {
                "seconds": s,
                **({"compile_seconds": compile_s[name]} if name in compile_s else {}),
            }
            for name, s in times.items()
        }
    return out


# ------------------------------------------------------------------- graphs


def gudhi_lower_star(f: np.ndarray, edges: np.ndarray) -> Callable[[], object]:
    """GUDHI's H0 of the lower-star filtration, building the SimplexTree included."""
    import gudhi

    f64 = f.astype(np.float64)
    w = np.maximum(f64[edges[:, 0]], f64[edges[:, 1]])
    keep = edges[:, 0] != edges[:, 1]  # (no loops in a simplicial complex)
    vertices = np.arange(len(f), dtype=np.int32)[None, :]

    def run():
        st = gudhi.SimplexTree()
        st.insert_batch(vertices, f64)
        st.insert_batch(edges[keep].T, w[keep])
        st.compute_persistence(persistence_dim_max=True)
        return st.persistence_intervals_in_dimension(0)

    return run


def bench_graphs(quick: bool, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    out = {}
    for m in sizes:
        print(f"graphs: m = {m}", flush=True)
        n = m // 4
        f = rng.random(n).astype(np.float32)
        edges = rng.integers(0, n, (m, 2)).astype(np.int32)
        fns, compile_s = {}, {}
        for alg in ALGORITHMS:
            if alg == "boruvka" and m > 100_000 and ON_CPU:
                continue  # (minutes on a CPU; the XLA path is for accelerators)
            run = lambda f, e, a=alg: graph_h0(f, e, algorithm=a)  # noqa: E731
            fns[f"corel_jax {alg}, fwd"], compile_s[f"corel_jax {alg}, fwd"] = jitted(
                lambda f, e, r=run: r(f, e).diagram(), f, edges
            )
            name = f"corel_jax {alg}, fwd+bwd"
            fns[name], compile_s[name] = jitted(
                jax.value_and_grad(lambda f, e, r=run: squared_lifetimes(r(f, e))), f, edges
            )
        if have("gudhi"):
            fns["gudhi SimplexTree, fwd"] = gudhi_lower_star(f, edges)
        times = interleaved(
            fns, min_time=0.05, repeats=repeats if m < 1_000_000 else max(3, repeats // 2)
        )
        out[f"m={m:,}"] = {
            name: {
                "seconds": s,
                **({"compile_seconds": compile_s[name]} if name in compile_s else {}),
            }
            for name, s in times.items()
        }
    return out


# -------------------------------------------------------------------- report


def table(results: dict, reference: str) -> str:
    columns = list(results)
    names = []
    for col in columns:
        names += [n for n in results[col] if n not in names]
    lines = [
        "| implementation | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in names:
        cells = []
        for col in columns:
            row = results[col].get(name)
            if row is None:
                cells.append("not run")
                continue
            ref = results[col].get(reference)
            ratio = f" ({ref['seconds'] / row['seconds']:.3g}x)" if ref else ""
            cells.append(fmt_seconds(row["seconds"]) + ratio)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="JSON file (a .md table beside it)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    load = os.getloadavg()[0]
    images = bench_images(args.quick, repeats)
    graphs = bench_graphs(args.quick, repeats)
    load = f"{load:.1f} -> {os.getloadavg()[0]:.1f}"
    cores = len(os.sched_getaffinity(0))
    head = (
        f"Device: {jax.devices()[0].platform} ({platform.processor() or platform.machine()}, "
        f"{cores} core(s) available to the process); jax {jax.__version__}; "
        f"1-min load average {load}"
    )
    text = "\n\n".join(
        [
            head,
            "(a) images, sublevel, 8 neighbours (time, and GUDHI's forward time / this row's)",
            table(images, "gudhi, fwd"),
            "(b) lower-star graphs, m random edges on m/4 vertices (time, and GUDHI's / this row's)",
            table(graphs, "gudhi SimplexTree, fwd"),
        ]
    )
    for name, error in FAILED.items():
        text += f"\n\n{name}: installed, but fails ({error})"
    print(text)
    if args.out:
        results = {"device": head, "images": images, "graphs": graphs, "repeats": repeats}
        write_results(args.out, {**results, "failed_peers": FAILED}, text)


if __name__ == "__main__":
    main()
