"""The openhcs role on a lab host: the real OpenHCS server under its unit, reachable only by group
openhcs over Unix sockets, and real CPU pipelines through the bridge (progress, outputs, cancel,
kill -9 of the server)."""

import base64
import csv
import io
import json
import re
import time
from pathlib import Path

import pytest

HELPER = (Path(__file__).parent / "openhcs_helper.py").read_text()
PYTHON = "/opt/openhcs/venv/bin/python"
SOCKET_DIR = "/run/openhcs"
CONTROL_SOCKET = f"{SOCKET_DIR}/openhcs-zmq-8777.sock"


def helper(host, *args, timeout=300):
    encoded = base64.b64encode(HELPER.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d > /root/openhcs_helper.py")
    out = host.check_output(f"cd /tmp && HOME=/root MPLBACKEND=Agg timeout {timeout} {PYTHON} /root/openhcs_helper.py "
                            + " ".join(f"'{a}'" for a in args))
    return json.loads(out.strip().splitlines()[-1])


def wait_ready(host, seconds=120):
    """The unit is started at once (Type=simple); its sockets appear once OpenHCS has loaded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if host.run(f"runuser -u omero-web -- {PYTHON} -I -c \"import socket; s=socket.socket(socket.AF_UNIX);"
                    f" s.connect('{CONTROL_SOCKET}')\"").rc == 0:
            return
        time.sleep(2)
    pytest.fail("openhcs-server did not open its sockets within two minutes")


@pytest.fixture(scope="module")
def plates(host):
    wait_ready(host)
    return helper(host, "plates")


def test_the_real_server_runs_under_its_unit(host):
    unit = host.service("openhcs-server")
    assert unit.is_running and unit.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value openhcs-server")
    cmdline = host.file(f"/proc/{pid}/cmdline").content_string
    assert "openhcs.runtime.zmq_execution_server_launcher" in cmdline and "ipc" in cmdline
    assert host.check_output(f"ps -o user= -p {pid}") == "openhcs"
    assert host.check_output(f"{PYTHON} -c 'import importlib.metadata as m; print(m.version(\"openhcs\"))'") == "0.8.6"


def test_venv_dependencies_agree(host):
    assert host.run(f"{PYTHON} -m pip check --disable-pip-version-check").rc == 0


def test_exposure_score_is_at_most_3(host):
    out = host.check_output("systemd-analyze security --no-pager openhcs-server.service")
    score = float(re.search(r"Overall exposure level for openhcs-server.service: ([0-9.]+)", out).group(1))
    assert score <= 3.0, out


def test_no_network_listener_only_unix_sockets(host):
    wait_ready(host)
    pids = host.check_output("cat /sys/fs/cgroup/system.slice/openhcs-server.service/cgroup.procs").split()
    inet = host.check_output("ss -H -tulpn")
    assert not [line for line in inet.splitlines() if any(f"pid={p}," in line for p in pids)], inet
    # PrivateNetwork=yes: the service has a network namespace of its own with only loopback, and
    # nothing listens there either; its Unix sockets are its only listeners.
    pid = host.check_output("systemctl show -p MainPID --value openhcs-server")
    assert host.check_output(f"nsenter -t {pid} -n ss -H -tuln") == ""
    unix = host.check_output(f"nsenter -t {pid} -n ss -H -xl")
    assert CONTROL_SOCKET in unix and f"{SOCKET_DIR}/openhcs-zmq-7777.sock" in unix
    assert host.check_output(f"readlink /proc/{pid}/ns/net") != host.check_output("readlink /proc/1/ns/net")


def test_socket_directory_is_the_groups_only(host):
    run_dir = host.file(SOCKET_DIR)
    assert run_dir.user == "openhcs" and run_dir.group == "openhcs" and run_dir.mode == 0o770
    assert host.file(CONTROL_SOCKET).group == "openhcs"
    work = host.file("/var/lib/openhcs/work")
    assert work.group == "openhcs" and work.mode == 0o2770


def test_socket_refuses_a_user_outside_the_group_and_accepts_the_worker(host):
    wait_ready(host)
    probe = f"{PYTHON} -I -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('{CONTROL_SOCKET}')\""
    refused = host.run(f"runuser -u stranger -- {probe}")
    assert refused.rc != 0 and "PermissionError" in refused.stderr
    assert host.run(f"runuser -u omero-web -- {probe}").rc == 0
    # The bridge itself, as the stranger: a failure with a reason, not a hang.
    out = host.run("runuser -u stranger -- timeout 60 /opt/openhcs/bin/openhcs-bridge run --preset cell_count_cpu"
                   " --plate /nonexistent")
    assert out.rc == 2 and json.loads(out.stdout)["event"] == "failed"


def test_bridge_version_and_presets(host):
    out = host.check_output("runuser -u omero-web -- /opt/openhcs/bin/openhcs-bridge version")
    assert json.loads(out) == {"openhcs": "0.8.6", "bridge": 1}
    presets = json.loads(host.check_output("runuser -u omero-web -- /opt/openhcs/bin/openhcs-bridge presets"))
    assert [p["name"] for p in presets] == ["cell_count_cpu"]
    assert "source" not in presets[0] and presets[0]["gpu"] is False
    source = host.file("/etc/openhcs/presets/cell_count_cpu.py")
    assert source.user == "root" and source.group == "openhcs" and source.mode == 0o640


@pytest.mark.parametrize("params, reason", [
    ('{"min_cell_area": 1}', "Smallest cell (px) must be between"),
    ('{"method": "yen"}', "Threshold must be one of otsu, li"),
    ('{"code": "import os"}', "has no parameter 'code'"),
    ('{"normalize": "yes"}', "must be true or false"),
])
def test_bad_parameters_are_refused_before_anything_runs(host, plates, params, reason):
    out = host.run(f"runuser -u omero-web -- /opt/openhcs/bin/openhcs-bridge run --preset cell_count_cpu "
                   f"--plate /var/lib/openhcs/test-plates/small/plate --params '{params}'")
    assert out.rc == 2
    event = json.loads(out.stdout)
    assert event["event"] == "failed" and reason in event["reason"]


def test_unknown_preset_is_refused(host):
    out = host.run("runuser -u omero-web -- /opt/openhcs/bin/openhcs-bridge run --preset ../../etc/passwd --plate /tmp")
    assert out.rc == 2 and "no preset named" in json.loads(out.stdout)["reason"]


def read_counts(host, output_dir):
    counts = []
    for path in host.check_output(f"ls {output_dir}/results/*cell_counts*details.csv").split():
        rows = list(csv.DictReader(io.StringIO(host.file(path).content_string)))
        counts += [int(r["cell_count"]) for r in rows]
    return counts


def test_a_real_cpu_pipeline_through_the_bridge(host, plates):
    result = helper(host, "run", "small", "job-small", '{"min_cell_area": 20}')
    events = result["events"]
    assert result["rc"] == 0, events[-1]
    assert events[0]["event"] == "accepted" and events[-1]["event"] == "complete"
    progress = [e for e in events if e["event"] == "progress"]
    assert {e["well"] for e in progress if e["phase"] == "axis_completed"} == {"A01", "B02", "C03"}
    assert [e["wells_done"] for e in progress] == sorted(e["wells_done"] for e in progress)
    assert progress[-1]["wells_done"] == progress[-1]["wells_total"] == 3 and progress[-1]["percent"] == 100.0
    assert {"Normalise intensities", "Flatten z", "Count cells"} <= {e["step"] for e in progress}

    done = events[-1]
    assert done["output_dir"] == result["output_dir"]
    # 3 wells x 4 sites x 2 channels, one 128 x 128 plane each.
    assert len(done["images"]) == 24 and all(i.startswith("images/") for i in done["images"])
    shape = host.check_output(f"{PYTHON} -c \"import tifffile; print(tifffile.imread('{done['output_dir']}/"
                              f"{done['images'][0]}').shape)\"")
    assert shape == "(128, 128)"
    tables = [r for r in done["results"] if r.endswith("_details.csv")]
    assert len(tables) == 6  # one per well and channel
    counts = read_counts(host, done["output_dir"])
    assert len(counts) == 24
    # 40 synthetic cells per well over four overlapping 128 px tiles, border cells dropped.
    assert 2 <= sum(counts) / len(counts) <= 25, counts


def test_parameters_reach_the_pipeline(host, plates):
    """Cells of at most ~100 px: a smallest-cell bound of 5000 px leaves none."""
    result = helper(host, "run", "small", "job-large-cells", '{"min_cell_area": 5000, "max_cell_area": 90000}')
    assert result["rc"] == 0, result["events"][-1]
    assert set(read_counts(host, result["output_dir"])) == {0}


def test_sigterm_of_the_bridge_cancels_the_servers_execution(host, plates):
    result = helper(host, "run", "big", "job-cancel", "{}", "term", "1")
    events = result["events"]
    assert result["rc"] == 3 and events[-1] == {"event": "cancelled"}, events[-3:]
    assert result["after_action_seconds"] < 20
    record = helper(host, "status", events[0]["execution_id"])["execution"]
    assert record["status"] == "cancelled"
    # The server stopped: not every well was processed.
    time.sleep(3)
    images = host.run(f"ls {result['output_dir']}/images | wc -l").stdout.strip() or "0"
    assert int(images) < 24 * 8


def test_kill_9_of_the_server_fails_the_run_and_systemd_restarts_it(host, plates):
    restarts = int(host.check_output("systemctl show -p NRestarts --value openhcs-server"))
    result = helper(host, "run", "big", "job-kill", "{}", "kill", "1")
    events = result["events"]
    assert result["rc"] == 1, events[-3:]
    assert events[-1] == {"event": "failed", "reason": "The OpenHCS execution server stopped during the run."}
    assert result["after_action_seconds"] < 40
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = host.check_output("systemctl show -p MainPID --value openhcs-server")
        if host.service("openhcs-server").is_running and pid not in ("0", str(result["killed_pid"])):
            break
        time.sleep(1)
    assert int(host.check_output("systemctl show -p NRestarts --value openhcs-server")) == restarts + 1
    wait_ready(host)
    # And it works again.
    again = helper(host, "run", "small", "job-after-restart", "{}")
    assert again["rc"] == 0, again["events"][-1]
