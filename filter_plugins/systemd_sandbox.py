"""The platform's systemd sandbox: one baseline every role's units render, with named deviations.

A unit template writes

    {{ [state_dir] | systemd_sandbox(umask='0027', relax=['SystemCallErrorNumber']) }}

and gets the [Service] hardening directives. The baseline is the strictest set the platform's
services run with; a unit loosens it only through the parameters below, each visible at the call
site, so a hardening change is made here once and tested once (tests/unit/test_systemd_sandbox.py).
"""

from ansible.errors import AnsibleFilterError

DOCUMENTATION = """
name: systemd_sandbox
short_description: The [Service] sandbox directives of a platform unit
description:
  - Renders the platform's baseline systemd sandbox (docs/design/systemd-sandbox.md) as unit
    file lines, with the writable paths given as input and the unit's deviations as parameters.
positional: _input
options:
  _input:
    description: Writable paths (ReadWritePaths=); a leading "-" tolerates a missing path. Empty entries are dropped.
    type: list
    elements: str
    required: true
  capabilities:
    description: CapabilityBoundingSet= (empty keeps no capability).
    type: list
    default: []
  address_families:
    description: RestrictAddressFamilies=.
    type: list
    default: [AF_UNIX, AF_INET, AF_INET6]
  network:
    description: false adds PrivateNetwork=yes (the unit talks over Unix sockets only).
    type: bool
    default: true
  protect_home:
    description: ProtectHome= (yes or read-only).
    type: str
    default: "yes"
  umask:
    description: UMask=.
    type: str
    default: "0077"
  syscalls:
    description: System calls or groups allowed on top of @system-service.
    type: list
    default: []
  syscalls_denied:
    description: System call groups denied after the allow list (empty leaves no deny line).
    type: list
    default: ["@privileged", "@resources"]
  relax:
    description: Baseline directives this unit leaves out (say why at the call site).
    type: list
    default: []
  extra:
    description: Further directives, {name: value}, for options the baseline does not set.
    type: dict
    default: {}
"""

# The baseline, in the order the lines are written. None marks values the parameters fill in.
BASELINE = (
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", None),
    ("AmbientCapabilities", ""),
    ("ProtectSystem", "strict"),
    ("ReadWritePaths", None),
    ("ProtectHome", None),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("DevicePolicy", "closed"),
    ("PrivateNetwork", None),
    ("PrivateUsers", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectProc", "invisible"),
    ("ProcSubset", "pid"),
    ("RestrictAddressFamilies", None),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", None),
    ("SystemCallErrorNumber", "EPERM"),
    ("UMask", None),
)
BASELINE_NAMES = frozenset(name for name, _ in BASELINE)
# Set by parameters, not removable through relax (a unit without them would not be sandboxed).
REQUIRED = frozenset({"SystemCallFilter", "SystemCallArchitectures", "UMask"})


def _words(value, what):
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(f"systemd_sandbox: {what} must be a list, got {value!r}")
    return [str(v) for v in value if v not in (None, "")]


def systemd_sandbox(writable, capabilities=(), address_families=("AF_UNIX", "AF_INET", "AF_INET6"),
                    network=True, protect_home="yes", umask="0077", syscalls=(),
                    syscalls_denied=("@privileged", "@resources"), relax=(), extra=None):
    writable = _words(writable, "the writable paths (input)")
    relax = set(_words(relax, "relax"))
    unknown = relax - BASELINE_NAMES
    if unknown:
        raise AnsibleFilterError(f"systemd_sandbox: relax names no baseline directive: {sorted(unknown)}")
    if relax & REQUIRED:
        raise AnsibleFilterError(f"systemd_sandbox: {sorted(relax & REQUIRED)} cannot be relaxed, only set")
    extra = dict(extra or {})
    clash = set(extra) & BASELINE_NAMES
    if clash:
        raise AnsibleFilterError(f"systemd_sandbox: extra sets {sorted(clash)}: use the filter's parameters or relax")
    if protect_home not in ("yes", "read-only"):
        raise AnsibleFilterError(f"systemd_sandbox: protect_home must be yes or read-only, got {protect_home!r}")
    families = _words(address_families, "address_families")
    if not families:
        raise AnsibleFilterError("systemd_sandbox: address_families is empty (use network=false and [AF_UNIX])")

    filled = {
        "CapabilityBoundingSet": " ".join(_words(capabilities, "capabilities")),
        "ReadWritePaths": " ".join(writable) if writable else None,
        "ProtectHome": protect_home,
        "PrivateNetwork": None if network else "yes",
        "RestrictAddressFamilies": " ".join(families),
        "SystemCallFilter": [" ".join(["@system-service", *_words(syscalls, "syscalls")])]
        + ([("~" + " ".join(_words(syscalls_denied, "syscalls_denied")))] if syscalls_denied else []),
        "UMask": str(umask),
    }
    lines = []
    for name, value in BASELINE:
        if name in relax:
            continue
        value = filled.get(name, value)
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            lines.append(f"{name}={v}")
    lines.extend(f"{name}={value}" for name, value in extra.items())
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {"systemd_sandbox": systemd_sandbox}
