"""Security checks on the converged all-in-one host: sockets, firewall, unit hardening, secrets.

The numbers asserted here are listed in docs/security.md; change both together.
"""

import json
import os
import re
import shlex
import stat
import urllib.parse
from pathlib import Path

import pytest
import yaml
from demohost import HOST_NAME, ROOT, SECRETS_FILE
from webhost import put_private_file

# Reachable from other hosts: SSH, and nginx for the HTTP redirect and HTTPS. Everything else
# listens on loopback only (the firewall would drop it anyway; this checks the binds themselves).
PUBLIC = {("tcp", 22, "sshd"), ("tcp", 80, "nginx"), ("tcp", 443, "nginx")}
LOOPBACK = {
    ("tcp", 4080, "gunicorn"),           # OMERO.web behind nginx
    ("tcp", 5432, "postgres"),           # cluster omero
    ("tcp", 5433, "postgres"),           # cluster plugin
    ("tcp", 6379, "redis-server"),       # cache
    ("tcp", 6380, "redis-server"),       # state
    ("tcp", 9090, "prometheus"),
    # Exporters and Alertmanager (process names are cut at 15 characters)
    ("tcp", 9093, "prometheus-aler"),
    ("tcp", 9100, "prometheus-node"),
    ("tcp", 9115, "prometheus-blac"),
    ("tcp", 9121, "prometheus-redi"),
    ("tcp", 9122, "prometheus-redi"),
    ("tcp", 9187, "prometheus-post"),
    ("tcp", 9188, "prometheus-post"),
}

# systemd-analyze security exposure: 3.0 or lower unless listed here with the reason.
EXPOSURE_LIMIT = 3.0
# None left: Debian's postgresql@.service (9.6 on its own) gets the postgresql role's sandbox
# drop-in and scores 1.3 with it. A unit that truly needs more goes here as
# "unit": (limit, "reason"), and docs/security.md lists it.
EXPOSURE_EXCEPTIONS: dict[str, tuple[float, str]] = {}

# Every file holding a secret value: mode and owner:group. config.xml is OMERO's own copy of the
# loaded .omero files, rewritten at every start of omero-web (under umask 0027).
SECRET_FILES = {
    "/etc/omero-ansible-extended/backup/restic.password": ("0600", "root:root"),
    "/etc/omero-web/config/00-base.omero": ("0640", "root:omero-web"),
    "/etc/omero-web/config/10-site.omero": ("0640", "root:omero-web"),
    "/etc/omero-web/plugins.env": ("0640", "root:omero-web"),
    "/etc/prometheus/postgres-exporter/omero.env": ("0600", "root:root"),
    "/etc/prometheus/postgres-exporter/plugin.env": ("0600", "root:root"),
    "/etc/prometheus/redis-exporter/cache.env": ("0600", "root:root"),
    "/etc/prometheus/redis-exporter/state.env": ("0600", "root:root"),
    "/opt/omero/web/omerodir/etc/grid/config.xml": ("0640", "omero-web:omero-web"),
}


def secret_values():
    """The Vault test secrets, as given and as they appear URL-encoded in connection strings."""
    values = {str(v) for k, v in yaml.safe_load(SECRETS_FILE.read_text()).items()
              if k.startswith("vault_")}
    return sorted(values | {urllib.parse.quote(v, safe="") for v in values})


@pytest.fixture(scope="module")
def sockets(host):
    """(proto, port, process, address) of every listening socket."""
    out = host.check_output("ss -Hlntup")
    found = set()
    for line in out.splitlines():
        fields = line.split()
        proto, local, users = fields[0], fields[4], " ".join(fields[6:])
        address, port = local.rsplit(":", 1)
        process = re.search(r'"([^"]+)"', users).group(1) if '"' in users else "?"
        found.add((proto, int(port), process, address.split("%")[0].strip("[]")))
    return found


def is_loopback(address):
    return address.startswith("127.") or address == "::1"


def test_only_ssh_and_nginx_listen_beyond_loopback(sockets):
    public = {(p, port, proc) for p, port, proc, addr in sockets if not is_loopback(addr)}
    assert public == PUBLIC


def test_loopback_listeners_are_the_intended_ones(sockets):
    local = {(p, port, proc) for p, port, proc, addr in sockets if is_loopback(addr)}
    # systemd-resolved's stub and similar host plumbing are not the project's
    local = {s for s in local if s[2] not in ("systemd-resolve",)}
    assert local == LOOPBACK


def test_firewall_drops_by_default_and_opens_the_published_ports(host):
    table = host.check_output("nft list table inet oae_firewall")
    address = host.interface("host0").addresses[0]
    assert "policy drop" in table
    assert re.search(r"tcp dport 443 accept", table) and re.search(r"tcp dport 80 accept", table)
    assert "ip saddr @ssh_v4 tcp dport 22 accept" in table
    # Database and Redis ports: only the tiers' hosts (here the host itself).
    for port in (5432, 5433, 6379, 6380):
        assert f"ip saddr {address} tcp dport {port} accept" in table
    for port in (9090, 9093, 9100, 4080):
        assert f"dport {port}" not in table


def shipped_units(host):
    """Units whose unit file or drop-in this project writes (they carry the Ansible header)."""
    script = r"""
import glob, json, os, subprocess
units = set()
for path in glob.glob('/etc/systemd/system/*.service') + glob.glob('/etc/systemd/system/*.service.d/*.conf'):
    if 'Ansible managed' not in open(path, errors='replace').read():
        continue
    unit = os.path.basename(os.path.dirname(path))[:-2] if path.endswith('.conf') else os.path.basename(path)
    if unit.endswith('@.service'):
        listed = subprocess.run(['systemctl', 'list-units', '--all', '--plain', '--no-legend',
                                 unit.replace('@.service', '@*.service')],
                                capture_output=True, text=True).stdout
        units.update(line.split()[0] for line in listed.splitlines() if line.strip())
    else:
        units.add(unit)
print(json.dumps(sorted(units)))
"""
    return json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))


@pytest.fixture(scope="module")
def exposure(host):
    scores = {}
    for unit in shipped_units(host):
        out = host.run(f"systemd-analyze security --no-pager {unit}").stdout
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        if match:
            scores[unit] = float(match.group(1))
    print("\nsystemd-analyze security exposure:\n" + "\n".join(f"  {u}: {s}" for u, s in sorted(scores.items())))
    return scores


def test_every_shipped_unit_is_within_its_exposure_limit(exposure):
    assert len(exposure) >= 10, exposure
    over = {u: s for u, s in exposure.items() if s > EXPOSURE_EXCEPTIONS.get(u, (EXPOSURE_LIMIT,))[0]}
    assert over == {}


def test_exposure_exceptions_are_still_needed(exposure):
    """An exception for a unit that no longer exists or now scores well must go."""
    for unit, (_limit, _why) in EXPOSURE_EXCEPTIONS.items():
        assert unit in exposure, unit
        assert exposure[unit] > EXPOSURE_LIMIT, unit


@pytest.fixture(scope="module")
def pattern_file(host):
    """The secret values in a root-only file on the host (put_private_file: no command line carries them)."""
    path = "/root/.security-test-patterns"
    put_private_file(HOST_NAME, path, "\n".join(secret_values()) + "\n")
    yield path
    host.run(f"rm -f {path}")


def files_holding_secrets(host, pattern_file):
    roots = "/etc /opt /srv /home /root /usr/local /var /tmp /run"
    cmd = (f"grep -rlsIF -f {pattern_file} {roots} --exclude-dir=proc --exclude-dir=apt "
           f"--exclude-dir=journal | grep -v '^{pattern_file}$' || true")
    return sorted(host.check_output(cmd).splitlines())


def test_files_holding_secrets_are_private(host, pattern_file):
    found = {}
    for path in files_holding_secrets(host, pattern_file):
        f = host.file(path)
        found[path] = (f"{f.mode:04o}", f"{f.user}:{f.group}")
    print("\nfiles holding a secret:\n" + "\n".join(f"  {p}: {m} {o}" for p, (m, o) in found.items()))
    for path, (mode, _owner) in found.items():
        assert int(mode, 8) & (stat.S_IWGRP | stat.S_IXGRP | stat.S_IWOTH | stat.S_IXOTH) == 0, (path, mode)
        # Unreadable for an unprivileged user, whatever the file's own mode says.
        assert host.run(f"runuser -u nobody -- test -r {path}").rc != 0, path
    assert found == SECRET_FILES


def test_no_secret_in_any_process_arguments(host):
    script = r"""
import glob, json
args = {}
for path in glob.glob('/proc/[0-9]*/cmdline'):
    try:
        args[path] = open(path, 'rb').read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        pass
print(json.dumps(args))
"""
    cmdlines = json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))
    assert len(cmdlines) > 30
    leaks = {p: c for p, c in cmdlines.items() for s in secret_values() if s in c}
    assert leaks == {}


def ansible_log():
    """The log of both `make up` runs (bin/test sets ANSIBLE_LOG_PATH for them)."""
    return Path(os.environ.get("OAE_ANSIBLE_LOG", ROOT / "artifacts" / "logs" / "make-up-ansible.log"))


LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ p=(\d+) ", re.M)


def playbook_output(text):
    """The log records of the ansible-playbook runs (both converges and their status plays). The
    verifier's testinfra also runs `ansible-inventory --list` with the same log, which dumps the
    test inventory and its vault values by design: those records are left out."""
    marks = [(m.start(), m.group(1)) for m in LOG_RECORD.finditer(text)]
    records = [(pid, text[start:end]) for (start, pid), (end, _) in
               zip(marks, [*marks[1:], (len(text), None)], strict=True)]
    playbooks = {pid for pid, record in records if "| PLAY [" in record}
    return "".join(record for pid, record in records if pid in playbooks)


def test_no_secret_in_the_ansible_output():
    log = ansible_log()
    assert log.is_file(), f"{log}: bin/test sets ANSIBLE_LOG_PATH for make up, for this check"
    text = playbook_output(log.read_text(errors="replace"))
    assert text.count("PLAY RECAP") >= 2 and "postgresql" in text  # both make up runs
    leaks = [s for s in secret_values() if s in text]
    assert leaks == []
