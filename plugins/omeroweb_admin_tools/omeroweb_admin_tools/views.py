"""Thin views: parse and check the request, call a service, answer JSON (or render a page)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from omero_plugin_common.config import common_settings
from omero_plugin_common.omero_helpers import username
from omero_plugin_common.web import RequestError, json_error, parse_json_body

from . import default_quota, quotas
from .access import root_required
from .config import admin_settings
from .services import diagnostics, logs, metrics, storage, systemd
from .services.http import OutsideBase, UpstreamError, UpstreamTimeout, fetch

log = logging.getLogger(__name__)

PAGES = (("logs", "Logs", "Read, filter, follow and download the platform's logs."),
         ("services", "Services and metrics", "Units, host metrics, scrape targets, dashboards."),
         ("storage", "Storage and quotas", "Storage by group and user, disk use, group quotas."),
         ("diagnostics", "Diagnostics", "Check OMERO.server, the databases, Redis and OMERO.web."))

MAX_CSV_BYTES = 1024 * 1024


def _page(request: HttpRequest, name: str, title: str, config: dict[str, Any]) -> HttpResponse:
    nav = [{"url": reverse(f"omeroweb_admin_tools_{key}"), "title": label, "about": about,
            "current": key == name} for key, label, about in PAGES]
    return render(request, f"omeroweb_admin_tools/{name}.html",
                  {"plugin_title": f"Admin tools: {title}", "nav": nav, "page_config": config})


@require_GET
@root_required(page=True)
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    return _page(request, "index", "overview", {"user": username(conn)})


@require_GET
@root_required(page=True)
def help_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    return _page(request, "help", "help", {})


@require_GET
@root_required()
def root_status(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"root": True, "user": username(conn)})


# --- logs -----------------------------------------------------------------------------------

@require_GET
@root_required(page=True)
def logs_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    settings = admin_settings()
    return _page(request, "logs", "logs", {
        "dataUrl": reverse("omeroweb_admin_tools_logs_data"),
        "sourcesUrl": reverse("omeroweb_admin_tools_logs_sources"),
        "lokiFilesUrl": reverse("omeroweb_admin_tools_logs_internal_labels"),
        "levels": list(logs.LEVELS), "lookback": settings.log_lookback,
        "maxEntries": settings.log_max_entries,
        "backend": "loki" if settings.loki_url else "journald"})


@require_GET
@root_required()
def logs_sources(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """With Loki, OMERO's log files are listed per log type by logs/internal-labels/ (the
    files may live on other hosts); without it, the files in this host's log directories."""
    settings = admin_settings()
    units = list(systemd.platform_units())
    if settings.loki_url:
        return JsonResponse({"units": units, "files": [], "files_from": "loki",
                             "file_services": list(settings.loki_log_types)})
    return JsonResponse({"units": units, "files_from": "local",
                         "files": logs.list_log_files(settings.omero_log_dirs),
                         "file_services": []})


@never_cache
@require_GET
@root_required()
def logs_internal_labels(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """?service=<log type>: the log file names Loki holds for it (series API, 7 days back)."""
    settings = admin_settings()
    service = request.GET.get("service", "")
    if service not in settings.loki_log_types:
        raise RequestError(f"service must be one of {', '.join(settings.loki_log_types)}")
    if not settings.loki_url:
        return json_error("ADMIN_TOOLS_LOKI_URL is not set: logs/sources/ lists the log files "
                          "of this host", 404, "loki_not_configured")
    lookback = max(logs.SERIES_LOOKBACK_SECONDS, settings.log_lookback)
    try:
        files = logs.loki_log_files(service, settings.loki_url, settings.request_timeout,
                                    lookback)
    except UpstreamTimeout as exc:
        return json_error(str(exc), 504, "log_source_timeout")
    except (logs.LogSourceError, UpstreamError, OutsideBase) as exc:
        return json_error(str(exc), 502, "log_source_failed")
    return JsonResponse({"service": service, "files": files, "lookback_seconds": lookback})


def _number(request: HttpRequest, name: str, default: float, low: float, high: float) -> float:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RequestError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low:g} and {high:g}")
    return value


def log_query_from_request(request: HttpRequest, settings: Any) -> logs.LogQuery:
    units = request.GET.getlist("unit")
    unknown = [u for u in units if u not in systemd.platform_units()]
    if unknown:
        raise RequestError(f"unit {unknown[0]!r} is not one of the platform's units")
    files = request.GET.getlist("file")
    if settings.loki_url:
        for file_id in files:
            try:
                logs.check_loki_file_id(file_id, settings.loki_log_types)
            except ValueError as exc:
                raise RequestError(str(exc)) from None
    else:
        known_files = {f["id"] for f in logs.list_log_files(settings.omero_log_dirs)}
        unknown = [f for f in files if f not in known_files]
        if unknown:
            raise RequestError(f"log file {unknown[0]!r} is not one of OMERO's log files")
    if not units and not files:
        raise RequestError("choose at least one unit or log file")
    level = request.GET.get("level") or None
    if level is not None and level not in logs.LEVELS:
        raise RequestError(f"level must be one of {', '.join(logs.LEVELS)}")
    text = request.GET.get("q", "")
    if len(text) > 200:
        raise RequestError("q is longer than 200 characters")
    now = time.time()
    until = _number(request, "until", now, 0, now + 86400)
    lookback = _number(request, "lookback", settings.log_lookback, 1, 366 * 86400)
    since = _number(request, "since", until - lookback, 0, until)
    limit = int(_number(request, "limit", settings.log_max_entries, 1, settings.log_max_entries))
    after_journal, after_ns = "", None
    if request.GET.get("cursor"):
        try:
            after_journal, after_ns = logs.decode_cursor(request.GET["cursor"])
        except ValueError as exc:
            raise RequestError(str(exc)) from None
    return logs.LogQuery(units=units, files=files, since_us=int(since * 1e6),
                         until_us=int(until * 1e6), limit=limit, level=level, text=text,
                         after_journal=after_journal, after_ns=after_ns)


@never_cache
@require_GET
@root_required()
def logs_data(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    settings = admin_settings()
    query = log_query_from_request(request, settings)
    started = time.monotonic()
    try:
        result = logs.read_logs(query, settings)
    except UpstreamTimeout as exc:
        return json_error(str(exc), 504, "log_source_timeout")
    except (logs.LogSourceError, UpstreamError, OutsideBase) as exc:
        return json_error(str(exc), 502, "log_source_failed")
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse(result)


# --- services and metrics -------------------------------------------------------------------

@require_GET
@root_required(page=True)
def services_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    settings = admin_settings()
    return _page(request, "services", "services and metrics", {
        "dataUrl": reverse("omeroweb_admin_tools_services_data"),
        "dashboards": metrics.dashboards(settings.grafana_url, settings.grafana_dashboards)})


@never_cache
@require_GET
@root_required()
def services_data(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    settings = admin_settings()
    try:
        units: Any = systemd.unit_health(systemd.platform_units(), settings.request_timeout)
        units_error = ""
    except systemd.SystemdError as exc:
        units, units_error = [], str(exc)
    return JsonResponse({
        "units": units, "units_error": units_error,
        "prometheus": metrics.overview(settings.prometheus_url, settings.request_timeout),
        "dashboards": metrics.dashboards(settings.grafana_url, settings.grafana_dashboards)})


@never_cache
@require_GET
@root_required()
def prometheus_proxy(request: HttpRequest, path: str, conn: Any = None, **_: Any
                     ) -> HttpResponse:
    """Read-only: GET of Prometheus' query API under the configured base URL, nothing else.
    The browser's cookies and headers are not sent on; redirects are refused."""
    settings = admin_settings()
    if not settings.prometheus_url:
        return json_error("ADMIN_TOOLS_PROMETHEUS_URL is not set", 404)
    params = [(k, v) for k in request.GET for v in request.GET.getlist(k)]
    try:
        url = metrics.proxy_url(settings.prometheus_url, path, params)
        status, ctype, body = fetch(url, settings.prometheus_url, settings.request_timeout)
    except OutsideBase as exc:
        return json_error(str(exc), 400, "outside_base_url")
    except UpstreamError as exc:
        return json_error(str(exc), 502, "upstream_failed")
    content_type = "application/json" if "json" in ctype else "text/plain"
    return HttpResponse(body, status=status if status < 500 else 502, content_type=content_type)


# --- storage and quotas ---------------------------------------------------------------------

@require_GET
@root_required(page=True)
def storage_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    return _page(request, "storage", "storage and quotas", {
        "dataUrl": reverse("omeroweb_admin_tools_storage_data"),
        "quotaUrl": reverse("omeroweb_admin_tools_quota_data"),
        "updateUrl": reverse("omeroweb_admin_tools_quota_update"),
        "importUrl": reverse("omeroweb_admin_tools_quota_import"),
        "templateUrl": reverse("omeroweb_admin_tools_quota_template"),
        # OMERO.web's own admin pages of a group and a user (the id 0 is replaced in JS).
        "groupUrl": reverse("wamanagegroupid", args=["edit", 0]),
        "userUrl": reverse("wamanageexperimenterid", args=["edit", 0]),
        "minQuotaGb": admin_settings().min_quota_gb})


@never_cache
@require_GET
@root_required()
def storage_data(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    settings = admin_settings()
    usage = storage.usage_by_owner_and_group(conn)
    for group in usage["groups"]:  # OMERO's own groups are never limited: no quota box
        group["quota_allowed"] = group["name"] not in quotas.SYSTEM_GROUPS
    return JsonResponse({**usage, "disk": storage.disk_usage(settings.data_dir)})


def _quota_payload() -> dict[str, Any]:
    settings = admin_settings()
    state_dir = settings.quota_state_dir
    try:
        state = quotas.load_state(state_dir)
        status = quotas.read_json(state_dir / quotas.STATUS_FILE)
    except quotas.QuotaError as exc:
        raise RequestError(str(exc), 500, "quota_state_unreadable") from None
    default_gb, _ = default_quota.default_quota_gb(settings)
    return {"state": state, "enforcer": status, "min_quota_gb": settings.min_quota_gb,
            "auto_default_quota_gb": default_gb if settings.auto_default_quota else None,
            "enforcer_message": (status or {}).get("message") or
            "the enforcer has not run yet (omero-quota-enforcer.service on the data host)"}


@never_cache
@require_GET
@root_required()
def quota_data(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(_quota_payload())


def _save_updates(conn: Any, updates: Any) -> JsonResponse:
    settings = admin_settings()
    state_dir = settings.quota_state_dir
    groups, actor = storage.group_ids(conn), username(conn)
    try:
        # Re-read under the lock the default quota job takes too: neither loses the other's.
        quotas.update_state(state_dir, lambda state: quotas.apply_updates(
            state, updates, groups, settings.min_quota_gb, actor))
    except quotas.QuotaError as exc:
        raise RequestError(str(exc)) from None
    except OSError as exc:
        return json_error(f"cannot write the quota state in {state_dir}: {exc.strerror}", 503)
    return JsonResponse(_quota_payload())


@require_POST
@root_required()
def quota_update(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """JSON {"updates": [{"group": name, "quota_gb": number or null}]}; all or nothing."""
    body = parse_json_body(request)
    return _save_updates(conn, body.get("updates"))


@require_POST
@root_required()
def quota_import(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """multipart with `file`: the CSV template filled in."""
    upload = request.FILES.get("file")
    if upload is None:
        raise RequestError("send the CSV as the multipart field `file`")
    if upload.size > MAX_CSV_BYTES:
        raise RequestError(f"CSV larger than {MAX_CSV_BYTES} bytes", 413)
    try:
        text = upload.read().decode("utf-8")
        updates = quotas.parse_csv(text)
    except UnicodeDecodeError:
        raise RequestError("the CSV is not UTF-8 text") from None
    except quotas.QuotaError as exc:
        raise RequestError(str(exc)) from None
    return _save_updates(conn, [{"group": u["group"], "quota_gb": u["quota_gb"]}
                                for u in updates])


@require_GET
@root_required()
def quota_template(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    state = quotas.load_state(admin_settings().quota_state_dir)
    names = [g for g in storage.group_ids(conn) if g not in quotas.SYSTEM_GROUPS]
    response = HttpResponse(quotas.csv_template(names, state),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="group-quotas.csv"'
    return response


# --- diagnostics ----------------------------------------------------------------------------

@require_GET
@root_required(page=True)
def diagnostics_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    return _page(request, "diagnostics", "diagnostics", {
        "runUrl": reverse("omeroweb_admin_tools_diagnostics_run"),
        "checks": [{"id": c, "description": diagnostics.CHECK_DESCRIPTIONS[c]}
                   for c in diagnostics.CHECK_IDS]})


@require_POST
@root_required()
def diagnostics_run(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """JSON {"check": one of CHECK_IDS} → results with pass/warn/fail and the reason."""
    check = parse_json_body(request).get("check")
    if check not in diagnostics.CHECK_IDS:
        raise RequestError(f"check must be one of {', '.join(diagnostics.CHECK_IDS)}")
    common = common_settings()
    # The request id ties what the page shows to this log line (operators search for it).
    request_id = uuid.uuid4().hex[:12]
    results = diagnostics.run(check, admin_settings(), (common.db_host, common.db_port))
    summary, counts = diagnostics.summary(results), diagnostics.counts(results)
    log.info("diagnostics %s request_id=%s by %s: %s (%s)", check, request_id, username(conn),
             summary, ", ".join(f"{n} {s}" for s, n in counts.items()))
    return JsonResponse({"check": check, "summary": summary, "counts": counts,
                         "request_id": request_id, "results": results})
