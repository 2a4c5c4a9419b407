"""Behaviour of the common role on a real systemd host."""

import pytest


def test_system_is_running(host):
    # Nothing the role installed or configured left a failed unit behind.
    out = host.run("systemctl is-system-running --wait")
    assert out.stdout.strip() == "running", host.run("systemctl --failed --no-legend").stdout


@pytest.mark.parametrize("package", ["acl", "curl", "sudo", "tzdata", "jq", "unattended-upgrades"])
def test_packages_installed(host, package):
    assert host.package(package).is_installed


def test_recommends_not_installed(host):
    # curl recommends nothing harmful, but unattended-upgrades recommends anacron and
    # python3-gi; without recommends neither may appear.
    assert not host.package("anacron").is_installed


def test_time_zone(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Zurich"
    assert host.run("date +%Z").stdout.strip() in {"CET", "CEST"}


def test_locale(host):
    assert host.file("/etc/default/locale").content_string.strip() == "LANG=en_US.UTF-8"
    assert "en_US.utf8" in host.run("locale -a").stdout


def test_journal_is_persistent_with_limits(host):
    assert host.file("/var/log/journal").is_directory
    conf = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    assert "Storage=persistent" in conf
    assert "SystemMaxUse=256M" in conf
    # journald really writes there (not only configured to).
    host.run("logger -t oae-test persistent-journal-probe && journalctl --sync")
    files = host.run("find /var/log/journal -name 'system*.journal'").stdout.split()
    assert files


def test_sysctl_written_not_applied_in_container(host):
    conf = host.file("/etc/sysctl.d/60-common.conf")
    assert "vm.overcommit_memory = 1" in conf.content_string
    assert "net.core.somaxconn = 1024" in conf.content_string
    assert conf.mode == 0o644


def test_admin_account_and_sudo(host):
    alice = host.user("alice")
    assert "omero-admins" in alice.groups and "omero-data" in alice.groups
    keys = host.file("/home/alice/.ssh/authorized_keys")
    assert keys.user == "alice" and "alice@example.org" in keys.content_string
    assert "NOPASSWD" in host.run("sudo -l -U alice").stdout
    assert host.group("omero-data").gid == 2500
    assert not host.user("mallory").exists
    sudoers = host.file("/etc/sudoers.d/50-omero-admins")
    assert sudoers.mode == 0o440


def test_unattended_upgrades_security_only(host):
    conf = host.file("/etc/apt/apt.conf.d/50unattended-upgrades").content_string
    assert "Debian-Security" in conf and 'Automatic-Reboot-Time "04:30"' in conf
    assert 'Unattended-Upgrade "1"' in host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
