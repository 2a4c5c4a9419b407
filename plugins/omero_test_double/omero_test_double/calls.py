"""Counting of the service calls the fake receives, so benchmarks can report calls per image."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class CallCounter(Counter):
    """Calls per name (e.g. ``"IQuery.findAllByQuery"``) plus ``total``; ``reset()`` empties it."""

    @property
    def total(self) -> int:
        return sum(self.values())

    def record(self, name: str) -> None:
        self[name] += 1

    def reset(self) -> None:
        self.clear()


def counted(name: str) -> Callable[[F], F]:
    """Count each call of the decorated method under ``name`` in its owner's ``_omero.calls``
    and run it under the server's lock.

    functools.wraps keeps ``__wrapped__``, so inspect.signature (and the contract test) still
    sees the real parameters.
    """

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            server = self._omero
            # One call at a time, as a transaction: a live test server thread may call in too.
            with server.lock:
                server.calls.record(name)
                return method(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
