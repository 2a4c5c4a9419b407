#!/usr/bin/env python3
"""Write a SYNTHETIC OMERO.server release zip for the role's tests.

It is laid out like the real OMERO.server-<version>-ice36.zip (the top-level directory,
bin/, etc/, lib/server, lib/scripts, lib/python, sql/psql/...) but holds no server: the real
zip cannot be downloaded on the machines these tests run on. Entries carry a fixed time
stamp, so the same version always gives the same bytes and the same sha256.

Usage: make_synthetic_server_zip.py VERSION OUTPUT_DIR [--db OMERO5.4__0]
           [--upgrade-from OMERO5.4__0 --upgrade-sql 'SQL...']      (prints the zip's sha256)
The upgrade script goes where OMERO keeps them: sql/psql/<db>/<upgrade-from>.sql.
"""

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

FIXED_TIME = (2026, 1, 1, 0, 0, 0)
NOTICE = "SYNTHETIC TEST ARTIFACT: laid out like OMERO.server {version}, contains no server.\n"


def entries(version: str, db: str = "OMERO5.4__0", upgrade_from: str = "", upgrade_sql: str = "") -> dict[str, str]:
    """Relative path -> text content of every file in the release."""
    db_version, db_patch = db.split("__")
    files = {
        "LICENSE.txt": NOTICE.format(version=version),
        "bin/omero": "#!/bin/sh\necho 'synthetic release: use the venv omero' >&2\nexit 1\n",
        "etc/omero.properties": (f"omero.version={version}-ice36\nomero.db.profile=psql\n"
                                 f"omero.db.version={db_version}\nomero.db.patch={db_patch}\n"),
        "etc/grid/templates.xml": "<!-- synthetic -->\n<icegrid/>\n",
        "etc/grid/default.xml": "<!-- synthetic -->\n<icegrid/>\n",
        "lib/server/README.txt": NOTICE.format(version=version),
        "lib/client/README.txt": NOTICE.format(version=version),
        "lib/python/omero/__init__.py": "# replaced by omero-py in the venv\n",
        "lib/scripts/omero/util_scripts/Synthetic_Script.py": "# synthetic script\n",
        f"sql/psql/{db}/schema.sql": "-- synthetic schema\nSELECT 1;\n",
        f"sql/psql/{db}/psql-header.sql": "-- synthetic header\n",
    }
    if upgrade_from:
        files[f"sql/psql/{db}/{upgrade_from}.sql"] = upgrade_sql + "\n"
    return files


def write_zip(version: str, out_dir: Path, **layout: str) -> Path:
    top = f"OMERO.server-{version}-ice36"
    target = out_dir / f"{top}.zip"
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        dirs = sorted({str(Path(top, p).parent) for p in entries(version, **layout)} | {top})
        for directory in dirs:
            info = zipfile.ZipInfo(directory + "/", FIXED_TIME)
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, "")
        for rel, text in sorted(entries(version, **layout).items()):
            info = zipfile.ZipInfo(f"{top}/{rel}", FIXED_TIME)
            mode = 0o755 if rel.startswith("bin/") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, text, zipfile.ZIP_DEFLATED)
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--db", default="OMERO5.4__0", help="schema version__patch of this release")
    parser.add_argument("--upgrade-from", default="", help="schema this release upgrades from")
    parser.add_argument("--upgrade-sql", default="", help="the upgrade script's SQL")
    args = parser.parse_args(argv[1:])
    target = write_zip(args.version, args.out_dir, db=args.db, upgrade_from=args.upgrade_from,
                       upgrade_sql=args.upgrade_sql)
    print(hashlib.sha256(target.read_bytes()).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
