"""Start-up checks: invalid settings or a limiter without a shared cache stop OMERO.web.

Registered as Django system checks (`manage.py check`) and enforced from each plugin's
AppConfig.ready(), because gunicorn does not run system checks by itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .config import common_settings
from .plugin import installed_plugins
from .typed_settings import SettingsError

# Caches that are not shared between processes (or store nothing) cannot limit anything.
UNSHARED_CACHES = {
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.locmem.LocMemCache",
}


def check_plugin_settings(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    errors = []
    for plugin in installed_plugins():
        if plugin.settings is None:
            continue
        try:
            plugin.settings.load()
        except SettingsError as exc:
            errors.append(checks.Error(str(exc), id="omero_plugin_common.E001"))
    return errors


def check_ratelimit_cache(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    try:
        alias = common_settings().ratelimit_cache
    except SettingsError:
        return []  # reported by check_plugin_settings
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in UNSHARED_CACHES or not backend:
        return [checks.Error(
            f"the rate limiter needs a shared cache, but cache {alias!r} is "
            f"{backend or 'not configured'}",
            hint="point omero.web.caches at the `cache` Redis instance "
                 "(django_redis.cache.RedisCache); Ansible variable omero_web_caches",
            id="omero_plugin_common.E002",
        )]
    return []


def register() -> None:
    """Idempotent: Django's registry is a set."""
    checks.register(check_plugin_settings)
    checks.register(check_ratelimit_cache)


def enforce() -> None:
    """Raise ImproperlyConfigured with every start-up error (called from AppConfig.ready)."""
    errors = check_plugin_settings() + check_ratelimit_cache()
    if errors:
        raise ImproperlyConfigured("\n".join(f"{e.msg} ({e.hint or e.id})" for e in errors))
