"""Is this process able to serve? The plugin database and the `state` Redis must answer.

The health/ routes are anonymous, so the answer is the process's last check, reused for
OMERO_PLUGINS_HEALTH_CACHE_SECONDS: a flood of probes costs one database and one Redis round
trip per process and window, not one per request, and a probe is never more than a window late.
"""

from __future__ import annotations

import functools
import threading
import time

import redis

from . import db
from .config import common_settings

_lock = threading.Lock()
# (time.monotonic() of the check, its result); None until the first check.
_last: tuple[float, bool] | None = None


@functools.cache
def _state_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def redis_ok() -> bool:
    try:
        return bool(_state_redis(common_settings().state_redis_url).ping())
    except redis.RedisError:
        return False


def check() -> bool:
    """Ask PostgreSQL and Redis now."""
    return db.ping() and redis_ok()


def healthy() -> bool:
    """The last check's result while it is younger than the window, else a new check.
    One check at a time per process: concurrent callers wait for it and share its result."""
    global _last
    window = common_settings().health_cache_seconds
    with _lock:
        if _last is not None and time.monotonic() - _last[0] < window:
            return _last[1]
        result = check()
        _last = (time.monotonic(), result)
        return result


def forget() -> None:
    """Drop the cached result (the next call checks again)."""
    global _last
    with _lock:
        _last = None
