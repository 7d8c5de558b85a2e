"""A persistence-diagram loss in your own training step (flax.nnx + optax).

``corel_jax.diagrams.diagram_loss(z, target)`` is the exact Wasserstein
distance between the 0-dim Rips diagram of a batch of codes ``z`` and a target
diagram, differentiable in ``z``. Here the target is the data batch's own
diagram, rescaled to a mean death time of ``eta``: the encoder learns codes
whose connectivity (which points merge at which scale, how far apart the
clusters are) is the data's. ``corel_jax.diagrams.wasserstein_distance`` and
``bottleneck_distance`` measure the result on a held-out batch.

Run it (synthetic clusters, a few seconds on a CPU):

    python examples/diagram_loss_training_step.py --steps 500
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from corel_jax.diagrams import bottleneck_distance, diagram_loss, wasserstein_distance
from corel_jax.persistence import rips_h0


def make_data(key: jax.Array, *, n: int = 2000, dim: int = 32, clusters: int = 5) -> jax.Array:
    """``(n, dim)`` points around ``clusters`` random centres."""
    k_centres, k_labels, k_noise = jax.random.split(key, 3)
    centres = 3.0 * jax.random.normal(k_centres, (clusters, dim))
    labels = jax.random.randint(k_labels, (n,), 0, clusters)
    return centres[labels] + jax.random.normal(k_noise, (n, dim))


class Autoencoder(nnx.Module):
    """A small MLP autoencoder: ``dim -> hidden -> latent_dim -> hidden -> dim``."""

    def __init__(self, dim: int, latent_dim: int, *, hidden: int = 64, rngs: nnx.Rngs):
        self.encoder = nnx.Sequential(
            nnx.Linear(dim, hidden, rngs=rngs), nnx.relu, nnx.Linear(hidden, latent_dim, rngs=rngs)
        )
        self.decoder = nnx.Sequential(
            nnx.Linear(latent_dim, hidden, rngs=rngs), nnx.relu, nnx.Linear(hidden, dim, rngs=rngs)
        )

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = self.encoder(x)
        return self.decoder(z), z


def target_deaths(x: jax.Array, *, eta: float) -> jax.Array:
    """The data batch's death times (l2), rescaled to mean ``eta``; no gradient flows to ``x``."""
    deaths = rips_h0(jax.lax.stop_gradient(x), metric="l2").deaths
    return eta * deaths / jnp.mean(deaths)


def make_train_step(graphdef, optimizer, *, lam: float, eta: float):
    """A jitted ``(params, opt_state, x) -> (params, opt_state, metrics)``."""

    def loss_fn(params, x):
        model = nnx.merge(graphdef, params)
        x_hat, z = model(x)
        mse = jnp.mean(jnp.sum((x - x_hat) ** 2, axis=-1))
        topo = diagram_loss(z, target_deaths(x, eta=eta), metric="l2", order=1.0)
        return mse + lam * topo, {"mse": mse, "topo": topo}

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
    parser.add_argument("--eta", type=float, default=1.0)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    key_data, key_model, key_order = jax.random.split(jax.random.key(args.seed), 3)
    x_all = make_data(key_data)
    x_train, x_test = x_all[:1500], x_all[1500:]
    model = Autoencoder(x_all.shape[1], args.latent_dim, rngs=nnx.Rngs(key_model))
    graphdef, params = nnx.split(model)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    train_step = make_train_step(graphdef, optimizer, lam=args.lam, eta=args.eta)

    history: dict[str, list[float]] = {"loss": [], "mse": [], "topo": []}
    for step in range(args.steps):
        key_order, key_batch = jax.random.split(key_order)
        rows = jax.random.choice(key_batch, len(x_train), (args.batch_size,), replace=False)
        params, opt_state, metrics = train_step(params, opt_state, x_train[rows])
        for name, value in metrics.items():
            history[name].append(float(value))
        if (step + 1) % 100 == 0 or step == args.steps - 1:  # means over the last 100 steps
            mean = {name: sum(v[-100:]) / len(v[-100:]) for name, v in history.items()}
            print(f"step {step + 1:4d}  loss {mean['loss']:8.3f}  "
                  f"mse {mean['mse']:8.3f}  topo {mean['topo']:7.3f}")  # fmt: skip

    # A held-out batch: its latent diagram against the rescaled data diagram.
    @jax.jit
    def distances(params, x):
        z = nnx.merge(graphdef, params)(x)[1]
        latent, target = rips_h0(z, metric="l2").deaths, target_deaths(x, eta=args.eta)
        return wasserstein_distance(latent, target, order=1.0), bottleneck_distance(latent, target)

    w1, bottleneck = distances(params, x_test[: args.batch_size])
    history["held_out_w1"], history["held_out_bottleneck"] = [float(w1)], [float(bottleneck)]
    print(f"held-out batch: W1 {history['held_out_w1'][0]:.3f}, "
          f"bottleneck {history['held_out_bottleneck'][0]:.3f} to the rescaled data diagram")  # fmt: skip
    return history


if __name__ == "__main__":
    main()
