"""The COREL connectivity loss, and the total persistence of death times.

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
"""

from __future__ import annotations

from typing import Literal, get_args

import jax
import jax.numpy as jnp

from corel_jax.loss import _fused
from corel_jax.loss.branches import check_codes
from corel_jax.persistence import Metric, parse_metric
from corel_jax.persistence._distances import as_float, check_finite_eagerly

__all__ = ["REDUCTIONS", "Reduction", "connectivity_loss", "total_persistence"]

# How the branch losses combine: "mean" (the authors' code), "sum" (the paper's figure caption).
Reduction = Literal["mean", "sum"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def connectivity_loss(
    z: jax.typing.ArrayLike,
    *,
    eta: float = 2.0,
    num_branches: int = 1,
    metric: Metric = "l2",
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""The paper's connectivity loss of a batch of latent codes.

    The code ``z`` is split into ``K = num_branches`` branches; for each branch
    ``S_k`` (``B`` points) the loss sums the deviation of its ``B - 1`` death
    times from the scale ``eta``, and the branch losses are averaged (the
    authors' code; ``reduction="sum"`` sums them, as the paper's figure
    caption says, which is the mean times ``K``: lambda with ``"sum"`` weighs
    the loss as ``K * lambda`` with ``"mean"``):

    .. math::
      L_\eta(z) = \frac{1}{K} \sum_{k=1}^{K} \sum_{d \in \dagger(S_k)} |\eta - d|

    (a sum over deaths, not divided by ``B``; the essential class is not used).

    On a CPU with the C++ kernel built, the loss and its gradient come from
    one fused kernel call per batch (the gradient is kept for the backward
    pass through a ``jax.custom_vjp``); elsewhere (on CUDA/ROCm through the
    Pallas Prim kernel, measured faster there than a fused kernel) it is
    computed through :func:`corel_jax.persistence.rips_h0`. Both give the
    same values and gradients; differentiable in ``z`` and ``eta`` (reverse
    mode).

    Args:
      z: ``(B, D)`` latent codes of one mini-batch.
      eta: the target scale ``eta > 0`` (paper: 2).
      num_branches: ``K``; 1 (default) treats the whole code as one point
        cloud. The paper splits its 160-dim codes into 16 branches of 10
        dims (:class:`corel_jax.training.TrainConfig`'s default).
      metric: the latent metric: "l2" (default, as everywhere in
        :mod:`corel_jax.persistence`) or the paper's "l1" (TrainConfig's
        default), or any other of :data:`corel_jax.persistence.Metric`.
      reduction: how the branch losses combine: ``"mean"`` (the authors'
        code, the default) or ``"sum"`` (the paper's figure caption);
        ``"sum"`` at ``lam`` equals ``"mean"`` at ``K * lam``.

    Returns:
      A scalar.

    Raises:
      ValueError: ``z`` not of shape ``(B, D)`` with ``B >= 2``, ``D`` not
        divisible by ``num_branches``, ``eta <= 0``, an unknown ``reduction``, an unknown or
        "precomputed" metric, or (eagerly) a non-finite code. Under ``jit`` a
        branch with a non-finite code gives a NaN loss.

    Examples:
      >>> import jax.numpy as jnp
      >>> z = jnp.array([[0.0, 0.0], [2.0, 0.0], [2.0, 3.0]])
      >>> connectivity_loss(z, eta=2.0)  # deaths 2 and 3: |2 - 2| + |2 - 3|
      Array(1., dtype=float32)
      >>> connectivity_loss(z, eta=2.0, metric="l1")  # the paper's metric: the same deaths
      Array(1., dtype=float32)

    References:
      Hofer et al., ICML 2019, Eq. (3) and Sec. 5;
      ``docs/method.md#the-connectivity-loss``.
    """
    if not isinstance(eta, jax.core.Tracer) and not float(eta) > 0:
        raise ValueError(f"eta must be > 0; got {eta!r}.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}.")
    kind, _ = parse_metric(metric)
    if kind == "precomputed":
        raise ValueError("connectivity_loss needs a real metric, not 'precomputed'.")
    z = as_float(z)
    check_codes(z, num_branches)
    check_finite_eagerly(z, None)

    # One kernel call for the loss and its gradient where a kernel runs.
    scale = jnp.asarray(eta, z.dtype)
    loss = _fused.connectivity(z, scale, num_branches=num_branches, metric=metric)
    return loss * num_branches if reduction == "sum" else loss


def total_persistence(deaths: jax.typing.ArrayLike, *, p: float = 1.0) -> jax.Array:
    r"""Total ``p``-persistence of 0-dim diagrams: ``sum_k d_k^p`` (births are 0).

    Args:
      deaths: ``(..., n - 1)`` death times, e.g. ``rips_h0(x).deaths`` or
        :func:`branch_deaths`; ``+inf`` padding slots (masked clouds) are
        skipped.
      p: exponent ``p > 0``.

    Returns:
      ``(...)``: the sum over the last axis.
    """
    deaths = jnp.asarray(deaths)
    valid = jnp.isfinite(deaths)
    safe = jnp.where(valid, deaths, 0.0)
    return jnp.sum(jnp.where(valid, safe**p, 0.0), axis=-1)
