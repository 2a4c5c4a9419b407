"""A user's saved upload settings and their SEM-EDX method settings."""

from __future__ import annotations

import json
from typing import Any

from omero_plugin_common import db
from omero_plugin_common.web import RequestError

from .parsing import SEM_EDX, SEM_EDX_DEFAULTS, _sem_edx_settings


def load_user_settings(user: str) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.fetchone("SELECT settings FROM upload_user_settings WHERE username = %s",
                          (user,))
    return row["settings"] if row else {}


def _jsonb_text(value: Any) -> str:
    """JSON that PostgreSQL's jsonb accepts: no NaN or Infinity, no NUL characters."""
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise RequestError("settings may not contain NaN or Infinity") from None
    if "\\u0000" in text:
        raise RequestError("settings may not contain NUL characters")
    return text


def save_user_settings(user: str, settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise RequestError("settings must be a JSON object")
    text = _jsonb_text(settings)
    if len(text) > 16384:
        raise RequestError("settings must be at most 16 KiB of JSON")
    with db.transaction() as tx:
        tx.execute("INSERT INTO upload_user_settings (username, settings) VALUES (%s, %s)"
                   " ON CONFLICT (username) DO UPDATE SET settings = EXCLUDED.settings,"
                   " updated_at = now()", (user, text))
    return settings


def load_method_settings(user: str, method: str) -> dict[str, Any]:
    if method != SEM_EDX:
        raise RequestError(f"unknown method {method!r}", 404)
    with db.transaction() as tx:
        row = tx.fetchone("SELECT settings FROM upload_special_method_settings"
                          " WHERE username = %s AND method_key = %s", (user, method))
    return {**SEM_EDX_DEFAULTS, **(row["settings"] if row else {})}


def save_method_settings(user: str, method: str, settings: Any) -> dict[str, Any]:
    if method != SEM_EDX:
        raise RequestError(f"unknown method {method!r}", 404)
    if not isinstance(settings, dict):
        raise RequestError("settings must be a JSON object")
    clean = _sem_edx_settings(settings)
    with db.transaction() as tx:
        tx.execute("INSERT INTO upload_special_method_settings (username, method_key, settings)"
                   " VALUES (%s, %s, %s) ON CONFLICT (username, method_key) DO UPDATE"
                   " SET settings = EXCLUDED.settings, updated_at = now()",
                   (user, method, json.dumps(clean)))
    return clean
