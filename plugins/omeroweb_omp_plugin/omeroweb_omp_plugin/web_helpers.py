"""What every OMP view shares: method, login, root refusal, the rate limit, and turning the
services' refusals into 4xx JSON (never a 500)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import omero
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from omeroweb.decorators import login_required

from omero_plugin_common.access import is_root
from omero_plugin_common.config import common_settings
from omero_plugin_common.omero_helpers import username
from omero_plugin_common.ratelimit import RateLimit
from omero_plugin_common.secret_store import SecretUnreadable
from omero_plugin_common.web import RequestError, handle_request_errors, json_error

from .services import ai, omero_io, parsing, safe_regex, store

# One shared counter for previews, AI requests and job starts, as in the original.
MAJOR_ACTIONS = RateLimit("omp-major-actions", limit=6, window_seconds=60)
BLOCK_SECONDS = 60
MAX_DATASETS = 100


def _blocked_response(seconds: int) -> HttpResponse:
    response = json_error(
        f"too many actions: at most {MAJOR_ACTIONS.limit} per {MAJOR_ACTIONS.window_seconds} s;"
        f" try again in {seconds} s", 429, retry_after=seconds)
    response["Retry-After"] = str(seconds)
    return response


def check_rate_limit(user: str) -> HttpResponse | None:
    """The platform limiter, plus the original's 60 s block once the limit was exceeded."""
    cache = caches[common_settings().ratelimit_cache]
    block_key = f"ratelimit:omp-block:{user}"
    if cache.get(block_key):
        ttl = cache.ttl(block_key) if hasattr(cache, "ttl") else None  # django-redis has ttl
        return _blocked_response(ttl if isinstance(ttl, int) and ttl > 0 else BLOCK_SECONDS)
    if not MAJOR_ACTIONS.hit(user).allowed:
        cache.set(block_key, 1, timeout=BLOCK_SECONDS)
        return _blocked_response(BLOCK_SECONDS)
    return None


_REFUSALS: tuple[tuple[type[BaseException], int], ...] = (
    (parsing.ParseError, 400),
    (safe_regex.RegexError, 400),
    (ai.ProviderError, 502),
    (omero_io.NotFound, 404),
    (SecretUnreadable, 409),
    (omero.SecurityViolation, 403),
)


def omp_view(method: str, *, allow_root: bool = False, limited: bool = False
             ) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    require = require_GET if method == "GET" else require_POST

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, conn: Any = None,
                    **kwargs: Any) -> HttpResponse:
            if not allow_root and is_root(conn):
                return json_error("the OMERO root user cannot use this plugin; log in as a "
                                  "regular user", 403)
            if limited:
                refused = check_rate_limit(username(conn))
                if refused is not None:
                    return refused
            try:
                return view(request, *args, conn=conn, **kwargs)
            except store.StoreError as exc:
                return json_error(str(exc), exc.status)
            except _exception_types() as exc:
                status = next(s for t, s in _REFUSALS if isinstance(exc, t))
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                return json_error(message, status)

        return require(never_cache(login_required()(handle_request_errors(wrapper))))

    return decorate


def _exception_types() -> tuple[type[BaseException], ...]:
    return tuple(t for t, _ in _REFUSALS)


def dataset_ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("dataset_ids")
    if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_DATASETS
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63
                       for i in ids)):
        raise RequestError("Choose at least one dataset." if not ids else
                           f"Choose at most {MAX_DATASETS} datasets at a time.",
                           code="no_datasets")
    return list(dict.fromkeys(ids))


def image_ids(body: dict[str, Any], limit: int) -> list[int] | None:
    """The images the user kept ticked in the preview; None: every image of the datasets."""
    ids = body.get("image_ids")
    if ids is None:
        return None
    if (not isinstance(ids, list) or not 1 <= len(ids) <= limit
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63
                       for i in ids)):
        raise RequestError("Tick at least one image in the preview." if not ids else
                           f"At most {limit} images can be chosen one by one.")
    return list(dict.fromkeys(ids))


def reviewed_values(body: dict[str, Any], limit: int) -> dict[str, list[str]] | None:
    """{image id: [values]} the user reviewed (AI parsing) and wants written as they are."""
    values = body.get("values")
    if values is None:
        return None
    if not isinstance(values, dict) or not 1 <= len(values) <= limit:
        raise RequestError("There are no reviewed values to write.")
    clean = {}
    for key, row in values.items():
        if (not (key.isascii() and key.isdigit()) or not 0 < int(key) < 2**63
                or not isinstance(row, list)
                or len(row) > parsing.MAX_VARIABLES
                or not all(isinstance(v, str) and len(v) <= 500 and "\x00" not in v
                           for v in row)):
            raise RequestError(f"The reviewed values of image {key[:20]} are not a list of at "
                               f"most {parsing.MAX_VARIABLES} texts.")
        clean[str(int(key))] = [v.strip() for v in row]
    return clean


def batch_size(body: dict[str, Any]) -> int | None:
    """The user's images per job step (their setting); None: the site's default."""
    size = body.get("batch_size")
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 5000:
        raise RequestError("Images per job step must be a whole number from 1 to 5000.")
    return size


def positive_id(raw: Any, name: str) -> int:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63:
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**63:
        return raw
    raise RequestError(f"{name} must be a positive integer id")


def text_field(body: dict[str, Any], name: str, max_length: int = 200,
               required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise RequestError(f"{name} must be text of 1 to {max_length} characters")
    return value
