"""The original's diagnostics, for hosts: OMERO.server ports, both PostgreSQL clusters, both
Redis instances, the web health URL, and all of them end to end. Each check is pass, warn or
fail with the reason."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from .http import UpstreamError

CHECK_IDS = ("omero_server_core", "omero_database", "plugin_database", "redis", "web",
             "platform_end_to_end")
# What each check tells the administrator, shown next to it on the page.
CHECK_DESCRIPTIONS = {
    "omero_server_core": "OMERO.server accepts connections on its client ports 4064 "
                         "(Glacier2 router) and 4063 (Ice).",
    "omero_database": "OMERO's PostgreSQL answers a connection attempt.",
    "plugin_database": "The plugins' PostgreSQL (jobs, settings, upload state) answers a "
                       "connection attempt.",
    "redis": "Each Redis instance (Celery broker, cache, sessions) answers PING.",
    "web": "OMERO.web's plugin health URL answers 200 (its databases and Redis are reachable).",
    "platform_end_to_end": "All of the checks above, at once.",
}


def _result(name: str, status: str, reason: str, started: float) -> dict[str, Any]:
    return {"check": name, "status": status, "reason": reason,
            "ms": round((time.monotonic() - started) * 1000, 1)}


def split_address(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in {address!r}")
    return host.strip("[]"), int(port)


def tcp(name: str, host: str, port: int, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return _result(name, "pass", f"{host}:{port} accepts connections", started)
    except socket.gaierror as exc:
        return _result(name, "fail", f"cannot resolve {host}: {exc.strerror}", started)
    except OSError as exc:
        return _result(name, "fail", f"{host}:{port} refused or unreachable: "
                       f"{exc.strerror or exc}", started)


def _exchange(host: str, port: int, send: bytes, size: int, timeout: float) -> bytes | str:
    """The first bytes the service answers (b"" if it stays silent), or why it could not be
    reached."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        return f"cannot resolve {host}: {exc.strerror}"
    except OSError as exc:
        return f"{host}:{port} refused or unreachable: {exc.strerror or exc}"
    with sock:
        try:
            sock.settimeout(timeout)
            sock.sendall(send)
            return sock.recv(size)
        except OSError:
            return b""  # open, but no answer in time: not the service we expect


def postgres(name: str, host: str, port: int, timeout: float) -> dict[str, Any]:
    """Speaks the first bytes of PostgreSQL's protocol (SSLRequest), so a different service
    on the port is told apart from PostgreSQL, without credentials."""
    started = time.monotonic()
    answer = _exchange(host, port, struct.pack("!ii", 8, 80877103), 1, timeout)
    if isinstance(answer, str):
        return _result(name, "fail", answer, started)
    if answer in (b"S", b"N"):
        return _result(name, "pass", f"PostgreSQL answers on {host}:{port}", started)
    return _result(name, "warn", f"{host}:{port} is open but did not answer like PostgreSQL",
                   started)


def redis(name: str, host: str, port: int, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    answer = _exchange(host, port, b"PING\r\n", 64, timeout)
    if isinstance(answer, str):
        return _result(name, "fail", answer, started)
    if answer.startswith(b"+PONG"):
        return _result(name, "warn", f"Redis on {host}:{port} answers without a password",
                       started)
    if answer.startswith((b"-NOAUTH", b"-ERR", b"-WRONGPASS")):
        return _result(name, "pass", f"Redis answers on {host}:{port} and requires "
                       "authentication", started)
    return _result(name, "warn", f"{host}:{port} is open but did not answer like Redis", started)


def http_health(name: str, url: str, timeout: float,
                fetch: Callable[..., tuple[int, str, bytes]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        status, _, _ = fetch(url, url, timeout)
    except UpstreamError as exc:
        return _result(name, "fail", str(exc), started)
    if status == 200:
        return _result(name, "pass", f"{url} answered 200", started)
    if status == 503:
        return _result(name, "fail", f"{url} answered 503: a database or Redis is down", started)
    return _result(name, "warn", f"{url} answered HTTP {status}", started)


def run(check_id: str, settings: Any, plugin_db: tuple[str, int]) -> list[dict[str, Any]]:
    from .http import fetch

    timeout = min(settings.request_timeout, 5)
    host = settings.omero_server_host
    checks: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "omero_server_core": lambda: [tcp("OMERO.server 4064 (Glacier2)", host, 4064, timeout),
                                      tcp("OMERO.server 4063 (Ice)", host, 4063, timeout)],
        "omero_database": lambda: [postgres("OMERO PostgreSQL",
                                            *split_address(settings.omero_db_address, 5432),
                                            timeout)],
        "plugin_database": lambda: [postgres("Plugin PostgreSQL", *plugin_db, timeout)],
        "redis": lambda: [redis(f"Redis {name}", *split_address(address, 6379), timeout)
                          for name, _, address in (a.partition("=")
                                                   for a in settings.redis_addresses)],
        "web": lambda: [http_health("OMERO.web health", settings.web_health_url, timeout,
                                    fetch)],
    }
    keys = CHECK_IDS[:-1] if check_id == "platform_end_to_end" else (check_id,)
    return [{**result, "group": key} for key in keys for result in checks[key]()]


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(r["status"] == status for r in results)
            for status in ("pass", "warn", "fail")}


def summary(results: list[dict[str, Any]]) -> str:
    statuses = {r["status"] for r in results}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
