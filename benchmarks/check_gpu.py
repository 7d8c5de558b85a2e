"""Correctness of the accelerator paths on a real GPU (the CPU tests run them in interpret mode).

Run on a machine with a CUDA (or ROCm) device; every check compares what the
GPU computes with an independent reference computed on the host:

* ``rips_h0`` deaths, every algorithm (``auto``, ``pallas`` = the Pallas Prim
  kernel up to 2,048 points and Borůvka with the tiled Pallas search above,
  ``boruvka``, ``matrix_free``, ``dense``), against scipy's minimum spanning
  tree in float64, on random clouds and on tie-heavy integer grids, for the
  l1 metric (and l2, linf for the Pallas kernels), n from 7 to 10,000, and
  on clouds of images (784 dims);
* ``rips_h0`` gradients on the GPU against the same function on the host CPU;
* the connectivity loss (on a GPU the unfused loss over the Pallas Prim
  kernel) against the same loss on the CPU;
* the TopoAE signature loss and the H0 diagram distances, GPU against CPU.

Prints one line per check and a summary; writes JSON with ``--out``; exits 1
if any check fails. Usage:

  python benchmarks/check_gpu.py --out benchmarks/results/check_gpu.json
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from corel_jax.diagrams import bottleneck_distance, wasserstein_distance
from corel_jax.loss import connectivity_loss, signature_loss
from corel_jax.persistence import rips_h0

SCIPY_METRIC = {"l1": "cityblock", "l2": "euclidean", "linf": "chebyshev"}
ALGORITHMS = ["auto", "pallas", "boruvka", "matrix_free", "dense"]


def scipy_deaths(x: np.ndarray, metric: str) -> np.ndarray:
    """Sorted MST edge lengths in float64 (zero-length edges included)."""
    d = cdist(x.astype(np.float64), x.astype(np.float64), SCIPY_METRIC[metric])
    # scipy drops zero entries of the graph: shift every distance by one.
    mst = minimum_spanning_tree(d + 1.0)
    return np.sort(mst.data - 1.0)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.all(np.isfinite(a)) and a.shape == b.shape):
        return float("inf")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


class Checks:
    """Runs checks, prints each result, and rewrites ``out`` after each (a cut-off run keeps
    what it checked)."""

    def __init__(self, out: str | None, header: dict) -> None:
        self.rows: list[dict] = []
        self.out, self.header = out, header

    def save(self) -> None:
        if self.out:
            with open(self.out, "w") as f:
                json.dump({**self.header, "checks": self.rows}, f, indent=1)

    def run(self, name: str, fn: Callable[[], float], tol: float) -> None:
        t0 = time.perf_counter()
        try:
            err = fn()
            ok = err <= tol
            row = {"check": name, "rel_err": err, "tol": tol, "ok": ok}
        except Exception as e:  # a check that crashes is a failure, reported with its cause
            row = {"check": name, "ok": False, "error": f"{type(e).__name__}: {e}"}
            traceback.print_exc()
        row["seconds"] = time.perf_counter() - t0
        self.rows.append(row)
        self.save()
        shown = (
            f"rel err {row['rel_err']:.2e} (tol {tol:.0e})" if "rel_err" in row else row["error"]
        )
        print(
            f"{'ok  ' if row['ok'] else 'FAIL'} {name}: {shown} [{row['seconds']:.1f} s]",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--sizes", type=int, nargs="*", default=[7, 100, 2048, 2049, 10000])
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on a CPU too (Pallas in interpret mode: a smoke test of this script)")  # fmt: skip
    args = parser.parse_args()

    gpu = jax.devices()[0]
    cpu = jax.devices("cpu")[0]
    print(f"# {gpu.platform}: {gpu.device_kind}; jax {jax.__version__}", flush=True)
    if gpu.platform == "cpu" and not args.allow_cpu:
        print("no accelerator: these checks are for a GPU machine")
        return 2
    rng = np.random.default_rng(0)
    checks = Checks(
        args.out, {"device": f"{gpu.platform}: {gpu.device_kind}", "jax": jax.__version__}
    )
    on = lambda a, dev: jax.device_put(jnp.asarray(a), dev)

    # -- deaths against scipy
    for n in args.sizes:
        for metric in ["l1", "l2", "linf"]:
            x = rng.normal(size=(n, 16)).astype(np.float32)
            ref = scipy_deaths(x, metric)
            for alg in ALGORITHMS if metric == "l1" else ["pallas"]:
                if alg == "dense" and n > 8192:
                    continue
                f = jax.jit(lambda x, a=alg, m=metric: rips_h0(x, metric=m, algorithm=a).deaths)
                checks.run(
                    f"deaths random n={n} {metric} {alg}",
                    lambda f=f, x=x, ref=ref: rel_err(f(on(x, gpu)), ref),
                    1e-5,
                )
    for n in [100, 3000]:
        x = rng.integers(0, 4, size=(n, 3)).astype(np.float32)  # many ties and duplicates
        ref = scipy_deaths(x, "l1")
        for alg in ["auto", "pallas", "boruvka"]:
            f = jax.jit(lambda x, a=alg: rips_h0(x, metric="l1", algorithm=a).deaths)
            checks.run(
                f"deaths integer grid n={n} l1 {alg}",
                lambda f=f, x=x, ref=ref: rel_err(f(on(x, gpu)), ref),
                0.0,
            )

    for n, d in [(95, 784), (1000, 784)]:  # wide clouds (images): rows of a distance matrix
        x = rng.uniform(-1, 1, size=(n, d)).astype(np.float32)
        ref = scipy_deaths(x, "l2")
        for alg in ["auto", "pallas"]:
            f = jax.jit(lambda x, a=alg: rips_h0(x, metric="l2", algorithm=a).deaths)
            checks.run(
                f"deaths wide cloud n={n} d={d} l2 {alg}",
                lambda f=f, x=x, ref=ref: rel_err(f(on(x, gpu)), ref),
                1e-5,
            )

    # -- gradients, GPU against CPU
    for n, alg in [(100, "pallas"), (3000, "pallas"), (3000, "boruvka")]:
        x = rng.normal(size=(n, 16)).astype(np.float32)
        w = rng.normal(size=(n - 1,)).astype(np.float32)

        def grad_err(x=x, w=w, alg=alg):
            g = lambda a: jax.jit(
                jax.grad(
                    lambda x: jnp.sum(jnp.asarray(w) * rips_h0(x, metric="l2", algorithm=a).deaths)
                )
            )
            return rel_err(g(alg)(on(x, gpu)), g("matrix_free")(on(x, cpu)))

        checks.run(f"rips_h0 gradient n={n} l2 {alg} (GPU vs CPU)", grad_err, 1e-5)

    # -- the connectivity loss, GPU against CPU
    for b, metric in [(100, "l1"), (100, "l2"), (1000, "l1"), (2048, "l1"), (2049, "l1")]:
        z = rng.normal(scale=0.5, size=(b, 160)).astype(np.float32)
        vg = jax.jit(
            jax.value_and_grad(
                lambda z, m=metric: connectivity_loss(z, eta=2.0, num_branches=16, metric=m)
            )
        )

        def loss_err(z=z, vg=vg):
            (v_gpu, g_gpu), (v_cpu, g_cpu) = vg(on(z, gpu)), vg(on(z, cpu))
            return max(rel_err(v_gpu, v_cpu), rel_err(g_gpu, g_cpu))

        checks.run(f"connectivity_loss value+grad B={b} {metric} (GPU vs CPU)", loss_err, 1e-5)

    # -- the signature loss and the diagram distances
    for b in [28, 95]:
        x = rng.normal(size=(b, 784)).astype(np.float32)
        z = rng.normal(size=(b, 2)).astype(np.float32)
        vg = jax.jit(jax.value_and_grad(lambda z, x: signature_loss(x, z, squared=True)))

        def sig_err(x=x, z=z, vg=vg):
            (v_gpu, g_gpu), (v_cpu, g_cpu) = vg(on(z, gpu), on(x, gpu)), vg(on(z, cpu), on(x, cpu))
            return max(rel_err(v_gpu, v_cpu), rel_err(g_gpu, g_cpu))

        checks.run(f"signature_loss value+grad B={b} (GPU vs CPU)", sig_err, 1e-5)
    a = np.sort(rng.exponential(size=(64,))).astype(np.float32)
    c = np.sort(rng.exponential(size=(40,))).astype(np.float32)
    for name, fn in [
        ("wasserstein order=1", lambda a, c: wasserstein_distance(a, c, order=1.0)),
        ("wasserstein order=2", lambda a, c: wasserstein_distance(a, c, order=2.0)),
        ("bottleneck", bottleneck_distance),
    ]:
        vg = jax.jit(jax.value_and_grad(fn))

        def diag_err(vg=vg):
            (v_gpu, g_gpu), (v_cpu, g_cpu) = vg(on(a, gpu), on(c, gpu)), vg(on(a, cpu), on(c, cpu))
            return max(rel_err(v_gpu, v_cpu), rel_err(g_gpu, g_cpu))

        checks.run(f"{name} value+grad (GPU vs CPU)", diag_err, 1e-5)

    failed = [r for r in checks.rows if not r["ok"]]
    print(
        f"# {len(checks.rows) - len(failed)} of {len(checks.rows)} checks passed on {gpu.device_kind}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
