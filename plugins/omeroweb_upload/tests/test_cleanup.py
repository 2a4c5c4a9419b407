"""The cleanup command: the original's thresholds, bounded deletions, running jobs kept."""

import os
import time
import uuid

from omero_plugin_common import db, jobs
from omeroweb_upload.cleanup import cleanup, main
from omeroweb_upload.services import upload_dir


def _job(owner, state, hours_ago, platform_job=None):
    job_id = str(uuid.uuid4())
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO upload_jobs (id, owner, state, orphan_dataset, total_bytes,"
            " platform_job_id, updated_at, finished_at) VALUES (%s, %s, %s, 'o', 0, %s,"
            " now() - make_interval(secs => %s * 3600),"
            " CASE WHEN %s IN ('done', 'error') THEN now() - make_interval(secs => %s * 3600) END)",
            (job_id, owner, state, platform_job, hours_ago, state, hours_ago))
    folder = upload_dir() / job_id / "files"
    folder.mkdir(parents=True)
    (folder / "a.tif").write_bytes(b"x")
    return job_id


def _exists(job_id):
    with db.transaction() as tx:
        return tx.fetchone("SELECT 1 FROM upload_jobs WHERE id = %s", (job_id,)) is not None


def test_thresholds(upload_dir):
    old_done = _job("alice", "done", 13)
    old_error = _job("alice", "error", 12.5)
    young_done = _job("alice", "done", 11)
    stale_upload = _job("alice", "uploading", 49)
    fresh_upload = _job("alice", "uploading", 47)
    stale_ready = _job("bob", "awaiting_confirmation", 50)
    report = cleanup()
    assert (report.finished, report.stale) == (2, 2)
    for gone in (old_done, old_error, stale_upload, stale_ready):
        assert not _exists(gone) and not (upload_dir / gone).exists()
    for kept in (young_done, fresh_upload):
        assert _exists(kept) and (upload_dir / kept / "files" / "a.tif").exists()


def test_a_running_import_is_never_deleted(upload_dir):
    platform = jobs.submit("selftest", "alice", {"steps": 1}, queue="upload")  # stays queued
    running = _job("alice", "importing", 60, platform_job=str(platform.id))
    assert cleanup().stale == 0 and _exists(running)


def test_deletions_per_run_are_bounded(upload_dir, monkeypatch):
    from omeroweb_upload.config import upload_settings

    monkeypatch.setenv("OMERO_UPLOAD_CLEANUP_MAX_DELETE", "3")
    upload_settings.cache_clear()
    for _ in range(5):
        _job("alice", "done", 24)
    assert cleanup().finished == 3
    assert cleanup().finished == 2
    assert cleanup().finished == 0


def test_orphaned_folders_and_foreign_files(upload_dir, capsys):
    orphan = upload_dir / str(uuid.uuid4())
    orphan.mkdir()
    young_orphan = upload_dir / str(uuid.uuid4())
    young_orphan.mkdir()
    foreign = upload_dir / "lost+found"
    foreign.mkdir()
    old = time.time() - 49 * 3600
    for path in (orphan, foreign):
        os.utime(path, (old, old))
    assert main([]) == 0
    assert "1 orphaned folder(s)" in capsys.readouterr().out
    assert not orphan.exists() and young_orphan.exists() and foreign.exists()
