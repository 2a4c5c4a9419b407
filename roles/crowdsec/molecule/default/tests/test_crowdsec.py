"""CrowdSec on a host with nginx: an offline replay and a live brute force both end in a ban."""

import json
import os
import time
from pathlib import Path

import pytest
import testinfra

INVENTORY = str(Path(os.environ.get("MOLECULE_INVENTORY_FILE", "/nonexistent/x")).parent)
testinfra_hosts = ["crowdsec-default"]
REPLAYED_IP = "203.0.113.66"


@pytest.fixture(scope="module")
def attacker():
    return testinfra.get_host("ansible://crowdsec-default-attacker", ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def address(host):
    return host.interface("host0").addresses[0]


def decisions(host):
    return json.loads(host.check_output("cscli decisions list -o json")) or []


def banned(host, ip):
    return any(d["value"] == ip and d["type"] == "ban" for alert in decisions(host) for d in alert["decisions"])


def wait_until(check, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(2)
    return check()


def test_agent_and_bouncer_run_with_the_shipped_collections(host):
    assert host.service("crowdsec").is_running and host.service("crowdsec").is_enabled
    assert host.service("crowdsec-firewall-bouncer").is_running
    for collection in ("linux", "sshd", "nginx"):
        assert host.file(f"/etc/crowdsec/collections/{collection}.yaml").is_symlink
    assert "table ip crowdsec" in host.check_output("nft list tables")


def test_acquisition_reads_journald_units_and_nginx_logs(host):
    acquis = host.file("/etc/crowdsec/acquis.yaml").content_string
    assert "_SYSTEMD_UNIT=ssh.service" in acquis and "_SYSTEMD_UNIT=omero-web.service" in acquis
    assert "/var/log/nginx/access.log" in acquis
    assert "push and pull to Central API disabled" in host.check_output("journalctl -u crowdsec --no-pager")


def test_bouncer_key_is_private_and_not_the_package_placeholder(host):
    conf = host.file("/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml")
    assert conf.mode == 0o600 and conf.user == "root"
    assert "${API_KEY}" not in conf.content_string and "mode: nftables" in conf.content_string


def test_offline_replay_of_an_ssh_brute_force_bans_the_address(host):
    """Twelve failed logins in twelve seconds, replayed from a file (CrowdSec's one-shot mode)."""
    host.run(f"cscli decisions delete --ip {REPLAYED_IP}")
    script = ("import datetime\n"
              "now = datetime.datetime.now()\n"
              "for i in range(12):\n"
              "    t = (now - datetime.timedelta(seconds=20 - i)).strftime('%b %d %H:%M:%S')\n"
              f"    print(f'{{t}} bastion sshd[{{900 + i}}]: Failed password for invalid user u{{i}} from {REPLAYED_IP}"
              " port {40000 + i} ssh2')\n")
    host.check_output(f"python3 -c \"{script}\" > /tmp/ssh-bf.log")
    replay = host.run("timeout 120 crowdsec -c /etc/crowdsec/config.yaml -dsn file:///tmp/ssh-bf.log "
                      "-type syslog -no-api")
    assert replay.rc == 0, replay.stderr
    assert f"Ip {REPLAYED_IP} performed 'crowdsecurity/ssh-bf'" in replay.stderr
    assert banned(host, REPLAYED_IP)
    # The bouncer puts it into its nftables set within its update interval (10 s).
    assert wait_until(lambda: REPLAYED_IP in host.check_output("nft list set ip crowdsec crowdsec-blacklists"))


def post_login(attacker, address):
    code = ("import urllib.request, urllib.error\n"
            "try:\n"
            f"    r = urllib.request.urlopen(urllib.request.Request('http://{address}/webclient/login/',"
            " data=b'username=root&password=guess', method='POST'), timeout=3); print(r.status)\n"
            "except urllib.error.HTTPError as e: print(e.code)\n"
            "except Exception as e: print('blocked', type(e).__name__)\n")
    return attacker.check_output(f'python3 -c "{code}"')


def test_live_login_brute_force_through_nginx_ends_blocked(host, attacker, address):
    attacker_ip = attacker.interface("host0").addresses[0]
    host.run(f"cscli decisions delete --ip {attacker_ip}")
    try:
        assert post_login(attacker, address) == "200"
        for _ in range(8):
            post_login(attacker, address)
        assert wait_until(lambda: banned(host, attacker_ip)), host.check_output("cscli alerts list")
        alerts = host.check_output("cscli alerts list -o json")
        assert "omero/omero-web-login-bf" in alerts
        assert wait_until(lambda: post_login(attacker, address).startswith("blocked"))
        assert host.run("true").rc == 0  # the controller is not affected
    finally:
        host.run(f"cscli decisions delete --ip {attacker_ip}")
    assert wait_until(lambda: post_login(attacker, address) == "200")
