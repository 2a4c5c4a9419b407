"""Receiving a file's chunks at its confirmed offset, checked by their SHA-256, until the whole
file's digest matches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from omero_plugin_common import db
from omero_plugin_common.web import RequestError

from .. import chunks, running_sha256
from ..config import upload_settings
from ..paths import UnsafePath
from .parsing import _sha
from .store import _advance_if_uploaded, _job_row, _restart_file, upload_dir


def receive_chunk(job_id: str, idx: int, user: str, is_admin: bool, offset: int, length: int,
                  readinto: Callable[[memoryview], int], chunk_sha256: Any, file_sha256: Any,
                  prefix_sha256: Any = None) -> dict[str, Any]:
    """One chunk at the file's confirmed offset, checked by X-Prefix-Sha256 (the digest of the
    file up to the chunk's end: one hash pass, and the last one is the whole file's digest) or
    X-Chunk-Sha256 (the chunk's digest; the file is read again once complete)."""
    settings = upload_settings()
    chunk_sha = _sha(chunk_sha256, "X-Chunk-Sha256")
    prefix_sha = _sha(prefix_sha256, "X-Prefix-Sha256")
    if chunk_sha is None and prefix_sha is None:
        raise RequestError("the X-Prefix-Sha256 or X-Chunk-Sha256 header is required")
    if prefix_sha is not None and not running_sha256.available:
        raise RequestError("this server cannot check X-Prefix-Sha256; send X-Chunk-Sha256",
                           400, "prefix_unsupported")
    final_sha = _sha(file_sha256, "X-File-Sha256")
    if length <= 0 or length > settings.chunk_bytes:
        raise RequestError(f"a chunk must carry 1 to {settings.chunk_bytes} bytes", 413)
    with db.transaction() as tx:
        job = _job_row(tx, job_id, user, is_admin)
        if job["owner"] != user:
            raise RequestError("only the owner uploads to a job", 403)
        if job["state"] != "uploading":
            raise RequestError(f"the job is {job['state']}, not uploading", 409)
        f = tx.fetchone("SELECT * FROM upload_files WHERE job_id = %s AND idx = %s",
                        (str(job_id), idx))
    if f is None:
        raise RequestError("no such file in this job", 404)
    _check_offset(f, offset, length)
    folder = chunks.files_dir(upload_dir(), job_id)
    relative = PurePosixPath(f["relative_path"])
    saved = bytes(f["sha256_state"]) if f["sha256_state"] is not None else None
    confirmed: dict[str, Any] = {}

    def still_at_offset() -> None:
        # Under the file's lock: a request that read the row before another one confirmed
        # this offset must not cut that chunk off.
        with db.transaction() as tx:
            now = tx.fetchone("SELECT * FROM upload_files WHERE job_id = %s AND idx = %s",
                              (str(job_id), idx))
        if now is None:
            raise RequestError("no such file in this job", 404)
        _check_offset(now, offset, length)

    def confirm(state: bytes | None) -> None:
        with db.transaction() as tx:
            # The running state is saved with the offset it belongs to, in one transaction,
            # after the bytes are durable: a crash leaves either both old or both new.
            confirmed["row"] = tx.fetchone(
                "UPDATE upload_files SET received_bytes = %s, chunks = chunks + 1,"
                " sha256_state = %s"
                " WHERE job_id = %s AND idx = %s AND received_bytes = %s AND state = 'pending'"
                " RETURNING *", (offset + length, state, str(job_id), idx, offset))
            if confirmed["row"] is None:
                raise RequestError("this chunk was confirmed by another request", 409,
                                   "conflict")
            tx.execute("UPDATE upload_jobs SET updated_at = now() WHERE id = %s",
                       (str(job_id),))

    try:
        chunks.check_free_space(upload_dir(), length, settings.min_free_bytes)
        state = chunks.write_chunk(folder, relative, offset, length, readinto, chunk_sha,
                                   prefix_sha, saved, still_at_offset, confirm)
    except chunks.ChunkError as exc:
        if exc.code == "file_lost":
            _restart_file(job_id, idx, folder, relative)
            raise RequestError("the server lost this file's bytes; send it again from offset "
                               "0", 409, "wrong_offset") from None
        raise RequestError(exc.message, exc.status, exc.code) from None
    except UnsafePath as exc:
        raise RequestError(str(exc)) from None
    row = confirmed["row"]
    if row["received_bytes"] == row["size"]:
        # With X-Prefix-Sha256 the server computed the whole file's digest itself, from the
        # very bytes it wrote; it is checked against the declared one without reading again.
        row = _complete_file(job_id, row, final_sha or prefix_sha,
                             prefix_sha if state is not None else None)
    return {"index": idx, "received_bytes": row["received_bytes"], "chunks": row["chunks"],
            "state": row["state"], "sha256": row["sha256"]}


def _check_offset(f: dict[str, Any], offset: int, length: int) -> None:
    if f["state"] != "pending":
        raise RequestError(f"the file is {f['state']}", 409, "conflict")
    if offset != f["received_bytes"]:
        raise RequestError(f"expected the chunk at offset {f['received_bytes']}", 409,
                           "wrong_offset")
    if offset + length > f["size"]:
        raise RequestError(f"the chunk goes past the file's declared size {f['size']}")


def _complete_file(job_id: str, row: dict[str, Any], final_sha: str | None,
                   computed: str | None) -> dict[str, Any]:
    """Compare the whole file's digest (`computed` while receiving, else read back) with the
    one declared at start or with the last chunk."""
    folder = chunks.files_dir(upload_dir(), job_id)
    relative = PurePosixPath(row["relative_path"])
    expected = row["sha256"] or final_sha
    if expected is None:
        raise RequestError("the last chunk needs X-File-Sha256 (the whole file's SHA-256)")
    actual = computed or chunks.file_sha256(folder, relative)
    with db.transaction() as tx:
        if actual != expected:
            chunks.reset_file(folder, relative)
            tx.execute("UPDATE upload_files SET received_bytes = 0, chunks = 0,"
                       " sha256_state = NULL"
                       " WHERE job_id = %s AND idx = %s", (job_id, row["idx"]))
            error = RequestError(f"{relative}: the file's SHA-256 does not match; it was "
                                 "discarded, upload it again", 422, "checksum_mismatch")
        else:
            row = tx.fetchone("UPDATE upload_files SET state = 'uploaded', sha256 = %s,"
                              " sha256_state = NULL"
                              " WHERE job_id = %s AND idx = %s RETURNING *",
                              (actual, job_id, row["idx"]))
            _advance_if_uploaded(tx, job_id)
            error = None
    if error:
        raise error
    return row
