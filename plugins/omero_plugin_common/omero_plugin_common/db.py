"""Plugin database access: a per-process psycopg2 connection pool and transactions.

Plugins use plain SQL with bound parameters. A `transaction()` block commits on success and
rolls back on error; callbacks registered with `on_commit` run only after the commit, so a job
is never dispatched before its row is visible to the worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from .config import common_settings

_lock = threading.Lock()


_pools: dict[int, psycopg2.pool.ThreadedConnectionPool] = {}


def dsn() -> str:
    s = common_settings()
    return psycopg2.extensions.make_dsn(
        host=s.db_host, port=s.db_port, dbname=s.db_name, user=s.db_user,
        password=s.db_password, connect_timeout=5, application_name="omero-plugins",
    )


def pool() -> psycopg2.pool.ThreadedConnectionPool:
    # Keyed by pid: a pool inherited through fork (Celery prefork) must not be shared.
    pid = os.getpid()
    with _lock:
        if pid not in _pools:
            _pools[pid] = psycopg2.pool.ThreadedConnectionPool(
                0, common_settings().db_pool_max, dsn()
            )
        return _pools[pid]


def close_pool() -> None:
    """Close this process's pooled connections (tests, and settings changes)."""
    with _lock:
        current = _pools.pop(os.getpid(), None)
    if current is not None:
        current.closeall()


class Transaction:
    """A cursor plus after-commit callbacks."""

    def __init__(self, cursor: psycopg2.extras.RealDictCursor) -> None:
        self.cursor = cursor
        self._after_commit: list[Callable[[], Any]] = []

    def execute(self, sql: str, params: Any = None) -> psycopg2.extras.RealDictCursor:
        self.cursor.execute(sql, params)
        return self.cursor

    def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()

    def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def on_commit(self, callback: Callable[[], Any]) -> None:
        self._after_commit.append(callback)


@contextmanager
def transaction() -> Iterator[Transaction]:
    """Run a block in one transaction on a pooled connection."""
    p = pool()
    conn = p.getconn()
    broken = False
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            tx = Transaction(cur)
            try:
                yield tx
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True  # server restarted or connection lost: never reuse it
        raise
    finally:
        p.putconn(conn, close=broken or bool(conn.closed))
    for callback in tx._after_commit:
        callback()


def ping() -> bool:
    """True when the plugin database answers a trivial query."""
    try:
        with transaction() as tx:
            return tx.fetchone("SELECT 1 AS ok")["ok"] == 1
    except psycopg2.Error:
        return False
