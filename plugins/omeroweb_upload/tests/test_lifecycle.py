"""Start, chunked resumable upload, checksums, full disk, limits, ownership, CSRF, bad input:
through the views, against the real PostgreSQL of the harness and a real upload folder."""

import hashlib
import io
import json
import os
import resource
import signal
from pathlib import PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omeroweb_upload.chunks import ChunkError, write_chunk

DATA = os.urandom(150_000)  # three chunks of 64 KiB (the tests' chunk size)


def file_entry(path, data, **extra):
    return {"relative_path": path, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), **extra}


def upload_all(session, job_id, index, data, chunk=65536):
    for offset in range(0, len(data), chunk):
        response = session.chunk(job_id, index, offset, data[offset:offset + chunk])
        assert response.status_code == 200, response.content
    return response


def start(session, files, **extra):
    body = {"files": files, "compatibility_enabled": False, **extra}
    return session.post_json("/omeroweb_upload/start/", body)


def test_start_lists_files_skips_junk_and_assigns_datasets(upload_dir, world, session_for):
    alice = session_for("alice")
    response = start(alice, [file_entry("plate/a.tif", DATA), file_entry("b.tif", b"x"),
                             file_entry("plate/Thumbs.db", b"junk"),
                             file_entry("__MACOSX/plate/._a.tif", b"junk"),
                             file_entry("plate/empty.tif", b"")],
                     project_id=world["project"].id)
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["state"] == "uploading" and job["owner"] == "alice"
    files = {f["relative_path"]: f for f in job["files"]}
    assert files["plate/Thumbs.db"]["state"] == "skipped"
    assert files["__MACOSX/plate/._a.tif"]["skip_reason"] == "system folder __MACOSX"
    assert files["plate/empty.tif"]["state"] == "uploaded"
    assert files["plate/a.tif"]["dataset"] == "plate"
    assert files["b.tif"]["dataset"] == job["orphan_dataset"]
    assert job["orphan_dataset"].startswith("Orphaned_images_base_path_import_")
    assert len(job["orphan_dataset"]) == len("Orphaned_images_base_path_import_") + 6
    assert (upload_dir / job["id"] / "files" / "plate" / "empty.tif").is_file()
    assert job["total_bytes"] == len(DATA) + 1


def test_resumable_upload_continues_from_the_last_confirmed_chunk(upload_dir, world,
                                                                  session_for):
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    first = alice.chunk(job["id"], 0, 0, DATA[:65536])
    assert first.json() == {"index": 0, "received_bytes": 65536, "chunks": 1,
                            "state": "pending", "sha256": hashlib.sha256(DATA).hexdigest()}
    # A chunk cut off in transit (the connection dropped): nothing of it is kept.
    cut = io.BytesIO(DATA[65536:100000])
    with pytest.raises(ChunkError, match="ended after 34464 of 65536"):
        write_chunk(upload_dir / job["id"] / "files", PurePosixPath("a.tif"), 65536, 65536,
                    cut.readinto, hashlib.sha256(DATA[65536:131072]).hexdigest())
    status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert status["files"][0]["received_bytes"] == 65536 and status["files"][0]["chunks"] == 1
    # A client that lost track sends the wrong offset: told where to continue.
    wrong = alice.chunk(job["id"], 0, 0, DATA[:65536])
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "wrong_offset"
    assert "65536" in wrong.json()["error"]["message"]
    # A corrupted chunk is refused and cut off again.
    bad = alice.chunk(job["id"], 0, 65536, DATA[65536:131072],
                      sha=hashlib.sha256(b"other").hexdigest())
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "checksum_mismatch"
    on_disk = upload_dir / job["id"] / "files" / "a.tif"
    assert on_disk.stat().st_size == 65536
    # Resume from the status endpoint's confirmed offset.
    offset = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()["files"][0][
        "received_bytes"]
    for start_at in range(offset, len(DATA), 65536):
        last = alice.chunk(job["id"], 0, start_at, DATA[start_at:start_at + 65536])
        assert last.status_code == 200, last.content
    assert last.json()["state"] == "uploaded"
    assert last.json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert on_disk.read_bytes() == DATA
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert final["state"] == "ready" and final["received_bytes"] == len(DATA)


def test_file_checksum_mismatch_discards_the_file(upload_dir, world, session_for):
    alice = session_for("alice")
    entry = file_entry("a.tif", DATA)
    entry["sha256"] = hashlib.sha256(b"not the data").hexdigest()
    job = start(alice, [entry]).json()
    for offset in range(0, 131072, 65536):
        alice.chunk(job["id"], 0, offset, DATA[offset:offset + 65536])
    last = alice.chunk(job["id"], 0, 131072, DATA[131072:])
    assert last.status_code == 422
    assert "SHA-256 does not match" in last.json()["error"]["message"]
    status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert status["files"][0]["received_bytes"] == 0 and status["state"] == "uploading"


def test_file_checksum_on_the_last_chunk_when_not_declared(upload_dir, world, session_for):
    alice = session_for("alice")
    entry = file_entry("a.tif", DATA)
    del entry["sha256"]
    job = start(alice, [entry]).json()
    alice.chunk(job["id"], 0, 0, DATA[:65536])
    alice.chunk(job["id"], 0, 65536, DATA[65536:131072])
    missing = alice.chunk(job["id"], 0, 131072, DATA[131072:])
    assert missing.status_code == 400 and "X-File-Sha256" in missing.json()["error"]["message"]
    # The bytes were confirmed; the final check runs again once the digest is given.
    status = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert status["files"][0]["received_bytes"] == len(DATA)


def test_low_disk_space_is_a_507_and_keeps_the_job(upload_dir, world, session_for,
                                                    monkeypatch):
    from omeroweb_upload.config import upload_settings

    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    alice.chunk(job["id"], 0, 0, DATA[:65536])
    monkeypatch.setenv("OMERO_UPLOAD_MIN_FREE_BYTES", str(2**62))
    upload_settings.cache_clear()
    full = alice.chunk(job["id"], 0, 65536, DATA[65536:131072])
    assert full.status_code == 507
    assert full.json()["error"]["code"] == "insufficient_storage"
    assert "disk is full" in full.json()["error"]["message"]
    monkeypatch.setenv("OMERO_UPLOAD_MIN_FREE_BYTES", "0")
    upload_settings.cache_clear()
    upload_all_from = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    assert upload_all_from["files"][0]["received_bytes"] == 65536
    assert upload_all_from["state"] == "uploading"


def test_a_write_error_from_the_kernel_is_a_507_without_a_torn_chunk(upload_dir, world,
                                                                      session_for):
    """The file size limit (RLIMIT_FSIZE) makes the kernel refuse the write (EFBIG), as a full
    disk refuses it with ENOSPC; the chunk is cut off and the job can resume later."""
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    alice.chunk(job["id"], 0, 0, DATA[:65536])
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        full = alice.chunk(job["id"], 0, 65536, DATA[65536:131072])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert full.status_code == 507, full.content
    assert (upload_dir / job["id"] / "files" / "a.tif").stat().st_size == 65536
    resumed = alice.chunk(job["id"], 0, 65536, DATA[65536:131072])
    assert resumed.json()["received_bytes"] == 131072


def test_concurrent_uploads_per_user_are_bounded(upload_dir, world, session_for, monkeypatch):
    from omeroweb_upload.config import upload_settings

    monkeypatch.setenv("OMERO_UPLOAD_MAX_ACTIVE_PER_USER", "2")
    upload_settings.cache_clear()
    alice, bob = session_for("alice"), session_for("bob")
    first = start(alice, [file_entry("a.tif", DATA)]).json()
    start(alice, [file_entry("a.tif", DATA)])
    third = start(alice, [file_entry("a.tif", DATA)])
    assert third.status_code == 429 and "at most 2" in third.json()["error"]["message"]
    assert start(bob, [file_entry("a.tif", DATA)]).status_code == 201  # per user
    upload_all(alice, first["id"], 0, DATA)  # finishing one frees a place
    assert start(alice, [file_entry("a.tif", DATA)]).status_code == 201


def test_limits_on_size_and_project(upload_dir, world, session_for, fake_omero, monkeypatch):
    from omeroweb_upload.config import upload_settings

    monkeypatch.setenv("OMERO_UPLOAD_MAX_JOB_GB", "1")
    upload_settings.cache_clear()
    alice = session_for("alice")
    huge = start(alice, [{"relative_path": "a.tif", "size": 10**9 + 1}])
    assert huge.status_code == 413 and "1 GB" in huge.json()["error"]["message"]
    other = fake_omero.add_group("other", "private")
    carol = fake_omero.add_user("carol", [other])
    theirs = fake_omero.add_project("theirs", owner=carol, group=other)
    refused = start(alice, [file_entry("a.tif", DATA)], project_id=theirs.id)
    assert refused.status_code == 404


def test_root_cannot_start_but_looks_after_jobs(upload_dir, world, session_for):
    root = session_for("root")
    assert start(root, [file_entry("a.tif", DATA)]).status_code == 403


ROUTES = ["status", "prune", "confirm", "import"]


def _call(session, route, job_id):
    if route == "status":
        return session.get(f"/omeroweb_upload/status/{job_id}/")
    body = {"keep_paths": ["a.tif"]} if route == "prune" else {}
    return session.post_json(f"/omeroweb_upload/{route}/{job_id}/", body)


@pytest.mark.parametrize("route", ROUTES)
def test_jobs_belong_to_their_owner(upload_dir, world, session_for, route):
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    # Another user: the job does not exist for them.
    other = _call(session_for("bob"), route, job["id"])
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    # Anonymous: OMERO.web's login redirect.
    anonymous = _call(session_for(None), route, job["id"])
    assert anonymous.status_code == 302 and "/webclient/login/" in anonymous["Location"]
    # The owner and root reach the job (the state decides what they may do with it).
    for who in ("alice", "root"):
        response = _call(session_for(who), route, job["id"])
        assert response.status_code in (200, 409), (who, response.content)
        if route == "status":
            assert response.json()["id"] == job["id"]
        else:
            assert "uploading" in response.json()["error"]["message"]
    # Chunks: only the owner uploads.
    assert session_for("bob").chunk(job["id"], 0, 0, DATA[:10]).status_code == 404
    assert session_for("root").chunk(job["id"], 0, 0, DATA[:10]).status_code == 403


POSTS = ["/omeroweb_upload/start/", "/omeroweb_upload/prune/{job}/",
         "/omeroweb_upload/confirm/{job}/", "/omeroweb_upload/import/{job}/",
         "/omeroweb_upload/cancel/{job}/",
         "/omeroweb_upload/user-settings/",
         "/omeroweb_upload/special-method-settings/sem_edx_spectra/",
         "/omeroweb_upload/sem-edx-preview/"]


@pytest.mark.parametrize("url", POSTS)
def test_every_post_needs_csrf(upload_dir, world, session_for, url):
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    response = alice.post_json(url.format(job=job["id"]), {}, csrf=False)
    assert response.status_code == 403
    chunk = alice.chunk(job["id"], 0, 0, DATA[:100], csrf=False)
    assert chunk.status_code == 403


def test_settings_round_trip(upload_dir, world, session_for):
    alice, bob = session_for("alice"), session_for("bob")
    assert alice.get("/omeroweb_upload/user-settings/").json() == {"settings": {}}
    alice.post_json("/omeroweb_upload/user-settings/", {"settings": {"batch_size": 3}})
    assert alice.get("/omeroweb_upload/user-settings/").json()["settings"] == {"batch_size": 3}
    assert bob.get("/omeroweb_upload/user-settings/").json() == {"settings": {}}
    url = "/omeroweb_upload/special-method-settings/sem_edx_spectra/"
    saved = alice.post_json(url, {"settings": {"create_tables": False}}).json()
    assert saved["settings"]["create_tables"] is False
    assert alice.get(url).json()["settings"]["create_figures_attachments"] is True
    assert alice.get("/omeroweb_upload/special-method-settings/other/").status_code == 404


def test_projects_lists_what_the_user_may_add_to(upload_dir, world, session_for):
    projects = session_for("alice").get("/omeroweb_upload/projects/").json()["projects"]
    assert [p["name"] for p in projects] == ["P1"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries({"files": _json}),
    st.fixed_dictionaries({"files": st.lists(st.dictionaries(
        st.sampled_from(["relative_path", "size", "sha256", "import_skip"]), _json),
        max_size=3)}, optional={"project_id": _json, "special_upload": _json,
                                "batch_size": _json, "sem_edx_settings": _json}),
    st.fixed_dictionaries({"keep_paths": _json}),
    st.fixed_dictionaries({"settings": _json}),
)


def test_property_json_endpoints_never_answer_500(upload_dir, world, session_for):
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    urls = [u.format(job=job["id"]) for u in POSTS]
    seen = {"n": 0}

    @settings(max_examples=400, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(urls), _bodies | st.binary(max_size=40).map(bytes.hex))
    def check(url, body):
        seen["n"] += 1
        raw = json.dumps(body) if not isinstance(body, str) else body
        response = alice.post_json(url, raw)
        assert response.status_code < 500, (url, raw, response.content)
        if response.status_code >= 400:
            assert "error" in response.json()

    check()
    print(f"JSON endpoints: {seen['n']} generated requests, none answered 5xx")


def test_default_size_chunks_stream_past_djangos_memory_limit(upload_dir, world, session_for,
                                                              monkeypatch):
    """Chunks of the default size (32 MiB) are far above DATA_UPLOAD_MAX_MEMORY_SIZE: the view
    reads the stream itself, so Django never buffers or refuses them."""
    from omeroweb_upload.config import upload_settings

    monkeypatch.delenv("OMERO_UPLOAD_CHUNK_BYTES")
    upload_settings.cache_clear()
    size = upload_settings().chunk_bytes
    assert size == 32 * 1024 * 1024
    data = os.urandom(size + 10)
    alice = session_for("alice")
    job = start(alice, [file_entry("big.tif", data)]).json()
    too_big = alice.chunk(job["id"], 0, 0, data)
    assert too_big.status_code == 413
    first = alice.chunk(job["id"], 0, 0, data[:size])
    assert first.status_code == 200 and first.json()["received_bytes"] == size
    last = alice.chunk(job["id"], 0, size, data[size:])
    assert last.json()["state"] == "uploaded"


@pytest.mark.parametrize("raw, message", [
    ('{"settings": {"a": Infinity}}', "NaN or Infinity"),
    ('{"settings": {"a": NaN}}', "NaN or Infinity"),
    ('{"settings": {"\\u0000": 1}}', "NUL"),
    ('{"settings": {"a": "x\\u0000y"}}', "NUL"),
])
def test_settings_postgres_cannot_store_are_a_400(upload_dir, world, session_for, raw, message):
    """Found by the property test: Python's JSON parser accepts what jsonb refuses."""
    response = session_for("alice").post_json("/omeroweb_upload/user-settings/", raw)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_a_superscript_offset_is_a_400(upload_dir, world, session_for):
    alice = session_for("alice")
    job = start(alice, [file_entry("a.tif", DATA)]).json()
    response = alice.use().client.post(f"/omeroweb_upload/upload/{job['id']}/0/?offset=¹",
                                       DATA[:10], content_type="application/octet-stream",
                                       **alice.headers, HTTP_X_CHUNK_SHA256="0" * 64)
    assert response.status_code == 400
