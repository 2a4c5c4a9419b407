"""Helpers of the whole-stack tests: run commands on a web host as OMERO.web runs them, wait."""

import json
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

# The omero-web service's user, environment file and OMERODIR, in a transient unit.
_AS_WEB = ("systemd-run --quiet --wait --pipe --collect -p User=omero-web -p Group=omero-web "
           "-p EnvironmentFile=/etc/omero-web/plugins.env "
           "-p Environment=OMERODIR=/opt/omero/web/omerodir "
           "-p Environment=DJANGO_SETTINGS_MODULE=omeroweb.settings ")


def run_as_web(host, command):
    """Run a command of the OMERO.web venv (e.g. `omero-plugins-jobs selftest ...`)."""
    return host.run(_AS_WEB + f"/opt/omero/web/venv/bin/{command}")


def worker_queues(host):
    """The queues the installed plugins declare on this host (their registry, as the role reads
    it): the tests expect one worker per queue without restating the plugins' queue names."""
    out = run_as_web(host, "omero-plugins-registry")
    assert out.rc == 0, out.stdout + out.stderr
    queues = [q["name"] for q in json.loads(out.stdout)["worker_queues"]]
    assert "admin" in queues, queues  # the platform's own queue: the registry was read
    return queues


def django_python(host, code, *args):
    """Run Python with OMERO.web's Django settings loaded; returns the output lines."""
    out = host.run(_AS_WEB + "/opt/omero/web/venv/bin/python -c "
                   + shlex.quote("import django\ndjango.setup()\n" + code) + " "
                   + " ".join(shlex.quote(a) for a in args))
    assert out.rc == 0, out.stdout + out.stderr
    return out.stdout.strip().splitlines()


def wait_until(check, timeout=60):
    """Poll `check` once a second until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(1)
    return False


def inventory():
    """The inventory the tests reach hosts through: the demo's (OAE_INVENTORY) or molecule's."""
    return os.environ.get("OAE_INVENTORY") or os.environ["MOLECULE_INVENTORY_FILE"]


def put_private_file(host_name, path, text):
    """Write `text` (secret values) to a root-only 0600 file on a lab host. The text travels in a
    0600 vars file and Ansible's copy (a file sent over SSH), never in a command line."""
    with tempfile.TemporaryDirectory() as tmp:
        vars_file = Path(tmp) / "content.yml"
        vars_file.touch(mode=0o600)
        vars_file.write_text(yaml.safe_dump({"private_content": text}))
        copied = subprocess.run(
            ["ansible", host_name, "-i", inventory(),
             "-m", "ansible.builtin.copy", "-a",
             f"content={{{{ private_content }}}} dest={path} owner=root mode=0600",
             "-e", f"@{vars_file}"], capture_output=True, text=True)
    assert copied.returncode == 0, copied.stdout[-2000:] + copied.stderr[-2000:]
