"""pytest fixtures shared by every plugin's tests (loaded from plugins/conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from .environment import prepare
from .services import PostgresServer, RedisServer

REPO_ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"


@dataclass
class Services:
    env: dict[str, str]
    postgres: PostgresServer
    redis: RedisServer


@pytest.fixture(scope="session", autouse=True)
def plugin_services() -> Iterator[Services]:
    """Real PostgreSQL and Redis for the whole session, migrated to the latest schema."""
    env = prepare()
    redis_url = env["OMERO_PLUGINS_STATE_REDIS_URL"]
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    redis_password = redis_url.split("//:", 1)[1].split("@")[0]
    pg = PostgresServer(int(env["OMP_DATA_PORT"]), env["OMP_DATA_USER"], env["OMP_DATA_PASS"],
                        env["OMP_DATA_DB"])
    rd = RedisServer(redis_port, redis_password)
    try:
        pg.start()
        rd.start()
        from omero_plugin_common.migrations import migrate

        conn = psycopg2.connect(plugin_dsn())
        try:
            migrate(conn)
        finally:
            conn.close()
        yield Services(env, pg, rd)
    finally:
        from omero_plugin_common import db

        db.close_pool()
        rd.stop()
        pg.stop()


def plugin_dsn(dbname: str | None = None) -> str:
    return psycopg2.extensions.make_dsn(
        host="127.0.0.1", port=os.environ["OMP_DATA_PORT"], user=os.environ["OMP_DATA_USER"],
        password=os.environ["OMP_DATA_PASS"], dbname=dbname or os.environ["OMP_DATA_DB"])


@pytest.fixture
def scratch_db(plugin_services: Services) -> Iterator[str]:
    """An empty database (for migration tests); yields its DSN."""
    name = f"scratch_{os.getpid()}_{time.monotonic_ns()}"
    admin = psycopg2.connect(plugin_dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield plugin_dsn(name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def celery_eager() -> Iterator[Any]:
    """Run tasks inline (same hooks, same job rows), for fast tests of job logic."""
    from omero_plugin_common.celery_app import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = False


class WorkerProcess:
    """A real `celery worker` subprocess on the test Redis and PostgreSQL."""

    def __init__(self, queues: str, name: str, logfile: Path) -> None:
        self.queues, self.name, self.logfile = queues, name, logfile
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "omero_plugin_common.celery_app",
                 "worker", "-Q", self.queues, "-n", self.name, "--concurrency", "1",
                 "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "info"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited:\n{self.log()}")
            if re.search(rf"{re.escape(self.name)} ready", self.log()):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def celery_worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(queues: str = "admin", name: str = "admin@test") -> WorkerProcess:
        worker = WorkerProcess(queues, name, tmp_path / "worker.log")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.kill()  # its jobs are over or abandoned; a warm shutdown only costs seconds


@pytest.fixture
def login_as(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Make OMERO.web's login_required hand views this (fake) connection."""
    from omeroweb.decorators import login_required

    def login(conn: Any) -> Any:
        monkeypatch.setattr(login_required, "get_connection",
                            lambda self, server_id, request: conn)
        return conn

    return login


def _chromium_options(user_data_dir: str) -> Any:
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1280,900", f"--user-data-dir={user_data_dir}"):
        options.add_argument(arg)
    # Keep the page's JavaScript errors readable through driver.get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    return options


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Debian's chromium through chromedriver; a screenshot of the last page is kept in
    artifacts/screenshots/<test>.png whatever the outcome."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="oae-chromium-") as profile:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                  options=_chromium_options(profile))
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
            driver.quit()
