"""The quota enforcer's units on a real systemd host."""

import json
import re
import time

import pytest


def test_units_enabled_and_active(host):
    for unit in ("omero-quota-enforcer.timer", "omero-quota-enforcer.path",
                 "omero-quota-defaults.timer"):
        service = host.service(unit)
        assert service.is_enabled and service.is_running, unit


def test_state_directory_belongs_to_the_web_group(host):
    state = host.file("/var/lib/omero-quota")
    assert (state.user, state.group, oct(state.mode)) == ("root", "omero-web", "0o2770")


def test_units_verify(host):
    out = host.run("systemd-analyze verify /etc/systemd/system/omero-quota-enforcer.service "
                   "/etc/systemd/system/omero-quota-enforcer.timer "
                   "/etc/systemd/system/omero-quota-enforcer.path "
                   "/etc/systemd/system/omero-quota-defaults.service "
                   "/etc/systemd/system/omero-quota-defaults.timer")
    assert out.rc == 0, out.stderr


def test_writing_the_state_triggers_the_enforcer(host):
    before = host.run("systemctl show -p NRestarts,ExecMainStartTimestampMonotonic "
                      "omero-quota-enforcer.service").stdout
    state = {"version": 1, "log": [], "quotas": {"lab": {"quota_gb": 1, "group_id": 3,
                                                         "project_id": 200003}}}
    host.run("sh -c 'cat > /var/lib/omero-quota/.tmp && mv /var/lib/omero-quota/.tmp "
             f"/var/lib/omero-quota/group-quotas.json' <<'EOF'\n{json.dumps(state)}\nEOF")
    for _ in range(50):
        status = host.file("/var/lib/omero-quota/enforcer-status.json")
        after = host.run("systemctl show -p ExecMainStartTimestampMonotonic "
                         "omero-quota-enforcer.service").stdout
        if status.exists and after.strip() not in before:
            break
        time.sleep(0.2)
    report = json.loads(host.file("/var/lib/omero-quota/enforcer-status.json").content_string)
    # The lab's root filesystem has no project quotas: a plain message, nothing changed.
    assert report["enforced"] is False
    assert "not ext4" in report["message"] or "prjquota" in report["message"]
    result = host.run("systemctl show -p Result omero-quota-enforcer.service").stdout.strip()
    assert result == "Result=success"


def test_default_quota_job_is_hardened(host):
    out = host.check_output("systemd-analyze security omero-quota-defaults.service | tail -1")
    score = float(re.search(r"level for \S+: ([0-9.]+)", out).group(1))
    print(f"omero-quota-defaults.service exposure {score}")
    assert score <= 3.0, out


def _start_and_wait(host, unit):
    host.run(f"systemctl reset-failed {unit}")
    started = host.run(f"systemctl start {unit}")
    assert started.rc == 0, started.stderr + host.run(f"journalctl -u {unit} -n 20").stdout
    return host.run(f"systemctl show -p Result {unit}").stdout.strip()


@pytest.mark.parametrize("run", [1, 2])
def test_default_quota_job_writes_the_state_as_the_web_user(host, run):
    """Sandboxed as the web user, it writes group-quotas.json in the root-owned setgid state
    directory: the default for groups without a quota, existing quotas and the system groups
    untouched. A second run changes nothing."""
    state_file = "/var/lib/omero-quota/group-quotas.json"
    if run == 1:
        state = {"version": 1, "log": [], "quotas": {"lab": {"quota_gb": 1, "group_id": 3,
                                                             "project_id": 200003}}}
        host.run("sh -c 'cat > /var/lib/omero-quota/.tmp && mv /var/lib/omero-quota/.tmp "
                 f"{state_file}' <<'EOF'\n{json.dumps(state)}\nEOF")
    before = host.file(state_file).content_string
    assert _start_and_wait(host, "omero-quota-defaults.service") == "Result=success"
    after = host.file(state_file)
    quotas = json.loads(after.content_string)["quotas"]
    assert {name: q["quota_gb"] for name, q in quotas.items()} == {"lab": 1, "imaging": 5.0}
    assert quotas["imaging"]["project_id"] == 200004
    if run == 1:
        assert (after.user, after.group, oct(after.mode)) == ("omero-web", "omero-web", "0o640")
    else:
        assert after.content_string == before
    leftovers = host.run("ls -A /var/lib/omero-quota").stdout.split()
    assert not [name for name in leftovers if name.startswith(".group-quotas.json.")]


def test_the_default_quota_reaches_the_enforcer(host):
    """The path unit fired on the job's write: the enforcer's status names the new group's
    state (here: not enforced, the lab has no project quotas)."""
    for _ in range(50):
        status = host.file("/var/lib/omero-quota/enforcer-status.json")
        state = host.file("/var/lib/omero-quota/group-quotas.json")
        if status.exists and status.mtime >= state.mtime:
            break
        time.sleep(0.2)
    assert status.mtime >= state.mtime
    result = host.run("systemctl show -p Result omero-quota-enforcer.service").stdout.strip()
    assert result == "Result=success"
