"""`omero-quota-defaults`: the original's automatic default quota for new groups
(ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA, ADMIN_TOOLS_DEFAULT_GROUP_QUOTA_GB).

A systemd timer of the omero_quota role runs it as the web user, so a group created with
`omero group add` gets its quota without anyone opening the admin pages. It reads the group
list as the job-service account, then gives every group without a quota the default in the
same state file the page writes (re-read under the page's lock, written atomically); the
root enforcer's path unit applies it. Existing quotas and the system groups are never touched.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from omero_plugin_common.cli import console_script
from omero_plugin_common.logging_config import configure_logging
from omero_plugin_common.omero_session import service_session

from . import quotas
from .config import admin_settings
from .services import storage


@dataclass
class DefaultQuotaReport:
    enabled: bool
    quota_gb: float | None = None
    added: list[str] = field(default_factory=list)
    raised_to_minimum: bool = False


def default_quota_gb(settings: Any) -> tuple[float, bool]:
    """The default in GB, never below the minimum quota (then raised to it, and said so)."""
    if settings.default_group_quota_gb < settings.min_quota_gb:
        return round(settings.min_quota_gb, 3), True
    return round(settings.default_group_quota_gb, 3), False


def system_groups(conn: Any) -> set[str]:
    """The server's own names of system, user and guest (omero.sys.Roles), plus the usual ones."""
    roles = conn.getAdminService().getSecurityRoles()
    return set(quotas.SYSTEM_GROUPS) | {roles.systemGroupName, roles.userGroupName,
                                        roles.guestGroupName}


def apply_default_quotas(settings: Any = None) -> DefaultQuotaReport:
    settings = settings or admin_settings()
    if not settings.auto_default_quota:
        return DefaultQuotaReport(enabled=False)
    quota_gb, raised = default_quota_gb(settings)
    # OMERO first, outside the lock: the page's writes wait for the file only, never for OMERO.
    with service_session() as conn:
        groups = storage.group_ids(conn)
        skip = system_groups(conn)
    added: list[str] = []

    def change(state: dict[str, Any]) -> dict[str, Any] | None:
        new, names = quotas.apply_default_quota(state, groups, quota_gb, frozenset(skip))
        added[:] = names
        return new

    quotas.update_state(settings.quota_state_dir, change)
    return DefaultQuotaReport(enabled=True, quota_gb=quota_gb, added=added,
                              raised_to_minimum=raised)


@console_script("omero-quota-defaults")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-quota-defaults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    try:
        configure_logging()
        report = apply_default_quotas()
    except (quotas.QuotaError, OSError) as exc:
        print(f"cannot update the quota state, nothing changed: {exc}", file=sys.stderr)
        return 1
    if not report.enabled:
        print("ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA is off: nothing to do")
        return 0
    if report.raised_to_minimum:
        print(f"ADMIN_TOOLS_DEFAULT_GROUP_QUOTA_GB is below ADMIN_TOOLS_MIN_QUOTA_GB: "
              f"using the minimum, {report.quota_gb:g} GB")
    print(f"default quota {report.quota_gb:g} GB given to {len(report.added)} group(s)"
          + (f": {', '.join(report.added)}" if report.added else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
