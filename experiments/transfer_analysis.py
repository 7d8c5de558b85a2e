"""Measurements behind the Fashion-MNIST transfer results (``experiments/configs/fashion_mnist_transfer_*.py``).

Usage:
  python -m experiments.transfer_analysis drift runs/fashion_mnist_transfer_a runs/fashion_mnist_transfer_b --out experiments/results/transfer
  python -m experiments.transfer_analysis sizes runs/transfer_sizes --out experiments/results/transfer

``drift``: for every kept checkpoint (every 5 epochs) of the lambda = 0 and
lambda = 20 backbones, and at 10 and 50 epochs for every backbone: held-out
death times and both loss terms on the seen and the unseen classes' test
images, the norms of both terms' gradients at the codes (the encoder receives
both only through the codes), the mean l1 size of a code branch, and COREL's
one-class AUROC (n = 120, 5 runs) with the share of test points whose ball
count is 0; at 10 and 50 epochs also the AUROC over radii, and the AUROC of
each class against the seen and against the unseen negatives apart (ball
count and latent KDE).

``sizes``: the two loss terms and their gradients at the codes for the group-A
images as 28x28x1 and as 32x32x3 (padded by 2 pixels, the channel repeated:
the same content in 3,072 values), at initialisation and after one epoch of
training each with lambda = 20, the paper's definition.

Both write ``<what>.json`` under ``--out``.

``report``: the Markdown tables of both (``report.md`` under ``--out``; the
positional argument is the folder holding ``sizes.json`` / ``drift.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

TRACKED = (0.0, 20.0)  # lambdas followed at every checkpoint
RADII = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
N, RUNS = 120, 5


def term_gradients(model, images: np.ndarray, config, *, batches: int = 3) -> dict[str, float]:
    """Mean over batches of ``Rec``, ``L_conn`` and the norms of their gradients at the codes."""
    from corel_jax import loss as losses

    graphdef, state = nnx.split(model)
    b = config.batch_size

    @jax.jit
    def terms(state, x_uint8):
        m = nnx.merge(graphdef, state)
        x = x_uint8.astype(jnp.float32) / 255.0
        z = m.encode(x)
        rec, g_rec = jax.value_and_grad(lambda z: losses.reconstruction_loss(m.decode(z), x))(z)
        conn, g_conn = jax.value_and_grad(
            lambda z: losses.connectivity_loss(
                z, eta=config.eta, num_branches=config.num_branches, metric=config.metric
            )
        )(z)
        return rec, conn, jnp.linalg.norm(g_rec), jnp.linalg.norm(g_conn)

    per_batch = [jax.device_get(terms(state, images[i * b : (i + 1) * b])) for i in range(batches)]
    rec, conn, g_rec, g_conn = np.asarray(per_batch, np.float64).mean(0)
    lam = config.effective_lam(images.shape[1:])
    return {"rec": rec, "conn": conn, "grad_rec": g_rec, "grad_conn": g_conn,
            "rec_per_value": rec / np.prod(images.shape[1:]), "lam": lam,
            "loss_ratio": lam * conn / rec, "grad_ratio": lam * g_conn / g_rec}  # fmt: skip


def ball_aurocs(codes, labels, config, seen, *, radii) -> dict:
    """Per radius: COREL's unseen / seen mean AUROC and the share of zero ball counts."""
    from corel_jax import oneclass

    (train_codes, test_codes), (train_labels, test_labels) = codes, labels
    out = {}
    for r in radii:
        ball = oneclass.ball_count_scorer(radius=r, num_branches=config.num_branches,
                                          metric=config.metric)  # fmt: skip
        res = oneclass.evaluate_methods(
            {"corel": oneclass.Method(ball, train_codes, test_codes)}, train_labels, test_labels,
            n=N, runs=RUNS, seen_classes=seen, progress=False,
        )  # fmt: skip
        inliers = lambda c: train_codes[oneclass.draw_inliers(train_labels, c, N, seed=0, run=0)]
        zero = [np.mean(ball(inliers(c), test_codes) == 0) for c in res.classes]
        out[f"{r:g}"] = {"unseen": res.group_mean("corel", seen=False),
                         "seen": res.group_mean("corel", seen=True),
                         "zero_score_share": float(np.mean(zero))}  # fmt: skip
    return out


def negatives_split(codes, labels, config, seen) -> dict:
    """AUROC of each class against the seen and the unseen classes' negatives apart.

    Returns ``{method: {"seen"|"unseen" class group: {"vs_seen", "vs_unseen"}}}``:
    means over the group's classes and 5 runs (a class is never its own negative).
    """
    from sklearn.metrics import roc_auc_score

    from corel_jax import oneclass

    (train_codes, test_codes), (train_labels, test_labels) = codes, labels
    scorers = {
        "corel": oneclass.ball_count_scorer(radius=config.eta, num_branches=config.num_branches,
                                            metric=config.metric),
        "kde": oneclass.kde_scorer(),
    }  # fmt: skip
    neg_seen = np.isin(test_labels, seen)
    out = {}
    for name, scorer in scorers.items():
        per_class = {}
        for c in np.unique(test_labels):
            pos = test_labels == c
            vs = {"vs_seen": [], "vs_unseen": []}
            for r in range(RUNS):
                s = scorer(train_codes[oneclass.draw_inliers(train_labels, c, N, seed=0, run=r)],
                           test_codes)  # fmt: skip
                for key, neg in (("vs_seen", neg_seen & ~pos), ("vs_unseen", ~neg_seen & ~pos)):
                    if neg.any():  # a group of one class has no negatives of its own group
                        vs[key].append(roc_auc_score(pos[pos | neg], s[pos | neg]))
            per_class[int(c)] = {k: float(np.mean(v)) for k, v in vs.items() if v}
        out[name] = {
            group: {k: float(np.mean([v[k] for c, v in per_class.items()
                                      if (c in seen) == flag and k in v]))
                    for k in ("vs_seen", "vs_unseen")}
            for group, flag in (("seen", True), ("unseen", False))
        }  # fmt: skip
    return out


def _kept_steps(workdir: Path) -> list[int]:
    from corel_jax.training import checkpoint

    steps = [int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()]
    return sorted(s for s in steps if checkpoint.read_meta(workdir, s) is not None)


def drift(roots: list[str], only: tuple[str, ...] = ()) -> list[dict]:
    """One record per (direction, backbone, analysed checkpoint); see the module docstring.

    ``only``: the backbone folder names to analyse (all when empty).
    """
    from corel_jax import data, oneclass
    from corel_jax.training import runs
    from corel_jax.training.backbone import death_times_by_group, encode, load_backbone
    from corel_jax.training.config import TrainConfig

    train, test = data.load("fashion_mnist", "train"), data.load("fashion_mnist", "test")
    labels = (train.labels, test.labels)
    records = []
    for root in roots:
        for workdir in sorted(p for p in Path(root).iterdir() if (p / "config.json").is_file()):
            if only and workdir.name not in only:
                continue
            config = TrainConfig.from_json((workdir / "config.json").read_text())
            seen = oneclass.seen_classes(config, "fashion_mnist", 10)
            spe = runs.steps_per_epoch(config, workdir)
            for step in _kept_steps(workdir):
                epochs, final = step // spe, step // spe in (10, 50)
                if not final and not (config.lam in TRACKED and config.lam_scale == "paper"):
                    continue
                logging.info("%s: step %d (epoch %d)", workdir, step, epochs)
                model, _ = load_backbone(workdir, step)
                codes = encode(model, train.images), encode(model, test.images)
                record = {
                    "root": str(root), "backbone": workdir.name, "classes": list(seen),
                    "lam": config.lam, "lam_scale": config.lam_scale, "step": step,
                    "epochs": epochs,
                    "deaths": death_times_by_group(model, config, test, seen),
                    "terms": term_gradients(model, test.images[np.isin(test.labels, seen)], config),
                    "code_l1_per_branch": float(np.abs(codes[1]).sum(1).mean() / config.num_branches),
                    "ball": ball_aurocs(codes, labels, config, seen,
                                        radii=RADII if final else (config.eta,)),
                }  # fmt: skip
                if final:
                    record["negatives"] = negatives_split(codes, labels, config, seen)
                records.append(record)
    return records


def sizes(root: str) -> dict:
    """The two loss terms for group A as 28x28x1 and as 32x32x3 (see the module docstring)."""
    from corel_jax import data
    from corel_jax.training import runs
    from corel_jax.training.backbone import load_backbone
    from corel_jax.training.config import TrainConfig
    from corel_jax.training.train import train_and_evaluate

    group = (0, 1, 2, 3, 4)
    train = data.load("fashion_mnist", "train").select(group).images
    test = data.load("fashion_mnist", "test").select(group).images
    as_rgb = lambda x: np.repeat(np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1)
    config = TrainConfig(dataset="fashion_mnist", epochs=1, devices=1)
    out = {}
    for label, images, held_out in (
        ("28x28x1", train, test),
        ("32x32x3", as_rgb(train), as_rgb(test)),
    ):
        workdir = Path(root) / label
        if not (workdir / "summary.json").is_file():
            train_and_evaluate(config, workdir, images=images, resume=workdir.exists())
        for when, model in (("init", runs.initial_model(config, images.shape[1:])),
                            ("1 epoch", load_backbone(workdir)[0])):  # fmt: skip
            out[f"{label}, {when}"] = term_gradients(model, held_out, config)
    return out


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def report(folder: str) -> str:
    """Markdown tables of ``sizes.json`` and ``drift.json`` in ``folder`` (those present)."""
    folder, parts = Path(folder), []
    if (folder / "sizes.json").is_file():
        sizes_ = json.loads((folder / "sizes.json").read_text())
        lines = ["| input, weights | Rec | L_conn | λ·L_conn / Rec | λ·‖∇L_conn‖ / ‖∇Rec‖ (at the codes) |",
                 "|---|---:|---:|---:|---:|"]  # fmt: skip
        for key, t in sizes_.items():
            lines.append(f"| {key} | {_f(t['rec'], 1)} | {_f(t['conn'], 1)} | "
                         f"{_f(t['loss_ratio'], 2)} | {_f(t['grad_ratio'], 2)} |")  # fmt: skip
        parts.append("Loss terms by input size (group A, λ = 20):\n\n" + "\n".join(lines))
    if (folder / "drift.json").is_file():
        records = json.loads((folder / "drift.json").read_text())
        direction = lambda r: "A" if r["classes"][0] == 0 else "B"
        records.sort(key=lambda r: (direction(r), r["lam"], r["lam_scale"], r["step"]))
        lines = ["| backbone | λ | epoch | death mean (unseen / seen) | code l1 per branch | "
                 "ball count AUROC at η (unseen / seen) | test points with ball count 0 |",
                 "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in records:
            d, b = r["deaths"], r["ball"][f"{2.0:g}"] if f"{2.0:g}" in r["ball"] else None
            deaths = f"{_f(d['unseen']['mean'], 2)} / {_f(d['seen']['mean'], 2)}"
            ball = "-" if b is None else f"{_f(b['unseen'])} / {_f(b['seen'])}"
            zero = "-" if b is None else f"{100 * b['zero_score_share']:.0f} %"
            lines.append(f"| {direction(r)} | {r['lam']:g} | {r['epochs']} | {deaths} | "
                         f"{_f(r['code_l1_per_branch'], 2)} | {ball} | {zero} |")  # fmt: skip
        parts.append("Over training (held-out images):\n\n" + "\n".join(lines))
        finals = [r for r in records if len(r["ball"]) > 1]
        radii = sorted({float(k) for r in finals for k in r["ball"]})
        lines = ["| backbone | λ | epoch | " + " | ".join(f"r = {x:g}" for x in radii) + " |",
                 "|---|---:|---:|" + "---:|" * len(radii)]  # fmt: skip
        for r in finals:
            cells = [_f(r["ball"][f"{x:g}"]["unseen"]) for x in radii]
            lines.append(
                f"| {direction(r)} | {r['lam']:g} | {r['epochs']} | " + " | ".join(cells) + " |"
            )
        parts.append("Ball-count AUROC on the unseen classes by radius:\n\n" + "\n".join(lines))
        lines = ["| backbone | λ | score | seen classes: vs seen / vs unseen negatives | "
                 "unseen classes: vs seen / vs unseen negatives |", "|---|---:|---|---:|---:|"]  # fmt: skip
        for r in finals:
            for method, groups in r.get("negatives", {}).items():
                cell = lambda g, groups=groups: (
                    f"{_f(groups[g]['vs_seen'])} / {_f(groups[g]['vs_unseen'])}"
                )
                lines.append(f"| {direction(r)} | {r['lam']:g} | {method} | {cell('seen')} | "
                             f"{cell('unseen')} |")  # fmt: skip
        parts.append("AUROC by the negatives' group:\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("drift", "sizes", "report"))
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="", help="drift: comma-separated backbone folder names; "
                        "their records replace those in an existing drift.json")  # fmt: skip
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.what == "report":
        text = report(args.roots[0])
        print(text)
        (out / "report.md").write_text(text + "\n")
        return 0
    path = out / f"{args.what}.json"
    if args.what == "sizes":
        result = sizes(args.roots[0])
    else:
        only = tuple(filter(None, args.only.split(",")))
        result = drift(args.roots, only)
        if only and path.is_file():  # keep the other backbones' records
            new = {(r["root"], r["backbone"], r["step"]) for r in result}
            old = [r for r in json.loads(path.read_text())
                   if (r["root"], r["backbone"], r["step"]) not in new]  # fmt: skip
            result = old + result
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
