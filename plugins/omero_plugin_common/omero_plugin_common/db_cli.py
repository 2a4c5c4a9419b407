"""`omero-plugins-db`: apply or show the plugin database migrations (run by Ansible at deploy)."""

from __future__ import annotations

import argparse
import sys

import psycopg2

from . import db
from .migrations import MigrationError, migrate, status
from .typed_settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-plugins-db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations of every installed plugin")
    sub.add_parser("status", help="list migrations and whether they are applied")
    sub.add_parser("rotate-secrets", help="re-encrypt stored user secrets with the newest key")
    args = parser.parse_args(argv)
    try:
        conn = psycopg2.connect(db.dsn())
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except psycopg2.OperationalError as exc:
        print(f"omero-plugins-db: cannot connect to the plugin database: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "migrate":
            applied = migrate(conn)
            for m in applied:
                print(f"applied {m.plugin} {m.version:04d}_{m.name}")
            # Ansible's changed_when keys on this line.
            print(f"{len(applied)} migration(s) applied")
        elif args.command == "status":
            pending = 0
            for st in status(conn):
                m = st.migration
                pending += not st.applied
                state = "applied" if st.applied else "pending"
                print(f"{state} {m.plugin} {m.version:04d}_{m.name}")
            return 3 if pending else 0
        else:
            from .secret_store import rotate_all

            print(f"{rotate_all()} secret(s) re-encrypted")
    except MigrationError as exc:
        print(f"omero-plugins-db: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
