"""Durable background jobs in the plugin database.

The job row is the truth; a Celery message only carries the job id. A worker must *claim* the
row (queued → running) before it runs anything, so a duplicated or re-dispatched message is a
no-op. Steps run through `JobContext.step` are recorded in the same transaction as their
database side effects, so a retried or resumed job never applies a step twice. Workers keep a
heartbeat; a job whose worker died is re-dispatched (or failed after too many attempts) by the
worker-start recovery and by the sweep.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from . import db
from .config import common_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

QUEUES = ("omp", "upload", "imaris_export", "admin")
UNFINISHED = ("queued", "running")


class JobCancelled(Exception):
    """Raised inside a job when its owner asked to cancel it."""


class TransientJobError(Exception):
    """A failure worth retrying later (e.g. OMERO briefly unreachable)."""


class JobSuperseded(Exception):
    """This delivery lost the job to another (it looked lost and was resumed elsewhere)."""


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    plugin: str
    kind: str
    queue: str
    owner: str
    state: str
    params: dict[str, Any]
    progress_done: int
    progress_total: int | None
    log: list[str]
    result: Any
    error: str | None
    cancel_requested: bool
    attempts: int
    task_id: str | None
    dispatched_at: datetime | None
    queued_at: datetime
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED

    def eta_seconds(self, now: datetime | None = None) -> float | None:
        """Remaining time, extrapolated from the rate so far; None when unknown."""
        if self.state != "running" or not self.started_at or not self.progress_total:
            return None
        if self.progress_done <= 0:
            return None
        now = now or datetime.now(UTC)
        elapsed = (now - self.started_at).total_seconds()
        remaining = self.progress_total - self.progress_done
        return round(max(0.0, elapsed / self.progress_done * remaining), 1)

    def public(self, log_tail: int = 50) -> dict[str, Any]:
        """What the progress endpoint returns: cheap, no internal worker details."""
        total = self.progress_total
        percent = round(100 * self.progress_done / total, 1) if total else None
        return {
            "id": str(self.id),
            "kind": self.kind,
            "state": self.state,
            "finished": self.finished,
            "done": self.progress_done,
            "total": total,
            "percent": percent,
            "eta_seconds": self.eta_seconds(),
            "log": self.log[-log_tail:],
            "result": self.result,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class JobKind:
    name: str
    plugin: str
    queue: str
    run: Callable[[JobContext], Any]


_KINDS: dict[str, JobKind] = {}


def job_kind(name: str, plugin: str, queue: str) -> Callable[[Callable], Callable]:
    """Register `run(ctx) -> JSON-able result` as the body of jobs of this kind."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")

    def register(run: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
        _KINDS[name] = JobKind(name, plugin, queue, run)
        return run

    return register


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} is registered in this process") from None


# -- request side ------------------------------------------------------------------------


def create(tx: db.Transaction, kind: str, owner: str, params: dict[str, Any] | None = None,
           queue: str | None = None) -> Job:
    """Insert a job in the caller's transaction; it is dispatched only if that commits."""
    spec = get_kind(kind)
    queue = queue or spec.queue
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    row = tx.fetchone(
        "INSERT INTO plugin_jobs (id, plugin, kind, queue, owner, params)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
        (str(uuid.uuid4()), spec.plugin, kind, queue, owner, json.dumps(params or {})),
    )
    job = Job.from_row(row)
    tx.on_commit(lambda: dispatch(job.id, queue))
    return job


def submit(kind: str, owner: str, params: dict[str, Any] | None = None,
           queue: str | None = None) -> Job:
    """Create a job in its own transaction and dispatch it after the commit."""
    with db.transaction() as tx:
        job = create(tx, kind, owner, params, queue)
    return get(job.id) or job


def dispatch(job_id: uuid.UUID | str, queue: str) -> None:
    """Send the job's message; when the broker is down the row stays queued for recovery."""
    from .tasks import run_job

    with db.transaction() as tx:
        tx.execute("UPDATE plugin_jobs SET dispatched_at = now() WHERE id = %s", (str(job_id),))
    try:
        run_job.apply_async(kwargs={"job_id": str(job_id)}, queue=queue)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        if run_job.app.conf.task_always_eager:
            raise
        log.warning("job %s stays queued: broker unavailable (%s)", job_id, exc)


def get(job_id: uuid.UUID | str) -> Job | None:
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError:
        return None
    with db.transaction() as tx:
        row = tx.fetchone("SELECT * FROM plugin_jobs WHERE id = %s", (str(job_uuid),))
    return Job.from_row(row) if row else None


def recent(kind: str, owner: str, limit: int = 50) -> list[Job]:
    """The owner's jobs of one kind, newest first (what a page lists after a reload)."""
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT * FROM plugin_jobs WHERE owner = %s AND kind = %s"
                           " ORDER BY created_at DESC LIMIT %s", (owner, kind, limit))
    return [Job.from_row(r) for r in rows]


def visible_job(job_id: str, username: str, is_admin: bool, plugin: str | None = None
                ) -> Job | None:
    """The job if this user may see it (owner, or admin); None otherwise (→ 404, no leak)."""
    job = get(job_id)
    if job is None or (plugin and job.plugin != plugin):
        return None
    if job.owner != username and not is_admin:
        return None
    return job


def request_cancel(job_id: uuid.UUID | str) -> Job:
    """Flag the job; a queued job is cancelled at once, a running one at its next progress."""
    with db.transaction() as tx:
        row = tx.fetchone(
            "UPDATE plugin_jobs SET cancel_requested = true,"
            " state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,"
            " finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END"
            " WHERE id = %s RETURNING *",
            (str(job_id),),
        )
    return Job.from_row(row)


# -- worker side (called by the JobTask hooks) --------------------------------------------


def claim(job_id: str, task_id: str, worker: str) -> Job | None:
    """queued → running for this worker; None when another delivery owns or ended the job."""
    with db.transaction() as tx:
        row = tx.fetchone(
            "UPDATE plugin_jobs SET state = 'running', attempts = attempts + 1, task_id = %s,"
            " worker = %s, started_at = coalesce(started_at, now()), heartbeat_at = now()"
            " WHERE id = %s AND state = 'queued' AND NOT cancel_requested RETURNING *",
            (task_id, worker, job_id),
        )
    return Job.from_row(row) if row else None


# Every change a delivery makes is conditional on it still holding the claim (task_id), so a
# delivery that was presumed lost and superseded can never overwrite its successor's state.


def _finish(job_id: str, task_id: str, state: str, result: Any = None,
            error: str | None = None) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE plugin_jobs SET state = %s, result = %s, error = %s, finished_at = now(),"
            " heartbeat_at = NULL WHERE id = %s AND state = 'running' AND task_id = %s",
            (state, json.dumps(result), error, job_id, task_id),
        )


def mark_succeeded(job_id: str, task_id: str, result: Any) -> None:
    _finish(job_id, task_id, "succeeded", result=result)


def mark_failed(job_id: str, task_id: str, error: str) -> None:
    _finish(job_id, task_id, "failed", error=error)


def mark_cancelled(job_id: str, task_id: str) -> None:
    _finish(job_id, task_id, "cancelled", error="cancelled by request")


def release_for_retry(job_id: str, task_id: str, reason: str) -> None:
    """running → queued before a Celery retry, so the retried delivery can claim it."""
    with db.transaction() as tx:
        tx.execute(
            "UPDATE plugin_jobs SET state = 'queued', heartbeat_at = NULL, dispatched_at = now(),"
            " queued_at = now(), log = " + _APPEND_LOG +
            " WHERE id = %s AND state = 'running' AND task_id = %s",
            (f"retrying: {reason}", common_settings().job_log_lines, job_id, task_id),
        )


# Appends one line to the JSON log, keeping only the newest `limit` lines.
_APPEND_LOG = (
    "(SELECT coalesce(jsonb_agg(line ORDER BY n), '[]'::jsonb) FROM ("
    " SELECT line, n FROM jsonb_array_elements(log || jsonb_build_array(%s::text))"
    " WITH ORDINALITY AS t(line, n) ORDER BY n DESC LIMIT %s) AS kept)"
)


class JobContext:
    """What a job body sees: its job, progress reporting, logging and idempotent steps."""

    def __init__(self, job: Job) -> None:
        self.job = job

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record progress (and a log line); raise JobCancelled when cancel was requested."""
        with db.transaction() as tx:
            row = tx.fetchone(
                "UPDATE plugin_jobs SET progress_done = %s,"
                " progress_total = coalesce(%s, progress_total), heartbeat_at = now(),"
                " log = CASE WHEN %s::text IS NULL THEN log ELSE " + _APPEND_LOG + " END"
                " WHERE id = %s AND state = 'running' AND task_id = %s"
                " RETURNING cancel_requested",
                (done, total, message, message, common_settings().job_log_lines,
                 str(self.job.id), self.job.task_id),
            )
        if row is None:
            raise JobSuperseded(f"job {self.job.id} is no longer held by this delivery")
        if row["cancel_requested"]:
            raise JobCancelled()

    def log(self, message: str) -> None:
        with db.transaction() as tx:
            tx.execute(
                "UPDATE plugin_jobs SET log = " + _APPEND_LOG + " WHERE id = %s",
                (message, common_settings().job_log_lines, str(self.job.id)),
            )

    def step(self, key: str, action: Callable[[db.Transaction], T]) -> T:
        """Run `action` once per job: a retry or resumed job gets the recorded result instead.

        Database side effects made through the given transaction commit together with the
        step record (exactly once). Side effects elsewhere (OMERO) happen at least once, so
        such actions must check before they write.
        """
        with db.transaction() as tx:
            # Serialises two deliveries racing on one step, without locking the job row
            # (the heartbeat and progress updates must go on during a long step).
            tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       (f"{self.job.id}/{key}",))
            held = tx.fetchone(
                "SELECT 1 FROM plugin_jobs WHERE id = %s AND state = 'running' AND task_id = %s",
                (str(self.job.id), self.job.task_id),
            )
            if held is None:
                raise JobSuperseded(f"job {self.job.id} is no longer held by this delivery")
            done = tx.fetchone(
                "SELECT result FROM plugin_job_steps WHERE job_id = %s AND step = %s",
                (str(self.job.id), key),
            )
            if done is not None:
                return done["result"]
            result = action(tx)
            tx.execute(
                "INSERT INTO plugin_job_steps (job_id, step, result) VALUES (%s, %s, %s)",
                (str(self.job.id), key, json.dumps(result)),
            )
        return result


@contextmanager
def heartbeat(job_id: str, task_id: str) -> Iterator[None]:
    """Touch the job's heartbeat while its body runs, so long steps do not look lost."""
    stop = threading.Event()
    interval = max(1.0, common_settings().job_lease_seconds / 4)

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with db.transaction() as tx:
                    tx.execute(
                        "UPDATE plugin_jobs SET heartbeat_at = now()"
                        " WHERE id = %s AND state = 'running' AND task_id = %s",
                        (job_id, task_id),
                    )
            except Exception:  # a missed beat is harmless; the next one may succeed
                log.exception("heartbeat of job %s failed", job_id)

    thread = threading.Thread(target=beat, name=f"job-heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run(job_id: str, task_id: str) -> Any:
    """The body of the Celery task: run the job's kind, as the delivery holding the claim."""
    job = get(job_id)
    if job is None or job.state != "running" or job.task_id != task_id:
        raise JobSuperseded(f"job {job_id} is not held by this delivery")
    with heartbeat(str(job.id), task_id):
        return get_kind(job.kind).run(JobContext(job))


# -- recovery and sweep --------------------------------------------------------------------


@dataclass
class RecoveryReport:
    redispatched: int = 0
    failed: int = 0
    deleted: int = 0


def recover(dead_worker: str | None = None) -> RecoveryReport:
    """Re-dispatch or fail unfinished jobs whose task is gone.

    A running job counts as lost when its heartbeat is older than the lease, or when it ran on
    `dead_worker` (a worker that just started under the same name: its previous process is
    gone). A lost job is queued again and re-dispatched until it has used its attempts, then
    failed with the reason. Queued jobs whose message may be lost are re-sent (a duplicate
    message is harmless: only one delivery can claim the row); queued jobs no worker started in
    time are failed.
    """
    s = common_settings()
    report = RecoveryReport()
    to_dispatch: list[tuple[str, str]] = []
    with db.transaction() as tx:
        lost = tx.fetchall(
            "SELECT id, queue, attempts, worker FROM plugin_jobs WHERE state = 'running' AND"
            " (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => %s)"
            "  OR worker = %s) FOR UPDATE SKIP LOCKED",
            (s.job_lease_seconds, dead_worker),
        )
        for row in lost:
            if row["attempts"] >= s.job_max_attempts:
                reason = (f"worker {row['worker']} was lost {row['attempts']} time(s); "
                          "giving up (no step is applied twice, completed steps are kept)")
                tx.execute(
                    "UPDATE plugin_jobs SET state = 'failed', error = %s, finished_at = now(),"
                    " heartbeat_at = NULL WHERE id = %s",
                    (reason, row["id"]),
                )
                report.failed += 1
            else:
                tx.execute(
                    "UPDATE plugin_jobs SET state = 'queued', heartbeat_at = NULL,"
                    " queued_at = now(), log = " + _APPEND_LOG + " WHERE id = %s",
                    (f"worker {row['worker']} lost; resuming", s.job_log_lines, row["id"]),
                )
                to_dispatch.append((str(row["id"]), row["queue"]))
        tx.execute(
            "UPDATE plugin_jobs SET state = 'failed', finished_at = now(),"
            " error = 'no worker started this job in time; is the ' || queue || ' worker running?'"
            " WHERE state = 'queued' AND queued_at < now() - make_interval(secs => %s)",
            (s.job_queued_timeout_seconds,),
        )
        report.failed += tx.cursor.rowcount
        stale = tx.fetchall(
            "SELECT id, queue FROM plugin_jobs WHERE state = 'queued' AND NOT cancel_requested"
            " AND (dispatched_at IS NULL OR dispatched_at < now() - make_interval(secs => %s))"
            " FOR UPDATE SKIP LOCKED",
            (s.job_redispatch_seconds,),
        )
        to_dispatch += [(str(r["id"]), r["queue"]) for r in stale]
    for job_id, queue in to_dispatch:
        dispatch(job_id, queue)
    report.redispatched = len(to_dispatch)
    return report


def sweep() -> RecoveryReport:
    """Recover lost jobs and delete finished ones past the retention (systemd timer)."""
    report = recover()
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM plugin_jobs WHERE state NOT IN ('queued', 'running')"
            " AND finished_at < now() - make_interval(days => %s)",
            (common_settings().job_retention_days,),
        )
        report.deleted = tx.cursor.rowcount
    return report
