"""Background jobs of the upload plugin (queue `upload`): compatibility check and import.

No session key is stored anywhere: the import obtains a session for the job's owner through
the job-service account (omero_session.acting_for) while it runs. A file whose import was
under way when a worker died is marked failed with the reason (it may or may not be in OMERO;
the user checks the dataset), never retried silently: no file is half-imported unnoticed.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from omero_plugin_common import db
from omero_plugin_common.jobs import JobContext, job_kind

from . import chunks, sem_edx
from .importer import ImportResult, OmeroSession, default_importer
from .plugin import PLUGIN as _REGISTRATION
from .services import SEM_EDX, SEM_EDX_DEFAULTS, upload_dir

PLUGIN = _REGISTRATION.name  # job rows and kinds carry the registry's name
CRASHED = ("the worker stopped while this file was being imported; it may be partly in OMERO: "
           "check the dataset before uploading it again")


def _job(upload_id: str) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.fetchone("SELECT * FROM upload_jobs WHERE id = %s", (upload_id,))
    if row is None:
        raise LookupError(f"upload job {upload_id} is gone (cleaned up?)")
    return row


def _files(upload_id: str, where: str, params: tuple = ()) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.fetchall(f"SELECT * FROM upload_files WHERE job_id = %s AND {where}"
                           " ORDER BY idx", (upload_id, *params))


def _set_state(upload_id: str, state: str, message: str | None = None) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE upload_jobs SET state = %s, updated_at = now(),"
            " finished_at = CASE WHEN %s IN ('done', 'error') THEN now() ELSE finished_at END,"
            " messages = CASE WHEN %s::text IS NULL THEN messages"
            " ELSE messages || jsonb_build_array(%s::text) END WHERE id = %s",
            (state, state, message, message, upload_id))


@job_kind("upload_check", plugin=PLUGIN)
def check_compatibility(ctx: JobContext) -> dict[str, int]:
    upload_id = ctx.params["upload_id"]
    importer = default_importer()
    folder = chunks.files_dir(upload_dir(), upload_id)
    todo = _files(upload_id, "state = 'uploaded' AND compat = 'unknown'")
    counts = {"compatible": 0, "incompatible": 0}
    for n, f in enumerate(todo, 1):
        verdict = "compatible" if importer.check(folder / f["relative_path"]) else "incompatible"
        counts[verdict] += 1
        with db.transaction() as tx:
            tx.execute("UPDATE upload_files SET compat = %s WHERE job_id = %s AND idx = %s",
                       (verdict, upload_id, f["idx"]))
        ctx.progress(n, len(todo), f"{f['relative_path']}: {verdict}")
    with db.transaction() as tx:
        left = tx.fetchone("SELECT count(*) AS n FROM upload_files WHERE job_id = %s"
                           " AND state = 'uploaded' AND compat = 'incompatible'",
                           (upload_id,))["n"]
    _set_state(upload_id, "awaiting_confirmation" if left else "ready",
               f"{left} file(s) OMERO cannot read: confirm to import anyway, or prune them"
               if left else None)
    return counts


# -- import ----------------------------------------------------------------------------------


def _omero_address() -> tuple[str, int]:
    from omero_plugin_common.config import common_settings

    settings = common_settings()
    return settings.omero_host, int(settings.omero_port)


def _find_or_create_dataset(conn: Any, name: str, project_id: int | None) -> int:
    """Check before write: a resumed job finds the dataset its first attempt created."""
    import omero
    import omero.clients  # fills omero.model in any process
    from omero.rtypes import rstring

    opts = {"project": project_id} if project_id else {"orphaned": True}
    opts["owner"] = conn.getUserId()
    for dataset in conn.getObjects("Dataset", opts=opts):
        if dataset.getName() == name:
            return int(dataset.getId())
    dataset = omero.model.DatasetI()
    dataset.setName(rstring(name))
    update = conn.getUpdateService()
    dataset = update.saveAndReturnObject(dataset, conn.SERVICE_OPTS)
    if project_id:
        link = omero.model.ProjectDatasetLinkI()
        link.setParent(omero.model.ProjectI(project_id, False))
        link.setChild(omero.model.DatasetI(dataset.getId().getValue(), False))
        update.saveObject(link, conn.SERVICE_OPTS)
    return dataset.getId().getValue()


def _record(upload_id: str, f: dict[str, Any], result: ImportResult, found: list[int]) -> None:
    ok = result.ok and sorted(found) == sorted(result.image_ids)
    error = result.error
    if result.ok and not ok:
        error = f"OMERO does not show image(s) {sorted(set(result.image_ids) - set(found))}"
    with db.transaction() as tx:
        tx.execute("UPDATE upload_files SET state = %s, image_ids = %s, error = %s, log = %s"
                   " WHERE job_id = %s AND idx = %s",
                   ("imported" if ok else "failed", json.dumps(sorted(result.image_ids)),
                    error, json.dumps(result.log), upload_id, f["idx"]))
        tx.execute("UPDATE upload_jobs SET updated_at = now() WHERE id = %s", (upload_id,))


@job_kind("upload_import", plugin=PLUGIN)
def import_job(ctx: JobContext) -> dict[str, Any]:
    from omero_plugin_common.omero_session import acting_for

    upload_id = ctx.params["upload_id"]
    job = _job(upload_id)
    try:
        return _import(ctx, job, acting_for)
    except Exception as exc:
        if type(exc).__name__ == "JobCancelled":
            _mark_cancelled(upload_id)
        elif type(exc).__name__ not in ("JobSuperseded", "TransientJobError"):
            _set_state(upload_id, "error", f"import failed: {exc}")
        raise


def _mark_cancelled(upload_id: str) -> None:
    from .services import CANCELLED_IMPORT

    with db.transaction() as tx:  # the files not reached stay 'uploaded'
        tx.execute("UPDATE upload_jobs SET options = options || '{\"cancelled\": true}'"
                   " WHERE id = %s", (upload_id,))
    _set_state(upload_id, "error", CANCELLED_IMPORT)


def _import(ctx: JobContext, job: dict[str, Any], acting_for: Any) -> dict[str, Any]:
    upload_id, owner = str(job["id"]), job["owner"]
    with db.transaction() as tx:
        crashed = tx.fetchall("UPDATE upload_files SET state = 'failed', error = %s"
                              " WHERE job_id = %s AND state = 'importing' RETURNING relative_path",
                              (CRASHED, upload_id))
    for f in crashed:
        ctx.log(f"{f['relative_path']}: {CRASHED}")
    todo = _files(upload_id, "state = 'uploaded' AND NOT import_skip")
    names = sorted({f["dataset_name"] for f in _files(upload_id, "state IN ('uploaded',"
                                                      " 'imported', 'failed')")})
    host, port = _omero_address()
    importer = default_importer()
    folder = chunks.files_dir(upload_dir(), upload_id)
    batch_size = int(job["options"].get("batch_size", 5))
    with acting_for(owner, group_id=job["group_id"]) as conn:
        datasets = ctx.step("datasets", lambda tx: {
            name: _find_or_create_dataset(conn, name, job["project_id"]) for name in names})
    done = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        with db.transaction() as tx:
            tx.execute("UPDATE upload_files SET state = 'importing' WHERE job_id = %s"
                       " AND idx = ANY(%s)", (upload_id, [f["idx"] for f in batch]))
        with acting_for(owner, group_id=job["group_id"]) as conn:
            session = OmeroSession(host, port, owner, conn.getEventContext().sessionUuid)
            with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                results = list(pool.map(lambda f, s=session: importer.import_file(
                    folder / f["relative_path"], s, datasets[f["dataset_name"]]), batch))
            for f, result in zip(batch, results, strict=True):
                found = [int(i.getId()) for i in conn.getObjects("Image", result.image_ids)] \
                    if result.image_ids else []
                _record(upload_id, f, result, found)
        # Progress (where a cancel takes effect) only once the whole batch is recorded.
        for f, result in zip(batch, results, strict=True):
            done += 1
            ctx.progress(done, len(todo), f"{f['relative_path']}: "
                         + ("imported" if result.ok else f"failed: {result.error}"))
    if job["special_method"] == SEM_EDX:
        _attach_spectra(ctx, job, datasets, acting_for)
    failed = _files(upload_id, "state = 'failed'")
    imported = _files(upload_id, "state = 'imported'")
    summary = {"imported": len(imported), "failed": len(failed),
               "images": sum(len(f["image_ids"]) for f in imported)}
    _set_state(upload_id, "error" if failed else "done",
               f"{len(imported)} file(s) imported, {len(failed)} failed")
    return summary


def _import_plot(conn: Any, spectrum: sem_edx.Spectrum, path: PurePosixPath, dataset_id: int,
                 work: Path) -> dict[str, Any]:
    """The spectrum plot imported as an image of its own (the user's create_figures_images)."""
    png = work / f"{path.stem}_spectrum.png"
    png.write_bytes(sem_edx.plot_spectrum(spectrum).png)
    host, port = _omero_address()
    owner = conn.getUser().getName()
    session = OmeroSession(host, port, owner, conn.getEventContext().sessionUuid)
    result = default_importer().import_file(png, session, dataset_id)
    return {"ok": result.ok, "image_ids": result.image_ids, "error": result.error}


def _attach_spectra(ctx: JobContext, job: dict[str, Any], datasets: dict[str, int],
                    acting_for: Any) -> None:
    """Each spectrum goes to the image of the same name in its folder, else to the dataset."""
    upload_id = str(job["id"])
    folder = chunks.files_dir(upload_dir(), upload_id)
    options = job["options"].get("sem_edx_settings") or dict(SEM_EDX_DEFAULTS)
    associations = job["options"].get("sem_edx_associations") or {}
    images: dict[str, int] = {}
    by_path: dict[str, int] = {}
    for f in _files(upload_id, "state = 'imported'"):
        path = PurePosixPath(f["relative_path"])
        if f["image_ids"]:
            images[str(path.with_suffix(""))] = f["image_ids"][0]
            by_path[f["relative_path"]] = f["image_ids"][0]
    spectra = _files(upload_id, "state = 'uploaded' AND import_skip"
                     " AND lower(relative_path) LIKE '%%.txt'")
    with acting_for(job["owner"], group_id=job["group_id"]) as conn, \
            tempfile.TemporaryDirectory(prefix="sem-edx-") as work:
        for f in spectra:
            path = PurePosixPath(f["relative_path"])
            try:
                with open(folder / path, "rb") as stream:  # a huge .txt is not read whole
                    raw = stream.read(sem_edx.MAX_BYTES + 1)
                spectrum = sem_edx.parse_emsa(raw)
                result = ctx.step(f"spectrum-{f['idx']}", lambda tx, raw=raw, sp=spectrum,
                                  path=path, ds=datasets[f["dataset_name"]]:
                                  sem_edx.attach_spectrum(
                                      conn, path.name, raw, sp,
                                      by_path.get(associations.get(str(path), ""))
                                      or images.get(str(path.with_suffix(""))), ds, options,
                                      Path(work)))
                if options.get("create_figures_images"):
                    result["plot_image"] = ctx.step(
                        f"spectrum-image-{f['idx']}", lambda tx, sp=spectrum, path=path,
                        ds=datasets[f["dataset_name"]]: _import_plot(conn, sp, path, ds,
                                                                      Path(work)))
                warnings = [f"warning: {w}" for w in spectrum.warnings]
                state, error, log = "imported", None, [json.dumps(result), *warnings]
            except sem_edx.SpectrumError as exc:
                state, error, log, warnings = "failed", f"{path.name}: {exc}", [], []
            with db.transaction() as tx:
                tx.execute("UPDATE upload_files SET state = %s, error = %s, log = %s"
                           " WHERE job_id = %s AND idx = %s",
                           (state, error, json.dumps(log), upload_id, f["idx"]))
            for warning in warnings:
                ctx.log(f"{path}: {warning}")
            ctx.log(f"{path}: " + (error or "spectrum attached"))
