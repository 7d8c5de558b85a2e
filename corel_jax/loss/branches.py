"""Latent codes split into independent branches, and the death times of each branch.

COREL's latent space is ``K`` independent branches (the paper: 16 of 10
dims); persistence is computed per branch on the whole mini-batch
(``docs/method.md#the-connectivity-loss``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from corel_jax.persistence import Metric, rips_h0

__all__ = ["branch_deaths", "split_branches"]


def check_codes(z: jax.Array, num_branches: int) -> None:
    """Checks that ``z`` is ``(B, D)`` with ``B >= 2`` and ``num_branches`` divides ``D``."""
    if z.ndim != 2:
        raise ValueError(f"z must have shape (B, D); got shape {z.shape}.")
    if z.shape[0] < 2:
        raise ValueError(f"z must hold at least 2 codes (B >= 2); got B={z.shape[0]}.")
    if not isinstance(num_branches, int) or isinstance(num_branches, bool) or num_branches < 1:
        raise ValueError(f"num_branches must be a positive int; got {num_branches!r}.")
    if z.shape[1] % num_branches:
        raise ValueError(
            f"The code width D={z.shape[1]} is not divisible by num_branches={num_branches}."
        )


def split_branches(z: jax.typing.ArrayLike, num_branches: int) -> jax.Array:
    """Splits codes into independent branches.

    Args:
      z: ``(B, D)`` latent codes.
      num_branches: number of branches ``K``; must divide ``D``.

    Returns:
      ``(K, B, D // K)``: branch ``k`` holds dims ``[k D/K, (k + 1) D/K)``.
    """
    z = jnp.asarray(z)
    check_codes(z, num_branches)
    b, d = z.shape
    return z.reshape(b, num_branches, d // num_branches).transpose(1, 0, 2)


def branch_deaths(
    z: jax.typing.ArrayLike,
    *,
    num_branches: int = 1,
    metric: Metric = "l2",
    sort: bool = True,
) -> jax.Array:
    """0-dim Vietoris-Rips death times of each branch of a batch of codes.

    Args:
      z: ``(B, D)`` latent codes.
      num_branches: number of branches ``K`` (``D % K == 0``); the paper
        uses 16, the default 1 is the whole code.
      metric: see :func:`corel_jax.persistence.rips_h0` ("l2" by default);
        the paper uses "l1".
      sort: ascending within each branch if True; else in MST order (cheaper,
        enough for any symmetric function such as the loss).

    Returns:
      ``(K, B - 1)`` death times.
    """
    branches = split_branches(z, num_branches)
    return jax.vmap(lambda s: rips_h0(s, metric=metric, sort=sort).deaths)(branches)
