"""Settings of the shared platform: plugin database, state Redis, secrets, jobs, limits."""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet

from .typed_settings import (
    REQUIRED,
    LoadedSettings,
    Setting,
    SettingsGroup,
    choice_parser,
    parse_int,
    parse_list,
    url_parser,
)


def parse_fernet_keys(raw: str) -> tuple[str, ...]:
    keys = parse_list(raw)
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ValueError("contains a value that is not a Fernet key "
                             "(32 url-safe base64-encoded bytes)") from None
    if not keys:
        raise ValueError("needs at least one Fernet key")
    return keys


parse_fernet_keys.__name__ = "Fernet keys"


SETTINGS = SettingsGroup(
    "omero_plugin_common",
    (
        Setting("OMP_DATA_HOST", "Plugin database host.",
                default="127.0.0.1", attr="db_host"),
        Setting("OMP_DATA_PORT", "Plugin database port.",
                default=5433, parser=parse_int, minimum=1, maximum=65535, attr="db_port"),
        Setting("OMP_DATA_DB", "Plugin database name.",
                default="omero_plugins", attr="db_name"),
        Setting("OMP_DATA_USER", "Plugin database role.",
                default="omero_plugins", attr="db_user"),
        Setting("OMP_DATA_PASS", "Plugin database password.",
                default=REQUIRED, secret=True, attr="db_password"),
        Setting("OMP_DATA_POOL_MAX",
                "Connections each process keeps open to the plugin database at most.",
                default=5, parser=parse_int, minimum=1, maximum=50, attr="db_pool_max"),
        Setting("OMERO_PLUGINS_STATE_REDIS_URL",
                "The `state` Redis instance: Celery broker and results (redis:// URL, password "
                "included).", default=REQUIRED, parser=url_parser("redis", "rediss"), secret=True,
                attr="state_redis_url"),
        Setting("OMERO_PLUGINS_SECRET_KEYS",
                "Fernet keys for per-user secrets, comma-separated, newest first; older keys "
                "still decrypt until `omero-plugins-db rotate-secrets` re-encrypts.",
                default=REQUIRED, parser=parse_fernet_keys, secret=True, attr="secret_keys"),
        Setting("OMERO_PLUGINS_OMERO_HOST", "OMERO.server host the background workers log in to.",
                default="127.0.0.1", attr="omero_host"),
        Setting("OMERO_PLUGINS_OMERO_PORT", "OMERO.server port (SSL) of the background workers.",
                default=4064, parser=parse_int, minimum=1, maximum=65535, attr="omero_port"),
        Setting("OMERO_PLUGINS_JOB_SERVICE_USER",
                "OMERO account the workers log in as to act for a job's owner (an "
                "administrator with the Sudo privilege; the omero_server role creates it).",
                default="job-service", attr="job_service_user"),
        Setting("OMERO_PLUGINS_JOB_SERVICE_PASSWORD",
                "Password of the job-service account.",
                default=REQUIRED, secret=True, attr="job_service_password"),
        Setting("OMERO_PLUGINS_SUDO_SESSION_TTL_SECONDS",
                "Longest life of the session a worker opens for a job's owner (it is closed "
                "when the work ends).",
                default=43200, parser=parse_int, minimum=60, maximum=604800,
                attr="sudo_session_ttl_seconds"),
        Setting("OMERO_PLUGINS_RATELIMIT_CACHE",
                "Django cache alias the rate limiter uses (must be the `cache` Redis instance).",
                default="default", attr="ratelimit_cache"),
        Setting("OMERO_PLUGINS_MAX_JSON_BYTES",
                "Largest JSON request body the plugins accept, in bytes.",
                default=1048576, parser=parse_int, minimum=1024, maximum=67108864,
                attr="max_json_bytes"),
        Setting("OMERO_PLUGINS_LOG_LEVEL",
                "Log level of the plugins (journald keeps the output).", default="info",
                parser=choice_parser("debug", "info", "warning", "error"), attr="log_level"),
        Setting("OMERO_PLUGINS_JOB_LEASE_SECONDS",
                "A running job whose worker has not reported for this long is taken as lost.",
                default=120, parser=parse_int, minimum=10, maximum=3600, attr="job_lease_seconds"),
        Setting("OMERO_PLUGINS_JOB_MAX_ATTEMPTS",
                "Times a job is started before a lost worker fails it for good.",
                default=3, parser=parse_int, minimum=1, maximum=10, attr="job_max_attempts"),
        Setting("OMERO_PLUGINS_JOB_LOG_LINES",
                "Log lines kept per job (older lines are dropped).",
                default=500, parser=parse_int, minimum=10, maximum=10000, attr="job_log_lines"),
        Setting("OMERO_PLUGINS_JOB_QUEUED_TIMEOUT_SECONDS",
                "A job no worker has started after this long is failed by the sweep.",
                default=86400, parser=parse_int, minimum=60, maximum=2592000,
                attr="job_queued_timeout_seconds"),
        Setting("OMERO_PLUGINS_JOB_REDISPATCH_SECONDS",
                "A queued job still not started after this long is sent again (its message may "
                "have been lost with a Redis restart); duplicates are harmless.",
                default=60, parser=parse_int, minimum=5, maximum=3600,
                attr="job_redispatch_seconds"),
        Setting("OMERO_PLUGINS_JOB_RETENTION_DAYS",
                "Finished jobs older than this are deleted by the sweep.",
                default=30, parser=parse_int, minimum=1, maximum=3650, attr="job_retention_days"),
        Setting("OMERO_PLUGINS_HEALTH_CACHE_SECONDS",
                "Each web process answers the anonymous health/ routes from its last check of "
                "the plugin database and Redis for this long (0 checks on every call).",
                default=5, parser=parse_int, minimum=0, maximum=60, attr="health_cache_seconds"),
    ),
)


@functools.cache
def common_settings() -> LoadedSettings:
    """The platform settings, read once per process (tests call cache_clear)."""
    return SETTINGS.load()


def fernet_keys() -> list[Fernet]:
    return [Fernet(key) for key in common_settings().secret_keys]
