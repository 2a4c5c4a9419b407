"""Who is asking: the one place that answers "is this user an administrator" for every plugin.

OMERO decides who is an administrator (`isAdmin()`: full and restricted administrators); the
root account is the one administrator some pages are kept for (the admin tools), and the one
account some plugins refuse (its imports and annotations would land in the system group).
"""

from __future__ import annotations

from typing import Any

from .omero_helpers import is_owned_by, username

ROOT = "root"


def is_admin(conn: Any) -> bool:
    """Any OMERO administrator (sees and cancels other users' jobs)."""
    return conn is not None and bool(conn.isAdmin())


def is_root(conn: Any) -> bool:
    """The OMERO root account itself (an administrator named root)."""
    return is_admin(conn) and username(conn) == ROOT


def can_read(conn: Any, obj: Any) -> bool:
    """Owner, admin, or a group whose permissions let members read others' data."""
    if is_admin(conn) or is_owned_by(obj, conn.getUserId()):
        return True
    return bool(obj.getDetails().getPermissions().isGroupRead())
