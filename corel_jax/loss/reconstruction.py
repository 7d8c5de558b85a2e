"""The paper's reconstruction error of an autoencoder."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["reconstruction_loss"]


def reconstruction_loss(x: jax.typing.ArrayLike, x_hat: jax.typing.ArrayLike) -> jax.Array:
    r"""The paper's l1 reconstruction error.

    .. math::
      \mathrm{Rec}(x, \hat x) = \frac{1}{B} \sum_{b=1}^{B} \sum_{v} |x_{b,v} - \hat x_{b,v}|

    summed over all values of an example (e.g. 3x32x32), averaged over the batch.

    Args:
      x: ``(B, ...)`` inputs.
      x_hat: reconstructions of the same shape.

    Returns:
      A scalar.
    """
    x = jnp.asarray(x)
    x_hat = jnp.asarray(x_hat)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}.")
    if x.ndim < 1:
        raise ValueError("x must have a batch axis.")
    per_example = jnp.sum(jnp.abs(x - x_hat).reshape(x.shape[0], -1), axis=-1)
    return jnp.mean(per_example)
