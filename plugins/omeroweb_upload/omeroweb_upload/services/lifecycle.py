"""The upload lifecycle as plain functions: start, status, prune, confirm, import.

States: uploading → (checking →) ready | awaiting_confirmation → importing → done | error.
Every function takes the acting username and whether that user is an administrator; a job is
visible to its owner and to administrators only (anyone else gets "no such job", a 404).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from omero_plugin_common import db, jobs
from omero_plugin_common.web import RequestError

from .. import chunks
from ..config import upload_settings
from ..paths import UnsafePath, safe_relative_path
from .parsing import (
    EMPTY_SHA256,
    ORPHAN_PREFIX,
    SEM_EDX,
    _associations,
    _bool,
    _int,
    _sem_edx_settings,
    dataset_name_for,
    parse_files,
)
from .store import _advance_if_uploaded, _job_row, _mark_lost, delete_job_files, upload_dir


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
