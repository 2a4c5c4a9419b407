"""`omero-upload-cleanup`: delete old upload jobs and their files (a systemd timer runs it).

The original's thresholds: finished jobs (done, error) after 12 h, unfinished ones untouched
for 48 h, at most 25 deletions per run (all three are settings). A job whose background job is
still queued or running is never deleted. Folders in the upload directory without a job row
(a start that failed half-way) are removed once they are as old as a stale job.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from omero_plugin_common import db
from omero_plugin_common.cli import console_script
from omero_plugin_common.logging_config import configure_logging

from .config import upload_settings


@dataclass
class CleanupReport:
    finished: int = 0
    stale: int = 0
    orphan_folders: int = 0
    deleted_ids: list[str] = field(default_factory=list)


def cleanup() -> CleanupReport:
    settings = upload_settings()
    upload_dir = Path(str(settings.upload_dir))
    report = CleanupReport()
    with db.transaction() as tx:
        # The batch is picked once, in a materialised CTE: as an `IN (subquery)` the planner may
        # re-run the LIMIT ... SKIP LOCKED subquery per row and delete more than the budget.
        rows = tx.fetchall(
            "WITH doomed AS MATERIALIZED ("
            " SELECT u.id FROM upload_jobs u WHERE ("
            "  (u.state IN ('done', 'error')"
            "   AND coalesce(u.finished_at, u.updated_at) < now() - make_interval(secs => %s))"
            "  OR (u.state NOT IN ('done', 'error')"
            "   AND u.updated_at < now() - make_interval(secs => %s)))"
            " AND NOT EXISTS (SELECT 1 FROM plugin_jobs p WHERE p.id = u.platform_job_id"
            "  AND p.state IN ('queued', 'running'))"
            " ORDER BY u.updated_at LIMIT %s FOR UPDATE SKIP LOCKED)"
            " DELETE FROM upload_jobs j USING doomed WHERE j.id = doomed.id"
            " RETURNING j.id, j.state",
            (settings.finished_max_age_seconds, settings.stale_age_seconds,
             settings.cleanup_max_delete))
        known = {str(r["id"]) for r in tx.fetchall("SELECT id FROM upload_jobs")}
    for row in rows:
        shutil.rmtree(upload_dir / str(row["id"]), ignore_errors=True)
        report.deleted_ids.append(str(row["id"]))
        if row["state"] in ("done", "error"):
            report.finished += 1
        else:
            report.stale += 1
    budget = settings.cleanup_max_delete - len(rows)
    cutoff = time.time() - settings.stale_age_seconds
    if upload_dir.is_dir():
        for entry in sorted(upload_dir.iterdir()):
            if budget <= 0:
                break
            try:
                uuid.UUID(entry.name)
            except ValueError:
                continue  # not ours: never touch what the plugin did not create
            if entry.name in known or entry.is_symlink() or not entry.is_dir():
                continue
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                report.orphan_folders += 1
                budget -= 1
    return report


@console_script("omero-upload-cleanup")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-upload-cleanup", description=__doc__)
    parser.parse_args(argv)
    configure_logging()
    report = cleanup()
    print(f"deleted {report.finished} finished and {report.stale} stale upload job(s), "
          f"{report.orphan_folders} orphaned folder(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
