import psycopg2
import pytest

from omero_plugin_common.migrations import MigrationError, discover, migrate, status
from omero_plugin_common.plugin import get_plugin, installed_plugins


def _tables(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'public' ORDER BY 1, 2")
        return cur.fetchall()


def test_every_plugin_ships_numbered_migrations():
    names = {p.name for p in installed_plugins()}
    assert {"omero_plugin_common", "omeroweb_omp_plugin", "omeroweb_upload",
            "omeroweb_admin_tools", "omeroweb_imaris_connector"} <= names
    for plugin in installed_plugins():
        assert discover(plugin), f"{plugin.name} has no sql/0001_*.sql"


def test_migrate_twice_changes_nothing(scratch_db):
    conn = psycopg2.connect(scratch_db)
    first = migrate(conn)
    schema = _tables(conn)
    assert len(first) == sum(len(discover(p)) for p in installed_plugins())
    assert migrate(conn) == []
    assert _tables(conn) == schema
    assert all(st.applied for st in status(conn))
    conn.close()


COMMON_VERSIONS = len(discover(get_plugin("omero_plugin_common")))


@pytest.mark.parametrize("start", range(1, COMMON_VERSIONS))
def test_upgrade_from_an_earlier_schema_version_keeps_data(scratch_db, start):
    common = get_plugin("omero_plugin_common")
    conn = psycopg2.connect(scratch_db)
    applied = migrate(conn, plugins=[common], targets={"omero_plugin_common": start})
    assert [m.version for m in applied] == list(range(1, start + 1))
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO plugin_jobs (id, plugin, kind, queue, owner) VALUES"
                    " ('00000000-0000-0000-0000-000000000001', 'p', 'k', 'admin', 'alice')")
    pending = [st.migration.version for st in status(conn, [common]) if not st.applied]
    assert pending == list(range(start + 1, COMMON_VERSIONS + 1))
    migrate(conn)
    assert all(st.applied for st in status(conn))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT owner FROM plugin_jobs")
        assert cur.fetchall() == [("alice",)]
        cur.execute("SELECT count(*) FROM plugin_selftest_effects")
        assert cur.fetchone() == (0,)
    conn.close()


def test_a_failing_migration_rolls_back_and_is_not_recorded(scratch_db, tmp_path):
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "0001_ok.sql").write_text("CREATE TABLE t_ok (id int);")
    (sql / "0002_bad.sql").write_text("CREATE TABLE t_half (id int); SELECT nope;")
    fake = type("P", (), {"name": "broken", "sql_dir": sql})()
    conn = psycopg2.connect(scratch_db)
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        migrate(conn, plugins=[fake])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('t_ok') IS NOT NULL, to_regclass('t_half') IS NOT NULL")
        assert cur.fetchone() == (True, False)
        cur.execute("SELECT version FROM plugin_schema_migrations WHERE plugin = 'broken'")
        assert cur.fetchall() == [(1,)]
    conn.close()


def test_an_edited_applied_migration_is_refused(scratch_db, tmp_path):
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "0001_a.sql").write_text("CREATE TABLE t_a (id int);")
    fake = type("P", (), {"name": "edited", "sql_dir": sql})()
    conn = psycopg2.connect(scratch_db)
    migrate(conn, plugins=[fake])
    (sql / "0001_a.sql").write_text("CREATE TABLE t_a (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(conn, plugins=[fake])
    conn.close()


def test_gaps_in_numbering_are_refused(tmp_path):
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "0001_a.sql").write_text("")
    (sql / "0003_c.sql").write_text("")
    fake = type("P", (), {"name": "gappy", "sql_dir": sql})()
    with pytest.raises(MigrationError, match=r"must be 1..n, found \[1, 3\]"):
        discover(fake)


def test_console_script_migrate_and_status(plugin_services, capsys):
    from omero_plugin_common.db_cli import main

    assert main(["migrate"]) == 0
    assert "0 migration(s) applied" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "pending" not in capsys.readouterr().out


def test_concurrent_deploys_apply_each_migration_once(scratch_db):
    from concurrent.futures import ThreadPoolExecutor

    def run(_):
        conn = psycopg2.connect(scratch_db)
        try:
            return len(migrate(conn))
        finally:
            conn.close()

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(run, range(4)))
    total = sum(len(discover(p)) for p in installed_plugins())
    assert sorted(counts) == [0, 0, 0, total]
