"""Measurements behind the Fashion-MNIST transfer results (``experiments/configs/fashion_mnist_transfer_*.py``).

Usage:
  python -m experiments.transfer_analysis drift runs/fashion_mnist_transfer_a runs/fashion_mnist_transfer_b --out experiments/results/transfer
  python -m experiments.transfer_analysis sizes runs/fashion_mnist_transfer_a --out experiments/results/transfer

``drift``: for every kept checkpoint (every 5 epochs) of the lambda = 0 and
lambda = 20 backbones: held-out death times and losses on the seen and the
unseen classes' test images, the gradients of both loss terms at the codes,
COREL's one-class AUROC (n = 120, 5 runs, radius eta) on seen and unseen
classes, and the share of test points whose ball count is 0; at 10 and 50
epochs also the AUROC over radii. ``sizes``: the reconstruction and
connectivity terms, and their gradients at the codes, for the same images as
28x28x1 and as 32x32x3 (padded by 2 pixels, the channel repeated), at
initialisation and after training a 32x32x3 backbone as long as the 28x28x1
one's first checkpoint.
Both write JSON and Markdown (and ``drift`` a plot) under ``--out``.
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

LAMBDAS = (0.0, 20.0)
RADII = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
N, RUNS = 120, 5


def term_gradients(model, images: np.ndarray, config, *, batches: int = 3) -> dict[str, float]:
    """Mean over batches of ``Rec``, ``L_conn`` and the Frobenius norms of their gradients at the codes.

    Both terms reach the encoder only through the codes ``z``, so
    ``|lam * dL_conn/dz| / |dRec/dz|`` is the balance the encoder is trained with.
    """
    from corel_jax import loss as losses

    graphdef, state = nnx.split(model)
    b = config.batch_size

    @jax.jit
    def terms(state, x_uint8):
        m = nnx.merge(graphdef, state)
        x = x_uint8.astype(jnp.float32) / 255.0
        z = m.encode(x)
        rec_fn = lambda z: losses.reconstruction_loss(x, m.decode(z))
        conn_fn = lambda z: losses.connectivity_loss(
            z, eta=config.eta, num_branches=config.num_branches, metric=config.metric
        )
        rec, g_rec = jax.value_and_grad(rec_fn)(z)
        conn, g_conn = jax.value_and_grad(conn_fn)(z)
        return rec, conn, jnp.linalg.norm(g_rec), jnp.linalg.norm(g_conn)

    out = np.asarray(
        [jax.device_get(terms(state, images[i * b : (i + 1) * b])) for i in range(batches)]
    )
    rec, conn, g_rec, g_conn = out.mean(0)
    return {"rec": float(rec), "conn": float(conn), "grad_rec": float(g_rec),
            "grad_conn": float(g_conn), "rec_per_value": float(rec / np.prod(images.shape[1:]))}  # fmt: skip


def ball_diagnostics(train_codes, train_labels, test_codes, test_labels, config, seen, *,
                     radii=(2.0,)) -> dict:  # fmt: skip
    """COREL's AUROC (seen / unseen mean) per radius and the share of zero scores at each."""
    from corel_jax import oneclass

    out = {}
    for r in radii:
        ball = oneclass.ball_count_scorer(radius=r, num_branches=config.num_branches,
                                          metric=config.metric)  # fmt: skip
        res = oneclass.evaluate_methods(
            {"corel": oneclass.Method(ball, train_codes, test_codes)}, train_labels, test_labels,
            n=N, runs=RUNS, seen_classes=seen, progress=False,
        )  # fmt: skip
        zero = [np.mean(ball(train_codes[oneclass.draw_inliers(train_labels, c, N, seed=0, run=0)],
                             test_codes) == 0) for c in res.classes]  # fmt: skip
        out[f"{r:g}"] = {"unseen": res.group_mean("corel", seen=False),
                         "seen": res.group_mean("corel", seen=True),
                         "zero_score_share": float(np.mean(zero))}  # fmt: skip
    return out


def drift(roots: list[str]) -> list[dict]:
    """One record per (direction, lambda, kept checkpoint); see the module docstring."""
    from corel_jax import checkpoint, data, study
    from corel_jax.backbone import encode, load_backbone
    from corel_jax.config import TrainConfig

    train = data.load("fashion_mnist", "train")
    test = data.load("fashion_mnist", "test")
    records = []
    for root in roots:
        for workdir in sorted(Path(root).glob("lam=*")):
            config = TrainConfig.from_json((workdir / "config.json").read_text())
            if config.lam not in LAMBDAS:
                continue
            seen = study.seen_classes(config, "fashion_mnist", 10)
            spe = study.steps_per_epoch(config, workdir)
            steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()
                           and checkpoint.read_meta(workdir, int(p.name)) is not None)  # fmt: skip
            for step in steps:
                epochs = step // spe
                logging.info("%s: step %d (epoch %d)", workdir, step, epochs)
                model, _ = load_backbone(workdir, step)
                seen_test = test.images[np.isin(test.labels, seen)]
                radii = RADII if epochs in (10, 50) else (config.eta,)
                codes = encode(model, train.images), encode(model, test.images)
                records.append({
                    "root": str(root), "classes": list(seen), "lam": config.lam, "step": step,
                    "epochs": epochs, "deaths": study.death_times_by_group(model, config, test, seen),
                    "terms": term_gradients(model, seen_test, config),
                    "code_l1_per_branch": float(np.abs(codes[1]).sum(1).mean() / config.num_branches),
                    "ball": ball_diagnostics(codes[0], train.labels, codes[1], test.labels, config,
                                             seen, radii=radii),
                })  # fmt: skip
    return records


def sizes(root: str, *, epochs: int = 5) -> dict:
    """The two loss terms for 28x28x1 images and the same images as 32x32x3 (see the docstring)."""
    from corel_jax import data, study
    from corel_jax.backbone import load_backbone
    from corel_jax.config import TrainConfig
    from corel_jax.train import train_and_evaluate

    workdir = Path(root) / "lam=20"
    config = TrainConfig.from_json((workdir / "config.json").read_text())
    step = epochs * study.steps_per_epoch(config, workdir)
    train = data.load("fashion_mnist", "train").select(config.classes).images
    test = data.load("fashion_mnist", "test").select(config.classes).images
    as_rgb = lambda x: np.repeat(np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1)
    rgb_config = TrainConfig(**dict(config.to_dict(), classes=None, epochs=epochs,
                                    filters=tuple(config.filters)))  # fmt: skip
    rgb_dir = Path(root) / f"rgb32_lam=20_e{epochs}"
    if not (rgb_dir / "summary.json").is_file():
        train_and_evaluate(rgb_config, rgb_dir, images=as_rgb(train), resume=rgb_dir.exists())
    trained_rgb, _ = load_backbone(rgb_dir)
    out = {"epochs": epochs}
    for label, model, cfg, images in (
        ("28x28x1, init", study.initial_model(config, (28, 28, 1)), config, test),
        ("32x32x3, init", study.initial_model(config, (32, 32, 3)), config, as_rgb(test)),
        (f"28x28x1, {epochs} epochs", load_backbone(workdir, step)[0], config, test),
        (f"32x32x3, {epochs} epochs", trained_rgb, rgb_config, as_rgb(test)),
    ):
        t = term_gradients(model, images, cfg)
        out[label] = dict(t, ratio_loss=cfg.lam * t["conn"] / t["rec"],
                          ratio_grad=cfg.lam * t["grad_conn"] / t["grad_rec"])  # fmt: skip
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("drift", "sizes"))
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--out", required=True)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = drift(args.roots) if args.what == "drift" else sizes(args.roots[0])
    (out / f"{args.what}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
