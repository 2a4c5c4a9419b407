"""`omero-plugins-jobs`: the job sweep a systemd timer runs, and a manual recovery."""

from __future__ import annotations

import argparse
import sys

from .logging_config import configure_logging
from .plugin import installed_plugins
from .typed_settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-plugins-jobs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sweep", help="recover lost jobs and delete finished ones past retention")
    recover = sub.add_parser("recover", help="re-dispatch or fail jobs of a dead worker")
    recover.add_argument("--worker", help="celery node name known to be dead (e.g. omp@host)")
    args = parser.parse_args(argv)
    try:
        configure_logging()
        from . import jobs

        for plugin in installed_plugins():
            plugin.import_jobs()
        sweep = args.command == "sweep"
        report = jobs.sweep() if sweep else jobs.recover(dead_worker=args.worker)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{report.redispatched} re-dispatched, {report.failed} failed, "
          f"{report.deleted} deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
