"""Typed settings of omeroweb_imaris_connector, read from the plugins' environment file (see
omero_plugin_common.typed_settings). Names follow the original's OMERO_IMS_* variables."""

from __future__ import annotations

import functools

from omero_plugin_common.typed_settings import (
    LoadedSettings,
    Setting,
    SettingsGroup,
    choice_parser,
    parse_abs_path,
    parse_float,
    parse_int,
    parse_str,
)

SETTINGS = SettingsGroup(
    "omeroweb_imaris_connector",
    (
        Setting("OMERO_IMS_EXPORT_BACKEND",
                "How .ims files are made: `writer` (the built-in pure-Python writer, reading "
                "pixels through the OMERO API) or `script` (the original's OMERO server script "
                "running ImarisConvertBioformats on the server).",
                default="writer", parser=choice_parser("writer", "script"), attr="backend"),
        Setting("OMERO_IMS_EXPORT_DIR",
                "Directory where the worker writes .ims files (image_<id>/<name>_<UTC time>.ims) "
                "before attaching them to the image; the web unit serves downloads from it. "
                "Must be writable by the omero-web user under the units' ReadWritePaths.",
                default="/opt/omero/web/omerodir/var/imaris-exports", parser=parse_abs_path,
                attr="export_dir"),
        Setting("OMERO_IMS_COMPRESSION",
                "gzip level of the writer's pixel data; 0 writes it uncompressed (fastest, "
                "largest files). Levels 1-3 are compressed with ISA-L's deflate, 4-9 with "
                "zlib's (several times slower for slightly smaller files).",
                default=1, parser=parse_int, minimum=0, maximum=9, attr="compression"),
        Setting("OMERO_IMS_EXPORT_WORKERS",
                "Threads of one export that downsample and compress the writer's chunks (one "
                "more thread reads from OMERO, the job's own thread writes). The Celery worker "
                "shares the host with OMERO.web: keep it at most the host's cores.",
                default=2, parser=parse_int, minimum=1, maximum=32, attr="export_workers"),
        Setting("OMERO_IMS_EXPORT_QUEUE_DEPTH",
                "Blocks of tiles (8 planes of 256 x 256 pixels each) an export reads ahead of "
                "its workers; with the workers' blocks this bounds the pixels it holds in memory.",
                default=4, parser=parse_int, minimum=0, maximum=64, attr="export_queue_depth"),
        Setting("OMERO_IMS_EXPORT_TIMEOUT",
                "Synchronous mode: seconds a request waits for its export before answering 504.",
                default=3600, parser=parse_int, minimum=1, maximum=86400, attr="export_timeout"),
        Setting("OMERO_IMS_EXPORT_POLL_INTERVAL",
                "Synchronous mode: seconds between two looks at the job.",
                default=2.0, parser=parse_float, minimum=0.05, maximum=60, attr="poll_interval"),
        Setting("OMERO_IMS_RESULT_EXPIRES",
                "Seconds a finished export stays available through the status and download "
                "endpoints (410 afterwards; the file stays attached to the image in OMERO).",
                default=7200, parser=parse_int, minimum=60, maximum=2592000,
                attr="result_expires"),
        Setting("OMERO_IMS_SCRIPT_NAME",
                "Script back end: file name of the OMERO server script (with or without .py).",
                default="IMS_Export.py", parser=parse_str, attr="script_name"),
        Setting("OMERO_IMS_SCRIPT_START_TIMEOUT",
                "Script back end: seconds to keep retrying while no script processor is free.",
                default=180, parser=parse_int, minimum=0, maximum=3600,
                attr="script_start_timeout"),
        Setting("OMERO_IMS_SCRIPT_START_RETRY_INTERVAL",
                "Script back end: seconds between two attempts to start the script.",
                default=5.0, parser=parse_float, minimum=0.01, maximum=300,
                attr="script_retry_interval"),
        Setting("OMERO_IMS_PROCESSOR_CONFIG_CACHE_TTL",
                "Script back end: seconds the server's omero.scripts.processors value is cached.",
                default=30, parser=parse_int, minimum=0, maximum=3600,
                attr="processor_config_ttl"),
        Setting("OMERO_IMS_SCRIPT_TIMEOUT",
                "Script back end: seconds to wait for the running script to finish.",
                default=7200, parser=parse_int, minimum=10, maximum=86400,
                attr="script_timeout"),
    ),
)


@functools.cache
def imaris_settings() -> LoadedSettings:
    """Read once per process (tests call cache_clear)."""
    return SETTINGS.load()
