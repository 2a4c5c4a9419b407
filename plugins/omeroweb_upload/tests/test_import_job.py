"""The whole lifecycle through the views with jobs run inline (celery_eager): compatibility
check, prune, confirm, import through the stand-in `omero`, datasets per top-level folder and
the orphan dataset, per-file status, and a job whose earlier worker died mid-import."""

import hashlib
import os

import pytest

from omero_plugin_common import db, jobs

CHUNK = 65536


def entry(path, data):
    return {"relative_path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def upload(session, job, files):
    for index, data in enumerate(files.values()):
        for offset in range(0, len(data), CHUNK):
            response = session.chunk(job["id"], index, offset, data[offset:offset + CHUNK])
            assert response.status_code == 200, response.content


@pytest.fixture
def lifecycle(upload_dir, world, session_for, standin_omero, celery_eager, job_service):
    return world


def _start(alice, files, **extra):
    body = {"files": [entry(p, d) for p, d in files.items()], **extra}
    response = alice.post_json("/omeroweb_upload/start/", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_check_prune_import(lifecycle, session_for):
    world = lifecycle
    omero = world["omero"]
    alice = session_for("alice")
    files = {"plate/a.tif": os.urandom(100_000), "plate/multi.czi": b"czi" * 100,
             "b.tif": b"tiff", "plate/notes.docx": b"docx"}
    job = _start(alice, files, project_id=world["project"].id, compatibility_enabled=True)
    upload(alice, job, files)
    status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert status["state"] == "awaiting_confirmation" and status["confirmation_required"]
    assert status["compatibility"] == {"compatible": 3, "incompatible": 1, "unknown": 0}
    assert any("cannot read" in m for m in status["messages"])
    # Importing without a decision is refused; pruning the unreadable file makes it ready.
    refused = alice.post_json(f"/omeroweb_upload/import/{job['id']}/")
    assert refused.status_code == 409 and "confirm it first" in refused.json()["error"]["message"]
    pruned = alice.post_json(f"/omeroweb_upload/prune/{job['id']}/",
                             {"keep_paths": ["plate/a.tif", "plate/multi.czi", "b.tif"]})
    assert pruned.json()["state"] == "ready"
    assert not (upload_dir_of(job) / "plate" / "notes.docx").exists()
    started = alice.post_json(f"/omeroweb_upload/import/{job['id']}/")
    assert started.status_code == 202
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert final["state"] == "done", final
    assert final["import_job"]["state"] == "succeeded"
    assert final["import_job"]["result"] == {"imported": 3, "failed": 0, "images": 5}
    by_path = {f["relative_path"]: f for f in final["files"]}
    assert by_path["plate/notes.docx"]["state"] == "pruned"
    assert len(by_path["plate/multi.czi"]["image_ids"]) == 3
    conn = omero.connect("alice")
    project = conn.getObject("Project", world["project"].id)
    datasets = {d.getName(): d for d in project.listChildren()}
    assert set(datasets) == {"plate", job["orphan_dataset"]}
    assert sorted(i.getName() for i in datasets["plate"].listChildren()) == [
        "a.tif", "multi.czi [0]", "multi.czi [1]", "multi.czi [2]"]
    assert [i.getName() for i in datasets[job["orphan_dataset"]].listChildren()] == ["b.tif"]
    assert all(i.getOwner().getOmeName() == "alice"
               for d in datasets.values() for i in d.listChildren())


def upload_dir_of(job):
    from omeroweb_upload.services import upload_dir

    return upload_dir() / job["id"] / "files"


def test_confirm_imports_and_reports_each_file(lifecycle, session_for):
    alice = session_for("alice")
    files = {"ok.tif": b"a", "fail.tif": b"b", "partial.tif": b"c", "unknown.xyz": b"d"}
    job = _start(alice, files, compatibility_enabled=True, batch_size=2)
    upload(alice, job, files)
    assert alice.get(f"/omeroweb_upload/status/{job['id']}/").json()["state"] == \
        "awaiting_confirmation"
    # Another user cannot confirm; root can look after it, the owner confirms.
    assert session_for("bob").post_json(f"/omeroweb_upload/confirm/{job['id']}/").status_code \
        == 404
    assert alice.post_json(f"/omeroweb_upload/confirm/{job['id']}/").status_code == 202
    final = session_for("root").get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert final["state"] == "error"
    states = {f["relative_path"]: (f["state"], f["error"]) for f in final["files"]}
    assert states["ok.tif"] == ("imported", None)
    assert states["unknown.xyz"][0] == "imported"  # the user confirmed it; the stand-in took it
    assert states["fail.tif"][0] == "failed" and "corrupt" in states["fail.tif"][1]
    assert states["partial.tif"][0] == "failed" and "1 image(s)" in states["partial.tif"][1]
    assert final["messages"][-1] == "2 file(s) imported, 2 failed"
    assert any("fail.tif: failed" in line for line in final["import_job"]["log"])


def test_a_file_caught_by_a_dead_worker_is_failed_not_reimported(lifecycle, session_for,
                                                                 standin_omero):
    alice = session_for("alice")
    files = {"one.tif": b"a", "two.tif": b"b"}
    job = _start(alice, files, compatibility_enabled=False)
    upload(alice, job, files)
    # What a worker killed during the import of one.tif leaves behind.
    with db.transaction() as tx:
        tx.execute("UPDATE upload_files SET state = 'importing' WHERE job_id = %s"
                   " AND relative_path = 'one.tif'", (job["id"],))
    alice.post_json(f"/omeroweb_upload/import/{job['id']}/")
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    states = {f["relative_path"]: f for f in final["files"]}
    assert states["one.tif"]["state"] == "failed"
    assert "check the dataset" in states["one.tif"]["error"]
    assert states["two.tif"]["state"] == "imported"
    assert final["state"] == "error"
    imported = [r["name"] for r in standin_omero.requests_seen]
    assert imported == ["two.tif"]


def test_a_lost_background_job_shows_the_upload_as_failed(lifecycle, session_for):
    alice = session_for("alice")
    job = _start(alice, {"a.tif": b"a"}, compatibility_enabled=False)
    upload(alice, job, {"a.tif": b"a"})
    platform = jobs.submit("selftest", "alice", {"steps": 1, "delay": 0}, queue="upload")
    with db.transaction() as tx:  # as if the import job had been failed by the sweep
        tx.execute("UPDATE upload_jobs SET state = 'importing', platform_job_id = %s"
                   " WHERE id = %s", (str(platform.id), job["id"]))
        tx.execute("UPDATE plugin_jobs SET state = 'failed', error = 'worker lost 3 times'"
                   " WHERE id = %s", (str(platform.id),))
    status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert status["state"] == "error"
    assert "worker lost 3 times" in status["messages"][-1]


def test_the_check_question_is_gone_once_the_import_starts(lifecycle, session_for):
    alice = session_for("alice")
    files = {"ok.tif": b"a", "notes.docx": b"d"}
    job = _start(alice, files, compatibility_enabled=True)
    upload(alice, job, files)
    waiting = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert any("confirm to import anyway" in m for m in waiting["messages"])
    assert alice.post_json(f"/omeroweb_upload/confirm/{job['id']}/").status_code == 202
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert final["state"] == "done"  # the user confirmed; the stand-in takes notes.docx
    assert not any("confirm to import anyway" in m for m in final["messages"])


def test_cancel_before_the_import_deletes_the_files(lifecycle, session_for):
    alice = session_for("alice")
    files = {"plate/a.tif": os.urandom(100_000), "b.tif": b"tiff"}
    job = _start(alice, files, compatibility_enabled=False)
    upload(alice, job, {"plate/a.tif": files["plate/a.tif"]})  # b.tif not sent yet
    assert session_for("bob").post_json(f"/omeroweb_upload/cancel/{job['id']}/").status_code \
        == 404
    cancelled = alice.post_json(f"/omeroweb_upload/cancel/{job['id']}/")
    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert body["state"] == "error" and body["options"]["cancelled"] is True
    assert body["messages"] == ["You cancelled the upload; the files sent so far were deleted."]
    assert not upload_dir_of(job).exists()
    again = alice.post_json(f"/omeroweb_upload/cancel/{job['id']}/")
    assert again.status_code == 409 and "already error" in again.json()["error"]["message"]
    # A chunk after the cancel is refused: nothing is written for a cancelled job.
    late = alice.chunk(job["id"], 1, 0, b"tiff")
    assert late.status_code == 409


def test_cancel_during_the_import_stops_after_the_files_under_way(lifecycle, session_for,
                                                                  monkeypatch):
    from omeroweb_upload import importer

    alice = session_for("alice")
    files = {f"f{n}.tif": bytes([n]) for n in range(4)}
    job = _start(alice, files, compatibility_enabled=False, batch_size=1)
    upload(alice, job, files)
    real = importer.default_importer

    class CancelAfterFirst:
        """The user presses Cancel while the first file is being imported."""

        def __init__(self):
            self.inner = real()

        def check(self, path):
            return self.inner.check(path)

        def import_file(self, path, session, dataset_id):
            result = self.inner.import_file(path, session, dataset_id)
            alice.post_json(f"/omeroweb_upload/cancel/{job['id']}/")
            return result

    monkeypatch.setattr("omeroweb_upload.jobs.default_importer", CancelAfterFirst)
    assert alice.post_json(f"/omeroweb_upload/import/{job['id']}/").status_code == 202
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert final["state"] == "error" and final["options"]["cancelled"] is True
    assert final["import_job"]["state"] == "cancelled"
    assert final["messages"][-1] == ("You cancelled the import; files imported before stay "
                                     "in OMERO.")
    states = [f["state"] for f in final["files"]]
    assert states == ["imported", "uploaded", "uploaded", "uploaded"]
