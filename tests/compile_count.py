"""How many programs JAX compiles inside a block (from its monitoring events).

For the tests that an eager call runs as one compiled program rather than op by
op. A program loaded from the persistent compilation cache counts too, and one
already compiled in this process does not: use shapes no other test uses.
"""

import contextlib
from collections.abc import Iterator

import jax

_EVENT = "/jax/core/compile/backend_compile_duration"
_compiled = [0]


def _count(event: str, duration: float, **kwargs) -> None:
    if event == _EVENT:
        _compiled[0] += 1


jax.monitoring.register_event_duration_secs_listener(_count)


@contextlib.contextmanager
def compiles() -> Iterator[list[int]]:
    """``with compiles() as n: ...``; then ``n[0]`` is the number of programs compiled."""
    start = _compiled[0]
    counted: list[int] = []
    try:
        yield counted
    finally:
        counted.append(_compiled[0] - start)
