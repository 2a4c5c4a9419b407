"""The plugin's own rows in the plugin database: variable sets and user settings.
AI keys live in the platform's encrypted secret store (see services.ai)."""

from __future__ import annotations

import json
from typing import Any

from omero_plugin_common import db

from . import ai, parsing

MAX_SET_NAME = 100
MAX_SETTINGS_BYTES = 16384
# Tables with a username column that "delete all my data" clears.
USER_TABLES = ("omp_variable_sets", "omp_user_settings")


class StoreError(ValueError):
    """Refused input (duplicate, too many, not found): the message is for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _set_name(name: Any) -> str:
    if (not isinstance(name, str) or not name.strip() or len(name) > MAX_SET_NAME
            or "\x00" in name):  # PostgreSQL text cannot hold NUL
        raise StoreError(f"set_name must be text of 1 to {MAX_SET_NAME} characters")
    return name.strip()


def list_sets(username: str) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT set_name, var_names, updated_at FROM omp_variable_sets"
            " WHERE username = %s ORDER BY lower(set_name)", (username,))
    return [{"set_name": r["set_name"], "var_names": r["var_names"],
             "updated_at": r["updated_at"].isoformat()} for r in rows]


def save_set(username: str, set_name: Any, var_names: Any) -> dict[str, Any]:
    name = _set_name(set_name)
    try:
        names = list(parsing.validate_variables(var_names))
    except parsing.ParseError as exc:
        raise StoreError(str(exc)) from None
    with db.transaction() as tx:
        # Serialises two saves of one user so the cap holds.
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))",
                   (f"omp_variable_sets/{username}",))
        count = tx.fetchone("SELECT count(*) AS n FROM omp_variable_sets WHERE username = %s",
                            (username,))["n"]
        if count >= parsing.MAX_VARIABLE_SETS:
            raise StoreError(f"at most {parsing.MAX_VARIABLE_SETS} variable sets; delete one "
                             "first", 409)
        row = tx.fetchone(
            "INSERT INTO omp_variable_sets (username, set_name, var_names) VALUES (%s, %s, %s)"
            " ON CONFLICT (username, set_name) DO NOTHING RETURNING set_name",
            (username, name, json.dumps(names)))
        if row is None:
            raise StoreError(f"a variable set named {name!r} already exists", 409)
    return {"set_name": name, "var_names": names}


def load_set(username: str, set_name: Any) -> dict[str, Any]:
    name = _set_name(set_name)
    with db.transaction() as tx:
        row = tx.fetchone("SELECT set_name, var_names FROM omp_variable_sets"
                          " WHERE username = %s AND set_name = %s", (username, name))
    if row is None:
        raise StoreError(f"no variable set named {name!r}", 404)
    return dict(row)


def delete_set(username: str, set_name: Any) -> None:
    name = _set_name(set_name)
    with db.transaction() as tx:
        tx.execute("DELETE FROM omp_variable_sets WHERE username = %s AND set_name = %s",
                   (username, name))
        if tx.cursor.rowcount == 0:
            raise StoreError(f"no variable set named {name!r}", 404)


def delete_all_sets(username: str) -> int:
    with db.transaction() as tx:
        tx.execute("DELETE FROM omp_variable_sets WHERE username = %s", (username,))
        return tx.cursor.rowcount


SETTING_KEYS = {"separators": list, "mode": str, "protect_hyphens": bool, "ai_provider": str,
                "ai_model": str, "variables": list, "delete_mode": str,
                "show_all_projects": bool, "batch_size": int}


def get_settings(username: str) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.fetchone("SELECT settings FROM omp_user_settings WHERE username = %s",
                          (username,))
    return row["settings"] if row else {}


def save_settings(username: str, settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise StoreError("settings must be an object")
    unknown = set(settings) - set(SETTING_KEYS)
    if unknown:
        raise StoreError(f"unknown settings: {', '.join(sorted(unknown))}")
    for key, kind in SETTING_KEYS.items():
        if key in settings and not isinstance(settings[key], kind):
            raise StoreError(f"{key} must be a {kind.__name__}")
    batch = settings.get("batch_size")
    if batch is not None and (isinstance(batch, bool) or not 1 <= batch <= 5000):
        raise StoreError("batch_size must be a whole number from 1 to 5000")
    if settings.get("ai_provider") not in (None, *ai.PROVIDERS):
        raise StoreError("unknown ai_provider")
    if "separators" in settings:  # the same rules as a preview's
        settings = {**settings, "separators": list(
            parsing.validate_separators(settings["separators"]))}
    if settings.get("mode") not in (None, *parsing.MODES):
        raise StoreError(f"mode must be one of {', '.join(parsing.MODES)}")
    body = json.dumps(settings)
    if "\\u0000" in body:  # jsonb cannot hold NUL
        raise StoreError("settings must not contain NUL characters")
    if len(body) > MAX_SETTINGS_BYTES:
        raise StoreError("settings too large", 413)
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO omp_user_settings (username, settings) VALUES (%s, %s)"
            " ON CONFLICT (username) DO UPDATE SET settings = excluded.settings,"
            " updated_at = now()", (username, body))
    return settings


def delete_user_data(username: str) -> dict[str, int]:
    """Every row of this user in the plugin's tables, and their stored API keys."""
    counts = {}
    with db.transaction() as tx:
        for table in USER_TABLES:
            tx.execute(f"DELETE FROM {table} WHERE username = %s", (username,))
            counts[table] = tx.cursor.rowcount
    counts["api_keys"] = ai.delete_keys(username)
    return counts
