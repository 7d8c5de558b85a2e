"""The connectivity loss fused into one kernel call per batch (private).

``connectivity_loss`` spends most of its time outside the MST when the clouds
are small (16 branches of 100 codes): extracting edges, recomputing the
death lengths, the loss and the scatter-add of the backward pass are a dozen
small XLA operations, each with its own dispatch overhead. Here one kernel
call per batch returns the loss, its derivative in ``eta`` and its gradient
in the codes, and a ``jax.custom_vjp`` hands the stored gradient to the
backward pass:

* CPU: the C++ kernel (:func:`corel_jax.persistence._native.connectivity`),
  reading the branches of ``z`` in place, spread over XLA's thread pool;
* elsewhere (CUDA, ROCm, TPU, or a CPU without the C++ kernel): the unfused
  path, :func:`unfused`, i.e. ``jax.value_and_grad`` of the loss written with
  ``rips_h0`` (on CUDA/ROCm through its Pallas Prim kernel, which on an
  NVIDIA H200 ran the paper's step in 145 us against 228 us for a Pallas
  kernel fused like the C++ one; ``docs/persistence_algorithms.md``).

Values and gradients are those of the unfused path (tested against it): the
loss is piecewise linear in the distances, so its gradient is the Danskin
gradient ``sign(d_k - eta) * J(z_i - z_j)`` on each MST edge ``(i, j)``
(``docs/method.md#the-connectivity-loss``). The kernel uses its own
computed lengths for the sign, so a length within rounding of ``eta`` may
take the other side of the kink than the unfused path would.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax.loss.branches import branch_deaths
from corel_jax.persistence import Metric, _native, parse_metric
from corel_jax.persistence._compat import varying_axes


def unfused(z: jax.Array, eta: jax.Array, *, num_branches: int, metric: Metric) -> jax.Array:
    """The connectivity loss written with ``rips_h0``: the reference of the fused kernel."""
    deaths = branch_deaths(z, num_branches=num_branches, metric=metric, sort=False)
    return jnp.mean(jnp.sum(jnp.abs(eta - deaths), axis=-1))


def _sum_to_type(cotangent: jax.Array, primal: jax.Array) -> jax.Array:
    """Sums a cotangent over the shard_map axes its primal does not vary over."""
    extra = varying_axes(cotangent) - varying_axes(primal)
    return lax.psum(cotangent, tuple(sorted(extra))) if extra else cotangent


def connectivity(z: jax.Array, eta: jax.Array, *, num_branches: int, metric: Metric) -> jax.Array:
    """The connectivity loss of ``z`` ``(B, D)``: the C++ kernel on a CPU, :func:`unfused` elsewhere.

    Args:
      z: ``(B, D)`` float32/float64 codes (checked by the caller).
      eta: scalar of ``z``'s dtype.
      num_branches, metric: the loss' branches and metric (not "precomputed").

    Returns:
      The scalar loss; differentiable in ``z`` and ``eta`` (reverse mode).
    """
    kind, p = parse_metric(metric)
    reference = lambda z, eta: unfused(z, eta, num_branches=num_branches, metric=metric)

    def by_autodiff(z, eta):
        loss, (gz, geta) = jax.value_and_grad(reference, argnums=(0, 1))(z, eta)
        return loss, geta, gz

    cpu = by_autodiff
    if _native.AVAILABLE:
        cpu = lambda z, eta: _native.connectivity(z, eta, num_branches, kind, p)

    def vary(kernel):
        # Every branch's outputs vary over shard_map axes like z and eta.
        def run(z, eta):
            first = z.reshape(-1)[0] + eta
            zero = jnp.where(jnp.isfinite(first), first, 0.0) * 0
            return tuple(out + zero for out in kernel(z, eta))

        return run

    def fused(z, eta):
        branches = dict(cpu=cpu, default=by_autodiff)
        branches = {k: vary(v) for k, v in branches.items()}
        return lax.platform_dependent(z, eta, **branches)

    @jax.custom_vjp
    def loss(z, eta):
        value = lambda z, eta: fused(z, eta)[0]
        # Without differentiation the default platforms skip the gradient.
        return lax.platform_dependent(z, eta, cpu=value, default=reference)

    def loss_fwd(z, eta):
        value, deta, grad = fused(z, eta)
        return value, (deta, grad, z.reshape(-1)[:1], eta)

    def loss_bwd(residuals, g):
        deta, grad, z, eta = residuals
        return _sum_to_type(g * grad, z), _sum_to_type(g * deta, eta)

    loss.defvjp(loss_fwd, loss_bwd)
    return loss(z, eta)
