"""The COREL connectivity loss and its building blocks.

``import corel_jax.loss`` in any JAX code; everything here is a plain function
of arrays, jit/vmap/grad/pmap friendly, with hyperparameters keyword-only.

References:
  Hofer, Kwitt, Dixit, Niethammer. Connectivity-Optimized Representation
  Learning via Persistent Homology. ICML 2019.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from corel_jax import _fused
from corel_jax._distances import as_float, check_finite_eagerly
from corel_jax.persistence import Metric, parse_metric, rips_h0

__all__ = [
    "branch_deaths",
    "connectivity_loss",
    "reconstruction_loss",
    "split_branches",
    "total_persistence",
]


def _check_codes(z: jax.Array, num_branches: int) -> None:
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
    _check_codes(z, num_branches)
    b, d = z.shape
    return z.reshape(b, num_branches, d // num_branches).transpose(1, 0, 2)


def branch_deaths(
    z: jax.typing.ArrayLike,
    *,
    num_branches: int = 16,
    metric: Metric = "l1",
    sort: bool = True,
) -> jax.Array:
    """0-dim Vietoris-Rips death times of each branch of a batch of codes.

    Args:
      z: ``(B, D)`` latent codes.
      num_branches: number of branches ``K`` (``D % K == 0``).
      metric: see :func:`corel_jax.persistence.rips_h0`; the paper uses "l1".
      sort: ascending within each branch if True; else in MST order (cheaper,
        enough for any symmetric function such as the loss).

    Returns:
      ``(K, B - 1)`` death times.
    """
    branches = split_branches(z, num_branches)
    return jax.vmap(lambda s: rips_h0(s, metric=metric, sort=sort).deaths)(branches)


def connectivity_loss(
    z: jax.typing.ArrayLike,
    *,
    eta: float = 2.0,
    num_branches: int = 16,
    metric: Metric = "l1",
) -> jax.Array:
    r"""The paper's connectivity loss of a batch of latent codes.

    The code ``z`` is split into ``K = num_branches`` branches; for each branch
    ``S_k`` (``B`` points) the loss sums the deviation of its ``B - 1`` death
    times from the scale ``eta``, and the branch losses are averaged:

    .. math::
      L_\eta(z) = \frac{1}{K} \sum_{k=1}^{K} \sum_{d \in \dagger(S_k)} |\eta - d|

    (a sum over deaths, not divided by ``B``; the essential class is not used).

    On a CPU with the C++ kernel built, and on CUDA/ROCm, the loss and its
    gradient come from one fused kernel call per batch (the gradient is kept
    for the backward pass through a ``jax.custom_vjp``); elsewhere it is
    computed through :func:`corel_jax.persistence.rips_h0`. Both give the
    same values and gradients; differentiable in ``z`` and ``eta`` (reverse
    mode).

    Args:
      z: ``(B, D)`` latent codes of one mini-batch.
      eta: the target scale ``eta > 0`` (paper: 2).
      num_branches: ``K`` (paper: 16 branches of 10 dims); 1 for the
        single-branch variant.
      metric: the latent metric (paper: "l1").

    Returns:
      A scalar.

    Raises:
      ValueError: ``z`` not of shape ``(B, D)`` with ``B >= 2``, ``D`` not
        divisible by ``num_branches``, ``eta <= 0``, an unknown or
        "precomputed" metric, or (eagerly) a non-finite code. Under ``jit`` a
        branch with a non-finite code gives a NaN loss.

    Examples:
      >>> import jax.numpy as jnp
      >>> z = jnp.array([[0.0, 0.0], [2.0, 0.0], [2.0, 3.0]])
      >>> connectivity_loss(z, eta=2.0, num_branches=1)  # deaths 2, 3 (l1)
      Array(1., dtype=float32)

    References:
      Hofer et al., ICML 2019, Eq. (3) and Sec. 5;
      ``docs/method.md#the-connectivity-loss``.
    """
    if not isinstance(eta, jax.core.Tracer) and not float(eta) > 0:
        raise ValueError(f"eta must be > 0; got {eta!r}.")
    kind, p = parse_metric(metric)
    if kind == "precomputed":
        raise ValueError("connectivity_loss needs a real metric, not 'precomputed'.")
    z = as_float(z)
    _check_codes(z, num_branches)
    check_finite_eagerly(z, None)

    def unfused(z, eta):
        deaths = branch_deaths(z, num_branches=num_branches, metric=metric, sort=False)
        return jnp.mean(jnp.sum(jnp.abs(eta - deaths), axis=-1))

    # One kernel call for the loss and its gradient where a kernel runs.
    eta = jnp.asarray(eta, z.dtype)
    return _fused.connectivity(unfused, z, eta, num_branches=num_branches, kind=kind, p=p)


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
