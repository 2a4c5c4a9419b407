"""Request helpers: one JSON error shape, JSON bodies with a size limit, pagination."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from .config import common_settings

_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type",
          429: "rate_limited", 500: "internal_error", 503: "unavailable"}


def json_error(message: str, status: int = 400, code: str | None = None,
               **details: Any) -> JsonResponse:
    """The one error shape of every plugin: {"error": {"code", "message", ...details}}."""
    body = {"code": code or _CODES.get(status, "error"), "message": message, **details}
    return JsonResponse({"error": body}, status=status)


class RequestError(Exception):
    """Raised by helpers on bad input; `handle_request_errors` turns it into json_error."""

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code

    def response(self) -> JsonResponse:
        return json_error(self.message, self.status, self.code)


def handle_request_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RequestError as exc:
            return exc.response()

    return wrapper


def parse_json_body(request: HttpRequest, max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object; RequestError (400/413/415) with a clear message otherwise."""
    limit = max_bytes or common_settings().max_json_bytes
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise RequestError(f"expected Content-Type application/json, got {content_type or 'none'}",
                           415)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > limit:
        raise RequestError(f"request body larger than {limit} bytes", 413)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise RequestError(f"request body larger than {limit} bytes", 413)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError("request body must be a JSON object")
    return data


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_from_request(request: HttpRequest, default_size: int = 50,
                      max_size: int = 500) -> Page:
    """?page=N&size=M (1-based); out-of-range or non-numeric values are a 400."""
    values = {}
    for name, default, upper in (("page", 1, 10**6), ("size", default_size, max_size)):
        raw = request.GET.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= upper:
            raise RequestError(f"{name} must be an integer from 1 to {upper}")
        values[name] = int(raw)
    return Page(values["page"], values["size"])


def paginate(items: Sequence[Any], page: Page) -> dict[str, Any]:
    """One page of `items` plus the numbers a client needs to page on."""
    total = len(items)
    return {
        "items": list(items[page.offset:page.offset + page.size]),
        "page": page.number,
        "size": page.size,
        "total": total,
        "pages": max(1, math.ceil(total / page.size)),
    }
