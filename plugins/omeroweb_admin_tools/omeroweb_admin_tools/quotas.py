"""Group quota state: one JSON file written atomically by the web process and read by the
root-owned enforcer (omero-quota-enforcer). No Django here: the enforcer imports it too."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE_FILE = "group-quotas.json"
STATUS_FILE = "enforcer-status.json"
SCHEMA_VERSION = 1
MAX_LOG = 200
CSV_HEADER = ("Group", "Quota [GB]")
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,254}$")
# ext4 project ids of group directories: 200000 + the OMERO group id (as the original).
PROJECT_ID_BASE = 200000
GIB = 1024 ** 3
# OMERO's built-in groups (omero.sys.Roles): never given a quota automatically.
SYSTEM_GROUPS = frozenset({"system", "user", "guest"})
AUTO_ACTOR = "auto-default"


class QuotaError(ValueError):
    pass


def empty_state() -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, "quotas": {}, "log": [], "updated_at": None,
            "updated_by": None}


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        # O_NOFOLLOW: the root enforcer reads files in a directory the web user can write.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise QuotaError(f"{path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise QuotaError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise QuotaError(f"{path} does not hold a JSON object")
    return data


def load_state(state_dir: Path) -> dict[str, Any]:
    data = read_json(Path(state_dir) / STATE_FILE)
    if data is None:
        return empty_state()
    if data.get("version") != SCHEMA_VERSION or not isinstance(data.get("quotas"), dict):
        raise QuotaError(f"{state_dir / STATE_FILE} has an unknown schema")
    return data


def write_json_atomic(path: Path, data: dict[str, Any], mode: int = 0o640) -> None:
    """tmp file in the same directory, fsync, rename over, fsync the directory: a reader
    (the enforcer, the path unit) sees the old or the new file, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Serialises read-change-write of the state between the web's workers and the default
    quota job. flock on the directory itself: no lock file the enforcer would have to judge."""
    fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def update_state(state_dir: Path, change: Callable[[dict[str, Any]], dict[str, Any] | None]
                 ) -> dict[str, Any]:
    """Re-read the state under the lock, let `change` return the new state (None: no change),
    write it atomically; returns the state now on disk. Every writer goes through here, so
    two writers never overwrite each other's changes."""
    with state_lock(state_dir):
        state = load_state(state_dir)
        new = change(state)
        if new is None:
            return state
        write_json_atomic(Path(state_dir) / STATE_FILE, new)
        return new


def parse_quota(raw: Any, min_gb: float) -> float | None:
    """A quota in GB (GiB, 1024³ bytes) ≥ the minimum; None/"" removes the group's quota."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, bool):
        raise QuotaError("the quota must be a number of GB")
    try:
        value = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise QuotaError(f"the quota {raw!r} is not a number of GB") from None
    if not math.isfinite(value) or value < min_gb:
        raise QuotaError(f"the quota of {raw} GB is below the minimum of {min_gb:g} GB")
    if value > 1e6:
        raise QuotaError(f"the quota of {raw} GB is above the maximum of 1,000,000 GB")
    return round(value, 3)


def apply_updates(state: dict[str, Any], updates: list[dict[str, Any]], groups: dict[str, int],
                  min_gb: float, actor: str) -> dict[str, Any]:
    """Validate every update first (all or nothing), then change a copy of the state.
    `groups` maps the OMERO group names that exist to their ids."""
    if not isinstance(updates, list) or not updates:
        raise QuotaError("updates must be a non-empty list of {group, quota_gb}")
    if len(updates) > 10000:
        raise QuotaError("at most 10,000 updates at once")
    planned: dict[str, float | None] = {}
    for number, update in enumerate(updates, 1):
        # Errors name the group (the row the administrator sees), not the request's index.
        if not isinstance(update, dict) or "group" not in update:
            raise QuotaError(f"Change {number} of the request names no group: each change "
                             "needs group and quota_gb.")
        name = update["group"]
        if not isinstance(name, str) or name not in groups:
            raise QuotaError(f"There is no OMERO group named {name!r}; nothing was saved.")
        if name in SYSTEM_GROUPS and update.get("quota_gb") not in (None, ""):
            raise QuotaError(f"The {name} group is one of OMERO's own groups (system, user, "
                             "guest) and cannot have a quota; nothing was saved.")
        try:
            planned[name] = parse_quota(update.get("quota_gb"), min_gb)
        except QuotaError as exc:
            raise QuotaError(f"Group {name}: {exc}; nothing was saved.") from None
    new = json.loads(json.dumps(state))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for name, quota in planned.items():
        old = new["quotas"].get(name, {}).get("quota_gb")
        if quota is None:
            new["quotas"].pop(name, None)
        else:
            new["quotas"][name] = {"quota_gb": quota, "group_id": groups[name],
                                   "project_id": PROJECT_ID_BASE + groups[name]}
        if old != quota:
            new["log"].append({"at": now, "by": actor, "group": name, "from": old, "to": quota})
    new["log"] = new["log"][-MAX_LOG:]
    new["updated_at"], new["updated_by"] = now, actor
    return new


def apply_default_quota(state: dict[str, Any], groups: dict[str, int], quota_gb: float,
                        skip: frozenset[str] | set[str] = SYSTEM_GROUPS
                        ) -> tuple[dict[str, Any] | None, list[str]]:
    """Give every group in `groups` (name -> OMERO id) that has no quota yet `quota_gb`; an
    existing quota is never changed, `skip` (the system groups) never gets one.
    Returns (new state or None when nothing changed, the names given the default)."""
    added = sorted(name for name in groups if name not in state["quotas"] and name not in skip)
    if not added:
        return None, []
    new = json.loads(json.dumps(state))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for name in added:
        new["quotas"][name] = {"quota_gb": quota_gb, "group_id": groups[name],
                               "project_id": PROJECT_ID_BASE + groups[name]}
        new["log"].append({"at": now, "by": AUTO_ACTOR, "group": name, "from": None,
                           "to": quota_gb})
    new["log"] = new["log"][-MAX_LOG:]
    new["updated_at"], new["updated_by"] = now, AUTO_ACTOR
    return new, added


def parse_csv(text: str) -> list[dict[str, Any]]:
    """Rows of the template (header `Group,Quota [GB]`) as updates; errors name the line."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or tuple(c.strip() for c in rows[0][:2]) != CSV_HEADER:
        raise QuotaError(f"first line must be the header {','.join(CSV_HEADER)}")
    updates = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise QuotaError(f"line {line}: expected 2 columns, got {len(row)}")
        updates.append({"group": row[0].strip(), "quota_gb": row[1].strip(), "line": line})
    if not updates:
        raise QuotaError("the CSV has no rows after the header")
    return updates


def csv_template(groups: list[str], state: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for name in sorted(groups):
        quota = state["quotas"].get(name, {}).get("quota_gb")
        writer.writerow([name, "" if quota is None else f"{quota:g}"])
    return out.getvalue()
