"""`omero-plugins-jobs`: the job sweep a systemd timer runs, a manual recovery, and a
self-test that runs a real job through a queue's worker (a smoke test after a deploy)."""

from __future__ import annotations

import argparse
import sys
import time

from .cli import console_script
from .logging_config import configure_logging
from .plugin import installed_plugins, queues
from .typed_settings import SettingsError


@console_script("omero-plugins-jobs")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omero-plugins-jobs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sweep", help="recover lost jobs and delete finished ones past retention")
    recover = sub.add_parser("recover", help="re-dispatch or fail jobs of a dead worker")
    recover.add_argument("--worker", help="celery node name known to be dead (e.g. omp@host)")
    selftest = sub.add_parser("selftest",
                              help="run the self-test job through a queue's worker and wait")
    selftest.add_argument("--queue", required=True, help="a queue of `omero-plugins-registry`")
    selftest.add_argument("--steps", type=int, default=3)
    selftest.add_argument("--timeout", type=float, default=60,
                          help="seconds to wait for the result")
    args = parser.parse_args(argv)
    if args.command == "selftest":
        return run_selftest(args.queue, args.steps, args.timeout)
    configure_logging()
    from . import jobs

    for plugin in installed_plugins():
        plugin.import_jobs()
    sweep = args.command == "sweep"
    report = jobs.sweep() if sweep else jobs.recover(dead_worker=args.worker)
    print(f"{report.redispatched} re-dispatched, {report.failed} failed, "
          f"{report.deleted} deleted")
    return 0


def run_selftest(queue: str, steps: int, timeout: float) -> int:
    """Submit the self-test job on `queue`, wait for a worker to finish it, print the outcome."""
    try:
        configure_logging()
        from . import jobs, selftest  # noqa: F401  (registers the selftest kind)

        if queue not in queues():
            known = ", ".join(sorted(queues()))
            print(f"unknown queue {queue!r}; one of {known}", file=sys.stderr)
            return 2
        job = jobs.submit("selftest", "root", {"steps": steps}, queue=queue)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = jobs.get(job.id)
            if current is not None and current.finished:
                print(f"job {job.id} on queue {queue}: {current.state}")
                return 0 if current.state == "succeeded" else 1
            time.sleep(0.5)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"job {job.id} on queue {queue}: no worker finished it within {timeout:.0f} s",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
