"""The firewall as peers and the controller see it: what gets in, what is dropped, what is refused."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

ROOT = Path(os.environ.get("OAE_ROOT", Path(__file__).resolve().parents[5]))
# The whole inventory directory: the groups live in its `hosts` file, beside molecule's instance list.
INVENTORY = str(Path(os.environ.get("MOLECULE_INVENTORY_FILE", "/nonexistent/x")).parent)
SCENARIO = Path(__file__).resolve().parents[1]
testinfra_hosts = ["firewall-default"]


@pytest.fixture(scope="module")
def peer():
    return testinfra.get_host("ansible://firewall-default-peer", ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def address(host):
    return host.interface("host0").addresses[0]


@pytest.fixture(scope="module")
def listeners(host):
    """Throwaway TCP listeners on a published port (5432), an unpublished one (9999) and 443."""
    for port in (5432, 9999, 443):
        host.run(f"systemd-run --unit=fwtest-{port} python3 -m http.server {port}")
    time.sleep(1.5)
    yield
    for port in (5432, 9999, 443):
        host.run(f"systemctl stop fwtest-{port}")


def reach(from_host, address, port):
    """Whether a TCP connection from from_host (None: the controller) to address:port succeeds."""
    cmd = ["curl", "-s", "-o", "/dev/null", "--max-time", "3", f"http://{address}:{port}/"]
    if from_host is None:
        return subprocess.run(cmd, capture_output=True).returncode == 0
    return from_host.run(" ".join(cmd)).rc == 0


def test_inbound_policy_is_drop_and_nftables_enabled(host):
    ruleset = host.check_output("nft list table inet oae_firewall")
    assert "policy drop" in ruleset
    assert host.service("nftables").is_enabled


def test_rule_set_holds_exactly_the_published_ports(host, peer):
    conf = host.file("/etc/nftables.conf").content_string
    peer_address = peer.interface("host0").addresses[0]
    assert "tcp dport 443 accept" in conf and "tcp dport 80 accept" in conf
    assert f"ip saddr {{ {peer_address}/32 }} tcp dport 5432 accept" in conf
    assert f"ip saddr {{ {peer_address}/32 }} tcp dport 5433 accept" in conf
    assert f"ip saddr {{ {peer_address}/32 }} tcp dport 6379 accept" in conf
    assert "ip saddr { 192.0.2.0/24 } tcp dport 8443 accept" in conf
    assert "ip6 saddr { 2001:db8::/32 } tcp dport 8443 accept" in conf
    # The worker publishes nothing: SSH only.
    peer_conf = peer.file("/etc/nftables.conf").content_string
    assert "dport 443" not in peer_conf and "dport 5432" not in peer_conf
    assert "ip saddr @ssh_v4 tcp dport 22 accept" in peer_conf


def test_database_port_open_to_the_peer_only(host, peer, address, listeners):
    assert reach(peer, address, 5432)
    assert not reach(None, address, 5432)


def test_unpublished_port_dropped_for_everyone(host, peer, address, listeners):
    assert reach(host, "127.0.0.1", 9999)  # the listener is up
    assert not reach(peer, address, 9999)
    assert not reach(None, address, 9999)


def test_web_port_open_to_everyone(address, peer, listeners):
    assert reach(None, address, 443)
    assert reach(peer, address, 443)


def run_converge(*extra):
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_FORCE_COLOR": "false",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "ANSIBLE_PIPELINING": "true"}
    return subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, str(SCENARIO / "converge.yml"), "--limit", "firewall-default", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=600, cwd=ROOT)


def test_rule_set_cutting_the_controller_is_refused_before_any_change(host):
    before = host.check_output("nft list table inet oae_firewall")
    conf_before = host.file("/etc/nftables.conf").content_string
    proc = run_converge("-e", '{"firewall_ssh_sources": ["192.0.2.0/24"], "firewall_extra_ports": []}')
    assert proc.returncode != 0
    assert "Refusing to change the firewall" in proc.stdout
    assert "firewall_ssh_sources" in proc.stdout
    assert host.check_output("nft list table inet oae_firewall") == before
    assert host.file("/etc/nftables.conf").content_string == conf_before


def test_wrong_ssh_port_is_refused(host):
    proc = run_converge("-e", '{"firewall_ssh_port": 2222}')
    assert proc.returncode != 0
    assert "firewall_ssh_port" in proc.stdout


def test_empty_ssh_allow_list_is_refused(host):
    proc = run_converge("-e", '{"firewall_ssh_sources": []}')
    assert proc.returncode != 0
    assert "firewall_ssh_sources is empty" in proc.stdout


def test_adding_a_peer_updates_the_rules(host, peer):
    """A host added to worker_hosts shows up in the database host's rules on the next run."""
    proc = run_converge("-e", '{"postgresql_firewall_sources": ["worker_hosts", "198.51.100.7"]}', "--tags",
                        "firewall_configure")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "198.51.100.7" in host.check_output("nft list table inet oae_firewall"), proc.stdout[-3000:]
    proc = run_converge("--tags", "firewall_configure")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "198.51.100.7" not in host.check_output("nft list table inet oae_firewall")


def test_sshd_hardened_and_keys_still_work(host):
    effective = host.check_output("sshd -T")
    assert "passwordauthentication no" in effective
    assert "permitrootlogin without-password" in effective
    assert "kbdinteractiveauthentication no" in effective
    assert "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com" in effective
    assert "cbc" not in effective.split("ciphers ")[1].splitlines()[0]


def ssh_as_root(address, *options):
    return subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
                           "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", *options,
                           f"root@{address}", "true"], capture_output=True, text=True)


def test_password_login_is_refused_by_sshd(address):
    proc = ssh_as_root(address, "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr


def test_weak_cipher_is_refused_by_sshd(address):
    proc = ssh_as_root(address, "-c", "aes128-cbc")
    assert proc.returncode == 255
    assert "no matching cipher" in proc.stderr


def test_ssh_from_outside_the_admin_networks_is_dropped(host, peer, address):
    """Narrow the admin networks to the controller alone: the peer loses SSH, the controller keeps it."""
    ssh_probe = f"timeout 3 bash -c 'echo > /dev/tcp/{address}/22'"
    assert peer.run(ssh_probe).rc == 0
    controller = host.check_output("printenv SSH_CLIENT").split()[0]
    proc = run_converge("-e", f'{{"firewall_ssh_sources": ["{controller}"]}}', "--tags", "firewall_configure")
    try:
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert peer.run(ssh_probe).rc != 0
        assert host.run("true").rc == 0  # a fresh command from the controller
    finally:
        assert run_converge("--tags", "firewall_configure").returncode == 0
    assert peer.run(ssh_probe).rc == 0


def test_each_play_adds_its_ports_to_the_earlier_ones(host):
    """The plays' hand-overs are kept on the host, so a later play (or a re-run of base.yml) keeps
    every tier's ports open."""
    kept = json.loads(host.file("/etc/omero-ansible-extended/firewall/published-ports.json").content_string)
    assert sorted(kept) == ["omero_web", "postgresql", "redis"]
    assert [p["port"] for p in kept["postgresql"]] == [5432, 5433]
