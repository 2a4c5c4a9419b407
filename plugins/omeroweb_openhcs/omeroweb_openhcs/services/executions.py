"""Executions: starting one (every check before anything starts) and running it in the worker
(stage → bridge → import → ledger → clean up). Views and the job kind call these functions."""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omero_plugin_common import db, jobs
from omero_plugin_common.omero_session import acting_for

from ..config import openhcs_settings
from ..plugin import GPU_QUEUE, QUEUE
from . import bridge, results, sources, staging
from .presets import ParameterError, Preset, find

log = logging.getLogger(__name__)

KIND = "openhcs_run"


class Refused(Exception):
    """Nothing was started; the message is a sentence for the user."""

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class ExecutionFailed(Exception):
    """The execution failed for a reason about the user's data or the run."""


# -- request side -------------------------------------------------------------------------


def presets() -> tuple[Preset, ...]:
    return openhcs_settings().presets


def _source_ref(raw: Any) -> tuple[str, int]:
    if not isinstance(raw, dict):
        raise Refused("Choose a plate or a dataset to process.")
    kind, ident = raw.get("type"), raw.get("id")
    if kind not in sources.TYPES:
        raise Refused("The source must be a plate or a dataset.")
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
        raise Refused(f"The {kind} must be given by its ID, a positive whole number.")
    return kind, ident


def quota_used_seconds(tx: db.Transaction, group_id: int) -> float:
    row = tx.fetchone(
        "SELECT coalesce(sum(seconds), 0) AS used FROM openhcs_processing_ledger"
        " WHERE group_id = %s AND recorded_at > now() - make_interval(days => %s)",
        (group_id, openhcs_settings().quota_period_days))
    return float(row["used"])


def _check_limits(tx: db.Transaction, owner: str, group_id: int) -> None:
    settings = openhcs_settings()
    # One start at a time per user, so two requests cannot both pass the limit.
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"openhcs/{owner}",))
    active = tx.fetchone(
        "SELECT count(*) AS n FROM plugin_jobs WHERE owner = %s AND kind = %s"
        " AND state IN ('queued', 'running')", (owner, KIND))["n"]
    if active >= settings.max_concurrent:
        raise Refused(f"You already have {active} OpenHCS execution"
                      f"{'' if active == 1 else 's'} waiting or running, the most allowed at "
                      "once; wait for one to finish or cancel one.", 429, "concurrent_limit")
    used = quota_used_seconds(tx, group_id)
    quota = settings.group_quota_hours * 3600
    if used >= quota:
        raise Refused(f"Your group has used its OpenHCS processing time for the last "
                      f"{settings.quota_period_days} days ({used / 3600:.1f} of "
                      f"{settings.group_quota_hours:g} hours); ask your facility for more.",
                      429, "quota_exhausted")


def start(conn: Any, owner: str, body: dict[str, Any]) -> jobs.Job:
    """Validate everything, then create the job and its execution row in one transaction
    (dispatched after the commit). Raises Refused; nothing is started then."""
    settings = openhcs_settings()
    try:
        preset = find(settings.presets, body.get("preset"))
        params = preset.validate(body.get("params"))
    except ParameterError as exc:
        raise Refused(str(exc)) from None
    kind, ident = _source_ref(body.get("source"))
    try:
        source = sources.describe(conn, kind, ident, settings.max_images)
    except sources.SourceError as exc:
        raise Refused(exc.message, exc.status, exc.code) from None
    with db.transaction() as tx:
        _check_limits(tx, owner, source.group_id)
        job = jobs.create(tx, KIND, owner, {
            "preset": preset.name, "params": params,
            "source": {"type": kind, "id": ident, "name": source.name},
        }, queue=GPU_QUEUE if preset.gpu else QUEUE)
        tx.execute(
            "INSERT INTO openhcs_executions (job_id, owner, group_id, preset, params,"
            " source_type, source_id, source_name, gpu, wells_total)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (str(job.id), owner, source.group_id, preset.name, _json(params), kind, ident,
             source.name, preset.gpu, len(source.wells)))
    return jobs.get(job.id) or job


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class Listed:
    job: jobs.Job
    execution: dict[str, Any]


def recent(owner: str, limit: int = 50) -> list[Listed]:
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT e.* FROM openhcs_executions e JOIN plugin_jobs j ON j.id = e.job_id"
            " WHERE e.owner = %s ORDER BY e.created_at DESC LIMIT %s", (owner, limit))
    found = []
    for row in rows:
        job = jobs.get(row["job_id"])
        if job is not None:
            found.append(Listed(job, row))
    return found


def usage(group_id: int) -> dict[str, float]:
    with db.transaction() as tx:
        used = quota_used_seconds(tx, group_id)
    settings = openhcs_settings()
    return {"used_seconds": round(used, 1), "used_hours": round(used / 3600, 2),
            "quota_hours": settings.group_quota_hours, "period_days": settings.quota_period_days}


# -- worker side --------------------------------------------------------------------------


def _execution(job_id: uuid.UUID) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.fetchone("SELECT * FROM openhcs_executions WHERE job_id = %s", (str(job_id),))
    if row is None:
        raise ExecutionFailed("This execution's record is missing.")
    return row


def _update(job_id: uuid.UUID, **values: Any) -> None:
    columns = ", ".join(f"{name} = %s" for name in values)
    with db.transaction() as tx:
        tx.execute(f"UPDATE openhcs_executions SET {columns} WHERE job_id = %s",
                   (*values.values(), str(job_id)))


def _record_time(execution: dict[str, Any], seconds: float) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO openhcs_processing_ledger (job_id, owner, group_id, seconds)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (job_id) DO NOTHING",
            (str(execution["job_id"]), execution["owner"], execution["group_id"],
             max(0.0, seconds)))


def run(ctx: jobs.JobContext) -> dict[str, Any]:
    """The job body. A failure with a reason is recorded on the execution row as a sentence
    before the job fails; the staging folder is deleted whatever the outcome."""
    try:
        return _run(ctx)
    except (ExecutionFailed, sources.SourceError, bridge.BridgeError,
            results.ImportError_) as exc:
        _update(ctx.job.id, reason=getattr(exc, "message", None) or str(exc))
        raise ExecutionFailed(getattr(exc, "message", None) or str(exc)) from None


def _run(ctx: jobs.JobContext) -> dict[str, Any]:
    settings = openhcs_settings()
    execution = _execution(ctx.job.id)
    preset = find(settings.presets, execution["preset"])
    workdir = Path(str(settings.work_dir)) / str(ctx.job.id)
    plate_dir = workdir / "plate"
    try:
        # A resumed job starts its staging afresh: the folder may hold a dead worker's half.
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        with acting_for(ctx.job.owner, group_id=execution["group_id"]) as conn:
            source = sources.describe(conn, execution["source_type"], execution["source_id"],
                                      settings.max_images, all_groups=False)
            wells = len(source.wells)
            ctx.progress(0, wells, f"Staging {source.image_count} images from OMERO.")
            staging.stage(conn, source, plate_dir, settings.stage_tile,
                          lambda done, total: ctx.progress(0, wells))
            inputs = [i for sites in source.wells.values() for i in sites.values()]
        ctx.progress(0, wells, f"Staged {len(inputs)} images; submitting to OpenHCS.")
        version = bridge.version(Path(str(settings.bridge)))
        started = time.monotonic()
        try:
            final, seconds = _execute(ctx, settings, preset, execution, plate_dir, workdir, wells)
        except jobs.JobCancelled:  # the server's time until the cancel counts too
            _record_time(execution, time.monotonic() - started)
            raise
        _record_time(execution, seconds)
        if final["event"] == "cancelled":
            raise jobs.JobCancelled()
        if final["event"] != "complete":
            raise ExecutionFailed(str(final.get("reason") or "The OpenHCS run failed."))
        ctx.progress(wells, wells, "Importing the results into OMERO.")
        imported = ctx.step("import", lambda tx: _import(ctx, execution, preset, final,
                                                         version, seconds, inputs))
        _update(ctx.job.id, result_dataset_id=imported["dataset"])
        ctx.progress(wells, wells, f"Done: {len(imported['images'])} images and "
                                   f"{len(imported['files'])} result files in OMERO.")
        return imported
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _execute(ctx: jobs.JobContext, settings: Any, preset: Preset, execution: dict[str, Any],
             plate_dir: Path, workdir: Path, wells: int) -> tuple[dict[str, Any], float]:
    state = {"done": 0, "total": wells}

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "accepted":
            ctx.progress(0, wells, "Accepted by the OpenHCS server.")
            return
        if event.get("event") != "progress":
            return
        state["done"] = int(event.get("wells_done") or state["done"])
        state["total"] = int(event.get("wells_total") or state["total"])
        well, step = event.get("well"), event.get("step")
        _update(ctx.job.id, wells_done=state["done"], wells_total=state["total"],
                current_well=well, current_step=step)
        finished = f"Well {well} done." if event.get("phase") == "axis_completed" else None
        ctx.progress(state["done"], state["total"], finished)

    def keep_going() -> None:
        ctx.progress(state["done"], state["total"])  # raises JobCancelled on request

    started = time.monotonic()
    final = bridge.run(Path(str(settings.bridge)), Path(str(settings.socket_dir)), preset.name,
                       plate_dir, execution["params"], settings.run_timeout, on_event,
                       keep_going, workdir / "bridge.stderr")
    seconds = float(final.get("seconds") or (time.monotonic() - started))
    return final, seconds


def _import(ctx: jobs.JobContext, execution: dict[str, Any], preset: Preset,
            final: dict[str, Any], version: dict[str, Any], seconds: float,
            inputs: list[int]) -> dict[str, Any]:
    job_id = str(ctx.job.id)
    created = ctx.job.created_at
    # The contract's name: source, en dash, preset title, date.
    name = f"{execution['source_name']} – {preset.title} {created:%Y-%m-%d %H:%M}"  # noqa: RUF001
    kind = execution["source_type"]
    provenance = [
        ("job_id", job_id), ("preset", preset.name), ("preset_title", preset.title),
        ("parameters", _json(execution["params"])),
        ("openhcs_version", str(version.get("openhcs"))),
        ("bridge_version", str(version.get("bridge"))),
        ("source", f"{kind}:{execution['source_id']}"),
        ("input_images", _json(inputs)),
        ("started", (ctx.job.started_at or created).isoformat()),
        ("duration_seconds", f"{seconds:.1f}"),
    ]
    output_dir = Path(str(final.get("output_dir") or ""))
    # OpenHCS writes its outputs beside the staged plate: nothing outside the job's folder.
    workdir = Path(str(openhcs_settings().work_dir)) / job_id
    if not output_dir.resolve().is_relative_to(workdir.resolve()):
        raise ExecutionFailed("OpenHCS reported its results outside this execution's folder; "
                              "nothing was imported.")
    with acting_for(ctx.job.owner, group_id=execution["group_id"]) as conn:
        source = sources.find(conn, kind, execution["source_id"], all_groups=False)
        dataset = results.result_dataset(
            conn, name, f"OpenHCS {preset.title} on {kind} {execution['source_id']}, job {job_id}",
            provenance, job_id)
        if kind == "dataset":
            results.link_to_projects(conn, source, dataset)
        images = results.import_images(conn, dataset, output_dir, list(final.get("images") or []))
        files = results.attach_files(conn, dataset, output_dir, list(final.get("results") or []))
        results.annotate_source(conn, source,
                                [*provenance, ("result_dataset", str(dataset.getId()))], job_id)
    return {"dataset": int(dataset.getId()), "dataset_name": name, "images": images,
            "files": files, "seconds": round(seconds, 1),
            "source": {"type": kind, "id": execution["source_id"]}}
