"""Versioned SQL migrations of the plugin database.

Each plugin ships `sql/NNNN_name.sql` (numbered from 0001 without gaps). `migrate` applies the
pending ones in order, each in its own transaction together with its row in
`plugin_schema_migrations`, under an advisory lock so two deploys cannot race. Applied files are
checksummed: editing a migration that already ran is an error, not a silent drift.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions

from .plugin import Plugin, installed_plugins

# Any constant shared by every deploy; "omeplugn" as 8 bytes.
ADVISORY_LOCK_KEY = int.from_bytes(b"omeplugn", "big") & 0x7FFFFFFFFFFFFFFF
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

SCHEMA_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS plugin_schema_migrations (
    plugin      text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin, version)
)
"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    plugin: str
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    applied: bool


def discover(plugin: Plugin) -> list[Migration]:
    """The plugin's migrations in version order; numbering must be 1, 2, 3 ... without gaps."""
    if not plugin.sql_dir.is_dir():
        return []
    found = []
    for path in plugin.sql_dir.iterdir():
        if path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_case_name.sql")
        found.append(Migration(plugin.name, int(match[1]), match[2], path))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{plugin.name}: migration versions must be 1..n, found {versions}")
    return found


def _applied(cur: psycopg2.extensions.cursor) -> dict[tuple[str, int], str]:
    cur.execute("SELECT plugin, version, checksum FROM plugin_schema_migrations")
    return {(plugin, version): checksum for plugin, version, checksum in cur.fetchall()}


def _ensure_schema_table(conn: psycopg2.extensions.connection) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA_TABLE_SQL)


def migrate(
    conn: psycopg2.extensions.connection,
    plugins: Iterable[Plugin] | None = None,
    targets: dict[str, int] | None = None,
) -> list[Migration]:
    """Apply pending migrations (up to `targets[plugin]` where given); return those applied."""
    plugins = list(installed_plugins() if plugins is None else plugins)
    targets = targets or {}
    applied_now: list[Migration] = []
    if conn.autocommit:  # each migration needs its own explicit transaction
        conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        conn.commit()
    try:
        _ensure_schema_table(conn)
        for plugin in plugins:
            for migration in discover(plugin):
                if migration.version > targets.get(plugin.name, migration.version):
                    break
                with conn, conn.cursor() as cur:
                    done = _applied(cur)
                    key = (migration.plugin, migration.version)
                    if key in done:
                        if done[key] != migration.checksum:
                            raise MigrationError(
                                f"{migration.path.name} of {migration.plugin} changed after it "
                                "was applied; add a new migration instead"
                            )
                        continue
                    cur.execute(migration.sql)
                    cur.execute(
                        "INSERT INTO plugin_schema_migrations (plugin, version, name, checksum)"
                        " VALUES (%s, %s, %s, %s)",
                        (migration.plugin, migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
        conn.commit()
    return applied_now


def status(
    conn: psycopg2.extensions.connection, plugins: Iterable[Plugin] | None = None
) -> list[MigrationStatus]:
    plugins = list(installed_plugins() if plugins is None else plugins)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('plugin_schema_migrations') IS NOT NULL")
        done = _applied(cur) if cur.fetchone()[0] else {}
    return [
        MigrationStatus(m, (m.plugin, m.version) in done)
        for plugin in plugins
        for m in discover(plugin)
    ]
