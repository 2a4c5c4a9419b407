"""Polling for the tests: wait until something a worker, a server or a page does is visible."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.1) -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy and return
    that; after `timeout` seconds fail, naming `what` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(interval)
