#!/usr/bin/env python3
"""Idempotent post-start bootstrap of a running OMERO.server.

Ensures the configured groups (created with their permission level; an existing group whose
level differs is reported, never changed behind the admins' back) and the job-service account
as a *restricted* administrator holding exactly the configured privileges (Sudo lets it open
sessions as the users it works for, which BlitzGateway.suConn needs). When the account exists
but no longer accepts the configured password (rotated in Vault), its password is set to it,
with IAdmin.changeUserPassword as `omero user password` does (that command only prompts on a
terminal, so it cannot be fed safely from Ansible). Registers the official scripts under
lib/scripts/omero as `omero script upload --official` does: missing ones are uploaded, changed
ones (by sha1) replaced, the rest left alone.

Reads one JSON document on stdin, so no password is ever on a command line:
  {"host": "localhost", "port": 4064, "root_password": "...",
   "groups": [{"name": "users_read", "type": "read-only"}],
   "job_service": {"name": "job-service", "password": "...", "privileges": ["Sudo"]},
   "scripts_dir": "/opt/omero/server/OMERO.server/lib/scripts"}
Prints {"changed": bool, "actions": [...], "warnings": [...]} on stdout. Run it with the
server venv's python. Needs a running server: not exercised by this project's tests.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

PERMISSIONS = {"private": "rw----", "read-only": "rwr---", "read-annotate": "rwra--", "read-write": "rwrw--"}


def ensure_groups(admin: Any, groups: list[dict[str, str]], result: dict[str, Any]) -> None:
    import omero
    from omero.model import ExperimenterGroupI, PermissionsI
    from omero.rtypes import rbool, rstring

    for spec in groups:
        wanted = PERMISSIONS[spec["type"]]
        try:
            group = admin.lookupGroup(spec["name"])
        except omero.ApiUsageException:
            group = ExperimenterGroupI()
            group.name = rstring(spec["name"])
            group.ldap = rbool(False)
            group.details.permissions = PermissionsI(wanted)
            admin.createGroup(group)
            result["actions"].append(f"created group {spec['name']} ({spec['type']})")
            continue
        current = str(group.details.permissions)
        if current != wanted:
            result["warnings"].append(
                f"group {spec['name']} has permissions {current}, configured {wanted} ({spec['type']}); "
                "left unchanged: change it deliberately with `omero group perms`")


def ensure_job_service(admin: Any, spec: dict[str, Any], result: dict[str, Any]) -> None:
    import omero
    from omero.model import AdminPrivilegeI, ExperimenterI
    from omero.rtypes import rbool, rstring

    def privilege(name: str) -> AdminPrivilegeI:
        value = AdminPrivilegeI()
        value.setValue(rstring(name))
        return value

    wanted = sorted(spec["privileges"])
    try:
        user = admin.lookupExperimenter(spec["name"])
    except omero.ApiUsageException:
        user = ExperimenterI()
        user.omeName = rstring(spec["name"])
        user.firstName = rstring("Job")
        user.lastName = rstring("Service")
        user.ldap = rbool(False)
        admin.createRestrictedSystemUserWithPassword(user, [privilege(p) for p in wanted], rstring(spec["password"]))
        result["actions"].append(f"created restricted administrator {spec['name']} with {wanted}")
        return
    if not password_accepted(config_host_port(spec), spec["name"], spec["password"]):
        admin.changeUserPassword(spec["name"], rstring(spec["password"]))
        result["actions"].append(f"set {spec['name']}'s password to the configured one")
    current = sorted(p.getValue().val for p in admin.getAdminPrivileges(user))
    if current != wanted:
        admin.setAdminPrivileges(user, [privilege(p) for p in wanted])
        result["actions"].append(f"set {spec['name']}'s privileges from {current} to {wanted}")


def config_host_port(spec: dict[str, Any]) -> tuple[str, int]:
    return spec.get("host", "localhost"), int(spec.get("port", 4064))


def password_accepted(address: tuple[str, int], name: str, password: str) -> bool:
    """One login attempt (a failure counts towards the login throttle once per rotation)."""
    import omero
    import omero.clients

    client = omero.client(*address)
    try:
        client.createSession(name, password)
        return True
    except (omero.PermissionDeniedException, omero.SecurityViolation):
        return False
    finally:
        client.closeSession()


def register_scripts(session: Any, scripts_dir: Path, result: dict[str, Any]) -> None:
    """Official scripts are registered by path below lib/scripts, e.g. /omero/util_scripts/X.py."""
    service = session.getScriptService()
    registered = {f"{f.path.val}{f.name.val}": f for f in service.getScripts()}
    for local in sorted(scripts_dir.glob("omero/**/*.py")):
        if local.name == "__init__.py":
            continue
        path = "/" + str(local.relative_to(scripts_dir))
        text = local.read_text(encoding="utf-8")
        sha1 = hashlib.sha1(local.read_bytes(), usedforsecurity=False).hexdigest()  # OMERO's file hash
        known = registered.get(path)
        if known is None:
            service.uploadOfficialScript(path, text)
            result["actions"].append(f"registered script {path}")
        elif known.hash is None or known.hash.val != sha1:
            service.editScript(known, text)
            result["actions"].append(f"updated script {path}")


def main() -> int:
    config = json.load(sys.stdin)
    result: dict[str, Any] = {"changed": False, "actions": [], "warnings": []}
    import omero.clients

    client = omero.client(config.get("host", "localhost"), int(config.get("port", 4064)))
    try:
        session = client.createSession("root", config["root_password"])
        admin = session.getAdminService()
        ensure_groups(admin, config.get("groups", []), result)
        if config.get("job_service"):
            session.setSecurityPassword(config["root_password"])  # required before changeUserPassword
            spec = dict(config["job_service"], host=config.get("host", "localhost"), port=config.get("port", 4064))
            ensure_job_service(admin, spec, result)
        if config.get("scripts_dir"):
            register_scripts(session, Path(config["scripts_dir"]), result)
    finally:
        client.closeSession()
    result["changed"] = bool(result["actions"])
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
