"""The quota enforcer's units on a real systemd host."""

import json
import time


def test_units_enabled_and_active(host):
    for unit in ("omero-quota-enforcer.timer", "omero-quota-enforcer.path"):
        service = host.service(unit)
        assert service.is_enabled and service.is_running, unit


def test_state_directory_belongs_to_the_web_group(host):
    state = host.file("/var/lib/omero-quota")
    assert (state.user, state.group, oct(state.mode)) == ("root", "omero-web", "0o2770")


def test_units_verify(host):
    out = host.run("systemd-analyze verify /etc/systemd/system/omero-quota-enforcer.service "
                   "/etc/systemd/system/omero-quota-enforcer.timer "
                   "/etc/systemd/system/omero-quota-enforcer.path")
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
