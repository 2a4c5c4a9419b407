"""Typed settings of omeroweb_admin_tools, read from the plugins' environment file (see
omero_plugin_common.typed_settings). Names keep the original's ADMIN_TOOLS_ prefix.

The root-run quota enforcer imports this module: it stays standard library plus the settings
loader (the enforcer's molecule scenario runs it from those files alone)."""

from __future__ import annotations

import functools
from pathlib import PurePosixPath

from omero_plugin_common.typed_settings import (
    LoadedSettings,
    Setting,
    SettingsGroup,
    parse_abs_path,
    parse_bool,
    parse_float,
    parse_int,
    parse_list,
    url_parser,
)


def parse_optional_url(raw: str) -> str:
    """An http(s) base URL; the empty string (feature off) is handled by the default."""
    return url_parser("http", "https")(raw).rstrip("/")


parse_optional_url.__name__ = "http(s) URL"


def _s(env: str, description: str, **kwargs) -> Setting:
    return Setting(env, description, **kwargs)


SETTINGS = SettingsGroup(
    "omeroweb_admin_tools",
    (
        _s("ADMIN_TOOLS_UNITS", "systemd units of the platform: their logs and health are shown "
           "(empty: the platform's services and one worker unit per installed plugin queue).",
           default=(), parser=parse_list, attr="units"),
        _s("ADMIN_TOOLS_LOKI_URL", "Loki base URL; empty reads journald directly on this host.",
           default="", parser=parse_optional_url, attr="loki_url"),
        _s("ADMIN_TOOLS_LOKI_LOG_TYPES",
           "Values of Loki's log_type label that hold OMERO's log files (the alloy role's "
           "alloy_log_files); the viewer lists each one's files from Loki's series API.",
           default=("omero_server", "omero_web"), parser=parse_list, attr="loki_log_types"),
        _s("ADMIN_TOOLS_JOURNAL_DIRECTORY",
           "Journal directory to read instead of the system journal (empty: the system journal).",
           default="", attr="journal_directory"),
        _s("ADMIN_TOOLS_OMERO_LOG_DIRS",
           "Directories of OMERO's own log files (server and web), comma-separated.",
           default=("/opt/omero/server/OMERO.server/var/log", "/opt/omero/web/OMERO.web/var/log"),
           parser=parse_list, attr="omero_log_dirs"),
        _s("ADMIN_TOOLS_LOG_LOOKBACK_SECONDS", "Default time range of the log viewer.",
           default=900, parser=parse_int, minimum=10, maximum=30 * 86400, attr="log_lookback"),
        _s("ADMIN_TOOLS_LOG_MAX_ENTRIES", "Most log entries one request returns.",
           default=5000, parser=parse_int, minimum=10, maximum=50000, attr="log_max_entries"),
        _s("ADMIN_TOOLS_LOG_REQUEST_TIMEOUT_SECONDS",
           "Timeout of one log, Prometheus or diagnostics request.",
           default=10, parser=parse_int, minimum=1, maximum=120, attr="request_timeout"),
        _s("ADMIN_TOOLS_PROMETHEUS_URL", "Prometheus base URL (empty: no metrics).",
           default="", parser=parse_optional_url, attr="prometheus_url"),
        _s("ADMIN_TOOLS_GRAFANA_URL",
           "Grafana base URL the browser opens for the dashboards (empty: no links).",
           default="", parser=parse_optional_url, attr="grafana_url"),
        _s("ADMIN_TOOLS_GRAFANA_DASHBOARDS",
           "Grafana dashboards to link, comma-separated `uid:Title` pairs.",
           default=("omero-infrastructure:Infrastructure", "omero-services:Services",
                    "omero-databases:Databases", "omero-logs:Logs"),
           parser=parse_list, attr="grafana_dashboards"),
        _s("ADMIN_TOOLS_DATA_DIR", "OMERO's data directory (disk usage; quotas below it).",
           default=PurePosixPath("/OMERO"), parser=parse_abs_path, attr="data_dir"),
        _s("ADMIN_TOOLS_QUOTA_STATE_DIR",
           "Directory of the group quota state (group-quotas.json), writable by the web user and "
           "read by the root enforcer.",
           default=PurePosixPath("/var/lib/omero-quota"), parser=parse_abs_path,
           attr="quota_state_dir"),
        _s("ADMIN_TOOLS_MIN_QUOTA_GB", "Smallest group quota accepted, in GB.",
           default=0.10, parser=parse_float, minimum=0.001, maximum=1e6, attr="min_quota_gb"),
        _s("ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA",
           "Give every OMERO group without a quota the default quota (omero-quota-defaults, "
           "run by a timer of the omero_quota role); existing quotas are never changed.",
           default=False, parser=parse_bool, attr="auto_default_quota"),
        _s("ADMIN_TOOLS_DEFAULT_GROUP_QUOTA_GB",
           "The automatic default group quota in GB; a value below ADMIN_TOOLS_MIN_QUOTA_GB is "
           "raised to the minimum.",
           default=100.0, parser=parse_float, minimum=0.001, maximum=1e6,
           attr="default_group_quota_gb"),
        _s("ADMIN_TOOLS_OMERO_SERVER_HOST", "OMERO.server host the diagnostics probe (4063/4064).",
           default="127.0.0.1", attr="omero_server_host"),
        _s("ADMIN_TOOLS_OMERO_DB_ADDRESS", "OMERO's PostgreSQL as host:port (diagnostics).",
           default="127.0.0.1:5432", attr="omero_db_address"),
        _s("ADMIN_TOOLS_REDIS_ADDRESSES",
           "The Redis instances as name=host:port, comma-separated (diagnostics).",
           default=("cache=127.0.0.1:6379", "state=127.0.0.1:6380"), parser=parse_list,
           attr="redis_addresses"),
        _s("ADMIN_TOOLS_OMERO_WEB_HEALTH_URL", "OMERO.web health URL the diagnostics fetch.",
           default="http://127.0.0.1:4080/omeroweb_admin_tools/health/",
           parser=url_parser("http", "https"), attr="web_health_url"),
    ),
)


@functools.cache
def admin_settings() -> LoadedSettings:
    """Read once per process (tests call cache_clear)."""
    return SETTINGS.load()

