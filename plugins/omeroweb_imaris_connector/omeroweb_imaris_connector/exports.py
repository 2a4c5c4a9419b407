"""The export service: start an export job, run it (writer or server script back end), and
find its output for download. Plain functions; the views and the job kind are thin."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from omero_plugin_common import jobs
from omero_plugin_common.jobs import JobContext
from omero_plugin_common.omero_session import acting_for, service_session

from .config import imaris_settings
from .ims_writer import WriteOptions, write_ims
from .omero_source import image_spec, tile_reader
from .script_backend import run_export_script

PLUGIN = "omeroweb_imaris_connector"
KIND = "imaris_export"
NAMESPACE = "omero.export.ims"
CHUNK = 8 * 1024 * 1024  # the original's download chunk


class ExportError(RuntimeError):
    """The export cannot be done (image gone or not readable by its requester)."""


# -- request side ----------------------------------------------------------------------------


def start(conn: Any, image_id: int) -> jobs.Job | None:
    """Queue an export of an image the user can read and download; None when they cannot."""
    conn.SERVICE_OPTS.setOmeroGroup(-1)
    image = conn.getObject("Image", image_id)
    if image is None or not image.canDownload():
        return None
    group_id = image.getDetails().getGroup().getId()
    # The name is kept for the page's list of exports (the image may be renamed or gone later).
    return jobs.submit(KIND, conn.getUser().getName(),
                       {"image": image_id, "group": group_id, "name": image.getName()})


def recent_exports(username: str, limit: int = 50) -> list[jobs.Job]:
    """The user's exports, newest first (the page's job list and older exports)."""
    return jobs.recent(KIND, username, limit)


def describe_images(conn: Any, image_ids: list[int]) -> list[dict[str, Any]]:
    """What the page shows of images a user picked: name and whether they may export it;
    ids they cannot read come back as not found (no existence leak)."""
    conn.SERVICE_OPTS.setOmeroGroup(-1)
    found = {image.getId(): image for image in conn.getObjects("Image", image_ids)}
    described = []
    for image_id in image_ids:
        image = found.get(image_id)
        if image is None:
            described.append({"id": image_id, "found": False, "name": None, "exportable": False})
        else:
            described.append({"id": image_id, "found": True, "name": image.getName(),
                              "exportable": bool(image.canDownload())})
    return described


def visible_export(job_id: str, username: str) -> jobs.Job | None:
    """Only the requesting user, or root, sees an export job."""
    job = jobs.visible_job(job_id, username, is_admin=username == "root", plugin=PLUGIN)
    return job if job is not None and job.kind == KIND else None


def expired(job: jobs.Job, now: datetime | None = None) -> bool:
    if not job.finished_at:
        return False
    keep = timedelta(seconds=imaris_settings().result_expires)
    return (now or datetime.now(UTC)) - job.finished_at > keep


# -- worker side -----------------------------------------------------------------------------


def safe_name(name: str) -> str:
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name or "image")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"


def output_path(job: jobs.Job, image_name: str) -> Path:
    # Named after the job's creation time: a resumed job rewrites the same file.
    stamp = job.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    image_id = int(job.params["image"])
    return (Path(imaris_settings().export_dir) / f"image_{image_id}"
            / f"{safe_name(image_name)}_{stamp}.ims")


def run(ctx: JobContext) -> dict[str, Any]:
    settings = imaris_settings()
    image_id, group_id = int(ctx.params["image"]), ctx.params.get("group")
    ctx.log("connecting")
    with acting_for(ctx.job.owner, group_id=group_id) as conn:
        image = conn.getObject("Image", image_id)
        if image is None:
            raise ExportError(f"image {image_id} does not exist or {ctx.job.owner} cannot read it")
        if settings.backend == "script":
            with service_session() as admin:
                outputs = run_export_script(conn, admin, image_id, settings, on_state=ctx.log)
            return {"image": image_id, "backend": "script", **outputs}
        path = output_path(ctx.job, image.getName())
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        ctx.log("writing")
        options = WriteOptions(compression=settings.compression or None)
        report = write_ims(partial, image_spec(image), tile_reader(image), options,
                           progress=lambda done, total: ctx.progress(done, total))
        os.replace(partial, path)
        ctx.log("attaching")
        attached = ctx.step("attach", lambda tx: attach(conn, image, path))
        return {"image": image_id, "backend": "writer", "export_name": path.name,
                "export_path": str(path), "size": report.bytes_written,
                "levels": len(report.levels), **attached}


def attach(conn: Any, image: Any, path: Path) -> dict[str, Any]:
    """Attach the file to the image (in the image's group: the session's group). A retried
    step finds the annotation it made before instead of attaching the file twice."""
    for annotation in image.listAnnotations(ns=NAMESPACE):
        file = annotation.getFile()
        if file is not None and file.getName() == path.name:
            return {"file_annotation": annotation.getId(), "original_file": file.getId()}
    annotation = conn.createFileAnnfromLocalFile(
        str(path), mimetype="application/octet-stream", ns=NAMESPACE,
        desc=f"Imaris export of image {image.getId()}")
    image.linkAnnotation(annotation)
    return {"file_annotation": annotation.getId(), "original_file": annotation.getFile().getId()}


# -- downloads -------------------------------------------------------------------------------


@dataclass
class Download:
    name: str
    size: int
    local_path: Path | None  # served from the export directory when the file is there
    _store_reader: Any = None

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive), in chunks of at most CHUNK."""
        if self.local_path is not None:
            with open(self.local_path, "rb") as handle:
                handle.seek(start)
                remaining = end - start + 1
                while remaining > 0:
                    data = handle.read(min(CHUNK, remaining))
                    if not data:
                        return
                    remaining -= len(data)
                    yield data
            return
        yield from self._store_reader(start, end)


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def download_for(conn: Any, job: jobs.Job) -> Download | None:
    """Where the finished export's bytes are: the local file when it lies under the export
    directory, otherwise the attached file read from OMERO (as the requesting user)."""
    result = job.result or {}
    name = result.get("export_name") or f"image_{result.get('image')}.ims"
    local = result.get("export_path")
    if local and _under(Path(local), Path(imaris_settings().export_dir)) and Path(local).is_file():
        return Download(Path(local).name, Path(local).stat().st_size, Path(local))
    annotation_id = result.get("file_annotation")
    if not annotation_id:
        return None
    conn.SERVICE_OPTS.setOmeroGroup(-1)
    annotation = conn.getObject("FileAnnotation", int(annotation_id))
    if annotation is None:
        return None
    file = annotation.getFile()
    file_id, size = file.getId(), file.getSize()

    def read(start: int, end: int) -> Iterator[bytes]:
        store = conn.createRawFileStore()
        try:
            store.setFileId(file_id, conn.SERVICE_OPTS)
            position = start
            while position <= end:
                length = min(CHUNK, end - position + 1)
                data = store.read(position, length)
                if not data:
                    return
                position += len(data)
                yield data
        finally:
            store.close()

    return Download(safe_name(file.getName() or name) + ".ims"
                    if not (file.getName() or "").endswith(".ims") else file.getName(),
                    size, None, read)
