"""The results of 0-dim persistence: :class:`PersistenceH0` and the :class:`H0Diagram` protocol.

:class:`PersistenceH0` (the result of :func:`~corel_jax.persistence.rips_h0`)
holds the finite death times with static shapes (for ``jit``/``vmap``/``grad``)
and converts them to the diagram format of GUDHI, ripser, giotto-ph and
torch-topological: rows ``[birth, death]`` with the essential class as
``[0, inf]``. :class:`H0Diagram` is what it shares with
:class:`~corel_jax.persistence.GraphH0` (the result of ``graph_h0`` and
``cubical_h0``): the functions of :mod:`corel_jax.diagrams` take either.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["H0Diagram", "PersistenceH0"]


@runtime_checkable
class H0Diagram(Protocol):
    """What every 0-dim persistence result of :mod:`corel_jax.persistence` provides.

    :class:`PersistenceH0` (clouds) and :class:`~corel_jax.persistence.GraphH0`
    (graphs and images) satisfy it (``isinstance`` works); the distances of
    :mod:`corel_jax.diagrams` accept any of them. Leading batch axes (from
    ``jax.vmap``) are allowed on every field.

    Attributes:
      births: ``(..., k)`` float; the birth of each slot.
      deaths: ``(..., k)`` float; its death, ``inf`` for an essential class
        (``-inf`` for one of a superlevel filtration) and for padding in
        :class:`PersistenceH0`.
      valid: ``(..., k)`` bool; False for padding slots.
    """

    @property
    def births(self) -> jax.Array: ...

    @property
    def deaths(self) -> jax.Array: ...

    @property
    def valid(self) -> jax.Array: ...

    def diagram(self) -> jax.Array:
        """A fixed-shape ``(..., rows, 2)`` array of ``[birth, death]`` rows, differentiable."""
        ...

    def intervals(self, *, min_persistence: float = 0.0) -> np.ndarray:
        """The pairs as GUDHI's ``persistence_intervals_in_dimension(0)`` gives them (eager)."""
        ...


class PersistenceH0(NamedTuple):
    """The finite part of a 0-dimensional persistence diagram, with its critical edges.

    All births are 0. For a cloud of ``n`` points of which ``m`` are real
    (``mask``), the first ``m - 1`` slots hold the real deaths in ascending
    order; the remaining ``n - m`` slots are padding. A pytree (a
    ``NamedTuple``): it passes through ``jit`` and ``vmap`` (which give its
    fields a leading batch axis).

    The diagram in the format of GUDHI, ripser, giotto-ph and
    torch-topological (rows ``[birth, death]``, the essential class
    ``[0, inf]``): :meth:`diagram` (fixed shape, differentiable) and
    :meth:`intervals` (eager NumPy, as GUDHI returns it).

    Attributes:
      deaths: ``(n - 1,)`` float; the death times, ascending. Padding slots
        hold ``+inf`` (so they sort last and cannot pass for a real death).
      edges: ``(n - 1, 2)`` int32; the critical (MST) edge ``(i, j)``, with
        ``i < j``, whose length is each death. Padding slots hold ``(-1, -1)``.
      valid: ``(n - 1,)`` bool; True for the ``m - 1`` real slots.
    """

    deaths: jax.Array
    edges: jax.Array
    valid: jax.Array

    @property
    def births(self) -> jax.Array:
        """``(..., n - 1)`` zeros: every class of a Rips filtration is born at 0."""
        return jnp.zeros_like(self.deaths)

    def diagram(self) -> jax.Array:
        """The diagram as a fixed-shape ``(n, 2)`` array of ``[birth, death]`` rows.

        Row ``k < n - 1`` is ``[0, deaths[k]]`` (so in the order of the
        slots: ascending with ``sort=True``); a padding slot is ``[0, 0]``, a
        zero-length point on the diagonal, which changes no diagram distance;
        the last row is the essential class ``[0, inf]``. Leading batch axes
        (from ``vmap``) are kept: ``(..., n, 2)``. Works under ``jit``,
        ``vmap`` and ``grad``: the gradient of a row's death reaches
        ``deaths[k]`` (and from there the points of its edge); births and the
        essential row are constants. A fully masked cloud has no class, yet
        its last row is ``[0, inf]`` too: mask at least one point.

        Returns:
          ``(..., n, 2)`` in the dtype of ``deaths``.

        Examples:
          >>> import jax.numpy as jnp
          >>> from corel_jax.persistence import rips_h0
          >>> rips_h0(jnp.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]])).diagram()
          Array([[ 0.,  3.],
                 [ 0.,  4.],
                 [ 0., inf]], dtype=float32)
        """
        deaths = jnp.where(self.valid, self.deaths, 0.0)
        finite = jnp.stack([jnp.zeros_like(deaths), deaths], axis=-1)
        essential = jnp.array([0.0, jnp.inf], deaths.dtype)
        essential = jnp.broadcast_to(essential, deaths.shape[:-1] + (1, 2))
        return jnp.concatenate([finite, essential], axis=-2)

    def intervals(self, *, min_persistence: float = 0.0) -> np.ndarray:
        """The diagram as GUDHI gives it: ``persistence_intervals_in_dimension(0)``.

        The real pairs ``[0, death]`` whose persistence (the death) is
        greater than ``min_persistence``, in ascending order of death, then
        the essential pair ``[0, inf]``. Like GUDHI's ``persistence()``, the
        default ``min_persistence=0`` drops the zero-length bars of duplicate
        points; ``min_persistence=-1`` keeps every real pair. For a cloud and
        the Euclidean metric this equals
        ``gudhi.RipsComplex(points=x).create_simplex_tree(max_dimension=1)``
        followed by ``persistence()`` and
        ``persistence_intervals_in_dimension(0)`` (up to the order of rows and
        float32 rounding; tested). Eager only (a NumPy array whose length
        depends on the data): use :meth:`diagram` under ``jit``.

        Args:
          min_persistence: keep the finite pairs whose death exceeds it.

        Returns:
          ``(k + 1, 2)`` NumPy array in the dtype of ``deaths``.

        Raises:
          TypeError: called under a JAX transformation.
          ValueError: a batch of diagrams (leading axes from ``vmap``): take
            one first, e.g. ``jax.tree.map(lambda a: a[0], result)``.

        Examples:
          >>> import jax.numpy as jnp
          >>> from corel_jax.persistence import rips_h0
          >>> x = jnp.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])  # a duplicate point
          >>> rips_h0(x).intervals()
          array([[ 0.,  5.],
                 [ 0., inf]], dtype=float32)
        """
        if isinstance(self.deaths, jax.core.Tracer):
            raise TypeError(
                "PersistenceH0.intervals() is eager (its length depends on the data); "
                "use .diagram() under jit, vmap or grad."
            )
        deaths, valid = np.asarray(self.deaths), np.asarray(self.valid, bool)
        if deaths.ndim != 1:
            raise ValueError(
                f"intervals() takes one diagram; got a batch of shape {deaths.shape[:-1]}: "
                "take one first, e.g. jax.tree.map(lambda a: a[0], result)."
            )
        kept = np.sort(deaths[valid])
        kept = kept[kept > min_persistence]
        rows = np.stack([np.zeros_like(kept), kept], axis=-1)
        return np.concatenate([rows, np.array([[0.0, np.inf]], deaths.dtype)])
