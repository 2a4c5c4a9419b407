"""The importer interface and its implementation over the `omero import` command.

The session key never appears on the command line (other local users can read it in
/proc/<pid>/cmdline) and the omero CLI reads no session key from the environment. Instead the
key is written to a private session store (a fresh 0700 directory, OMERO_SESSIONDIR), the
format `omero login` itself writes; `omero import -s host -p port -u user` then attaches to
that session. The directory is removed when the import ends.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

LOG_LINES = 200  # per file; the original kept up to 1,000 lines per job
_IMAGE_LINE = re.compile(r"^Image:(\d+)\s*$")
_GROUP_LINE = re.compile(r"^# Group: ")
_EXCEPTION = re.compile(r"\w+(Exception|Error)\b")


@dataclass(frozen=True)
class OmeroSession:
    """Where and as whom to import: a session the worker obtained for the user."""

    host: str
    port: int
    username: str
    key: str

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"OmeroSession({self.username}@{self.host}:{self.port})"


@dataclass
class ImportResult:
    ok: bool
    image_ids: list[int] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    error: str | None = None


class Importer(Protocol):
    def check(self, path: Path) -> bool:
        """True when OMERO can read the file (Bio-Formats finds a reader)."""

    def import_file(self, path: Path, session: OmeroSession, dataset_id: int | None
                    ) -> ImportResult:
        """Import one file into the dataset; never raises for a failed import."""


def parse_image_ids(stdout: str) -> list[int]:
    return [int(m.group(1)) for line in stdout.splitlines()
            if (m := _IMAGE_LINE.match(line.strip()))]


def _tail(text: str, secret: str | None = None) -> list[str]:
    # PostgreSQL text and jsonb cannot hold NUL; tool output occasionally contains one.
    lines = [line.replace("\x00", "") for line in text.splitlines() if line.strip()]
    if secret:
        lines = [line.replace(secret, "***") for line in lines]
    return lines[-LOG_LINES:]


def _run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str, str]:
    """Run in its own process group, so a timeout kills the Java child of `omero` too."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True, text=True, errors="replace")
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


_STORE_PREFIX = "omero-upload-session-"


def sweep_session_stores(older_than: float) -> int:
    """Remove stores a killed worker left behind (their sessions expire, but the keys should
    not stay on disk); only ones older than any import could run, so none is in use."""
    removed = 0
    root = Path(tempfile.gettempdir())
    for entry in root.glob(_STORE_PREFIX + "*"):
        try:
            if time.time() - entry.lstat().st_mtime > older_than and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@contextmanager
def private_session_store(session: OmeroSession) -> Iterator[str]:
    from omero.util.sessions import SessionsStore

    folder = tempfile.mkdtemp(prefix=_STORE_PREFIX)  # mode 0700
    try:
        store = SessionsStore(folder)
        props = {"omero.port": str(session.port)}
        store.add(session.host, session.username, session.key, dict(props))
        store.set_current(session.host, session.username, session.key, props)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class CliImporter:
    """`omero import` as a subprocess, with timeouts and parsed output."""

    def __init__(self, omero_bin: str, import_timeout: float, check_timeout: float) -> None:
        self.omero_bin = omero_bin
        self.import_timeout, self.check_timeout = import_timeout, check_timeout

    def _env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("OMP_DATA_PASS", "OMERO_PLUGINS_"))}
        env.update(extra)
        return env

    def check(self, path: Path) -> bool:
        # `-f` lists the files Bio-Formats would read, grouped by reader, without a server.
        code, out, _ = _run([self.omero_bin, "import", "-f", "--", str(path)], self._env(),
                            self.check_timeout)
        return code == 0 and any(_GROUP_LINE.match(line) for line in out.splitlines())

    def import_file(self, path: Path, session: OmeroSession, dataset_id: int | None
                    ) -> ImportResult:
        argv = [self.omero_bin, "import", "-s", session.host, "-p", str(session.port),
                "-u", session.username]
        if dataset_id is not None:
            argv += ["-d", str(dataset_id)]
        argv += ["--", str(path)]
        sweep_session_stores(older_than=self.import_timeout + 3600)
        with private_session_store(session) as store:
            code, out, err = _run(argv, self._env(OMERO_SESSIONDIR=store), self.import_timeout)
        images = parse_image_ids(out)
        log = _tail(err, session.key) + [f"Image:{i}" for i in images]
        if code is None:
            return ImportResult(False, images, log,
                                f"import timed out after {self.import_timeout:g} s")
        if code != 0:
            errors = [line.strip() for line in _tail(err, session.key)
                      if " ERROR " in line or _EXCEPTION.search(line)]
            reason = "; ".join(errors[:2])[:500] or f"omero import exited with status {code}"
            partial = f" ({len(images)} image(s) were created before it failed)" if images else ""
            return ImportResult(False, images, log, reason + partial)
        if not images:
            return ImportResult(False, [], log, "omero import reported no image")
        return ImportResult(True, images, log)


def default_importer() -> Importer:
    from .config import upload_settings

    settings = upload_settings()
    return CliImporter(settings.omero_bin, settings.import_timeout_seconds,
                       settings.check_timeout_seconds)
