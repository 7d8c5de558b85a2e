"""Small input checks used across the library; each error message names the argument."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TypeGuard

__all__ = ["check_int_tuple", "check_positive", "check_positive_int", "is_int", "is_number"]


def is_int(value: object) -> TypeGuard[int]:
    """True for Python and numpy integers (which type checkers then treat as ints), False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    """True for real Python and numpy numbers (to type checkers: floats), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int; TypeError if not an integer, ValueError if < 1."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int; got {value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def check_positive(value: object, name: str) -> float:
    """``value`` as a float; TypeError if not a number, ValueError unless > 0."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}.")
    if not value > 0:
        raise ValueError(f"{name} must be > 0; got {value!r}.")
    return float(value)


def check_int_tuple(values: object, name: str, *, allow_empty: bool = True) -> tuple[int, ...]:
    """``values`` as a tuple of positive ints, with errors naming ``name``."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of ints; got {values!r}.")
    if not values and not allow_empty:
        raise ValueError(f"{name} must be non-empty; got {tuple(values)}.")
    return tuple(check_positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))
