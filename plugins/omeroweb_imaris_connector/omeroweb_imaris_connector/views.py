"""Export endpoints: start (asynchronous with a job id, or synchronous), status, download.
Views parse input, call `exports`, and shape the response; ranges are handled in `ranges`."""

from __future__ import annotations

import time
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from omeroweb.decorators import login_required

from omero_plugin_common import jobs
from omero_plugin_common.omero_helpers import username
from omero_plugin_common.views import job_payload, page_views
from omero_plugin_common.web import RequestError, handle_request_errors, parse_json_body

from . import exports
from .config import imaris_settings
from .plugin import PLUGIN
from .ranges import RangeNotSatisfiable, parse_range

_, help_page = page_views(PLUGIN)
MAX_IMAGES = 100  # images chosen at once on the page


@require_GET
@login_required()
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    """The export page; the webclient's "Export to Imaris…" opens it with ?image=<id>&...."""
    return render(request, "omeroweb_imaris_connector/index.html", {
        "plugin_title": PLUGIN.title,
        "page_config": {
            "user": username(conn),
            "startUrl": reverse("omeroweb_imaris_connector_start"),
            "listUrl": reverse("omeroweb_imaris_connector_list"),
            "imagesUrl": reverse("omeroweb_imaris_connector_images"),
            "maxImages": MAX_IMAGES,
            "keepHours": round(imaris_settings().result_expires / 3600, 1),
        }})


def _image_ids(request: HttpRequest) -> list[int]:
    raw = [v for value in request.GET.getlist("id") for v in value.split(",") if v.strip()]
    if not raw:
        raise RequestError("give at least one image id: ?id=1&id=2")
    if len(raw) > MAX_IMAGES:
        raise RequestError(f"at most {MAX_IMAGES} images at once")
    return list(dict.fromkeys(_image_id(v) for v in raw))


@never_cache
@require_GET
@login_required()
@handle_request_errors
def images(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """?id=1&id=2: the images' names and whether the user may export them."""
    return JsonResponse({"images": exports.describe_images(conn, _image_ids(request))})


@never_cache
@require_GET
@login_required()
def export_list(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """The user's exports, newest first, with what the page needs to follow and download."""
    items = []
    for job in exports.recent_exports(username(conn)):
        payload = export_payload(job)
        payload["image"] = job.params.get("image")
        payload["image_name"] = job.params.get("name")
        payload["expired"] = exports.expired(job)
        payload["export_name"] = (job.result or {}).get("export_name")
        payload["size"] = (job.result or {}).get("size")
        items.append(payload)
    return JsonResponse({"exports": items, "keep_seconds": imaris_settings().result_expires})


def _image_id(raw: Any) -> int:
    if isinstance(raw, bool) or raw is None or str(raw).strip() == "":
        raise RequestError("image must be a positive integer id")
    try:
        value = int(str(raw))
    except ValueError:
        raise RequestError("image must be a positive integer id") from None
    if value <= 0:
        raise RequestError("image must be a positive integer id")
    return value


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    if str(raw).lower() in ("1", "true", "yes", "on"):
        return True
    if str(raw).lower() in ("0", "false", "no", "off", ""):
        return False
    raise RequestError("async must be a boolean (true/false or 1/0)")


def export_payload(job: jobs.Job) -> dict[str, Any]:
    """The platform's job fields plus the original's: status, failed, download_url."""
    return {
        **job_payload(job),
        "job_id": str(job.id),
        "status": job.log[-1] if job.log else job.state,
        "failed": job.state in ("failed", "cancelled"),
        "status_url": reverse("omeroweb_imaris_connector_export", args=[job.id]),
        "download_url": reverse("omeroweb_imaris_connector_download", args=[job.id]),
    }


def _visible(conn: Any, job_id: Any) -> jobs.Job:
    job = exports.visible_export(str(job_id), username(conn))
    if job is None:
        raise RequestError("no such export", 404)
    if exports.expired(job):
        raise RequestError("this export has expired; its file stays attached to the image",
                           410, "expired")
    return job


def _start(request: HttpRequest, conn: Any, image_raw: Any, async_raw: Any) -> HttpResponse:
    image_id, asynchronous = _image_id(image_raw), _flag(async_raw)
    job = exports.start(conn, image_id)
    if job is None:
        raise RequestError(f"image {image_id} not found, or you may not download it", 404)
    if asynchronous:
        return JsonResponse(export_payload(job), status=202)
    # The original's synchronous mode: wait for the job, then answer with the file.
    settings = imaris_settings()
    deadline = time.monotonic() + settings.export_timeout
    while not job.finished:
        if time.monotonic() > deadline:
            return JsonResponse({**export_payload(job), "error": {
                "code": "timeout", "message": "the export is still running; poll status_url"}},
                status=504)
        time.sleep(settings.poll_interval)
        job = jobs.get(job.id) or job
    return _file_response(request, conn, job)


def _file_response(request: HttpRequest, conn: Any, job: jobs.Job) -> HttpResponse:
    if not job.finished:
        raise RequestError("the export is not finished yet", 409, "not_ready")
    if job.state != "succeeded":
        raise RequestError(f"the export {job.state}: {job.error or ''}".strip(), 409,
                           "export_failed")
    download = exports.download_for(conn, job)
    if download is None:
        raise RequestError("the exported file is no longer available", 410, "expired")
    try:
        byte_range = parse_range(request.headers.get("Range"), download.size)
    except RangeNotSatisfiable:
        response = JsonResponse({"error": {"code": "range_not_satisfiable",
                                           "message": "requested range not satisfiable"}},
                                status=416)
        response["Content-Range"] = f"bytes */{download.size}"
        return response
    start, end = byte_range or (0, download.size - 1)
    if byte_range is None and download.local_path is not None:
        response = FileResponse(open(download.local_path, "rb"), as_attachment=True,  # noqa: SIM115 - closed by Django
                                filename=download.name, content_type="application/octet-stream")
    else:
        response = FileResponse(download.chunks(start, end), as_attachment=True,
                                filename=download.name, content_type="application/octet-stream",
                                status=206 if byte_range else 200)
        response["Content-Length"] = str(end - start + 1 if download.size else 0)
        if byte_range:
            response["Content-Range"] = f"bytes {start}-{end}/{download.size}"
    response["Accept-Ranges"] = "bytes"
    return response


@require_POST
@login_required()
@handle_request_errors
def start_export(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    """POST {"image": id, "async": true} → 202 with the job; "async": false → the file."""
    body = parse_json_body(request)
    return _start(request, conn, body.get("image"), body.get("async", True))


@never_cache
@require_GET
@login_required()
@handle_request_errors
def export_status(request: HttpRequest, job_id: Any, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(export_payload(_visible(conn, job_id)))


@never_cache
@require_GET
@login_required()
@handle_request_errors
def export_download(request: HttpRequest, job_id: Any, conn: Any = None, **_: Any
                    ) -> HttpResponse:
    return _file_response(request, conn, _visible(conn, job_id))


@never_cache
@require_http_methods(["GET", "POST"])
@login_required()
@handle_request_errors
def imaris_export(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    """The original's single route. GET ?job=<id>[&download=1]: status or file. POST
    image=<id>[&async=1] (form or query, CSRF token required): start an export."""
    if request.method == "POST":
        image = request.POST.get("image") or request.GET.get("image")
        flag = request.POST.get("async") or request.GET.get("async")
        return _start(request, conn, image, flag)
    if "image" in request.GET:
        raise RequestError("starting an export needs POST (with the CSRF token)", 405)
    job_id = request.GET.get("job", "")
    if job_id.startswith("celery-"):  # the original's job ids
        job_id = job_id[len("celery-"):]
    if not job_id:
        raise RequestError("give ?job=<id> (status or download) or POST image=<id>")
    job = _visible(conn, job_id)
    if _flag(request.GET.get("download")):
        return _file_response(request, conn, job)
    return JsonResponse(export_payload(job))
