"""Per-user secrets (API keys ...) in the plugin database, encrypted with Fernet
(AES-128-CBC + HMAC-SHA256). Keys come from OMERO_PLUGINS_SECRET_KEYS, newest first:
MultiFernet encrypts with the newest and decrypts with any, and `rotate_all` re-encrypts."""

from __future__ import annotations

from cryptography.fernet import InvalidToken, MultiFernet

from . import db
from .config import SETTINGS, fernet_keys

_KEYS = next(s for s in SETTINGS.settings if s.env == "OMERO_PLUGINS_SECRET_KEYS")


class SecretUnreadable(RuntimeError):
    """The stored token was made with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    return MultiFernet(fernet_keys())


def put(plugin: str, username: str, name: str, value: str) -> None:
    token = _fernet().encrypt(value.encode("utf-8"))
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO plugin_user_secrets (plugin, username, name, token) VALUES (%s,%s,%s,%s)"
            " ON CONFLICT (plugin, username, name)"
            " DO UPDATE SET token = excluded.token, updated_at = now()",
            (plugin, username, name, token),
        )


def get(plugin: str, username: str, name: str) -> str | None:
    with db.transaction() as tx:
        row = tx.fetchone(
            "SELECT token FROM plugin_user_secrets WHERE plugin=%s AND username=%s AND name=%s",
            (plugin, username, name),
        )
    if row is None:
        return None
    try:
        return _fernet().decrypt(bytes(row["token"])).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadable(
            f"secret {name!r} of {username} was encrypted with a key no longer in "
            f"OMERO_PLUGINS_SECRET_KEYS (Ansible variable {_KEYS.ansible_var})"
        ) from None


def names(plugin: str, username: str) -> list[str]:
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT name FROM plugin_user_secrets WHERE plugin=%s AND username=%s ORDER BY name",
            (plugin, username),
        )
    return [r["name"] for r in rows]


def delete(plugin: str, username: str, name: str | None = None) -> int:
    """Delete one secret, or all of the user's secrets of this plugin; returns the count."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM plugin_user_secrets WHERE plugin=%s AND username=%s"
            " AND (%s::text IS NULL OR name = %s)",
            (plugin, username, name, name),
        )
        return tx.cursor.rowcount


def rotate_all() -> int:
    """Re-encrypt every stored secret with the newest key; returns how many rows changed."""
    fernet = _fernet()
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT plugin, username, name, token FROM plugin_user_secrets FOR UPDATE")
        for row in rows:
            tx.execute(
                "UPDATE plugin_user_secrets SET token=%s, updated_at=now()"
                " WHERE plugin=%s AND username=%s AND name=%s",
                (fernet.rotate(bytes(row["token"])), row["plugin"], row["username"], row["name"]),
            )
    return len(rows)
