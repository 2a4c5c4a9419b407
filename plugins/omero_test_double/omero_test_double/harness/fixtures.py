"""pytest fixtures shared by every plugin's tests (loaded from plugins/conftest.py): real
PostgreSQL and Redis, Celery workers (also on the test double), the job-service account, login
and chromium."""

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

from omero_plugin_common import jobs, omero_session
from omero_plugin_common import tasks as _tasks  # registers the task eager dispatch runs

from ..login import login_factory
from ..store import FakeOmero
from .environment import prepare
from .servers import PostgresServer, RedisServer

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
    app = _tasks.app
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = False


class WorkerProcess:
    """A real `celery worker` subprocess on the test Redis and PostgreSQL."""

    def __init__(self, queues: str, name: str, logfile: Path,
                 app: str = "omero_plugin_common.celery_app",
                 env: dict[str, str] | None = None) -> None:
        self.queues, self.name, self.logfile = queues, name, logfile
        self.app, self.env = app, env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", self.app,
                 "worker", "-Q", self.queues, "-n", self.name, "--concurrency", "1",
                 "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "info"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
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


JOB_SERVICE_USER = "job-service"


@pytest.fixture
def job_service(fake_omero: Any) -> Iterator[Any]:
    """The job-service account (an administrator with Sudo) in the test double, and this
    process's omero_session logging in to the double: jobs run inline (celery_eager) can
    act for users. Yields the account's store record."""
    account = fake_omero.add_user(JOB_SERVICE_USER, admin=True, privileges=["Sudo"])
    previous = omero_session.use_gateway_factory(login_factory(fake_omero))
    try:
        yield account
    finally:
        omero_session.use_gateway_factory(previous)


class FakeOmeroWorker(WorkerProcess):
    """A real Celery worker acting on a copy of the test's FakeOmero (see
    omero_test_double.worker): ``share(omero)`` before submitting, ``omero_after(job_id)``
    for the state including the job's writes."""

    def __init__(self, queues: str, name: str, logfile: Path, state: Path) -> None:
        super().__init__(queues, name, logfile, app="omero_test_double.worker",
                         env={"OMERO_TEST_DOUBLE_STATE": str(state)})
        self.state = state

    def share(self, omero: Any) -> None:
        omero.dump(self.state)

    def omero_after(self, job_id: Any, timeout: float = 60) -> Any:
        done = Path(f"{self.state}.done")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = jobs.get(job_id)
            if (job is not None and job.finished and job.task_id and done.exists()
                    and job.task_id in done.read_text().split()):
                return FakeOmero.load(self.state)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not finished by the worker in {timeout} s:\n"
                             f"{self.log()}")


@pytest.fixture
def fake_omero_worker(tmp_path: Path, fake_omero: Any, job_service: Any
                      ) -> Iterator[Callable[..., FakeOmeroWorker]]:
    """Start a real worker on the given queues whose OMERO is ``fake_omero`` (shared at start;
    call ``worker.share(fake_omero)`` again after changing it)."""
    workers: list[FakeOmeroWorker] = []

    def start(queues: str, name: str | None = None) -> FakeOmeroWorker:
        worker = FakeOmeroWorker(queues, name or f"{queues}@fake", tmp_path / "worker.log",
                                 tmp_path / "omero-state.pickle")
        worker.share(fake_omero)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.kill()


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
    artifacts/screenshots/<test>.png whatever the outcome. The test server sends production's
    Content-Security-Policy (harness.headers); a violation the test left unread fails it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from .headers import csp_violations

    with tempfile.TemporaryDirectory(prefix="oae-chromium-") as profile:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                  options=_chromium_options(profile))
        driver.set_page_load_timeout(30)
        try:
            yield driver
            violations = csp_violations(driver)
            assert not violations, f"the page broke the Content-Security-Policy: {violations}"
        finally:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
            driver.quit()
