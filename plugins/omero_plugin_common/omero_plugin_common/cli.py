"""What every console script of the plugins does with the errors an operator can fix: a setting
that is missing or invalid (exit 2), or a service the command needs that refuses it (the plugin
database, Redis, OMERO; exit 1). Each becomes one sentence on stderr, read in the journal of the
timer's service, instead of a traceback. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import psycopg2
import redis.exceptions
from kombu.exceptions import OperationalError as BrokerError

from .omero_session import OmeroUnavailable
from .typed_settings import SettingsError

UNAVAILABLE: tuple[tuple[type[BaseException], str], ...] = (
    (psycopg2.OperationalError, "the plugin database is unavailable"),
    (redis.exceptions.ConnectionError, "Redis is unavailable"),  # also a refused password
    (BrokerError, "the job queue (Redis) is unavailable"),
    (OmeroUnavailable, "OMERO is unavailable"),
)


def console_script(prog: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Decorate a console script's main(argv) -> exit status."""
    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args: object, **kwargs: object) -> int:
            try:
                return main(*args, **kwargs)
            except SettingsError as exc:
                print(f"{prog}: {exc}", file=sys.stderr)
                return 2
            except tuple(kind for kind, _ in UNAVAILABLE) as exc:
                what = next(text for kind, text in UNAVAILABLE if isinstance(exc, kind))
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                print(f"{prog}: {what}, nothing was changed ({detail}); the next run tries again",
                      file=sys.stderr)
                return 1
        return run
    return decorate
