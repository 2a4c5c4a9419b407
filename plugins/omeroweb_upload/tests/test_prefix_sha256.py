"""Chunks checked by X-Prefix-Sha256: the server carries the file's running SHA-256 from chunk
to chunk in the database (saved with the confirmed offset) and never reads the file again."""

import hashlib
import io
import os
from pathlib import PurePosixPath

import pytest

from omeroweb_upload import chunks, running_sha256
from omeroweb_upload.chunks import ChunkError, write_chunk
from omeroweb_upload.running_sha256 import RunningSha256

DATA = os.urandom(200_000)  # 64 KiB chunks: three whole ones and a 3392-byte tail
CHUNK = 65536


def prefix(data, end):
    return hashlib.sha256(data[:end]).hexdigest()


def start(session, data, declared=True):
    entry = {"relative_path": "a.tif", "size": len(data)}
    if declared:
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    response = session.post_json("/omeroweb_upload/start/",
                                 {"files": [entry], "compatibility_enabled": False})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def send(session, job, offset, end, data=DATA, **extra):
    return session.chunk(job, 0, offset, data[offset:end], prefix=prefix(data, end), **extra)


@pytest.fixture
def no_reread(monkeypatch):
    def refuse(*_):
        raise AssertionError("the whole file was read again")
    monkeypatch.setattr(chunks, "file_sha256", refuse)


def _saved_state(job):
    from omero_plugin_common import db

    with db.transaction() as tx:
        return tx.fetchone("SELECT received_bytes, sha256_state FROM upload_files"
                           " WHERE job_id = %s AND idx = 0", (job,))


def test_running_state_survives_a_round_trip_through_bytes():
    data = os.urandom(10_000)
    for cut in (0, 1, 63, 64, 65, 4097, 9999):
        first = RunningSha256()
        first.update(data[:cut])
        assert first.hexdigest() == hashlib.sha256(data[:cut]).hexdigest()
        carried = RunningSha256(first.state())
        carried.update(memoryview(bytearray(data[cut:])))
        assert carried.hexdigest() == hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError):
        RunningSha256(b"short")


def test_a_file_sent_with_prefix_digests_is_verified_without_reading_it_again(
        upload_dir, world, session_for, no_reread):
    alice = session_for("alice")
    job = start(alice, DATA)
    for offset in range(0, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
        assert last.status_code == 200, last.content
        if last.json()["state"] == "pending":
            assert len(bytes(_saved_state(job)["sha256_state"])) == running_sha256.STATE_BYTES
    assert last.json()["state"] == "uploaded"
    assert last.json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA
    assert _saved_state(job)["sha256_state"] is None
    status = alice.get(f"/omeroweb_upload/status/{job}/").json()
    assert status["state"] == "ready"


def test_a_wrong_prefix_digest_is_refused_and_cut_off(upload_dir, world, session_for,
                                                      no_reread):
    alice = session_for("alice")
    job = start(alice, DATA)
    assert send(alice, job, 0, CHUNK).status_code == 200
    saved = _saved_state(job)
    corrupted = DATA[:CHUNK] + bytes([DATA[CHUNK] ^ 1]) + DATA[CHUNK + 1:]
    bad = alice.chunk(job, 0, CHUNK, corrupted[CHUNK:2 * CHUNK],
                      prefix=prefix(DATA, 2 * CHUNK))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "checksum_mismatch"
    assert (upload_dir / job / "files" / "a.tif").stat().st_size == CHUNK
    assert _saved_state(job) == saved  # offset and running state both unchanged
    for offset in range(CHUNK, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
    assert last.json()["state"] == "uploaded"
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA


def test_resume_after_a_crash_between_write_and_confirmation(upload_dir, world, session_for,
                                                            no_reread):
    """A worker killed after writing a chunk but before saving the offset: the file holds
    bytes past the confirmed offset, the database the state of the confirmed bytes only. The
    next chunk at the confirmed offset cuts them off and carries the saved state on."""
    alice = session_for("alice")
    job = start(alice, DATA)
    assert send(alice, job, 0, CHUNK).status_code == 200
    path = upload_dir / job / "files" / "a.tif"
    with open(path, "r+b") as handle:  # what the lost request had written, and some garbage
        handle.seek(CHUNK)
        handle.write(DATA[CHUNK:2 * CHUNK] + os.urandom(5000))
    interrupted = io.BytesIO(DATA[CHUNK:CHUNK + 1000])  # and a chunk cut off in transit
    with pytest.raises(ChunkError, match="ended after 1000"):
        write_chunk(upload_dir / job / "files", PurePosixPath("a.tif"), CHUNK, CHUNK,
                    interrupted.readinto, None, prefix(DATA, 2 * CHUNK),
                    bytes(_saved_state(job)["sha256_state"]))
    assert path.stat().st_size == CHUNK
    for offset in range(CHUNK, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
        assert last.status_code == 200, last.content
    assert last.json()["state"] == "uploaded" and path.read_bytes() == DATA


def test_chunk_and_prefix_digests_mix_within_one_file(upload_dir, world, session_for):
    """An older client's chunks (X-Chunk-Sha256) leave no running state: a prefix-checked chunk
    after them rebuilds it from the file once; a chunk-checked last chunk reads the file."""
    alice = session_for("alice")
    job = start(alice, DATA)
    assert alice.chunk(job, 0, 0, DATA[:CHUNK]).status_code == 200
    assert _saved_state(job)["sha256_state"] is None
    assert send(alice, job, CHUNK, 2 * CHUNK).status_code == 200
    assert _saved_state(job)["sha256_state"] is not None
    assert alice.chunk(job, 0, 2 * CHUNK, DATA[2 * CHUNK:3 * CHUNK]).status_code == 200
    last = alice.chunk(job, 0, 3 * CHUNK, DATA[3 * CHUNK:])
    assert last.json()["state"] == "uploaded"
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA


def test_the_last_prefix_digest_must_match_the_declared_one(upload_dir, world, session_for,
                                                            no_reread):
    """The client changed the file after declaring its digest: every chunk matches what was
    sent, the whole does not match what was declared: discarded, as with X-Chunk-Sha256."""
    alice = session_for("alice")
    changed = DATA[:-1] + bytes([DATA[-1] ^ 1])
    job = start(alice, DATA)
    for offset in range(0, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)), data=changed)
    assert last.status_code == 422 and last.json()["error"]["code"] == "checksum_mismatch"
    status = alice.get(f"/omeroweb_upload/status/{job}/").json()
    assert status["files"][0]["received_bytes"] == 0 and status["state"] == "uploading"
    assert _saved_state(job)["sha256_state"] is None


def test_undeclared_file_takes_the_last_prefix_digest(upload_dir, world, session_for,
                                                      no_reread):
    alice = session_for("alice")
    job = start(alice, DATA, declared=False)
    for offset in range(0, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
    assert last.json()["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_unaligned_chunks_fall_back_to_cached_writes(upload_dir, world, session_for,
                                                     no_reread):
    """O_DIRECT takes whole 4 KiB blocks at 4 KiB offsets only; other pieces are written
    through the page cache, and the file is the same either way."""
    alice = session_for("alice")
    job = start(alice, DATA)
    pieces = ((0, 4096), (4096, 10_000), (10_000, 12_288), (12_288, 77_824), (77_824, 140_000),
              (140_000, len(DATA)))  # aligned, odd, odd, aligned again, odd, the tail
    for offset, end in pieces:
        last = send(alice, job, offset, end)
        assert last.status_code == 200, last.content
    assert last.json()["state"] == "uploaded"
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA


def test_a_server_without_the_running_hash_says_so(upload_dir, world, session_for,
                                                   monkeypatch):
    monkeypatch.setattr(running_sha256, "available", False)
    alice = session_for("alice")
    job = start(alice, DATA)
    refused = send(alice, job, 0, CHUNK)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "prefix_unsupported"
    assert alice.chunk(job, 0, 0, DATA[:CHUNK]).status_code == 200


def test_a_chunk_needs_one_of_the_digests(upload_dir, world, session_for):
    alice = session_for("alice")
    job = start(alice, DATA)
    bare = alice.use().client.post(f"/omeroweb_upload/upload/{job}/0/?offset=0", DATA[:CHUNK],
                                   content_type="application/octet-stream", **alice.headers)
    assert bare.status_code == 400 and "X-Prefix-Sha256" in bare.json()["error"]["message"]
    malformed = alice.chunk(job, 0, 0, DATA[:CHUNK], prefix="xyz")
    assert malformed.status_code == 400


def test_a_request_that_read_a_stale_offset_cannot_cut_off_a_confirmed_chunk(
        upload_dir, world, session_for, monkeypatch, no_reread):
    """Two requests for one offset: the second read the row before the first confirmed it.
    The offset is checked again under the file's lock, before anything is cut off."""
    from omeroweb_upload.services import chunk_upload as services

    alice = session_for("alice")
    job = start(alice, DATA)
    assert send(alice, job, 0, CHUNK).status_code == 200
    real_check, calls = services._check_offset, []

    def stale_first_check(f, offset, length):
        calls.append(offset)
        if len(calls) > 1:  # the check under the lock sees the database as it is
            real_check(f, offset, length)
    monkeypatch.setattr(services, "_check_offset", stale_first_check)
    other = os.urandom(CHUNK)
    late = alice.chunk(job, 0, 0, other, prefix=hashlib.sha256(other).hexdigest())
    assert late.status_code == 409 and late.json()["error"]["code"] == "wrong_offset"
    assert calls == [0, 0]
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA[:CHUNK]
    monkeypatch.setattr(services, "_check_offset", real_check)
    for offset in range(CHUNK, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
    assert last.json()["state"] == "uploaded"
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA


def test_confirmed_bytes_lost_on_disk_restart_the_file_instead_of_a_hole(
        upload_dir, world, session_for, no_reread):
    """Without the final re-read nothing else would notice: a file shorter than its confirmed
    offset (a disk that lied about fdatasync, a hand in the folder) is never extended with
    zeros; the client is sent back to offset 0."""
    alice = session_for("alice")
    job = start(alice, DATA)
    for offset in (0, CHUNK):
        assert send(alice, job, offset, offset + CHUNK).status_code == 200
    os.truncate(upload_dir / job / "files" / "a.tif", 1000)
    lost = send(alice, job, 2 * CHUNK, 3 * CHUNK)
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "wrong_offset"
    status = alice.get(f"/omeroweb_upload/status/{job}/").json()
    assert status["files"][0]["received_bytes"] == 0
    assert _saved_state(job)["sha256_state"] is None
    for offset in range(0, len(DATA), CHUNK):
        last = send(alice, job, offset, min(offset + CHUNK, len(DATA)))
    assert last.json()["state"] == "uploaded"
    assert (upload_dir / job / "files" / "a.tif").read_bytes() == DATA
