"""A real Celery worker on queue `upload` runs the import; killed in the middle of a file, the
next worker resumes the job and reports that file as failed (never silently half-imported)."""

import contextlib
import hashlib
import os
import signal

import pytest

from omero_plugin_common import jobs
from omero_test_double.harness.waiting import wait_for


@pytest.mark.worker
def test_real_worker_imports_and_survives_a_crash(upload_dir, world, session_for, standin_omero,
                                                  fake_omero_worker, monkeypatch, tmp_path):
    omero = world["omero"]
    # The worker's OMERO is a copy of the fake in another process: the stand-in reports an
    # image the test created there, instead of creating one in this process.
    existing = omero.add_image("ok.tif", owner=world["alice"], group=world["lab"])
    monkeypatch.delenv("STANDIN_OMERO_SOCKET")
    monkeypatch.setenv("STANDIN_OMERO_IMAGE_IDS", str(existing.id))
    pids = tmp_path / "standin.pids"
    monkeypatch.setenv("STANDIN_OMERO_PIDS", str(pids))
    alice = session_for("alice")
    files = {"ok.tif": b"ok", "slow.tif": b"slow"}
    body = {"files": [{"relative_path": p, "size": len(d),
                       "sha256": hashlib.sha256(d).hexdigest()} for p, d in files.items()],
            "compatibility_enabled": False, "batch_size": 1}
    job = alice.post_json("/omeroweb_upload/start/", body).json()
    for index, data in enumerate(files.values()):
        assert alice.chunk(job["id"], index, 0, data).status_code == 200
    worker = fake_omero_worker("upload", "upload@crashtest")
    assert alice.post_json(f"/omeroweb_upload/import/{job['id']}/").status_code == 202

    def file_states():
        status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
        return {f["relative_path"]: f["state"] for f in status["files"]}

    wait_for(lambda: file_states()["slow.tif"] == "importing", what="slow.tif importing")
    assert file_states()["ok.tif"] == "imported"
    # The state turns to importing before `omero import` starts: wait for its pid, so the kill
    # lands in the middle of slow.tif's import and not before it began.
    wait_for(pids.exists, what="stand-in pid file")
    worker.kill()  # SIGKILL: the worker dies in the middle of slow.tif
    for pid in pids.read_text().split():  # the orphaned `omero import` (its own session)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    platform_id = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()["import_job"]["id"]
    assert jobs.get(platform_id).state == "running"
    # A new worker under the same name takes the job back and finishes it.
    fake_omero_worker("upload", "upload@crashtest")
    wait_for(lambda: jobs.get(platform_id).finished, timeout=90, what="import job finished")
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    by_path = {f["relative_path"]: f for f in final["files"]}
    assert by_path["ok.tif"]["state"] == "imported"
    assert by_path["ok.tif"]["image_ids"] == [existing.id]
    assert by_path["slow.tif"]["state"] == "failed"
    assert "check the dataset" in by_path["slow.tif"]["error"]
    assert final["state"] == "error"
    assert jobs.get(platform_id).attempts == 2
