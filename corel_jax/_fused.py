"""The connectivity loss fused into one kernel call per batch (private).

``connectivity_loss`` spends most of its time outside the MST when the clouds
are small (16 branches of 100 codes): extracting edges, recomputing the
death lengths, the loss and the scatter-add of the backward pass are a dozen
small XLA operations, each with its own dispatch overhead. Here one kernel
call per batch returns the loss, its derivative in ``eta`` and its gradient
in the codes, and a ``jax.custom_vjp`` hands the stored gradient to the
backward pass:

* CPU: the C++ kernel (:func:`corel_jax._native.connectivity`), reading the
  branches of ``z`` in place, spread over XLA's thread pool;
* elsewhere (CUDA, ROCm, TPU, or a CPU without the C++ kernel): the unfused
  path, i.e. ``jax.value_and_grad`` of the loss written with ``rips_h0``
  (on CUDA/ROCm through its Pallas Prim kernel).

:func:`_pallas` is a fused GPU kernel (the Pallas Prim loop with the loss
accumulated as vertices join, :func:`corel_jax._pallas_prim.fused_connectivity`),
tested in interpret mode and compiled for sm_90 in the tests, but not
routed to: on an NVIDIA H200 the paper's step took 228 us with it and
145 us on the unfused path (its per-join update of an on-chip ``(N, D)``
gradient block doubles the work of each Prim step).

Values and gradients are those of the unfused path (tested against it): the
loss is piecewise linear in the distances, so its gradient is the Danskin
gradient ``sign(d_k - eta) * J(z_i - z_j)`` on each MST edge ``(i, j)``
(``docs/method.md#the-connectivity-loss``). The kernels use their own
computed lengths for the sign, so a length within rounding of ``eta`` may
take the other side of the kink than the unfused path would.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from corel_jax import _native, _pallas_prim

# (z, eta) -> (loss, dloss/deta, dloss/dz)
Kernel = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]


def _pallas(num_branches: int, kind: str, p: float, interpret: bool) -> Kernel:
    """The Pallas kernel over the branches of ``z`` (one program per branch)."""

    def kernel(z, eta):
        b, width = z.shape[0], z.shape[1] // num_branches
        branches = z.reshape(b, num_branches, width).transpose(1, 0, 2)
        finite = jnp.all(jnp.isfinite(branches), axis=(1, 2))
        safe = jnp.where(jnp.isfinite(branches), branches, 0.0)
        one = lambda s: _pallas_prim.fused_connectivity(s, eta, kind, p, interpret=interpret)
        loss, deta, grad = jax.vmap(one)(safe)
        # A branch with a non-finite code: NaN loss, zero gradient (as unfused).
        loss = jnp.where(finite, loss, jnp.nan)
        deta = jnp.where(finite, deta, jnp.nan)
        grad = jnp.where(finite[:, None, None], grad, 0.0) / num_branches
        return (
            jnp.mean(loss),
            jnp.mean(deta),
            grad.transpose(1, 0, 2).reshape(z.shape),
        )

    return kernel


def _sum_to_type(cotangent: jax.Array, primal: jax.Array) -> jax.Array:
    """Sums a cotangent over the shard_map axes its primal does not vary over."""
    extra = jax.typeof(cotangent).manual_axis_type.varying
    extra = extra - jax.typeof(primal).manual_axis_type.varying
    return lax.psum(cotangent, tuple(sorted(extra))) if extra else cotangent


def connectivity(
    unfused: Callable[[jax.Array, jax.Array], jax.Array],
    z: jax.Array,
    eta: jax.Array,
    *,
    num_branches: int,
    kind: str,
    p: float,
) -> jax.Array:
    """The connectivity loss of ``z`` ``(B, D)`` through the fused kernels.

    Args:
      unfused: ``(z, eta) -> loss``, the reference implementation (used where
        no kernel runs, and differentiated there).
      z: ``(B, D)`` float32/float64 codes.
      eta: scalar of ``z``'s dtype.
      num_branches, kind, p: the loss' branches and metric.

    Returns:
      The scalar loss; differentiable in ``z`` and ``eta`` (reverse mode).
    """

    def by_autodiff(z, eta):
        loss, (gz, geta) = jax.value_and_grad(unfused, argnums=(0, 1))(z, eta)
        return loss, geta, gz

    # On CUDA/ROCm the unfused loss runs rips_h0's Pallas Prim kernel and is
    # faster than the fused kernel (``_pallas``): on an NVIDIA H200 the paper's
    # step took 145 us against 228 us (docs/persistence_algorithms.md).
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
        return lax.platform_dependent(z, eta, cpu=value, default=unfused)

    def loss_fwd(z, eta):
        value, deta, grad = fused(z, eta)
        return value, (deta, grad, z.reshape(-1)[:1], eta)

    def loss_bwd(residuals, g):
        deta, grad, z, eta = residuals
        return _sum_to_type(g * grad, z), _sum_to_type(g * deta, eta)

    loss.defvjp(loss_fwd, loss_bwd)
    return loss(z, eta)
