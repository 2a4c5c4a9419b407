"""Small accessors over BlitzGateway wrappers, so plugins never unwrap rtypes by hand."""

from __future__ import annotations

from typing import Any


def unwrap(value: Any) -> Any:
    """The plain value of an rtype (rstring, rlong ...) or of a plain value."""
    while hasattr(value, "getValue") and not isinstance(value, (str, bytes)):
        value = value.getValue()
    return value


def get_id(obj: Any) -> int | None:
    """The id of a wrapper, a model object or an rtype; None when it has none."""
    if obj is None:
        return None
    if hasattr(obj, "getId"):
        value = unwrap(obj.getId())
    elif hasattr(obj, "id"):
        value = unwrap(obj.id)
    else:
        value = unwrap(obj)
    return None if value is None else int(value)


def get_text(value: Any, default: str = "") -> str:
    """Text of an rstring, a wrapper's name, or any value; `default` for None."""
    if value is None:
        return default
    if hasattr(value, "getName") and not hasattr(value, "getValue"):
        value = value.getName()
    value = unwrap(value)
    if value is None:
        return default
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def owner(obj: Any) -> Any:
    return obj.getDetails().getOwner()


def owner_id(obj: Any) -> int | None:
    return get_id(owner(obj))


def owner_name(obj: Any) -> str:
    return get_text(owner(obj).getOmeName())


def group_id(obj: Any) -> int | None:
    return get_id(obj.getDetails().getGroup())


def is_owned_by(obj: Any, user_id: int) -> bool:
    return owner_id(obj) == user_id


def can_annotate(obj: Any) -> bool:
    """What the server computed for this user (the permission level and their role)."""
    return bool(obj.getDetails().getPermissions().canAnnotate())


def can_edit(obj: Any) -> bool:
    return bool(obj.getDetails().getPermissions().canEdit())


def username(conn: Any) -> str:
    return get_text(conn.getUser().getName())
