"""Fixtures of the admin tools' tests: settings from a throw-away environment, real journal
files written by systemd-journal-remote, a root and a plain user in the test double."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from omeroweb_admin_tools.config import admin_settings

JOURNAL_REMOTE = next((p for p in ("/usr/lib/systemd/systemd-journal-remote",
                                   "/lib/systemd/systemd-journal-remote")
                       if Path(p).exists()), None)
BOOT_ID = "0123456789abcdef0123456789abcdef"
BOOT_US = 1_700_000_000_000_000


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """Set ADMIN_TOOLS_* variables (name without the prefix) and reload the settings."""
    state_dir = tmp_path / "quota-state"
    state_dir.mkdir()
    data_dir = tmp_path / "OMERO"
    (data_dir / "ManagedRepository").mkdir(parents=True)
    (tmp_path / "journal").mkdir()
    defaults = {"QUOTA_STATE_DIR": str(state_dir), "DATA_DIR": str(data_dir),
                "JOURNAL_DIRECTORY": str(tmp_path / "journal"),
                "OMERO_LOG_DIRS": str(tmp_path / "server-log") + "," + str(tmp_path / "web-log"),
                "UNITS": "omero-server.service,omero-web.service,redis-server@state.service"}

    def apply(**values: str) -> Any:
        for key, value in {**defaults, **values}.items():
            monkeypatch.setenv(f"ADMIN_TOOLS_{key}", value)
        admin_settings.cache_clear()
        return admin_settings()

    apply()
    yield apply
    admin_settings.cache_clear()


@pytest.fixture
def people(fake_omero: Any) -> dict[str, Any]:
    lab = fake_omero.add_group("lab", "read-annotate")
    other = fake_omero.add_group("imaging", "private")
    alice = fake_omero.add_user("alice", [lab, other])
    fake_omero.add_user("admin2", [lab], admin=True)
    return {"lab": lab, "imaging": other, "alice": alice}


@pytest.fixture
def root_client(fake_omero: Any, login_as: Callable[[Any], Any], people: Any) -> Client:
    login_as(fake_omero.connect("root"))
    return Client()


def export_entries(entries: Iterable[dict[str, Any]]) -> bytes:
    """Journal export format: KEY=value lines, a blank line after each entry."""
    out = []
    for entry in entries:
        # One boot that began at BOOT_US: monotonic time runs with the wall clock, as on a host.
        fields = {"__REALTIME_TIMESTAMP": entry["ts_us"],
                  "__MONOTONIC_TIMESTAMP": entry["ts_us"] - BOOT_US,
                  "_BOOT_ID": BOOT_ID, "_HOSTNAME": "lab", "PRIORITY": entry.get("priority", 6),
                  "_SYSTEMD_UNIT": entry["unit"],
                  "SYSLOG_IDENTIFIER": entry["unit"].split(".")[0],
                  "MESSAGE": entry["message"]}
        out.append("".join(f"{k}={v}\n" for k, v in fields.items()) + "\n")
    return "".join(out).encode()


@pytest.fixture
def write_journal(tmp_path: Path) -> Callable[[Iterable[dict[str, Any]], str], Path]:
    """Write entries into a real journal file with systemd-journal-remote (the real writer);
    the code under test then reads it with journalctl --directory."""
    if JOURNAL_REMOTE is None or shutil.which("journalctl") is None:
        pytest.fail("systemd-journal-remote and journalctl are needed (bin/setup-controller "
                    "installs them)")
    directory = tmp_path / "journal"
    directory.mkdir(exist_ok=True)  # admin_env makes it; reading an empty one is fine

    def write(entries: Iterable[dict[str, Any]], name: str = "remote") -> Path:
        subprocess.run([JOURNAL_REMOTE, f"--output={directory / name}.journal", "-"],
                       input=export_entries(entries), check=True, capture_output=True)
        return directory

    return write


def now_us() -> int:
    return int(time.time() * 1e6)


@pytest.fixture
def http_fake() -> Iterator[tuple[Any, str]]:
    """(recorder, base URL) of a local HTTP server answering recorded responses."""
    from .httpfake import Recorder, serve

    recorder = Recorder()
    server = serve(recorder)
    try:
        yield recorder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
