"""Is this process able to serve? The plugin database and the `state` Redis must answer."""

from __future__ import annotations

import functools

import redis

from . import db
from .config import common_settings


@functools.cache
def _state_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def redis_ok() -> bool:
    try:
        return bool(_state_redis(common_settings().state_redis_url).ping())
    except redis.RedisError:
        return False


def healthy() -> bool:
    return db.ping() and redis_ok()
