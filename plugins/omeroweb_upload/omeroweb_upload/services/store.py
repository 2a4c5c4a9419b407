"""The upload job's rows and folder: reading a job as its owner or an administrator, moving it
on once every file is in, marking it lost, and the folder its files are staged in."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from omero_plugin_common import db, jobs
from omero_plugin_common.web import RequestError

from .. import chunks
from ..config import upload_settings


def upload_dir() -> Path:
    return Path(str(upload_settings().upload_dir))


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


def _restart_file(job_id: str, idx: int, folder: Path, relative: PurePosixPath) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE upload_files SET received_bytes = 0, chunks = 0, sha256_state = NULL"
                   " WHERE job_id = %s AND idx = %s AND state = 'pending'", (str(job_id), idx))
        chunks.reset_file(folder, relative)


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


def delete_job_files(job_id: str) -> None:
    shutil.rmtree(chunks.job_dir(upload_dir(), job_id), ignore_errors=True)
