"""Typed settings of omeroweb_omp_plugin, read from the plugins' environment file (see
omero_plugin_common.typed_settings)."""

from __future__ import annotations

import functools

from omero_plugin_common.typed_settings import (
    REQUIRED,
    LoadedSettings,
    Setting,
    SettingsGroup,
    parse_float,
    parse_int,
)


def parse_hash_secret(raw: str) -> str:
    if len(raw.strip()) < 32:
        raise ValueError("must be at least 32 characters")
    return raw.strip()


parse_hash_secret.__name__ = "secret of 32+ characters"

SETTINGS = SettingsGroup("omeroweb_omp_plugin", (
    # The original's name, so sites coming from it keep their secret (and their marks).
    Setting("FMP_HASH_SECRET",
            "Site secret of the `omp_hash` ownership marks (HMAC-SHA256) on the key/value "
            "annotations the plugin writes; \"delete plugin-owned\" removes only annotations whose "
            "mark verifies. Changing it orphans existing marks.",
            default=REQUIRED, parser=parse_hash_secret, secret=True, attr="hash_secret"),
    Setting("OMP_WRITE_BATCH_SIZE",
            "Images per OMERO call (annotations and links saved together) in the write jobs.",
            default=500, parser=parse_int, minimum=1, maximum=5000, attr="batch_size"),
    Setting("OMP_REGEX_TIME_LIMIT_SECONDS",
            "CPU seconds for parsing one preview or one job batch (compiling a user or AI regex, "
            "cleaning, hyphen protection, splitting, matching); CPU time, not wall time.",
            default=2.0, parser=parse_float, minimum=0.01, maximum=10,
            attr="regex_time_limit"),
    Setting("OMP_AI_TIMEOUT_SECONDS", "Timeout of one request to an AI provider.",
            default=15, parser=parse_int, minimum=1, maximum=120, attr="ai_timeout"),
    Setting("OMP_PREVIEW_MAX_IMAGES", "Most filenames one preview parses.",
            default=10000, parser=parse_int, minimum=10, maximum=100000,
            attr="preview_max_images"),
))


@functools.cache
def omp_settings() -> LoadedSettings:
    """Read once per process (tests call cache_clear)."""
    return SETTINGS.load()
