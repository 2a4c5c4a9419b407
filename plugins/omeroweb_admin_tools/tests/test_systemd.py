"""Service health from systemd. This machine does not boot systemd (`systemctl
is-system-running` says offline), so the real test runs `systemctl show` on a lab host with
systemd as PID 1 (molecule/lab/oaelab, needs root), reached over the lab's ssh."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.urls import reverse

from omeroweb_admin_tools.services import logs, systemd

OAELAB = Path(__file__).resolve().parents[3] / "molecule" / "lab" / "oaelab"
HOST = os.environ.get("ADMIN_TOOLS_TEST_LAB_HOST", "")


@pytest.fixture(scope="module")
def lab_host():
    """An existing lab host named in ADMIN_TOOLS_TEST_LAB_HOST, or one booted for this module."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (molecule/lab/oaelab); systemd health untested here")
    name, owned = HOST or "admin-tools-systemd", not HOST
    if owned:
        subprocess.run([str(OAELAB), "up", name], check=True, capture_output=True, timeout=300)
    via = [str(OAELAB), "exec", name, "--"]
    try:
        # A long-running service, one that fails (and is restarted twice), none that is missing.
        subprocess.run([*via, "systemd-run", "--unit=admin-sleep", "--", "sleep", "600"],
                       check=True, capture_output=True, timeout=60)
        subprocess.run([*via, "systemd-run", "--unit=admin-fail", "-p", "Restart=on-failure",
                        "-p", "RestartSec=100ms", "-p", "StartLimitBurst=3", "--",
                        "/bin/false"], check=True, capture_output=True, timeout=60)
        time.sleep(1.5)
        yield via
    finally:
        if owned:
            subprocess.run([str(OAELAB), "down", name], capture_output=True, timeout=300)
        else:
            subprocess.run([*via, "systemctl", "stop", "admin-sleep", "admin-fail"],
                           capture_output=True, timeout=60)
            subprocess.run([*via, "systemctl", "reset-failed", "admin-fail"],
                           capture_output=True, timeout=60)


def test_unit_health_from_a_real_systemd(lab_host):
    units = systemd.unit_health(["admin-sleep.service", "systemd-journald.service",
                                 "admin-fail.service", "nope.service"], timeout=30, via=lab_host)
    by_name = {u["unit"]: u for u in units}
    sleep = by_name["admin-sleep.service"]
    assert (sleep["active"], sleep["sub"], sleep["status"]) == ("active", "running", "ok")
    assert 0 <= sleep["uptime_seconds"] < 600
    assert sleep["main_pid"] and sleep["restarts"] == 0
    assert by_name["systemd-journald.service"]["cpu_seconds"] > 0
    failed = by_name["admin-fail.service"]
    assert failed["status"] == "fail" and failed["active"] == "failed"
    assert failed["restarts"] >= 2 and failed["uptime_seconds"] is None
    assert by_name["nope.service"]["status"] == "missing"


# The sandbox of omero-web.service (roles/omero_web/templates/omero-web.service.j2) that matters
# for reading the journal and asking systemd.
WEB_SANDBOX = ["-p", "PrivateUsers=yes", "-p", "ProtectSystem=strict", "-p", "ProtectHome=yes",
               "-p", "PrivateDevices=yes", "-p", "ProtectProc=invisible",
               "-p", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
               "-p", "SystemCallFilter=@system-service", "-p", "SystemCallFilter=~@privileged"]


@pytest.mark.parametrize(("groups", "readable"), [(["-G", "systemd-journal"], True), ([], False)])
def test_the_journal_group_is_what_lets_the_sandboxed_web_user_read(lab_host, groups, readable):
    """omero_web_journal_access: membership of systemd-journal, nothing more, is enough even
    under the web unit's PrivateUsers=yes sandbox; without it the journal stays closed."""
    user = "webjournal" if readable else "webplain"
    subprocess.run([*lab_host, "useradd", "-r", *groups, user], capture_output=True, timeout=60)
    subprocess.run([*lab_host, "logger", "-t", "admin-test", "journal check"], check=True,
                   capture_output=True, timeout=60)
    query = logs.LogQuery(units=["admin-sleep.service", "admin-fail.service"], files=[],
                          since_us=0, until_us=int(time.time() * 1e6) + 60_000_000, limit=50)
    argv = logs.journal_command(query)
    done = subprocess.run([*lab_host, "systemd-run", "--wait", "--pipe", "-q", "-p",
                           f"User={user}", *WEB_SANDBOX, "--", *argv],
                          capture_output=True, timeout=120)
    entries = logs.parse_journal_json(done.stdout.splitlines())
    if readable:
        assert {e["source"] for e in entries} <= {"admin-sleep.service", "admin-fail.service"}
        assert any(e["source"] == "admin-fail.service" for e in entries), done.stderr
    else:
        assert entries == []
        assert b"insufficient permissions" in done.stdout + done.stderr


def test_unit_names_are_checked_before_systemctl_runs():
    for bad in ("--all", "a b.service", "x;reboot.service", "../x.service", "unit"):
        with pytest.raises(systemd.SystemdError):
            systemd.unit_health([bad])


def test_memory_not_set_is_unknown_not_zero():
    units = systemd.parse_show(
        "Id=a.service\nActiveState=active\nSubState=running\nLoadState=loaded\n"
        "ActiveEnterTimestampMonotonic=1000000\nNRestarts=3\nMemoryCurrent=[not set]\n"
        "CPUUsageNSec=2500000000\nMainPID=42\n", now_monotonic_us=61_000_000)
    assert units[0]["memory_bytes"] is None
    assert (units[0]["uptime_seconds"], units[0]["cpu_seconds"], units[0]["restarts"]) == (
        60.0, 2.5, 3)


def test_without_systemd_the_page_gets_the_reason(admin_env, root_client):
    body = root_client.get(reverse("omeroweb_admin_tools_services_data")).json()
    if body["units"]:
        pytest.skip("this machine runs systemd: the error path is not reachable")
    assert body["units_error"].startswith("systemctl failed")


def test_default_units_are_the_roles_services_and_a_worker_per_installed_queue(admin_env):
    """Without ADMIN_TOOLS_UNITS the page lists what the roles deploy: the plugin database's
    cluster is `plugin` (postgresql@15-plugin), and each plugin's queue has its worker unit,
    read from the registry (a new plugin's worker appears without a change here)."""
    from omero_plugin_common.plugin import queues
    from omeroweb_admin_tools.services.systemd import platform_units

    admin_env(UNITS="")
    units = platform_units()
    assert "postgresql@15-plugin.service" in units
    assert not [u for u in units if u.startswith("postgresql@15-plugins")]
    assert [u for u in units if u.startswith("omero-celery@")] == [
        f"omero-celery@{q}.service" for q in queues()]
