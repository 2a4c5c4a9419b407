"""N-1 -> N upgrade of the OMERO.server role with synthetic releases and a real PostgreSQL."""

PSQL = "PGPASSWORD=upgrade-db-secret psql -XAtq -h localhost -U omero omero -c"
BASE = "/opt/omero/server"
SCHEMA = "SELECT currentversion || '__' || currentpatch FROM dbpatch ORDER BY id DESC LIMIT 1"


def sql(host, query: str) -> str:
    out = host.run(f'{PSQL} "{query}"')
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def test_symlink_switched_to_n(host):
    assert host.file(f"{BASE}/OMERO.server").linked_to == f"{BASE}/OMERO.server-5.6.91-ice36"
    # N-1 stays for a manual rollback.
    assert host.file(f"{BASE}/OMERO.server-5.6.90-ice36/sql/psql/OMERO5.4__0").is_directory


def test_schema_upgraded_data_kept(host):
    assert sql(host, SCHEMA) == "OMERO5.5__0"
    assert sql(host, "SELECT to_regclass('public.synthetic_upgraded') IS NOT NULL") == "t"
    assert sql(host, "SELECT name FROM synthetic_data") == "kept across the upgrade"
    # Nothing of the failed attempt (5.6.92) stayed.
    assert sql(host, "SELECT to_regclass('public.half_done') IS NULL") == "t"
    assert sql(host, "SELECT count(*) FROM dbpatch WHERE currentversion = 'OMERO5.6'") == "0"


def test_pre_upgrade_dumps(host):
    dumps = host.file("/var/backups/omero-server")
    assert dumps.mode == 0o700 and dumps.user == "root"
    names = sorted(host.run("ls /var/backups/omero-server").stdout.split())
    assert len(names) == 2, names  # the failed attempt and the upgrade, one each
    assert names[0].startswith("omero-OMERO5.4__0-before-OMERO5.")
    ok = [n for n in names if "before-OMERO5.5__0" in n]
    assert len(ok) == 1
    # The dump holds the database as it was before the upgrade: restore it and look.
    as_postgres = "runuser -u postgres --"
    check = f"({SCHEMA}) || ' ' || (to_regclass('public.synthetic_upgraded') IS NULL)::text"
    restore = host.run(
        # The dump directory is root's only: root reads the dump, postgres loads the SQL.
        f"set -eo pipefail; cd /; {as_postgres} dropdb --if-exists omero_restore_check; "
        f"{as_postgres} createdb omero_restore_check; "
        f"pg_restore --no-owner -f - /var/backups/omero-server/{ok[0]} "
        f"| {as_postgres} psql -Xq -v ON_ERROR_STOP=1 -d omero_restore_check >/dev/null; "
        f'{as_postgres} psql -XAtq omero_restore_check -c "SELECT {check}"; '
        f"{as_postgres} dropdb omero_restore_check"
    )
    assert restore.rc == 0, restore.stderr
    assert restore.stdout.strip() == "OMERO5.4__0 true"


def test_config_loaded_into_new_version(host):
    out = host.run(f"runuser -u omero-server -- {BASE}/bin/omero config get omero.db.host")
    assert out.rc == 0 and out.stdout.strip() == "localhost"
    grid = host.file(f"{BASE}/OMERO.server-5.6.91-ice36/etc/grid/config.xml")
    assert grid.exists and grid.user == "omero-server"


def test_unit_points_at_new_version(host):
    unit = host.file("/etc/systemd/system/omero-server.service").content_string
    assert f"{BASE}/OMERO.server-5.6.91-ice36/etc/grid" in unit
