"""OMERO's documented permission rules, as data.

Source: OMERO documentation, "Groups and permissions system" (sysadmins/server-permissions),
tables "Administrator", "Group owner" and "Group member" (actions on other users' data).
The data owner can do everything on their own data except give it away (chown).
Users outside the group see nothing; administrators act on every group.
"""

from __future__ import annotations

LEVELS: dict[str, str] = {
    "private": "rw----",
    "read-only": "rwr---",
    "read-annotate": "rwra--",
    "read-write": "rwrw--",
}
ACTIONS = ("read", "annotate", "edit", "delete", "link", "chgrp", "chown")
ROLES = ("owner", "admin", "leader", "member", "outsider")

_P, _RO, _RA, _RW = LEVELS
_ALL = frozenset(LEVELS)
_NOT_PRIVATE = frozenset({_RO, _RA, _RW})

# role -> action -> levels at which it is allowed ("link" is the docs' "Mix data").
_RULES: dict[str, dict[str, frozenset[str]]] = {
    "owner": {
        "read": _ALL, "annotate": _ALL, "edit": _ALL, "delete": _ALL, "link": _ALL,
        "chgrp": _ALL, "chown": frozenset(),
    },
    "admin": {
        "read": _ALL, "annotate": _NOT_PRIVATE, "edit": _ALL, "delete": _ALL,
        "link": _NOT_PRIVATE, "chgrp": _ALL, "chown": _ALL,
    },
    "leader": {
        "read": _ALL, "annotate": _NOT_PRIVATE, "edit": _ALL, "delete": _ALL,
        "link": _NOT_PRIVATE, "chgrp": frozenset(), "chown": _ALL,
    },
    "member": {
        "read": _NOT_PRIVATE, "annotate": frozenset({_RA, _RW}), "edit": frozenset({_RW}),
        "delete": frozenset({_RW}), "link": frozenset({_RW}), "chgrp": frozenset(),
        "chown": frozenset(),
    },
    "outsider": {action: frozenset() for action in ACTIONS},
}


def level_of(permissions: str) -> str:
    """Accept a level name or its permission string (``"rwra--"``) and return the level name."""
    if permissions in LEVELS:
        return permissions
    for name, perm_string in LEVELS.items():
        if perm_string == permissions:
            return name
    raise ValueError(f"unknown group permissions {permissions!r}; use one of {sorted(LEVELS)}")


def allowed(action: str, level: str, roles: set[str] | frozenset[str]) -> bool:
    """True when any of the actor's ``roles`` towards the object allows ``action`` at ``level``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return any(level in _RULES[role][action] for role in roles)
