"""Gradients against central finite differences, the check several test modules make."""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np


def assert_directional_derivatives(
    f: Callable[..., jax.Array],
    args: tuple[np.ndarray, ...],
    rng: np.random.Generator,
    *,
    directions: int = 3,
    eps: float = 1e-7,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> None:
    """``<grad f(args), u>`` equals ``(f(args + eps u) - f(args - eps u)) / (2 eps)``.

    For ``directions`` random directions ``u`` (one normal array per argument);
    run it in float64 (``jax.enable_x64``) at a point where ``f`` is smooth.
    """
    grads = jax.grad(f, argnums=tuple(range(len(args))))(*args)
    for _ in range(directions):
        us = [rng.normal(size=np.shape(x)) for x in args]
        plus = f(*(x + eps * u for x, u in zip(args, us, strict=True)))
        minus = f(*(x - eps * u for x, u in zip(args, us, strict=True)))
        analytic = sum(np.sum(g * u) for g, u in zip(grads, us, strict=True))
        np.testing.assert_allclose(analytic, (plus - minus) / (2 * eps), rtol=rtol, atol=atol)
