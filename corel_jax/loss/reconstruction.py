"""The paper's reconstruction error of an autoencoder."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["reconstruction_loss"]


def reconstruction_loss(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike
) -> jax.Array:
    r"""The paper's l1 reconstruction error of a batch.

    .. math::
      \mathrm{Rec}(\hat x, x) = \frac{1}{B} \sum_{b=1}^{B} \sum_{v} |\hat x_{b,v} - x_{b,v}|

    summed over all values of an example (e.g. 3x32x32), averaged over the batch.

    The arguments come in optax's order (predictions first). Unlike optax's
    elementwise losses (e.g. ``optax.l2_loss``) it returns the batch mean the
    paper minimises, so that it adds directly to the other losses of this
    package; ``jnp.sum(jnp.abs(predictions - targets), axis=...)`` gives the
    per-example errors.

    Args:
      predictions: ``(B, ...)`` reconstructions.
      targets: ``(B, ...)`` inputs, the same shape.

    Returns:
      A scalar.

    Raises:
      ValueError: shapes that differ, or no batch axis.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.zeros((2, 3))
      >>> reconstruction_loss(x.at[0].set(1.0), x)  # (3 + 0) / 2
      Array(1.5, dtype=float32)
    """
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            "predictions and targets must have the same shape; got "
            f"{predictions.shape} and {targets.shape}."
        )
    if predictions.ndim < 1:
        raise ValueError("predictions must have a batch axis (B, ...); got a scalar.")
    errors = jnp.abs(predictions - targets).reshape(predictions.shape[0], -1)
    return jnp.mean(jnp.sum(errors, axis=-1))
