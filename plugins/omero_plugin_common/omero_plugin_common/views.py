"""Views every plugin shares: health, job progress and cancel, the platform self-test page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from omeroweb.decorators import login_required

from . import jobs
from .access import is_admin
from .health import healthy
from .omero_helpers import username
from .plugin import PLUGIN, queues
from .web import handle_request_errors, json_error, parse_json_body


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Anonymous; no details, so it tells an outsider nothing about the platform."""
    if healthy():
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "unavailable"}, status=503)


def plugin_routes(plugin: str) -> list:
    """Routes every plugin mounts under /<plugin>/."""
    return [path("health/", health, name=f"{plugin}_health")]


def page_views(plugin: Any) -> tuple[Any, Any]:
    """A plugin's landing page and help page (login required), from its templates
    `<plugin>/index.html` and `<plugin>/help.html`; config reaches the page as one JSON blob."""

    @require_GET
    @login_required()
    def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
        context = {"plugin_title": plugin.title, "page_config": {"user": username(conn)}}
        return render(request, f"{plugin.name}/index.html", context)

    @require_GET
    @login_required()
    def help_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
        context = {"plugin_title": f"{plugin.title}: help"}
        return render(request, f"{plugin.name}/help.html", context)

    return index, help_page


def job_payload(job: jobs.Job) -> dict[str, Any]:
    return {
        **job.public(),
        "status_url": reverse("omero_plugin_common_job", args=[job.id]),
        "cancel_url": reverse("omero_plugin_common_job_cancel", args=[job.id]),
    }


@never_cache
@require_GET
@login_required()
def job_status(request: HttpRequest, job_id: Any, conn: Any = None, **_: Any) -> JsonResponse:
    """Cheap: one primary-key read. Owner or admin only; others get 404 (no existence leak)."""
    job = jobs.visible_job(str(job_id), username(conn), is_admin(conn))
    if job is None:
        return json_error("no such job", 404)
    return JsonResponse(job_payload(job))


@require_POST
@login_required()
def job_cancel(request: HttpRequest, job_id: Any, conn: Any = None, **_: Any) -> JsonResponse:
    job = jobs.visible_job(str(job_id), username(conn), is_admin(conn))
    if job is None:
        return json_error("no such job", 404)
    if job.finished:
        return json_error(f"job already {job.state}", 409)
    return JsonResponse(job_payload(jobs.request_cancel(job.id)), status=202)


@login_required()
def selftest_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    if not is_admin(conn):
        return HttpResponse("administrators only", status=403, content_type="text/plain")
    return render(request, "omero_plugin_common/selftest.html", {
        "plugin_title": "Plugin platform self-test",
        "page_config": {"startUrl": reverse("omero_plugin_common_selftest_start"),
                        "queues": list(queues())},
    })


@require_POST
@login_required()
@handle_request_errors
def selftest_start(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """Start the self-test job on a queue: {"queue", "steps", "delay"} → 202 with the job."""
    if not is_admin(conn):
        return json_error("administrators only", 403)
    body = parse_json_body(request)
    queue = body.get("queue", PLUGIN.queue)
    steps, delay = body.get("steps", 10), body.get("delay", 0.1)
    if queue not in queues():
        return json_error(f"queue must be one of {', '.join(queues())}")
    if not isinstance(steps, int) or not 1 <= steps <= 1000:
        return json_error("steps must be an integer from 1 to 1000")
    if not isinstance(delay, (int, float)) or not 0 <= delay <= 10:
        return json_error("delay must be a number of seconds from 0 to 10")
    job = jobs.submit("selftest", username(conn), {"steps": steps, "delay": delay}, queue=queue)
    return JsonResponse(job_payload(job), status=202)
