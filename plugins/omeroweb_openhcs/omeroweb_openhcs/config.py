"""Typed settings of omeroweb_openhcs, read from the plugins' environment file (see
omero_plugin_common.typed_settings). The bridge, working folder and presets are the platform
values platform_openhcs_* of the inventory (docs/design/openhcs.md)."""

from __future__ import annotations

import functools

from omero_plugin_common.typed_settings import (
    LoadedSettings,
    Setting,
    SettingsGroup,
    parse_abs_path,
    parse_float,
    parse_int,
)

from .services.presets import parse_presets

SETTINGS = SettingsGroup(
    "omeroweb_openhcs",
    (
        Setting("OPENHCS_BRIDGE",
                "The bridge command of the openhcs role (runs in OpenHCS's own venv); the "
                "worker talks to the execution server only through it.",
                default="/opt/openhcs/bin/openhcs-bridge", parser=parse_abs_path, attr="bridge"),
        Setting("OPENHCS_SOCKET_DIR",
                "Directory of the execution server's Unix sockets, handed to the bridge "
                "(`--socket-dir`); only the openhcs group may open it.",
                default="/run/openhcs", parser=parse_abs_path, attr="socket_dir"),
        Setting("OPENHCS_WORK_DIR",
                "Working folder shared with the execution server (group openhcs, setgid): "
                "a job stages its plate in <dir>/<job id>/plate/ and deletes <dir>/<job id>/ "
                "when it ends.",
                default="/var/lib/openhcs/work", parser=parse_abs_path, attr="work_dir"),
        Setting("OPENHCS_PRESETS",
                "The presets users may choose (JSON list: name, title, description, gpu, "
                "parameters with type, bounds, choices and default), the inventory's "
                "platform_openhcs_presets without `source`.",
                default="[]", parser=parse_presets, attr="presets"),
        Setting("OPENHCS_MAX_CONCURRENT_PER_USER",
                "Executions one user may have waiting or running at once; one more is refused.",
                default=2, parser=parse_int, minimum=1, maximum=100, attr="max_concurrent"),
        Setting("OPENHCS_GROUP_QUOTA_HOURS",
                "Processing time (hours, as measured by the server) one OMERO group may use "
                "per quota period; once used up, new executions for that group are refused.",
                default=100.0, parser=parse_float, minimum=0.01, maximum=1000000,
                attr="group_quota_hours"),
        Setting("OPENHCS_QUOTA_PERIOD_DAYS",
                "Length of the sliding quota period in days.",
                default=30, parser=parse_int, minimum=1, maximum=366, attr="quota_period_days"),
        Setting("OPENHCS_RUN_TIMEOUT",
                "Seconds an execution may run on the server before the bridge cancels it.",
                default=21600, parser=parse_int, minimum=10, maximum=604800,
                attr="run_timeout"),
        Setting("OPENHCS_MAX_IMAGES",
                "Images one execution may stage (a dataset's images, a plate's fields).",
                default=1536, parser=parse_int, minimum=1, maximum=100000, attr="max_images"),
        Setting("OPENHCS_STAGE_TILE",
                "Edge in pixels of the tiles staging reads from OMERO (memory per read is "
                "one row of tiles of an image's width).",
                default=1024, parser=parse_int, minimum=64, maximum=8192, attr="stage_tile"),
    ),
)


@functools.cache
def openhcs_settings() -> LoadedSettings:
    """Read once per process (tests call cache_clear)."""
    return SETTINGS.load()
