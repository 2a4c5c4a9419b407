"""The Celery task that runs every job kind (its hooks own the job's state changes), and the
worker-start recovery. Loaded by workers through the app's `include`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, signals
from celery.exceptions import Ignore

from . import db, jobs
from .celery_app import RUN_JOB, app

log = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = (5, 30, 120)


class JobTask(Task):
    """before_start claims the row (a duplicate delivery is ignored); on_success and
    on_failure record the outcome."""

    def before_start(self, task_id: str, args: tuple, kwargs: dict[str, Any]) -> None:
        if jobs.claim(kwargs["job_id"], task_id, self.request.hostname or "eager") is None:
            raise Ignore()

    def on_success(self, retval: Any, task_id: str, args: tuple, kwargs: dict[str, Any]) -> None:
        jobs.mark_succeeded(kwargs["job_id"], task_id, retval)

    def on_failure(self, exc: BaseException, task_id: str, args: tuple,
                   kwargs: dict[str, Any], einfo: Any) -> None:
        if isinstance(exc, jobs.JobSuperseded):
            return  # the delivery that took over owns the job now
        if isinstance(exc, jobs.JobCancelled):
            jobs.mark_cancelled(kwargs["job_id"], task_id)
        else:
            jobs.mark_failed(kwargs["job_id"], task_id, f"{type(exc).__name__}: {exc}")


@app.task(name=RUN_JOB, base=JobTask, bind=True,
          max_retries=len(RETRY_BACKOFF_SECONDS))
def run_job(self: JobTask, job_id: str) -> Any:
    try:
        return jobs.run(job_id, self.request.id)
    except jobs.TransientJobError as exc:
        if self.request.retries >= self.max_retries:
            raise  # on_failure records it
        # Released here, not in on_retry: the retried delivery must find the row queued,
        # and in eager mode it runs inside self.retry(), before on_retry would be called.
        jobs.release_for_retry(job_id, self.request.id, str(exc))
        raise self.retry(exc=exc, countdown=RETRY_BACKOFF_SECONDS[self.request.retries]) from exc


@signals.worker_ready.connect
def _recover_on_start(sender: Any = None, **_: Any) -> None:
    """Jobs this worker name was running died with its previous process: resume them."""
    try:
        report = jobs.recover(dead_worker=getattr(sender, "hostname", None))
    finally:
        # Pool processes forked later must not inherit (and on exit close) these connections.
        db.close_pool()
    log.info("job recovery at worker start: %s re-dispatched, %s failed",
             report.redispatched, report.failed)
