"""Maintenance timers of the pg_maintenance role on both clusters."""

import re
import time

import pytest

CLUSTERS = ["omero", "plugin"]
METRICS = "/var/lib/prometheus/node-exporter"
SCHEDULES = {"vacuum": "Sun *-*-* 03:00:00", "reindex": "Sun *-*-01..07 04:00:00"}


@pytest.mark.parametrize("task", SCHEDULES)
@pytest.mark.parametrize("cluster", CLUSTERS)
def test_timer_enabled_with_schedule(host, cluster, task):
    timer = host.service(f"pg-{task}@{cluster}.timer")
    assert timer.is_enabled and timer.is_running
    props = host.check_output(f"systemctl show pg-{task}@{cluster}.timer -p TimersCalendar -p Persistent")
    assert "Persistent=yes" in props
    assert SCHEDULES[task].split()[-1] in props


def test_schedules_mean_what_the_issue_says(host):
    # Next elapses from a fixed point: the weekly vacuum on Sundays at 03:00, the reindex on
    # the first Sunday of each month at 04:00.
    calendar = "systemd-analyze calendar --iterations=3 --base-time='2026-01-01 00:00'"
    vacuum = host.check_output(f"{calendar} '{SCHEDULES['vacuum']}'")
    assert "Sun 2026-01-04 03:00:00" in vacuum and "Sun 2026-01-11 03:00:00" in vacuum
    reindex = host.check_output(f"{calendar} '{SCHEDULES['reindex']}'")
    for first_sunday in ("2026-01-04", "2026-02-01", "2026-03-01"):
        assert f"Sun {first_sunday} 04:00:00" in reindex


@pytest.mark.parametrize("task", SCHEDULES)
@pytest.mark.parametrize("cluster", CLUSTERS)
def test_service_run_by_hand_succeeds_and_writes_metrics(host, cluster, task):
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    run = host.run(f"systemctl start pg-{task}@{cluster}.service")
    assert run.rc == 0, host.run(f"journalctl -u pg-{task}@{cluster} -n 30 --no-pager").stdout
    log = host.check_output(f"journalctl -u pg-{task}@{cluster} --since '{since}' --no-pager")
    assert f"{task} of cluster {cluster} done" in log
    assert "FULL" not in log.upper().replace("FULLY", "")
    prom = host.file(f"{METRICS}/pg_maintenance_{cluster}_{task}.prom").content_string
    line = next(s for s in prom.splitlines() if s.startswith("oae_pg_maintenance_last_success_timestamp_seconds"))
    assert f'cluster="{cluster}",task="{task}"' in line
    assert abs(int(line.split()[-1]) - time.time()) < 300
    assert "oae_pg_maintenance_last_duration_seconds" in prom


def test_maintenance_never_runs_vacuum_full(host):
    script = host.file("/usr/local/libexec/omero-ansible-extended/pg-maintenance").content_string
    commands = [s for s in script.splitlines() if "vacuumdb" in s and not s.lstrip().startswith("#")]
    assert commands and not any("--full" in c or " -f" in c for c in commands)


def test_failure_waits_for_readiness_then_calls_the_hook(host):
    # Point the plugin vacuum at a port nobody listens on, with a short readiness wait.
    dropin = "/run/systemd/system/pg-vacuum@plugin.service.d"
    host.run(f"mkdir -p {dropin} && printf 'PGPORT=1\\nREADY_TRIES=3\\nREADY_DELAY=1\\n' > /run/oae-test.env")
    host.run(f"printf '[Service]\\nEnvironmentFile=/run/oae-test.env\\n' > {dropin}/test.conf")
    host.run("systemctl daemon-reload")
    try:
        start = time.time()
        assert host.run("systemctl start pg-vacuum@plugin.service").rc != 0
        assert time.time() - start >= 2  # it waited between tries
        log = host.check_output("journalctl -u pg-vacuum@plugin -n 20 --no-pager")
        assert "not ready after 3 tries" in log
        failure = f"{METRICS}/pg_maintenance_plugin_vacuum_failure.prom"
        deadline = time.time() + 15
        while not host.file(failure).exists and time.time() < deadline:
            time.sleep(0.5)
        metric = 'oae_pg_maintenance_last_failure_timestamp_seconds{cluster="plugin",task="vacuum"}'
        assert metric in host.file(failure).content_string
    finally:
        host.run(f"rm -rf {dropin} /run/oae-test.env && systemctl daemon-reload && systemctl reset-failed")


@pytest.mark.parametrize(
    "unit", ["pg-vacuum@omero.service", "pg-reindex@plugin.service", "pg-maintenance-failed@x.service"]
)
def test_units_are_hardened(host, unit):
    out = host.check_output(f"systemd-analyze security {unit} | tail -1")
    score = float(re.search(r"level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 3.0, out
