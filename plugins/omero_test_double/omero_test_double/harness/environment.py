"""The test environment, decided once per test session before Django loads its settings.

pytest-django imports the settings module before any conftest runs, so the ports and
passwords of the servers the fixtures start later are chosen here and exported as the same
environment variables production reads (a Celery worker subprocess inherits them).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from omero_plugin_common.plugin import installed_plugins

from .servers import free_port

MARKER = "OMERO_PLUGINS_TEST_ENV"


def prepare() -> dict[str, str]:
    """Export the test environment (idempotent within a process tree)."""
    if os.environ.get(MARKER):
        return json.loads(os.environ[MARKER])
    redis_port, redis_password = free_port(), secrets.token_hex(12)
    env = {
        "OMP_DATA_HOST": "127.0.0.1",
        "OMP_DATA_PORT": str(free_port()),
        "OMP_DATA_DB": "omero_plugins_test",
        "OMP_DATA_USER": "omero_plugins_test",
        "OMP_DATA_PASS": secrets.token_hex(12),
        "OMERO_PLUGINS_STATE_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis_port}/0",
        # The `cache` instance is a separate database of the same test server.
        "OMERO_PLUGINS_TEST_CACHE_REDIS_URL":
            f"redis://:{redis_password}@127.0.0.1:{redis_port}/1",
        "OMERO_PLUGINS_SECRET_KEYS": Fernet.generate_key().decode(),
        "OMERO_PLUGINS_JOB_LEASE_SECONDS": "10",
        "FMP_HASH_SECRET": secrets.token_hex(32),
        # The test double accepts any password; the value only has to be set.
        "OMERO_PLUGINS_JOB_SERVICE_PASSWORD": secrets.token_hex(12),
        "OMERODIR": tempfile.mkdtemp(prefix="oae-omerodir-"),
    }
    write_omero_web_config(Path(env["OMERODIR"]), env["OMERO_PLUGINS_TEST_CACHE_REDIS_URL"])
    atexit.register(shutil.rmtree, env["OMERODIR"], True)
    os.environ.update(env)
    os.environ[MARKER] = json.dumps(env)
    return env


def write_omero_web_config(omerodir: Path, cache_url: str) -> None:
    """What `omero config set` writes in production: the apps and the Redis cache."""
    from omero.config import ConfigXml

    (omerodir / "etc" / "grid").mkdir(parents=True)
    config = ConfigXml(str(omerodir / "etc" / "grid" / "config.xml"))
    try:
        # Every installed plugin, the platform first, as omero.web.apps lists them.
        config["omero.web.apps"] = json.dumps([p.name for p in installed_plugins()])
        config["omero.web.caches"] = json.dumps({"default": {
            "BACKEND": "django_redis.cache.RedisCache", "LOCATION": cache_url}})
    finally:
        config.close()
