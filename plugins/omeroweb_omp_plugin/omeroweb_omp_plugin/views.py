"""Thin views: parse the request, call a service, answer JSON. Reads are GET; writes, and the
rate-limited actions that carry a JSON body (preview, AI), are POST with CSRF."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from omeroweb.decorators import login_required

from omero_plugin_common import jobs as platform_jobs
from omero_plugin_common.access import is_admin, is_root
from omero_plugin_common.omero_helpers import username
from omero_plugin_common.views import job_payload
from omero_plugin_common.web import RequestError, json_error, parse_json_body

from . import jobs  # noqa: F401  (registers the job kinds in the web process)
from .config import omp_settings
from .plugin import PLUGIN
from .services import ai, omero_io, parsing, store
from .web_helpers import (
    batch_size,
    dataset_ids,
    image_ids,
    omp_view,
    positive_id,
    reviewed_values,
    text_field,
)

DELETE_CONFIRMATION = "DELETE"


@require_GET
@login_required()
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    urls = {name: reverse(f"omeroweb_omp_plugin_{name}") for name in (
        "projects", "datasets", "preview", "ai_regex", "ai_parse", "start_job", "start_acq_job",
        "start_delete_all_job", "start_delete_plugin_job", "varsets", "varsets_save",
        "varsets_load", "varsets_delete", "ai_credentials", "ai_credentials_save",
        "ai_credentials_test", "ai_credentials_models", "ai_credentials_delete",
        "user_settings", "user_settings_save", "user_data_delete_api_keys",
        "user_data_delete_variable_sets", "user_data_delete_all", "help")}
    config = {"user": username(conn), "isRoot": is_root(conn), "urls": urls,
              "maxVariableSets": parsing.MAX_VARIABLE_SETS,
              "defaults": {"variables": list(parsing.DEFAULT_VARIABLES),
                           "separators": list(parsing.SEPARATORS),
                           "maxVariables": parsing.MAX_VARIABLES,
                           "providers": list(ai.PROVIDERS)},
              "deleteConfirmation": DELETE_CONFIRMATION,
              "preselectProject": _preselected_project(request, conn)}
    return render(request, "omeroweb_omp_plugin/index.html",
                  {"plugin_title": PLUGIN.title, "page_config": config})


def _preselected_project(request: HttpRequest, conn: Any) -> int | None:
    """Opened from the webclient on a dataset (?dataset=5): the project to show it in."""
    raw = request.GET.get("dataset", "").split(",")[0]
    if is_root(conn) or not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        return None
    return omero_io.project_of_dataset(conn, int(raw))


@require_GET
@login_required()
def help_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    return render(request, "omeroweb_omp_plugin/help.html",
                  {"plugin_title": f"{PLUGIN.title}: help"})


@omp_view("GET", allow_root=True)
def root_status(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"is_root_user": is_root(conn)})


@omp_view("GET")
def projects(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(omero_io.list_projects(conn))


@omp_view("GET")
def datasets(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    project_id = positive_id(request.GET.get("project_id"), "project_id")
    return JsonResponse({"datasets": omero_io.list_datasets(conn, project_id)})


def _filenames(conn: Any, body: dict[str, Any], limit: int) -> list[omero_io.ImageRef]:
    return omero_io.dataset_images(conn, dataset_ids(body), limit=limit)


@omp_view("POST", limited=True)
def preview(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    """{dataset_ids, parser} → one row of parsed values per image (at most
    OMP_PREVIEW_MAX_IMAGES; the answer says when there are more)."""
    body = parse_json_body(request)
    settings = parsing.ParserSettings.from_dict(body.get("parser", {}))
    limit = omp_settings().preview_max_images
    refs: list[tuple[int, omero_io.ImageRef]] = []
    seen: set[int] = set()
    for dataset_id in dataset_ids(body):  # per dataset, so each row names its dataset
        # one more than shown, to tell whether there are more
        for ref in omero_io.dataset_images(conn, [dataset_id], limit=limit + 1 - len(refs)):
            if ref.id not in seen:
                seen.add(ref.id)
                refs.append((dataset_id, ref))
        if len(refs) > limit:
            break
    more = len(refs) > limit
    refs = refs[:limit]
    rows = parsing.preview([r.name for _, r in refs], settings,
                           deadline_seconds=omp_settings().regex_time_limit)
    for (dataset_id, ref), row in zip(refs, rows, strict=True):
        row["image_id"], row["dataset_id"], row["writable"] = ref.id, dataset_id, ref.writable
    payload: dict[str, Any] = {"rows": rows, "count": len(rows),
                               "writable": sum(1 for _, r in refs if r.writable)}
    if more:
        payload["notice"] = (f"the preview shows the first {limit:,} images; the datasets "
                             "hold more, and a write job parses them all")
    return JsonResponse(payload)


def _ai_request(conn: Any, body: dict[str, Any], refs: list[omero_io.ImageRef] | None = None
                ) -> tuple[str, str | None, str | None, list[str]]:
    provider = text_field(body, "provider", 20)
    if provider not in ai.PROVIDERS:
        raise RequestError(f"provider must be one of {', '.join(ai.PROVIDERS)}")
    model = text_field(body, "model", 100, required=False)
    names = body.get("filenames")
    if names is None:
        if refs is None:
            refs = _filenames(conn, body, ai.MAX_FILENAMES)
        names = [r.name for r in refs]
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and len(n) <= 500 for n in names)):
        raise RequestError("filenames must be a non-empty list of names")
    if provider == "local":
        return provider, model, None, names[:ai.MAX_FILENAMES]
    # The request's own faults are 4xx; ProviderError (502) is left for the provider's answers.
    try:
        model = ai.check_model(provider, model)
    except ai.ProviderError as exc:
        raise RequestError(str(exc)) from None
    key = ai.load_key(username(conn), provider)
    if key is None:
        raise RequestError(f"no API key stored for {provider}", 404, "no_api_key")
    return provider, model, key, names[:ai.MAX_FILENAMES]


@omp_view("POST", limited=True)
def ai_regex(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    provider, model, key, names = _ai_request(conn, parse_json_body(request))
    return JsonResponse(ai.suggest_regex(provider, key, model, names,
                                         omp_settings().ai_timeout))


@omp_view("POST", limited=True)
def ai_parse(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    # From datasets, each row carries its image id: the reviewed values can then be written.
    refs = None if "filenames" in body else _filenames(conn, body, ai.MAX_FILENAMES)
    provider, model, key, names = _ai_request(conn, body, refs)
    variables = parsing.validate_variables(body.get("variables", []))
    rows = ai.parse_rows(provider, key, model, names, variables, omp_settings().ai_timeout)
    ids = [r.id for r in refs] if refs is not None else [None] * len(names)
    writable = [r.writable for r in refs] if refs is not None else [None] * len(names)
    return JsonResponse({"rows": [{"name": n, "values": v, "image_id": i, "writable": w,
                                   "keys": parsing.key_names(variables, len(v))}
                                  for n, v, i, w in zip(names, rows, ids, writable,
                                                        strict=True)]})


def _submit(conn: Any, kind: str, params: dict[str, Any], body: dict[str, Any]) -> JsonResponse:
    for dataset_id in params["dataset_ids"]:  # visible to this user, or 404
        omero_io.dataset_images(conn, [dataset_id], limit=1)
    chosen = image_ids(body, omp_settings().preview_max_images)
    if chosen is not None:
        params["image_ids"] = chosen
    values = reviewed_values(body, omp_settings().preview_max_images)
    if values is not None:
        if kind != "omp_write":
            raise RequestError("Reviewed AI values can only be written as key/value pairs.")
        params["values"] = values
        params["image_ids"] = [int(i) for i in values]
    size = batch_size(body)
    if size is not None:
        params["batch_size"] = size
    job = platform_jobs.submit(kind, username(conn), params)
    return JsonResponse(_progress_payload(job), status=202)


def _delete_mode(body: dict[str, Any]) -> str:
    mode = body.get("delete_mode", "keep")
    if mode not in ("keep", "all", "plugin"):
        raise RequestError("delete_mode must be keep, all or plugin")
    if mode != "keep":
        _confirmed(body)
    return mode


def _confirmed(body: dict[str, Any]) -> None:
    if body.get("confirm") != DELETE_CONFIRMATION:
        raise RequestError(f"Type {DELETE_CONFIRMATION} in the box to confirm the deletion.",
                           code="confirmation_required")


@omp_view("POST", limited=True)
def start_job(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    settings = parsing.ParserSettings.from_dict(body.get("parser", {}))
    return _submit(conn, "omp_write", {"dataset_ids": dataset_ids(body),
                                       "parser": settings.as_dict(),
                                       "delete_mode": _delete_mode(body)}, body)


@omp_view("POST", limited=True)
def start_acq_job(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    return _submit(conn, "omp_acquisition", {"dataset_ids": dataset_ids(body),
                                             "delete_mode": _delete_mode(body)}, body)


@omp_view("POST", limited=True)
def start_delete_all_job(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    ids = dataset_ids(body)
    _confirmed(body)
    return _submit(conn, "omp_delete_all", {"dataset_ids": ids}, body)


@omp_view("POST", limited=True)
def start_delete_plugin_job(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    ids = dataset_ids(body)
    _confirmed(body)
    return _submit(conn, "omp_delete_plugin", {"dataset_ids": ids}, body)


def _progress_payload(job: platform_jobs.Job) -> dict[str, Any]:
    return {**job_payload(job),
            "progress_url": reverse("omeroweb_omp_plugin_progress", args=[job.id])}


@omp_view("GET")
def progress(request: HttpRequest, job_id: Any, conn: Any = None, **_: Any) -> JsonResponse:
    job = platform_jobs.visible_job(str(job_id), username(conn), is_admin(conn),
                                    plugin=PLUGIN.name)
    if job is None:
        return json_error("no such job", 404)
    return JsonResponse(_progress_payload(job))


# -- variable sets -----------------------------------------------------------------------


@omp_view("GET")
def varsets(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"sets": store.list_sets(username(conn)),
                         "max_sets": parsing.MAX_VARIABLE_SETS})


@omp_view("POST")
def varsets_save(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    saved = store.save_set(username(conn), body.get("set_name"), body.get("var_names"))
    return JsonResponse(saved, status=201)


@omp_view("GET")
def varsets_load(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse(store.load_set(username(conn), request.GET.get("set_name")))


@omp_view("POST")
def varsets_delete(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    store.delete_set(username(conn), parse_json_body(request).get("set_name"))
    return JsonResponse({"deleted": True})


# -- AI credentials (keys are write-only: never sent back) -------------------------------


def _provider(value: Any) -> str:
    if not isinstance(value, str) or value not in ai.ENDPOINTS:
        raise RequestError(f"provider must be one of {', '.join(ai.ENDPOINTS)}")
    return value


@omp_view("GET")
def ai_credentials(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"providers": list(ai.PROVIDERS),
                         "stored": ai.providers_with_keys(username(conn)),
                         "default_models": ai.DEFAULT_MODELS})


def _key_request(request: HttpRequest) -> tuple[str, str]:
    body = parse_json_body(request)
    key = text_field(body, "api_key", ai.MAX_KEY_LENGTH)
    if not (key.isascii() and key.isprintable()):  # it travels in an HTTP header
        raise RequestError("api_key must be printable ASCII")
    return _provider(body.get("provider")), key


@omp_view("POST", limited=True)
def ai_credentials_test(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    provider, key = _key_request(request)
    return JsonResponse({"ok": True, "models": ai.test_key(provider, key)})


@omp_view("POST", limited=True)
def ai_credentials_save(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    provider, key = _key_request(request)
    models = ai.test_key(provider, key)  # only a working key is stored
    ai.store_key(username(conn), provider, key)
    return JsonResponse({"saved": provider, "models": models}, status=201)


@omp_view("GET")
def ai_credentials_models(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    provider = _provider(request.GET.get("provider"))
    key = ai.load_key(username(conn), provider)
    if key is None:
        return json_error(f"no API key stored for {provider}", 404)
    return JsonResponse({"provider": provider, "models": ai.provider(provider).list_models(key)})


@omp_view("POST")
def ai_credentials_delete(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    provider = _provider(parse_json_body(request).get("provider"))
    return JsonResponse({"deleted": ai.delete_keys(username(conn), provider)})


# -- user settings and user data ---------------------------------------------------------


@omp_view("GET")
def user_settings(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"settings": store.get_settings(username(conn))})


@omp_view("POST")
def user_settings_save(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    body = parse_json_body(request)
    return JsonResponse({"settings": store.save_settings(username(conn), body.get("settings"))})


@omp_view("POST")
def user_data_delete_api_keys(request: HttpRequest, conn: Any = None, **_: Any
                              ) -> JsonResponse:
    return JsonResponse({"deleted": ai.delete_keys(username(conn))})


@omp_view("POST")
def user_data_delete_variable_sets(request: HttpRequest, conn: Any = None, **_: Any
                                   ) -> JsonResponse:
    return JsonResponse({"deleted": store.delete_all_sets(username(conn))})


@omp_view("POST")
def user_data_delete_all(request: HttpRequest, conn: Any = None, **_: Any) -> JsonResponse:
    return JsonResponse({"deleted": store.delete_user_data(username(conn))})
