"""Storage: bytes of original files by owner and group from OMERO, disk usage of the data
directory."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import omero
import omero.clients  # fills omero.model and omero.sys in any process
from omero.rtypes import unwrap

PAGE = 5000
_QUERY = ("select f.size, f.details.owner.id, f.details.group.id from OriginalFile f "
          "order by f.id")


def usage_by_owner_and_group(conn: Any) -> dict[str, Any]:
    """Sums over every group (omero.group -1), paged so a large server is read in slices."""
    query = conn.getQueryService()
    ctx = {"omero.group": "-1"}
    by_user: dict[int, int] = defaultdict(int)
    by_group: dict[int, int] = defaultdict(int)
    offset = 0
    while True:
        params = omero.sys.ParametersI()
        params.page(offset, PAGE)
        rows = query.projection(_QUERY, params, ctx)
        for size, owner_id, group_id in (unwrap(r) for r in rows):
            by_user[owner_id] += size or 0
            by_group[group_id] += size or 0
        if len(rows) < PAGE:
            break
        offset += PAGE
    users = {u.getId(): u.getName() for u in conn.getObjects("Experimenter")}
    groups = {g.getId(): (g.getName(), str(g.getDetails().getPermissions()))
              for g in conn.getObjects("ExperimenterGroup")}
    return {
        "users": sorted(({"id": uid, "name": name, "bytes": by_user.get(uid, 0)}
                         for uid, name in users.items()), key=lambda r: -r["bytes"]),
        "groups": sorted(({"id": gid, "name": name, "permissions": perms,
                           "bytes": by_group.get(gid, 0)}
                          for gid, (name, perms) in groups.items()), key=lambda r: -r["bytes"]),
    }


def group_ids(conn: Any) -> dict[str, int]:
    return {g.getName(): g.getId() for g in conn.getObjects("ExperimenterGroup")}


def disk_usage(path: Path) -> dict[str, Any]:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return {"path": str(path), "error": f"cannot read {path}: {exc.strerror}"}
    return {"path": str(path), "total_bytes": usage.total, "used_bytes": usage.used,
            "free_bytes": usage.free}
