"""Service health from systemd's own accounting, read with `systemctl show` (no privileges,
no shell, no Docker socket)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from omero_plugin_common.plugin import queues

from ..config import admin_settings

PROPERTIES = ("Id", "Description", "LoadState", "ActiveState", "SubState",
              "ActiveEnterTimestampMonotonic", "NRestarts", "MemoryCurrent", "CPUUsageNSec",
              "MainPID", "Result")
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.(service|timer|path|socket|mount|target)$")
_UNSET = "[not set]"

# The platform's services under the roles' names; the workers (one per queue) come from the
# plugin registry, so a new plugin's worker is listed without a change here.
PLATFORM_UNITS = (
    "omero-server.service", "omero-web.service", "postgresql@15-omero.service",
    "postgresql@15-plugin.service", "redis-server@cache.service", "redis-server@state.service",
    "nginx.service",
)


def platform_units() -> tuple[str, ...]:
    """ADMIN_TOOLS_UNITS, or by default the platform's services and its workers."""
    return admin_settings().units or PLATFORM_UNITS + tuple(
        f"omero-celery@{queue}.service" for queue in queues())


class SystemdError(Exception):
    pass


def systemctl_command(units: Sequence[str]) -> list[str]:
    return ["systemctl", "show", "--no-pager", "-p", ",".join(PROPERTIES), "--", *units]


def _number(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and raw != "18446744073709551615" else None


def parse_show(output: str, now_monotonic_us: int) -> list[dict[str, Any]]:
    """`systemctl show` prints one block per unit, blank-line separated, KEY=VALUE lines."""
    units = []
    for block in output.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if not props.get("Id"):
            continue
        entered = _number(props.get("ActiveEnterTimestampMonotonic", ""))
        active = props.get("ActiveState") == "active"
        uptime = (now_monotonic_us - entered) / 1e6 if active and entered else None
        memory = props.get("MemoryCurrent", "")
        cpu = props.get("CPUUsageNSec", "")
        units.append({
            "unit": props["Id"],
            "description": props.get("Description", ""),
            "load": props.get("LoadState", ""),
            "active": props.get("ActiveState", ""),
            "sub": props.get("SubState", ""),
            "result": props.get("Result", ""),
            "uptime_seconds": round(uptime, 1) if uptime is not None else None,
            "restarts": _number(props.get("NRestarts", "")),
            "memory_bytes": None if memory == _UNSET else _number(memory),
            "cpu_seconds": None if cpu == _UNSET or _number(cpu) is None else _number(cpu) / 1e9,
            "main_pid": _number(props.get("MainPID", "")) or None,
            "status": _status(props),
        })
    return units


def _status(props: dict[str, str]) -> str:
    if props.get("LoadState") == "not-found":
        return "missing"
    state = props.get("ActiveState")
    if state == "active":
        return "ok"
    if state in ("activating", "reloading", "deactivating"):
        return "warn"
    if state == "failed":
        return "fail"
    return "warn"  # inactive: stopped on purpose or never started


def unit_health(units: Sequence[str], timeout: float = 10, via: Sequence[str] = ()
                ) -> list[dict[str, Any]]:
    """`via`: an argv prefix that runs systemctl elsewhere (tests use a lab host's ssh)."""
    bad = [u for u in units if not UNIT_NAME.match(u)]
    if bad:
        raise SystemdError(f"not a unit name: {bad[0]!r}")
    if not units:
        return []
    try:
        done = subprocess.run([*via, *systemctl_command(units)], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise SystemdError("systemctl is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise SystemdError(f"systemctl did not answer within {timeout:g} s") from None
    if done.returncode != 0:
        raise SystemdError("systemctl failed: " + (done.stderr.strip().splitlines() or
                                                   [f"exit {done.returncode}"])[-1])
    now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return parse_show(done.stdout, now_us)
