"""Outbound HTTP to the configured monitoring services only: every URL is checked against its
configured base, redirects are refused, and nothing of the browser's request (cookies,
Authorization) is ever sent on."""

from __future__ import annotations

import json
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

MAX_BODY = 32 * 1024 * 1024


class UpstreamError(Exception):
    """The upstream could not be reached or answered badly (safe to show to the admin)."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within the timeout."""


class OutsideBase(ValueError):
    """A URL that would leave the configured base URL."""


def _split(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutsideBase(f"not an http(s) URL: {url!r}")
    return parts


def check_within(url: str, base_url: str) -> str:
    """`url` itself if it lies under `base_url` (same scheme, host, port; path below the base's;
    no user info, no dot segments, no backslashes, no encoded separators)."""
    base, target = _split(base_url), _split(url)
    if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
        raise OutsideBase("URL leaves the configured host")
    if "@" in target.netloc or "\\" in url:
        raise OutsideBase("URL has user info or backslashes")
    raw_path = target.path
    lowered = raw_path.lower()
    if any(bad in lowered for bad in ("%2e", "%2f", "%5c", "%00", "//")):
        raise OutsideBase("URL path has encoded separators or empty segments")
    segments = raw_path.split("/")
    if any(s in (".", "..") for s in segments):
        raise OutsideBase("URL path has dot segments")
    base_path = base.path.rstrip("/") + "/"
    outside = not (raw_path + "/").startswith(base_path)
    if outside or posixpath.normpath(raw_path) != raw_path.rstrip("/"):
        raise OutsideBase("URL path leaves the configured base path")
    return url


def join_base(base_url: str, relative: str, params: list[tuple[str, str]] | None = None) -> str:
    """The URL of `relative` under the base, checked; never lets `relative` pick the host."""
    if relative.startswith(("/", "\\")) or ":" in relative.split("/", 1)[0]:
        raise OutsideBase("relative path may not start with / or name a scheme")
    url = base_url.rstrip("/") + "/" + relative
    if params:
        url += "?" + urllib.parse.urlencode(params)
    return check_within(url, base_url)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise UpstreamError(f"upstream answered a redirect ({code}); redirects are refused")


# No proxy from the environment, no cookie jar, no redirects, no authentication handlers.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def fetch(url: str, base_url: str, timeout: float, accept: str = "application/json"
          ) -> tuple[int, str, bytes]:
    """GET `url` (which must lie under `base_url`): (status, content type, body)."""
    check_within(url, base_url)
    # check_within allowed only http(s) under the configured base.
    request = urllib.request.Request(url, headers={"Accept": accept,  # noqa: S310
                                                   "User-Agent": "omeroweb-admin-tools"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY + 1)
            status, ctype = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_BODY + 1)
        status, ctype = exc.code, exc.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise UpstreamTimeout(f"{urllib.parse.urlsplit(url).netloc} did not answer within "
                                  f"{timeout:g} s") from None
        raise UpstreamError(f"{urllib.parse.urlsplit(url).netloc} unreachable: {reason}") from None
    if len(body) > MAX_BODY:
        raise UpstreamError("upstream answer too large")
    return status, ctype, body


def fetch_json(url: str, base_url: str, timeout: float) -> Any:
    status, _, body = fetch(url, base_url, timeout)
    try:
        data = json.loads(body)
    except ValueError:
        raise UpstreamError(f"upstream answered HTTP {status} without JSON") from None
    if status >= 400 and not isinstance(data, dict):
        raise UpstreamError(f"upstream answered HTTP {status}")
    return data
