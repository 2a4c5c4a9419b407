"""The host lab, tested for real: a second lab instance (own bridge, subnet, nft table, cgroups
and state) beside any hosts already running, sharing only the cached rootfs image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OAELAB = ROOT / "molecule/lab/oaelab"
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
MAIN_CACHE = Path(os.environ.get("OAELAB_CACHE", CACHE_HOME / "omero-ansible-extended/lab"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cache = tmp_path_factory.mktemp("oaelab")
    # Share the rootfs image with the main lab (building it takes a minute).
    subprocess.run([str(OAELAB), "build"], check=True, env={**os.environ, "OAELAB_CACHE": str(MAIN_CACHE)})
    (cache / "images").symlink_to(MAIN_CACHE / "images")
    env = {
        **os.environ,
        "OAELAB_CACHE": str(cache),
        "OAELAB_BRIDGE": "oaetest0",
        "OAELAB_SUBNET": "10.231.9.0/24",
        "OAELAB_INSTANCE": "oaetest",
    }

    def oaelab(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        cmd = ["/usr/bin/python3", str(OAELAB), *args]
        proc = subprocess.run(cmd, env=kw.pop("env", env), capture_output=True, text=True, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"oaelab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    oaelab.cache = cache
    oaelab.env = env
    yield oaelab
    oaelab("clean", check=False)


def traces(lab) -> list[str]:
    return lab("traces", check=False).stdout.split("\n")[:-1]


def host_info(lab, name: str) -> dict:
    return next(h for h in json.loads(lab("list", "--json").stdout) if h["name"] == name)


def test_bad_input_is_refused_and_changes_nothing(lab):
    cases = [
        (["up", "Bad_Name"], "invalid host name"),
        (["up", "h1=10.231.10.5"], "outside the lab subnet"),
        (["up", "h1=10.231.9.1"], "reserved"),
        (["up", "h1", "h1"], "host named twice"),
        (["down", "nosuchhost"], "no such lab host"),
        (["exec", "nosuchhost", "--", "true"], "no such lab host"),
    ]
    for args, message in cases:
        proc = lab(*args, check=False)
        assert proc.returncode == 2, args
        assert message in proc.stderr, (args, proc.stderr)
    assert traces(lab) == []


def test_missing_tools_and_non_root_are_refused(lab):
    no_tools = {**lab.env, "PATH": "/nonexistent"}
    proc = lab("up", "h1", check=False, env=no_tools)
    assert proc.returncode == 2 and "missing tools" in proc.stderr
    nobody = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", str(OAELAB), "up", "h1"],
        env=lab.env, capture_output=True, text=True,
    )
    assert nobody.returncode == 2 and "needs root" in nobody.stderr
    assert traces(lab) == []


def test_hosts_boot_in_parallel_and_reach_each_other(lab):
    t0 = time.monotonic()
    lab("up", "labt-a", "labt-b=10.231.9.77")
    boot = time.monotonic() - t0
    print(f"two hosts up in {boot:.1f} s")
    assert host_info(lab, "labt-b")["address"] == "10.231.9.77"
    state = lab("exec", "labt-a", "--", "systemctl", "is-system-running", "--wait", check=False).stdout.strip()
    assert state == "running"
    # Name resolution between hosts and an argument with spaces kept intact over SSH.
    out = lab("exec", "labt-a", "--", "sh", "-c", "getent hosts labt-b && echo 'two words'").stdout
    assert "10.231.9.77" in out and "two words" in out
    # A second host with a name in use is refused.
    proc = lab("up", "labt-a", check=False)
    assert proc.returncode == 2 and "already in use" in proc.stderr


def test_restart_keeps_the_disk(lab):
    lab("exec", "labt-a", "--", "sh", "-c", "echo kept > /root/marker")
    pid_before = host_info(lab, "labt-a")["pid"]
    lab("restart", "labt-a")
    assert host_info(lab, "labt-a")["pid"] != pid_before
    assert lab("exec", "labt-a", "--", "cat", "/root/marker").stdout.strip() == "kept"
    state = lab("exec", "labt-a", "--", "systemctl", "is-system-running", "--wait", check=False).stdout
    assert state.strip() == "running"


def test_kill_9_then_down_leaves_nothing(lab):
    info = host_info(lab, "labt-b")
    os.kill(info["pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert not host_info(lab, "labt-b")["running"]
    lab("down", "labt-b")
    left = traces(lab)
    assert not any("labt-b" in t for t in left), left


def test_clean_after_a_crash_removes_everything(lab):
    # Simulate a crash of the tool itself: the nspawn process is killed and its state is lost.
    info = host_info(lab, "labt-a")
    os.kill(info["pid"], signal.SIGKILL)
    (lab.cache / "hosts/labt-a/host.json").unlink()
    assert traces(lab), "the crash should leave traces to clean"
    lab("clean")
    assert traces(lab) == []
    assert subprocess.run(["ip", "link", "show", "oaetest0"], capture_output=True).returncode != 0
