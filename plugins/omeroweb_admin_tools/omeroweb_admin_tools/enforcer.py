"""omero-quota-enforcer: applies the group quota state as ext4 project quotas.

Run as root by omero-quota-enforcer.service (timer and path unit). For each group with a
quota, ManagedRepository/<group> gets project id 200000 + group id (inherited by new files,
`chattr +P`) and a block limit (`setquota -P`); groups whose quota was removed get their limit
cleared. Where the filesystem has no project quotas it writes that, plainly, into the status
file the admin page shows, and changes nothing."""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omero_plugin_common.typed_settings import SettingsError

from .config import SETTINGS
from .quotas import (
    GIB,
    PROJECT_ID_BASE,
    STATUS_FILE,
    QuotaError,
    load_state,
    read_json,
    write_json_atomic,
)


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    device: str
    options: frozenset[str]


def find_mount(path: Path, mountinfo: str) -> Mount:
    """The mount holding `path`: the longest mount point that is a prefix of it."""
    best: Mount | None = None
    target = str(path.resolve())
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.point)):
            options = frozenset(fields[5].split(",")) | frozenset(tail[2].split(","))
            best = Mount(point, tail[0], tail[1], options)
    if best is None:
        raise QuotaError(f"no mount found for {path}")
    return best


def support_problem(mount: Mount) -> str | None:
    """Why project quotas cannot be enforced on this mount, or None."""
    if mount.fstype != "ext4":
        return (f"{mount.point} is {mount.fstype}, not ext4: group quotas are recorded but "
                "not enforced")
    if not {"prjquota", "prjjquota"} & mount.options:
        return (f"{mount.point} (ext4) is not mounted with prjquota: create the filesystem "
                "with -O quota,project (or tune2fs -O project,quota) and mount it with prjquota")
    return None


class Commands:
    """The real tools; tests swap in a recorder when the kernel cannot mount quota ext4."""

    def run(self, argv: Sequence[str]) -> None:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise QuotaError(f"{argv[0]} failed: {done.stderr.strip() or done.returncode}")

    def set_project(self, directory: Path, project_id: int) -> None:
        # -R: existing files join the project too; +P: new files inherit it.
        self.run(["chattr", "-R", "-p", str(project_id), str(directory)])
        self.run(["chattr", "+P", str(directory)])

    def set_limit(self, mount_point: str, project_id: int, kib: int) -> None:
        self.run(["setquota", "-P", str(project_id), str(kib), str(kib), "0", "0", mount_point])


def checked_entry(managed: Path, name: Any, entry: Any) -> tuple[Path, int, int]:
    """The state file is written by the web user; this runs as root, so nothing in it is
    trusted: one plain directory name inside ManagedRepository, sane numbers."""
    if (not isinstance(name, str) or not 0 < len(name) <= 255 or "/" in name or "\0" in name
            or name in (".", "..")):
        raise QuotaError("not a plain group directory name")
    if not isinstance(entry, dict):
        raise QuotaError("entry is not an object")
    project_id, quota_gb = entry.get("project_id"), entry.get("quota_gb")
    if not isinstance(project_id, int) or not PROJECT_ID_BASE <= project_id < 2**31:
        raise QuotaError("project id out of range")
    if (not isinstance(quota_gb, (int, float)) or isinstance(quota_gb, bool)
            or not math.isfinite(quota_gb) or not 0.001 <= quota_gb <= 1e6):
        raise QuotaError("quota out of range")
    directory = managed / name
    if directory.exists() and (directory.is_symlink() or
                               directory.resolve().parent != managed.resolve()):
        raise QuotaError("group directory is a link or lies outside ManagedRepository")
    return directory, project_id, int(quota_gb * GIB // 1024)


def enforce(data_dir: Path, state_dir: Path, mountinfo: str, commands: Commands) -> dict[str, Any]:
    """One reconcile pass; returns the status written for the admin page."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    status: dict[str, Any] = {"checked_at": now, "enforced": False, "message": "",
                              "groups": {}, "applied": {}}
    previous = read_json(state_dir / STATUS_FILE) or {}
    state = load_state(state_dir)
    managed = data_dir / "ManagedRepository"
    mount = find_mount(managed if managed.exists() else data_dir, mountinfo)
    status["mount"] = {"point": mount.point, "fstype": mount.fstype}
    problem = support_problem(mount)
    if problem:
        status["message"], status["applied"] = problem, previous.get("applied") or {}
        return status
    applied: dict[str, int] = {}
    for name, entry in sorted(state["quotas"].items()):
        try:
            directory, project_id, kib = checked_entry(managed, name, entry)
        except QuotaError as exc:
            status["groups"][str(name)[:100]] = f"refused: {exc}"
            continue
        if not directory.is_dir():
            status["groups"][name] = "waiting: the group has no directory yet"
            continue
        try:
            commands.set_project(directory, project_id)
            commands.set_limit(mount.point, project_id, kib)
        except QuotaError as exc:
            status["groups"][name] = f"failed: {exc}"
            continue
        applied[name] = project_id
        status["groups"][name] = f"enforced: {entry['quota_gb']:g} GB (project {project_id})"
    for name, project_id in (previous.get("applied") or {}).items():
        if not isinstance(project_id, int) or not PROJECT_ID_BASE <= project_id < 2**31:
            continue
        if name not in state["quotas"]:
            try:
                commands.set_limit(mount.point, int(project_id), 0)
                status["groups"][name] = "quota removed"
            except QuotaError as exc:
                applied[name] = project_id  # try again next run
                status["groups"][name] = f"failed to remove: {exc}"
    status["applied"], status["enforced"] = applied, True
    status["message"] = f"{len(applied)} group quota(s) enforced on {mount.point}"
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-quota-enforcer",
                                     description=__doc__.split("\n")[0])
    # The folders default to the admin tools' typed settings (ADMIN_TOOLS_DATA_DIR and
    # ADMIN_TOOLS_QUOTA_STATE_DIR, declared once in config.py), as the web process reads them.
    try:
        settings = SETTINGS.load()
    except SettingsError as exc:
        parser.error(str(exc))
    parser.add_argument("--data-dir", type=Path, default=Path(settings.data_dir))
    parser.add_argument("--state-dir", type=Path, default=Path(settings.quota_state_dir))
    args = parser.parse_args(argv)
    lock_path = args.state_dir / ".enforcer.lock"
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one pass at a time (timer and path unit overlap)
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
            status = enforce(args.data_dir, args.state_dir, mountinfo, Commands())
        except QuotaError as exc:
            status = {"checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                      "enforced": False, "message": str(exc), "groups": {}, "applied": {}}
        # Readable by the web user's group (the directory's group), written only by root.
        write_json_atomic(args.state_dir / STATUS_FILE, status, mode=0o644)
    print(status["message"])
    return 0 if status["enforced"] or not status["groups"] else 1


if __name__ == "__main__":
    sys.exit(main())
