"""The Topological Autoencoders signature loss in your own training step (flax.nnx + optax).

TopoAE (Moor et al., ICML 2020) keeps the 0-dim persistence pairing of each
batch in data space and in latent space consistent: the distances of the
minimum-spanning-tree edges of ``x`` are matched in ``z`` and vice versa.
``corel_jax.loss.signature_loss(x, z)`` is that term; this script trains a
2-D autoencoder of your own on the paper's SPHERES data with it, the
authors' way: squared differences, the latent distances divided by a
learnable scale, the term divided by the batch size.

Run it (SPHERES is generated, no download; about a minute on a CPU):

    python examples/signature_loss_training_step.py --steps 1000

``corel-jax train --topo topoae --model spheres_mlp --dataset spheres`` is the
paper's full setting (BatchNorm model, early stopping, measures).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from corel_jax.data.spheres import make_spheres, split_spheres
from corel_jax.loss import signature_loss


class Autoencoder(nnx.Module):
    """An MLP autoencoder to a 2-D latent space, with a learnable latent scale."""

    def __init__(self, dim: int, *, hidden: int = 32, latent_dim: int = 2, rngs: nnx.Rngs):
        self.encoder = nnx.Sequential(
            nnx.Linear(dim, hidden, rngs=rngs), nnx.relu,
            nnx.Linear(hidden, hidden, rngs=rngs), nnx.relu,
            nnx.Linear(hidden, latent_dim, rngs=rngs),
        )  # fmt: skip
        self.decoder = nnx.Sequential(
            nnx.Linear(latent_dim, hidden, rngs=rngs), nnx.relu,
            nnx.Linear(hidden, hidden, rngs=rngs), nnx.relu,
            nnx.Linear(hidden, dim, rngs=rngs),
        )  # fmt: skip
        self.latent_scale = nnx.Param(jnp.ones(()))  # divides the latent distances

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = self.encoder(x)
        return self.decoder(z), z


def make_train_step(graphdef, optimizer, *, lam: float):
    """A jitted ``(params, opt_state, x) -> (params, opt_state, metrics)``."""

    def loss_fn(params, x):
        model = nnx.merge(graphdef, params)
        x_hat, z = model(x)
        mse = jnp.mean((x - x_hat) ** 2)
        # x_scale=None: data distances divided by the batch's largest (vector data)
        topo = signature_loss(x, z, p=2.0, squared=True, z_scale=model.latent_scale[...])
        return mse + lam * topo / x.shape[0], {"mse": mse, "topo": topo}

    @jax.jit
    def train_step(params, opt_state, x):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, {"loss": loss, **aux}

    return train_step


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=28)  # the authors' best run
    parser.add_argument("--lam", type=float, default=0.4336)
    parser.add_argument("--lr", type=float, default=2.727e-4)
    parser.add_argument("--samples-per-sphere", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    points, labels = make_spheres(n_samples=args.samples_per_sphere)
    split = split_spheres(points, labels)
    x_train = jnp.asarray(split.train, jnp.float32)
    key_model, key_order = jax.random.split(jax.random.key(args.seed))
    model = Autoencoder(x_train.shape[1], rngs=nnx.Rngs(key_model))
    graphdef, params = nnx.split(model)
    optimizer = optax.adam(args.lr)
    opt_state = optimizer.init(params)
    train_step = make_train_step(graphdef, optimizer, lam=args.lam)

    history: dict[str, list[float]] = {"loss": [], "mse": [], "topo": []}
    for step in range(args.steps):
        key_order, key_batch = jax.random.split(key_order)
        rows = jax.random.choice(key_batch, len(x_train), (args.batch_size,), replace=False)
        params, opt_state, metrics = train_step(params, opt_state, x_train[rows])
        for name, value in metrics.items():
            history[name].append(float(value))
        if (step + 1) % 200 == 0 or step == args.steps - 1:  # means over the last 200 steps
            mean = {name: sum(v[-200:]) / len(v[-200:]) for name, v in history.items()}
            print(f"step {step + 1:5d}  loss {mean['loss']:.4f}  "
                  f"mse {mean['mse']:.4f}  topo {mean['topo']:.4f}")  # fmt: skip
    return history


if __name__ == "__main__":
    main()
