"""Typed settings of omeroweb_upload, read from the plugins' environment file (see
omero_plugin_common.typed_settings)."""

from __future__ import annotations

import functools
from pathlib import PurePosixPath

from omero_plugin_common.typed_settings import (
    LoadedSettings,
    Setting,
    SettingsGroup,
    parse_abs_path,
    parse_bool,
    parse_int,
)

SETTINGS = SettingsGroup("omeroweb_upload", (
    Setting("OMERO_UPLOAD_DIR",
            "Folder on the data disk where uploads are staged (one sub-folder per job); "
            "the web and `upload` worker units both need it read-write.",
            default=PurePosixPath("/var/lib/omero-plugins/upload"), parser=parse_abs_path,
            attr="upload_dir"),
    Setting("OMERO_UPLOAD_CHUNK_BYTES",
            "Largest chunk one upload request may carry, in bytes (the upload page sends chunks "
            "of this size; fewer, larger requests cost less CPU per GiB).",
            default=32 * 1024 * 1024, parser=parse_int, minimum=65536, maximum=256 * 1024 * 1024,
            attr="chunk_bytes"),
    Setting("OMERO_UPLOAD_MAX_JOB_GB", "Largest total size of one upload job, in GB (10^9 bytes).",
            default=1024, parser=parse_int, minimum=1, maximum=100000, attr="max_job_gb"),
    Setting("OMERO_UPLOAD_MAX_FILES", "Most files one upload job may list.",
            default=20000, parser=parse_int, minimum=1, maximum=1000000, attr="max_files"),
    Setting("OMERO_UPLOAD_MAX_ACTIVE_PER_USER",
            "Upload jobs one user may have in the uploading state at once.",
            default=3, parser=parse_int, minimum=1, maximum=50, attr="max_active_per_user"),
    Setting("OMERO_UPLOAD_MIN_FREE_BYTES",
            "Free space the upload folder's disk keeps; a chunk that would go below it is "
            "refused with 507.",
            default=1024 * 1024 * 1024, parser=parse_int, minimum=0, attr="min_free_bytes"),
    Setting("OMERO_UPLOAD_BATCH_FILES",
            "Files imported in parallel per batch (the original's job_batch_size).",
            default=5, parser=parse_int, minimum=1, maximum=10, attr="batch_files"),
    Setting("OMERO_UPLOAD_IMPORT_TIMEOUT_SECONDS",
            "Time one `omero import` of one file may take before it is stopped.",
            default=7200, parser=parse_int, minimum=10, maximum=86400,
            attr="import_timeout_seconds"),
    Setting("OMERO_UPLOAD_CHECK_TIMEOUT_SECONDS",
            "Time the compatibility check (`omero import -f`) of one file may take.",
            default=45, parser=parse_int, minimum=1, maximum=3600,
            attr="check_timeout_seconds"),
    Setting("OMERO_UPLOAD_OMERO_BIN",
            "The `omero` command the importer runs (absolute path on the hosts).",
            default="omero", attr="omero_bin"),
    Setting("OMERO_UPLOAD_FINISHED_MAX_AGE_SECONDS",
            "Finished (done or error) upload jobs older than this are deleted by the cleanup.",
            default=43200, parser=parse_int, minimum=60, attr="finished_max_age_seconds"),
    Setting("OMERO_UPLOAD_STALE_AGE_SECONDS",
            "Unfinished upload jobs untouched for this long are deleted by the cleanup.",
            default=172800, parser=parse_int, minimum=60, attr="stale_age_seconds"),
    Setting("OMERO_UPLOAD_CLEANUP_MAX_DELETE", "Most upload jobs one cleanup run deletes.",
            default=25, parser=parse_int, minimum=1, maximum=10000, attr="cleanup_max_delete"),
    Setting("OMERO_UPLOAD_DISABLE_SPECIAL_METHODS",
            "Turns off the special upload methods (SEM-EDX spectra).",
            default=False, parser=parse_bool, attr="disable_special_methods"),
))


@functools.cache
def upload_settings() -> LoadedSettings:
    """Read once per process (tests call cache_clear after changing the environment)."""
    return SETTINGS.load()
