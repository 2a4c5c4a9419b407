"""Thin views over services: parse the request, check who asks, call one function."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from omeroweb.decorators import login_required

from omero_plugin_common.access import is_admin, is_root
from omero_plugin_common.omero_helpers import can_edit, get_id, get_text, username
from omero_plugin_common.views import page_views
from omero_plugin_common.web import RequestError, handle_request_errors, parse_json_body

from . import body, sem_edx, services
from .config import upload_settings
from .plugin import PLUGIN

_, help_page = page_views(PLUGIN)


def _who(conn: Any) -> tuple[str, bool]:
    return username(conn), is_admin(conn)


def _refuse_root_start(conn: Any) -> None:
    # Imports as root would land in the system group; root only looks after others' jobs.
    if is_root(conn):
        raise RequestError("root cannot upload; log in as the user who owns the data", 403)


@require_GET
@login_required()
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    settings = upload_settings()
    config = {
        "user": username(conn),
        "isRoot": username(conn) == "root",
        "chunkBytes": settings.chunk_bytes,
        "concurrency": 3,  # files sent in parallel (the original's OMERO_WEB_UPLOAD_CONCURRENCY)
        "specialMethods": not settings.disable_special_methods,
        "base": reverse("omeroweb_upload_index"),
    }
    return render(request, "omeroweb_upload/index.html",
                  {"plugin_title": PLUGIN.title, "page_config": config})


@require_POST
@login_required()
@handle_request_errors
def start(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    _refuse_root_start(conn)
    body = parse_json_body(request)

    def project_ok(project_id: int) -> bool:
        project = conn.getObject("Project", project_id)
        return project is not None and can_edit(project)

    group_id = conn.getEventContext().groupId
    return JsonResponse(services.start(username(conn), body, group_id, project_ok), status=201)


@require_POST
@login_required()
@handle_request_errors
def upload_chunk(request: HttpRequest, job_id: str, index: int, conn: Any = None,
                 **_: Any) -> JsonResponse:
    """Raw bytes of one chunk at ?offset=N, with X-Prefix-Sha256 (the file's digest up to the
    chunk's end) or X-Chunk-Sha256 (and X-File-Sha256 on the last, unless declared at start)."""
    offset = request.GET.get("offset", "")
    length = request.META.get("CONTENT_LENGTH") or ""
    # isascii: str.isdigit() also accepts digits such as '¹' that int() refuses.
    if not (offset.isascii() and offset.isdigit() and length.isascii() and length.isdigit()):
        raise RequestError("offset (query) and Content-Length must be non-negative integers")
    if request.content_type != "application/octet-stream":
        raise RequestError("a chunk is sent as application/octet-stream", 415)
    user, admin = _who(conn)
    result = services.receive_chunk(
        job_id, index, user, admin, int(offset), int(length), body.reader(request, int(length)),
        request.headers.get("X-Chunk-Sha256"), request.headers.get("X-File-Sha256"),
        request.headers.get("X-Prefix-Sha256"))
    return JsonResponse(result)


@never_cache
@require_GET
@login_required()
@handle_request_errors
def status(request: HttpRequest, job_id: str, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(services.status(job_id, *_who(conn)))


@require_POST
@login_required()
@handle_request_errors
def prune(request: HttpRequest, job_id: str, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    return JsonResponse(services.prune(job_id, *_who(conn), body.get("keep_paths")))


@require_POST
@login_required()
@handle_request_errors
def confirm(request: HttpRequest, job_id: str, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(services.start_import(job_id, *_who(conn), confirm=True), status=202)


@require_POST
@login_required()
@handle_request_errors
def start_import(request: HttpRequest, job_id: str, conn: Any = None, **_: Any
                 ) -> JsonResponse:
    return JsonResponse(services.start_import(job_id, *_who(conn)), status=202)


@require_POST
@login_required()
@handle_request_errors
def cancel(request: HttpRequest, job_id: str, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(services.cancel(job_id, *_who(conn)))


@never_cache
@require_GET
@login_required()
def projects(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """Projects the user may add datasets to: their own and read-write ones."""
    found = [{"id": get_id(p), "name": get_text(p.getName())}
             for p in conn.getObjects("Project") if can_edit(p)]
    return JsonResponse({"projects": sorted(found, key=lambda p: p["name"].lower())})


@require_POST
@login_required()
@handle_request_errors
def sem_edx_preview(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    """An EMSA/MSA file's plot as PNG, before upload; a malformed file gets 400 with why."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if not (length.isascii() and length.isdigit()) or not 0 < int(length) <= sem_edx.MAX_BYTES:
        raise RequestError(f"send the spectrum file (at most {sem_edx.MAX_BYTES} bytes)", 413)
    try:
        spectrum = sem_edx.parse_emsa(request.read(int(length)))
    except sem_edx.SpectrumError as exc:
        raise RequestError(str(exc), 400, "bad_spectrum") from None
    response = HttpResponse(sem_edx.plot_spectrum(spectrum).png, content_type="image/png")
    # The warnings are on the image too; as ASCII JSON here so the page can list them as text.
    response["X-Spectrum-Warnings"] = json.dumps(spectrum.warnings)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@login_required()
@handle_request_errors
def user_settings(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    user = username(conn)
    if request.method == "POST":
        body = parse_json_body(request)
        return JsonResponse({"settings": services.save_user_settings(user, body.get("settings"))})
    return JsonResponse({"settings": services.load_user_settings(user)})


@never_cache
@require_http_methods(["GET", "POST"])
@login_required()
@handle_request_errors
def method_settings(request: HttpRequest, method: str, conn: Any = None, **_: Any
                    ) -> JsonResponse:
    user = username(conn)
    if request.method == "POST":
        body = parse_json_body(request)
        return JsonResponse({"settings": services.save_method_settings(
            user, method, body.get("settings"))})
    return JsonResponse({"settings": services.load_method_settings(user, method)})
