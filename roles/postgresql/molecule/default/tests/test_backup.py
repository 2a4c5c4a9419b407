"""Backups of the backup role and the restore drill run by drill.yml (the side effect)."""

import re
import time

import pytest

LIBEXEC = "/usr/local/libexec/omero-ansible-extended"
METRICS = "/var/lib/prometheus/node-exporter"
RESTIC = "set -a && . /etc/omero-ansible-extended/backup/restic.env && set +a && restic"


def test_drill_restored_every_row(host):
    before = host.file("/root/drill-before.txt").content_string.splitlines()
    after = host.file("/root/drill-after.txt").content_string.splitlines()
    counts = {line.split("|")[0]: int(line.split("|")[1]) for line in before}
    # pgbench scale 2 plus 200 transactions on 2 clients: the comparison is not of empty tables.
    assert counts == {"pgbench_accounts": 200000, "pgbench_branches": 2, "pgbench_history": 400, "pgbench_tellers": 20}
    assert after == before  # row counts and md5 of every table's rows


def test_drill_restored_the_data_directory(host):
    before = host.file("/root/drill-files-before.txt").content_string
    assert "image.tif" in before
    assert host.file("/root/drill-files-after.txt").content_string == before


def test_drill_recreated_the_cluster_in_its_unit(host):
    assert host.service("postgresql@15-plugin").is_running
    sql = "SELECT tableowner FROM pg_tables WHERE tablename = 'pgbench_accounts'"
    owner = host.check_output(f'runuser -u postgres -- psql -XAtq -p 5433 -d plugin -c "{sql}"')
    assert owner == "plugin"


def test_restore_refuses_a_non_empty_database(host):
    out = host.run(f"{LIBEXEC}/oae-pg-restore plugin plugin latest")
    assert out.rc == 3
    assert "refusing to restore" in out.stderr and "--force" in out.stderr


def test_restore_with_force_replaces_the_contents(host):
    psql = "runuser -u postgres -- psql -XAtq -p 5433 -d plugin -c"
    host.check_output(f"{psql} 'DELETE FROM pgbench_tellers'")  # noqa: S608 - fixed test SQL
    out = host.run(f"{LIBEXEC}/oae-pg-restore plugin plugin latest --force")
    assert out.rc == 0, out.stderr
    assert host.check_output(f"{psql} 'SELECT count(*) FROM pgbench_tellers'") == "20"  # noqa: S608


def test_restore_refuses_a_damaged_dump(host):
    latest = host.check_output("ls -t /var/backups/postgresql/plugin/plugin/*.dump | head -1")
    host.run(f"cp {latest} /tmp/damaged.dump && cp {latest}.sha256 /tmp/damaged.dump.sha256"
             " && sed -i 's|  .*|  damaged.dump|' /tmp/damaged.dump.sha256"
             " && printf 'X' | dd of=/tmp/damaged.dump bs=1 seek=5000 conv=notrunc status=none")
    out = host.run(f"{LIBEXEC}/oae-pg-restore plugin plugin /tmp/damaged.dump --force")
    assert out.rc == 4 and "checksum mismatch" in out.stderr


@pytest.mark.parametrize("timer", ["pg-dump@omero.timer", "pg-dump@plugin.timer", "restic-backup.timer"])
def test_backup_timers_enabled(host, timer):
    unit = host.service(timer)
    assert unit.is_enabled and unit.is_running
    assert "Persistent=yes" in host.check_output(f"systemctl show -p Persistent {timer}")


def test_dump_is_custom_format_checksummed_and_retained(host):
    for _ in range(3):
        assert host.run("systemctl start pg-dump@omero.service").rc == 0
        time.sleep(1.1)  # distinct timestamps in the file names
    dumps = host.check_output("ls /var/backups/postgresql/omero/omero/").split()
    # keep_count 2 and keep_days 0: only the two newest dumps remain, each with its checksum.
    assert len([d for d in dumps if d.endswith(".dump")]) == 2
    assert len([d for d in dumps if d.endswith(".dump.sha256")]) == 2
    assert host.run("cd /var/backups/postgresql/omero/omero && sha256sum --check --quiet *.sha256").rc == 0
    newest = host.check_output("ls -t /var/backups/postgresql/omero/omero/*.dump | head -1")
    assert host.file(newest).mode == 0o600 and host.file(newest).user == "postgres"
    toc = host.check_output(f"/usr/lib/postgresql/15/bin/pg_restore --list {newest}")
    assert "Format: CUSTOM" in toc and "Compression: 6" in toc


@pytest.mark.parametrize(
    "stem,target",
    [
        ("backup_pg_omero_omero", "omero/omero"),
        ("backup_pg_plugin_plugin", "plugin/plugin"),
        ("backup_restic", "/OMERO"),
    ],
)
def test_freshness_metrics(host, stem, target):
    prom = host.file(f"{METRICS}/{stem}.prom").content_string
    stamp = next(s for s in prom.splitlines() if s.startswith("oae_backup_last_success_timestamp_seconds"))
    assert f'target="{target}"' in stamp
    assert time.time() - int(stamp.split()[-1]) < 900
    assert "oae_backup_last_size_bytes" in prom and "oae_backup_last_duration_seconds" in prom


def test_restic_repository_is_encrypted_with_retention(host):
    assert host.file("/etc/omero-ansible-extended/backup/restic.password").mode == 0o600
    snapshots = host.run(f"{RESTIC} snapshots --json")
    assert snapshots.rc == 0 and '"/OMERO"' in snapshots.stdout
    wrong = host.run("RESTIC_REPOSITORY=/var/backups/restic/omero-data RESTIC_PASSWORD=wrong-password restic snapshots")
    assert wrong.rc != 0 and "wrong password" in wrong.stderr.lower()
    # File contents are not readable from the repository's files.
    assert host.run("grep -rl meta /var/backups/restic/omero-data/data").rc != 0


@pytest.mark.parametrize("unit,limit", [("pg-dump@omero.service", 3.0), ("restic-backup.service", 4.0)])
def test_backup_units_are_hardened(host, unit, limit):
    # restic runs as root to read every file of the data directory (see its unit's comment).
    out = host.check_output(f"systemd-analyze security {unit} | tail -1")
    assert float(re.search(r"level for \S+: ([0-9.]+)", out).group(1)) <= limit, out
