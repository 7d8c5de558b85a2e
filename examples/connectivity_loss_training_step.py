"""COREL's connectivity loss in your own training step (flax.nnx + optax).

An autoencoder of your own, trained on a reconstruction error plus
``lam * connectivity_loss(z)``: the 0-dim persistence of each batch of codes
(its minimum-spanning-tree edge lengths, the "death times") is pulled
towards one scale ``eta``. The model is split with ``nnx.split`` so that the
step is a pure function under ``jax.jit``; the loss is one function call.

Run it (synthetic data, a few seconds on a CPU):

    python examples/connectivity_loss_training_step.py --steps 500

The paper's setting is ``lam=20``, ``eta=2``, batch 100, 16 branches of 10
dimensions and the l1 metric (``corel_jax.models.BranchAutoencoder`` and
``corel-jax train`` have it built in).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from corel_jax.loss import branch_deaths, connectivity_loss


def make_data(key: jax.Array, *, n: int = 2000, dim: int = 32, clusters: int = 5) -> jax.Array:
    """``(n, dim)`` points around ``clusters`` random centres."""
    k_centres, k_labels, k_noise = jax.random.split(key, 3)
    centres = 3.0 * jax.random.normal(k_centres, (clusters, dim))
    labels = jax.random.randint(k_labels, (n,), 0, clusters)
    return centres[labels] + jax.random.normal(k_noise, (n, dim))


class Autoencoder(nnx.Module):
    """A small MLP autoencoder: ``dim -> hidden -> latent_dim -> hidden -> dim``."""

    def __init__(self, dim: int, latent_dim: int, *, hidden: int = 64, rngs: nnx.Rngs):
        self.enc1 = nnx.Linear(dim, hidden, rngs=rngs)
        self.enc2 = nnx.Linear(hidden, latent_dim, rngs=rngs)
        self.dec1 = nnx.Linear(latent_dim, hidden, rngs=rngs)
        self.dec2 = nnx.Linear(hidden, dim, rngs=rngs)

    def encode(self, x: jax.Array) -> jax.Array:
        return self.enc2(nnx.relu(self.enc1(x)))

    def decode(self, z: jax.Array) -> jax.Array:
        return self.dec2(nnx.relu(self.dec1(z)))

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = self.encode(x)
        return self.decode(z), z


def make_train_step(graphdef, optimizer, *, lam: float, eta: float, num_branches: int):
    """A jitted ``(params, opt_state, x) -> (params, opt_state, metrics)``."""

    def loss_fn(params, x):
        model = nnx.merge(graphdef, params)
        x_hat, z = model(x)
        rec = jnp.mean(jnp.sum(jnp.abs(x - x_hat), axis=-1))  # l1, summed per example
        conn = connectivity_loss(z, eta=eta, num_branches=num_branches, metric="l1")
        return rec + lam * conn, {"rec": rec, "conn": conn}

    @jax.jit
    def train_step(params, opt_state, x):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, {"loss": loss, **aux}

    return train_step


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--eta", type=float, default=2.0)
    parser.add_argument("--num-branches", type=int, default=1)
    parser.add_argument("--branch-dim", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    key_data, key_model, key_order = jax.random.split(jax.random.key(args.seed), 3)
    x_all = make_data(key_data)
    x_train, x_test = x_all[:1500], x_all[1500:]
    latent_dim = args.num_branches * args.branch_dim
    model = Autoencoder(x_all.shape[1], latent_dim, rngs=nnx.Rngs(key_model))
    graphdef, params = nnx.split(model)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    train_step = make_train_step(
        graphdef, optimizer, lam=args.lam, eta=args.eta, num_branches=args.num_branches
    )

    history: dict[str, list[float]] = {"loss": [], "rec": [], "conn": []}
    for step in range(args.steps):
        key_order, key_batch = jax.random.split(key_order)
        rows = jax.random.choice(key_batch, len(x_train), (args.batch_size,), replace=False)
        params, opt_state, metrics = train_step(params, opt_state, x_train[rows])
        for name, value in metrics.items():
            history[name].append(float(value))
        if (step + 1) % 100 == 0 or step == args.steps - 1:  # means over the last 100 steps
            mean = {name: sum(v[-100:]) / len(v[-100:]) for name, v in history.items()}
            print(f"step {step + 1:4d}  loss {mean['loss']:8.3f}  "
                  f"rec {mean['rec']:8.3f}  conn {mean['conn']:7.3f}")  # fmt: skip

    # Death times of a held-out batch: after training they sit near eta.
    @jax.jit
    def held_out_deaths(params, x):
        z = nnx.merge(graphdef, params).encode(x)
        return branch_deaths(z, num_branches=args.num_branches, metric="l1")

    deaths = held_out_deaths(params, x_test[: args.batch_size])
    history["held_out_deaths"] = deaths.ravel().tolist()
    print(f"held-out death times: mean {jnp.mean(deaths):.3f}, "
          f"mean |d - eta| {jnp.mean(jnp.abs(deaths - args.eta)):.3f} (eta = {args.eta})")  # fmt: skip
    return history


if __name__ == "__main__":
    main()
