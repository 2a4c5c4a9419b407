"""Real PostgreSQL 15 and Redis servers for tests: temp data dirs, loopback, free ports.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
Servers are started in their own process group and always stopped (even after a failed test).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .waiting import wait_for

PG_BIN = Path(os.environ.get("OMERO_PLUGINS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class PostgresServer:
    port: int
    user: str
    password: str
    dbname: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oae-pg-")))
    proc: subprocess.Popen | None = None

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> PostgresServer:
        data, sock = self.workdir / "data", self.workdir / "sock"
        sock.mkdir()
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for path in (self.workdir, sock):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        subprocess.run(
            [*self._as_postgres(), str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )
        with open(self.workdir / "postgres.log", "wb") as log:
            self.proc = subprocess.Popen(
                [*self._as_postgres(), str(PG_BIN / "postgres"), "-D", str(data),
                 "-p", str(self.port), "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"],
                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            )
        wait_for(self._ready, 30, f"PostgreSQL on port {self.port}")
        # An ordinary role with a password, as in production (CREATEDB for scratch databases).
        self.psql(f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {self.dbname} OWNER {self.user}")
        return self

    def _ready(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"postgres exited; see {self.workdir / 'postgres.log'}")
        return subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
        ).returncode == 0

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        out = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", dbname, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class RedisServer:
    port: int
    password: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oae-redis-")))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        with open(self.workdir / "redis.log", "wb") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--requirepass", self.password, "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir), "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for(lambda: _port_open(self.port), 30, f"redis-server on port {self.port}")
        return self

    def restart(self) -> None:
        """Stop and start again on the same port; without persistence all data is gone."""
        _stop(self.proc)
        self.start()

    def stop(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)
