"""Pages and JSON endpoints of the OpenHCS plugin. Views parse input, call
services.executions, and shape the response; every refusal is a 4xx JSON error sentence."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from omeroweb.decorators import login_required

from omero_plugin_common.omero_helpers import can_annotate, get_id, get_text, username
from omero_plugin_common.views import job_payload, page_views
from omero_plugin_common.web import RequestError, handle_request_errors, parse_json_body

from .plugin import PLUGIN
from .services import executions, sources

_, help_page = page_views(PLUGIN)
PICKER_LIMIT = 500


@require_GET
@login_required()
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    """The page; the webclient's "Process with OpenHCS…" opens it with ?plate= or ?dataset=."""
    return render(request, "omeroweb_openhcs/index.html", {
        "plugin_title": PLUGIN.title,
        "page_config": {
            "user": username(conn),
            "presetsUrl": reverse("omeroweb_openhcs_presets"),
            "sourcesUrl": reverse("omeroweb_openhcs_sources"),
            "startUrl": reverse("omeroweb_openhcs_start"),
            "listUrl": reverse("omeroweb_openhcs_list"),
        }})


@never_cache
@require_GET
@login_required()
def preset_list(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    group = int(conn.getEventContext().groupId)
    return JsonResponse({"presets": [p.public() for p in executions.presets()],
                         "usage": executions.usage(group)})


def _positive(raw: str | None, what: str) -> int:
    if raw is None or not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise RequestError(f"{what} must be a positive whole number")
    return int(raw)


def _source_json(obj: Any, kind: str) -> dict[str, Any]:
    return {"type": kind, "id": get_id(obj), "name": get_text(obj),
            "can_annotate": can_annotate(obj)}


@never_cache
@require_GET
@login_required()
@handle_request_errors
def source_list(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """?type=dataset|plate: what the user may choose (by name, at most 500); with &id=N
    that one object (404 when missing or hidden)."""
    kind = request.GET.get("type", "")
    if kind not in sources.TYPES:
        raise RequestError("type must be plate or dataset")
    if "id" in request.GET:
        try:
            obj = sources.find(conn, kind, _positive(request.GET.get("id"), "id"))
        except sources.SourceError as exc:
            raise RequestError(exc.message, exc.status) from None
        return JsonResponse({"sources": [_source_json(obj, kind)]})
    conn.SERVICE_OPTS.setOmeroGroup("-1")
    found = conn.getObjects(sources.OMERO_TYPE[kind],
                            opts={"limit": PICKER_LIMIT, "order_by": "lower(obj.name)"})
    return JsonResponse({"sources": [_source_json(o, kind) for o in found]})


@require_POST
@login_required()
@handle_request_errors
def start(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """POST {"preset", "params", "source": {"type", "id"}} → 202 with the execution."""
    body = parse_json_body(request)
    try:
        job = executions.start(conn, username(conn), body)
    except executions.Refused as exc:
        raise RequestError(exc.message, exc.status, exc.code) from None
    listed = [x for x in executions.recent(username(conn), 5) if x.job.id == job.id]
    return JsonResponse(execution_payload(listed[0]) if listed else job_payload(job),
                        status=202)


def execution_payload(item: executions.Listed) -> dict[str, Any]:
    job, row = item.job, item.execution
    payload = job_payload(item.job)
    source = {"type": row["source_type"], "id": row["source_id"], "name": row["source_name"]}
    titles = {p.name: p.title for p in executions.presets()}
    payload.update({
        "preset": row["preset"], "preset_title": titles.get(row["preset"], row["preset"]),
        "params": row["params"], "gpu": row["gpu"], "source": source,
        "wells_done": row["wells_done"] or 0, "wells_total": row["wells_total"],
        "current_well": row["current_well"] if not job.finished else None,
        "current_step": row["current_step"] if not job.finished else None,
        "result_dataset": row["result_dataset_id"],
        # The reason as a sentence about the data; the platform's error otherwise (e.g. a lost
        # worker), without the exception's class name.
        "reason": row["reason"] or _sentence(job.error) if job.state == "failed" else None,
    })
    return payload


def _sentence(error: str | None) -> str | None:
    if not error:
        return None
    head, _, rest = error.partition(": ")
    return rest if rest and head.isidentifier() else error


@never_cache
@require_GET
@login_required()
def execution_list(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"executions": [execution_payload(x) for x in
                                        executions.recent(username(conn))]})
