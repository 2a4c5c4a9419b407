"""Logging for journald: plain lines on stderr (journald adds time and unit), quiet noise."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from .config import common_settings

# Loggers that flood journald at INFO without telling an operator anything.
QUIET = {"omero.gateway.utils": "WARNING", "omero.gateway": "WARNING", "omero": "WARNING",
         "kombu": "WARNING", "celery.redirected": "WARNING"}


def logging_dict(level: str = "info") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"journald": {"format": "%(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "journald",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"level": lvl} for name, lvl in QUIET.items()},
    }


def configure_logging(level: str | None = None) -> None:
    """For workers and command-line tools (idempotent: dictConfig replaces its handlers)."""
    logging.config.dictConfig(logging_dict(level or common_settings().log_level))


def quiet_noisy_loggers() -> None:
    """In OMERO.web, whose own settings own the handlers: only lower the noise."""
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
