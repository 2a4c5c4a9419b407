"""A per-user rate limiter on the `cache` Redis instance, through Django's cache.

Fixed windows: the first hit in a window creates a counter that expires with the window;
every hit increments it atomically (Redis INCR), so all web workers share one count.
OMERO.web's default cache is a DummyCache that would limit nothing: checks.py refuses it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from .config import common_settings
from .omero_helpers import username
from .web import json_error


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the window resets


@dataclass(frozen=True)
class RateLimit:
    scope: str  # one counter per scope and user, e.g. "omp-major-actions"
    limit: int
    window_seconds: int

    def hit(self, user: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        window = int(now // self.window_seconds)
        key = f"ratelimit:{self.scope}:{user}:{window}"
        cache = caches[common_settings().ratelimit_cache]
        cache.add(key, 0, timeout=self.window_seconds + 1)
        count = cache.incr(key)
        retry_after = max(1, int((window + 1) * self.window_seconds - now))
        return Decision(count <= self.limit, max(0, self.limit - count), retry_after)


def rate_limited(limit: RateLimit) -> Callable[[Callable[..., HttpResponse]],
                                               Callable[..., HttpResponse]]:
    """For views decorated by OMERO.web's login_required (they receive `conn`): 429 when over."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, conn: Any = None,
                    **kwargs: Any) -> HttpResponse:
            decision = limit.hit(username(conn))
            if not decision.allowed:
                response = json_error(
                    f"too many requests; try again in {decision.retry_after} s", 429,
                    retry_after=decision.retry_after,
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
            return view(request, *args, conn=conn, **kwargs)

        return wrapper

    return decorate
