"""The upload lifecycle as plain functions: start, chunks, status, prune, confirm, import.

States: uploading → (checking →) ready | awaiting_confirmation → importing → done | error.
Every function takes the acting username and whether that user is an administrator; a job is
visible to its owner and to administrators only (anyone else gets "no such job", a 404).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from omero_plugin_common import db, jobs
from omero_plugin_common.web import RequestError

from . import chunks, running_sha256
from .config import upload_settings
from .paths import UnsafePath, junk_reason, safe_relative_path

SEM_EDX = "sem_edx_spectra"
SEM_EDX_DEFAULTS = {"create_tables": True, "create_figures_attachments": True,
                    "create_figures_images": True}  # the original's defaults
ORPHAN_PREFIX = "Orphaned_images_base_path_import_"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def upload_dir() -> Path:
    return Path(str(upload_settings().upload_dir))


# -- validation helpers ----------------------------------------------------------------------


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(f"{key} must be true or false")
    return value


def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        raise RequestError(f"{name} must be from {low} to {high}" if high is not None
                           else f"{name} must be at least {low}")
    return value


def _sha(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value.lower()):
        raise RequestError(f"{name} must be 64 hexadecimal characters")
    return value.lower()


def dataset_name_for(relative: PurePosixPath, orphan: str) -> str:
    """One dataset per top-level folder; files at the root go to the orphan dataset."""
    return relative.parts[0] if len(relative.parts) > 1 else orphan


def parse_files(raw: Any, special: str | None) -> list[dict[str, Any]]:
    settings = upload_settings()
    if not isinstance(raw, list) or not raw:
        raise RequestError("files must be a non-empty list")
    if len(raw) > settings.max_files:
        raise RequestError(f"a job may list at most {settings.max_files} files", 413)
    files, seen = [], set()
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RequestError(f"files[{n}] must be an object")
        try:
            relative = safe_relative_path(item.get("relative_path"))
        except UnsafePath as exc:
            raise RequestError(f"files[{n}].relative_path: {exc}") from None
        if str(relative) in seen:
            raise RequestError(f"files[{n}].relative_path: {relative} is listed twice")
        seen.add(str(relative))
        size = _int(item.get("size"), f"files[{n}].size", 0)
        import_skip = _bool(item, "import_skip", False)
        if special == SEM_EDX and relative.suffix.lower() == ".txt":
            import_skip = True  # spectra are attached to images, never imported
        files.append({
            "relative_path": str(relative), "size": size,
            "sha256": _sha(item.get("sha256"), f"files[{n}].sha256"),
            "compatibility_skip": _bool(item, "compatibility_skip", False),
            "import_skip": import_skip, "skip_reason": junk_reason(relative),
        })
    return files


# -- start -----------------------------------------------------------------------------------


def start(owner: str, body: dict[str, Any], group_id: int | None,
          project_ok: Callable[[int], bool]) -> dict[str, Any]:
    settings = upload_settings()
    special = body.get("special_upload") or None
    if special not in (None, SEM_EDX):
        raise RequestError(f"special_upload must be {SEM_EDX} or empty")
    if special and settings.disable_special_methods:
        raise RequestError("special upload methods are turned off on this server", 403)
    project_id = body.get("project_id")
    if project_id is not None:
        project_id = _int(project_id, "project_id", 1)
        if not project_ok(project_id):
            raise RequestError("no such project, or you may not add data to it", 404)
    files = parse_files(body.get("files"), special)
    total = sum(f["size"] for f in files if not f["skip_reason"])
    if total > settings.max_job_gb * 10**9:
        raise RequestError(f"the files add up to more than {settings.max_job_gb} GB", 413)
    batch = body.get("batch_size", settings.batch_files)
    options = {
        "compatibility_enabled": _bool(body, "compatibility_enabled", True),
        "batch_size": _int(batch, "batch_size", 1, 10),
        "sem_edx_settings": _sem_edx_settings(body.get("sem_edx_settings"))
        if special else None,
        "sem_edx_associations": _associations(body.get("sem_edx_associations"), files)
        if special else {},
    }
    for f in files:
        if f["size"] == 0 and f["sha256"] not in (None, EMPTY_SHA256):
            raise RequestError(f"{f['relative_path']}: an empty file has SHA-256 {EMPTY_SHA256}")
    job_id = uuid.uuid4()
    orphan = ORPHAN_PREFIX + secrets.token_hex(3)
    with db.transaction() as tx:
        # Serialise one user's starts, so the bound on active uploads holds under races.
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                   (f"upload-start/{owner}",))
        active = tx.fetchone("SELECT count(*) AS n FROM upload_jobs"
                             " WHERE owner = %s AND state = 'uploading'", (owner,))["n"]
        if active >= settings.max_active_per_user:
            raise RequestError(
                f"you already have {active} uploads in progress (at most "
                f"{settings.max_active_per_user}); finish or wait for one", 429)
        tx.execute(
            "INSERT INTO upload_jobs (id, owner, project_id, group_id, special_method, options,"
            " orphan_dataset, total_bytes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (str(job_id), owner, project_id, group_id, special, json.dumps(options), orphan,
             total))
        folder = chunks.make_job_dir(upload_dir(), str(job_id))
        for idx, f in enumerate(files):
            relative = PurePosixPath(f["relative_path"])
            state = "skipped" if f["skip_reason"] else "pending"
            sha = f["sha256"]
            if state == "pending" and f["size"] == 0:
                chunks.reset_file(folder, relative)
                state, sha = "uploaded", EMPTY_SHA256
            tx.execute(
                "INSERT INTO upload_files (job_id, idx, relative_path, size, sha256, state,"
                " skip_reason, import_skip, compat, dataset_name)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (str(job_id), idx, f["relative_path"], f["size"], sha, state,
                 f["skip_reason"], f["import_skip"],
                 "compatible" if f["compatibility_skip"] or f["import_skip"] else "unknown",
                 dataset_name_for(relative, orphan)))
        _advance_if_uploaded(tx, str(job_id))
    return status(str(job_id), owner, False)


def _associations(raw: Any, files: list[dict[str, Any]]) -> dict[str, str]:
    """{spectrum path: image file path}, both listed in the job; unlisted spectra go to the
    image of the same name in their folder."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError("sem_edx_associations must map spectrum paths to image paths")
    listed = {f["relative_path"] for f in files}
    clean = {}
    for spectrum, image in raw.items():
        try:
            pair = (str(safe_relative_path(spectrum)), str(safe_relative_path(image)))
        except UnsafePath as exc:
            raise RequestError(f"sem_edx_associations: {exc}") from None
        if not set(pair) <= listed:
            raise RequestError(f"sem_edx_associations: {spectrum} → {image} names a file the "
                               "job does not list")
        clean[pair[0]] = pair[1]
    return clean


def _sem_edx_settings(raw: Any) -> dict[str, bool]:
    if raw is None:
        return dict(SEM_EDX_DEFAULTS)
    if not isinstance(raw, dict) or set(raw) - set(SEM_EDX_DEFAULTS):
        raise RequestError(f"sem_edx_settings may only set {', '.join(SEM_EDX_DEFAULTS)}")
    return {**SEM_EDX_DEFAULTS, **{key: _bool(raw, key, True) for key in raw}}


# -- reading ---------------------------------------------------------------------------------


def _job_row(tx: db.Transaction, job_id: str, user: str, is_admin: bool,
             lock: bool = False) -> dict[str, Any]:
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        raise RequestError("no such upload job", 404) from None
    row = tx.fetchone("SELECT * FROM upload_jobs WHERE id = %s" + (" FOR UPDATE" if lock else ""),
                      (str(job_id),))
    if row is None or (row["owner"] != user and not is_admin):
        raise RequestError("no such upload job", 404)
    return row


def status(job_id: str, user: str, is_admin: bool) -> dict[str, Any]:
    with db.transaction() as tx:
        job = _job_row(tx, job_id, user, is_admin)
        files = tx.fetchall("SELECT * FROM upload_files WHERE job_id = %s ORDER BY idx",
                            (str(job_id),))
    counts: dict[str, int] = {}
    for f in files:
        counts[f["compat"]] = counts.get(f["compat"], 0) + (f["state"] not in ("skipped",
                                                                               "pruned"))
    platform = jobs.get(job["platform_job_id"]) if job["platform_job_id"] else None
    if job["state"] in ("checking", "importing") and platform and platform.finished \
            and platform.state != "succeeded":
        job = _mark_lost(job, platform)
    return {
        "id": str(job["id"]), "owner": job["owner"], "state": job["state"],
        "special_upload": job["special_method"], "project_id": job["project_id"],
        "orphan_dataset": job["orphan_dataset"], "options": job["options"],
        "total_bytes": job["total_bytes"],
        "received_bytes": sum(f["received_bytes"] for f in files if f["state"] != "skipped"),
        "confirmation_required": job["state"] == "awaiting_confirmation",
        "compatibility": {"compatible": counts.get("compatible", 0),
                          "incompatible": counts.get("incompatible", 0),
                          "unknown": counts.get("unknown", 0)},
        "messages": job["messages"],
        "import_job": platform.public(log_tail=20) if platform else None,
        "files": [{
            "index": f["idx"], "relative_path": f["relative_path"], "size": f["size"],
            "received_bytes": f["received_bytes"], "chunks": f["chunks"], "state": f["state"],
            "skip_reason": f["skip_reason"], "import_skip": f["import_skip"],
            "compat": f["compat"], "dataset": f["dataset_name"], "image_ids": f["image_ids"],
            "error": f["error"], "log": f["log"][-20:],
        } for f in files],
    }


def _mark_lost(job: dict[str, Any], platform: jobs.Job) -> dict[str, Any]:
    """The background job ended without finishing the upload job (a worker died too often,
    or it was cancelled): say so instead of showing a job that never moves again."""
    message = f"the background {platform.kind} job {platform.state}: {platform.error or ''}"
    with db.transaction() as tx:
        row = tx.fetchone(
            "UPDATE upload_jobs SET state = 'error', finished_at = now(), updated_at = now(),"
            " messages = messages || jsonb_build_array(%s::text) WHERE id = %s"
            " AND state = %s RETURNING *", (message.strip(), str(job["id"]), job["state"]))
    return row or job


# -- chunks ----------------------------------------------------------------------------------


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


def _restart_file(job_id: str, idx: int, folder: Path, relative: PurePosixPath) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE upload_files SET received_bytes = 0, chunks = 0, sha256_state = NULL"
                   " WHERE job_id = %s AND idx = %s AND state = 'pending'", (str(job_id), idx))
        chunks.reset_file(folder, relative)


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


def _advance_if_uploaded(tx: db.Transaction, job_id: str) -> None:
    """uploading → checking (compatibility job) or ready, once no file is pending."""
    job = tx.fetchone("SELECT * FROM upload_jobs WHERE id = %s FOR UPDATE", (job_id,))
    pending = tx.fetchone("SELECT count(*) AS n FROM upload_files"
                          " WHERE job_id = %s AND state = 'pending'", (job_id,))["n"]
    if job["state"] != "uploading" or pending:
        return
    unknown = tx.fetchone("SELECT count(*) AS n FROM upload_files WHERE job_id = %s"
                          " AND state = 'uploaded' AND compat = 'unknown'", (job_id,))["n"]
    if job["options"].get("compatibility_enabled") and unknown:
        platform = jobs.create(tx, "upload_check", job["owner"], {"upload_id": job_id})
        tx.execute("UPDATE upload_jobs SET state = 'checking', platform_job_id = %s,"
                   " updated_at = now() WHERE id = %s", (str(platform.id), job_id))
    else:
        tx.execute("UPDATE upload_jobs SET state = 'ready', updated_at = now() WHERE id = %s",
                   (job_id,))


# -- confirm, prune, import ------------------------------------------------------------------


def prune(job_id: str, user: str, is_admin: bool, keep_paths: Any) -> dict[str, Any]:
    if not isinstance(keep_paths, list) or not all(isinstance(p, str) for p in keep_paths):
        raise RequestError("keep_paths must be a list of relative paths")
    try:
        keep = {str(safe_relative_path(p)) for p in keep_paths}
    except UnsafePath as exc:
        raise RequestError(f"keep_paths: {exc}") from None
    with db.transaction() as tx:
        job = _job_row(tx, job_id, user, is_admin, lock=True)
        if job["state"] not in ("awaiting_confirmation", "ready"):
            raise RequestError(f"the job is {job['state']}; only a checked job can be pruned",
                               409)
        files = tx.fetchall("SELECT * FROM upload_files WHERE job_id = %s AND state = 'uploaded'",
                            (job_id,))
        dropped = [f for f in files if f["relative_path"] not in keep]
        if len(dropped) == len(files):
            raise RequestError("keep_paths would drop every file; delete nothing or keep one")
        folder = chunks.files_dir(upload_dir(), job_id)
        for f in dropped:
            tx.execute("UPDATE upload_files SET state = 'pruned' WHERE job_id = %s AND idx = %s",
                       (job_id, f["idx"]))
            tx.on_commit(lambda rel=f["relative_path"]: chunks.remove_file(
                folder, PurePosixPath(rel)))
        incompatible = tx.fetchone(
            "SELECT count(*) AS n FROM upload_files WHERE job_id = %s AND state = 'uploaded'"
            " AND compat = 'incompatible'", (job_id,))["n"]
        tx.execute("UPDATE upload_jobs SET state = %s, updated_at = now() WHERE id = %s",
                   ("awaiting_confirmation" if incompatible else "ready", job_id))
    return status(job_id, user, is_admin)


def start_import(job_id: str, user: str, is_admin: bool, confirm: bool = False
                 ) -> dict[str, Any]:
    """ready → importing (confirm: also from awaiting_confirmation) on queue `upload`."""
    allowed = ("ready", "awaiting_confirmation") if confirm else ("ready",)
    with db.transaction() as tx:
        job = _job_row(tx, job_id, user, is_admin, lock=True)
        if job["state"] not in allowed:
            hint = "; confirm it first" if job["state"] == "awaiting_confirmation" else ""
            raise RequestError(f"the job is {job['state']}{hint}", 409)
        platform = jobs.create(tx, "upload_import", job["owner"], {"upload_id": job_id})
        # The check's question ("confirm to import anyway") is answered: it is not shown again.
        tx.execute("UPDATE upload_jobs SET state = 'importing', platform_job_id = %s,"
                   " messages = '[]'::jsonb, updated_at = now() WHERE id = %s",
                   (str(platform.id), job_id))
    return status(job_id, user, is_admin)


CANCELLED_UPLOAD = "You cancelled the upload; the files sent so far were deleted."
CANCELLED_IMPORT = "You cancelled the import; files imported before stay in OMERO."


def cancel(job_id: str, user: str, is_admin: bool) -> dict[str, Any]:
    """Before the import: the job ends and its files are deleted. During the import: the
    import job stops after the files under way (it ends the upload job itself)."""
    with db.transaction() as tx:
        job = _job_row(tx, job_id, user, is_admin, lock=True)
        if job["state"] in ("done", "error"):
            raise RequestError(f"the job is already {job['state']}", 409)
        if job["platform_job_id"]:
            jobs.request_cancel(job["platform_job_id"])
        if job["state"] != "importing":
            tx.execute("UPDATE upload_jobs SET state = 'error', finished_at = now(),"
                       " updated_at = now(), options = options || '{\"cancelled\": true}',"
                       " messages = jsonb_build_array(%s::text) WHERE id = %s",
                       (CANCELLED_UPLOAD, job_id))
            tx.on_commit(lambda: delete_job_files(job_id))
    return status(job_id, user, is_admin)


def delete_job_files(job_id: str) -> None:
    shutil.rmtree(chunks.job_dir(upload_dir(), job_id), ignore_errors=True)


# -- settings --------------------------------------------------------------------------------


def load_user_settings(user: str) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.fetchone("SELECT settings FROM upload_user_settings WHERE username = %s",
                          (user,))
    return row["settings"] if row else {}


def _jsonb_text(value: Any) -> str:
    """JSON that PostgreSQL's jsonb accepts: no NaN or Infinity, no NUL characters."""
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise RequestError("settings may not contain NaN or Infinity") from None
    if "\\u0000" in text:
        raise RequestError("settings may not contain NUL characters")
    return text


def save_user_settings(user: str, settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise RequestError("settings must be a JSON object")
    text = _jsonb_text(settings)
    if len(text) > 16384:
        raise RequestError("settings must be at most 16 KiB of JSON")
    with db.transaction() as tx:
        tx.execute("INSERT INTO upload_user_settings (username, settings) VALUES (%s, %s)"
                   " ON CONFLICT (username) DO UPDATE SET settings = EXCLUDED.settings,"
                   " updated_at = now()", (user, text))
    return settings


def load_method_settings(user: str, method: str) -> dict[str, Any]:
    if method != SEM_EDX:
        raise RequestError(f"unknown method {method!r}", 404)
    with db.transaction() as tx:
        row = tx.fetchone("SELECT settings FROM upload_special_method_settings"
                          " WHERE username = %s AND method_key = %s", (user, method))
    return {**SEM_EDX_DEFAULTS, **(row["settings"] if row else {})}


def save_method_settings(user: str, method: str, settings: Any) -> dict[str, Any]:
    if method != SEM_EDX:
        raise RequestError(f"unknown method {method!r}", 404)
    if not isinstance(settings, dict):
        raise RequestError("settings must be a JSON object")
    clean = _sem_edx_settings(settings)
    with db.transaction() as tx:
        tx.execute("INSERT INTO upload_special_method_settings (username, method_key, settings)"
                   " VALUES (%s, %s, %s) ON CONFLICT (username, method_key) DO UPDATE"
                   " SET settings = EXCLUDED.settings, updated_at = now()",
                   (user, method, json.dumps(clean)))
    return clean
