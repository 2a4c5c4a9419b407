"""Jobs: eager runs for the logic, a real celery worker for delivery, crashes and recovery."""

import os
import signal
import subprocess
import time
from datetime import UTC

import psycopg2
import pytest

from omero_plugin_common import db, jobs
from omero_plugin_common.jobs import JobContext, TransientJobError, job_kind
from omero_test_double.harness.fixtures import plugin_dsn
from omero_test_double.harness.waiting import wait_for


@job_kind("test-fail", plugin="omero_plugin_common")
def _always_fails(ctx: JobContext) -> None:
    ctx.progress(1, 3, "about to fail")
    raise ValueError("the input file is not an image")


def _record_effect(tx, job_id, n: int) -> int:
    tx.execute("INSERT INTO plugin_selftest_effects (job_id, step) VALUES (%s, %s)",
               (str(job_id), n))
    return n


@job_kind("test-flaky", plugin="omero_plugin_common")
def _flaky(ctx: JobContext) -> dict:
    """Fails transiently after its second step on the first attempt only."""
    for n in (1, 2, 3):
        ctx.step(f"write-{n}", lambda tx, n=n: _record_effect(tx, ctx.job.id, n))
        if n == 2 and ctx.job.attempts == 1:
            raise TransientJobError("OMERO briefly unreachable")
    return {"ok": True}


def effects(job_id) -> dict[int, int]:
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT step, count(*) AS n FROM plugin_selftest_effects"
                           " WHERE job_id = %s GROUP BY step", (str(job_id),))
    return {r["step"]: r["n"] for r in rows}


# -- eager ------------------------------------------------------------------------------------


def test_selftest_runs_eagerly_with_progress_log_and_result(celery_eager):
    job = jobs.submit("selftest", "alice", {"steps": 5})
    job = jobs.get(job.id)
    assert job.state == "succeeded"
    assert (job.progress_done, job.progress_total) == (5, 5)
    assert job.result == {"counted": 5}
    assert job.log[0] == "counting to 5" and job.log[-1] == "done"
    assert job.attempts == 1 and job.finished_at is not None
    assert effects(job.id) == {n: 1 for n in range(1, 6)}
    assert job.public()["percent"] == 100.0


def test_message_is_sent_only_after_the_row_is_committed(celery_eager, monkeypatch):
    seen = []
    real_dispatch = jobs.dispatch

    def dispatch(job_id, queue):
        # A different connection (as a worker has) must already see the row.
        with psycopg2.connect(plugin_dsn()) as other, other.cursor() as cur:
            cur.execute("SELECT state FROM plugin_jobs WHERE id = %s", (str(job_id),))
            seen.append(cur.fetchone())
        real_dispatch(job_id, queue)

    monkeypatch.setattr(jobs, "dispatch", dispatch)
    jobs.submit("selftest", "alice", {"steps": 1})
    assert seen == [("queued",)]


def test_failure_hook_records_the_error(celery_eager):
    job = jobs.get(jobs.submit("test-fail", "alice").id)
    assert job.state == "failed"
    assert job.error == "ValueError: the input file is not an image"
    assert job.progress_done == 1 and job.finished_at is not None


def test_retry_resumes_without_repeating_completed_steps(celery_eager):
    job = jobs.get(jobs.submit("test-flaky", "alice").id)
    assert job.state == "succeeded", job.error
    assert job.attempts == 2
    assert any("retrying: OMERO briefly unreachable" in line for line in job.log)
    assert effects(job.id) == {1: 1, 2: 1, 3: 1}


def test_duplicate_delivery_is_ignored(celery_eager):
    from omero_plugin_common.tasks import run_job

    job = jobs.submit("selftest", "alice", {"steps": 2})
    run_job.apply(kwargs={"job_id": str(job.id)})  # a second delivery of the same job
    job = jobs.get(job.id)
    assert job.state == "succeeded" and job.attempts == 1
    assert effects(job.id) == {1: 1, 2: 1}


def test_queued_job_cancel_is_immediate_and_never_runs(plugin_services):
    job = jobs.submit("selftest", "alice", {"steps": 2}, queue="omp")  # no omp worker
    assert jobs.request_cancel(job.id).state == "cancelled"
    assert jobs.claim(str(job.id), "t", "w") is None
    assert effects(job.id) == {}


def test_log_is_bounded(celery_eager, monkeypatch):
    monkeypatch.setenv("OMERO_PLUGINS_JOB_LOG_LINES", "10")
    from omero_plugin_common.config import common_settings

    common_settings.cache_clear()
    try:
        job = jobs.submit("selftest", "alice", {"steps": 3})
        ctx = JobContext(jobs.get(job.id))
        for n in range(25):
            ctx.log(f"line {n}")
        kept = jobs.get(job.id).log
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()
    assert kept == [f"line {n}" for n in range(15, 25)]


def test_eta_extrapolates_from_progress():
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    job = jobs.Job(id=None, plugin="p", kind="k", queue="admin", owner="a", state="running",
                   params={}, progress_done=25, progress_total=100, log=[], result=None,
                   error=None, cancel_requested=False, attempts=1, task_id=None,
                   dispatched_at=None, queued_at=now, worker=None, created_at=now,
                   started_at=now - timedelta(seconds=10), heartbeat_at=now, finished_at=None)
    assert job.eta_seconds(now) == 30.0


# -- sweep ------------------------------------------------------------------------------------


def test_sweep_recovers_lost_fails_stuck_and_deletes_old(plugin_services, monkeypatch):
    sent = []
    monkeypatch.setattr(jobs, "dispatch", lambda job_id, queue: sent.append(str(job_id)))
    lost = jobs.submit("selftest", "alice", {"steps": 1}, queue="upload")
    stuck = jobs.submit("selftest", "alice", {"steps": 1}, queue="upload")
    old = jobs.submit("selftest", "alice", {"steps": 1}, queue="upload")
    with db.transaction() as tx:
        # Started days ago, lost now: resumed, not mistaken for a job no worker took.
        tx.execute("UPDATE plugin_jobs SET state='running', attempts=1, worker='upload@gone',"
                   " heartbeat_at = now() - interval '1 hour', created_at = now() - interval"
                   " '3 days', queued_at = now() - interval '3 days' WHERE id = %s",
                   (str(lost.id),))
        tx.execute("UPDATE plugin_jobs SET queued_at = now() - interval '3 days'"
                   " WHERE id = %s", (str(stuck.id),))
        tx.execute("UPDATE plugin_jobs SET state='succeeded', finished_at = now() - interval"
                   " '400 days' WHERE id = %s", (str(old.id),))
    sent.clear()
    from omero_plugin_common.jobs_cli import main

    assert main(["sweep"]) == 0
    assert jobs.get(lost.id).state == "queued"
    assert "worker upload@gone lost; resuming" in jobs.get(lost.id).log
    assert str(lost.id) in sent
    stuck_job = jobs.get(stuck.id)
    assert stuck_job.state == "failed"
    assert stuck_job.error == ("no worker started this job in time; is the upload worker "
                               "running?")
    assert jobs.get(old.id) is None


def test_queued_job_whose_message_was_lost_is_sent_again(plugin_services, monkeypatch):
    """E.g. the state Redis restarted without persistence: the row still says queued."""
    monkeypatch.setattr(jobs, "dispatch", lambda job_id, queue: None)  # the message is lost
    job = jobs.submit("selftest", "alice", {"steps": 2}, queue="omp")
    monkeypatch.undo()
    with db.transaction() as tx:
        tx.execute("UPDATE plugin_jobs SET dispatched_at = now() - interval '5 minutes'"
                   " WHERE id = %s", (str(job.id),))
    from omero_plugin_common.celery_app import app

    app.conf.task_always_eager = True
    try:
        report = jobs.recover()
    finally:
        app.conf.task_always_eager = False
    assert report.redispatched >= 1
    assert jobs.get(job.id).state == "succeeded"


# -- real worker ------------------------------------------------------------------------------


@pytest.mark.worker
def test_real_worker_runs_selftest_on_its_queue(celery_worker_factory):
    celery_worker_factory("admin", "admin@test-run")
    job = jobs.submit("selftest", "alice", {"steps": 4, "delay": 0.05})
    done = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="job to finish")
    assert done.state == "succeeded", done.error
    assert done.worker == "admin@test-run"
    assert effects(job.id) == {n: 1 for n in range(1, 5)}


@pytest.mark.worker
def test_selftest_command_runs_a_job_through_the_queue_worker(celery_worker_factory, capsys):
    from omero_plugin_common import jobs_cli

    assert jobs_cli.main(["selftest", "--queue", "upload", "--steps", "2", "--timeout", "5"]) == 1
    assert "no worker finished it" in capsys.readouterr().err
    celery_worker_factory("upload", "upload@test-cli")
    assert jobs_cli.main(["selftest", "--queue", "upload", "--steps", "2", "--timeout", "60"]) == 0
    assert "on queue upload: succeeded" in capsys.readouterr().out
    assert jobs_cli.main(["selftest", "--queue", "nosuch"]) == 2


@pytest.mark.worker
def test_worker_killed_mid_job_resumes_and_applies_each_step_once(celery_worker_factory):
    first = celery_worker_factory("admin", "admin@test-kill")
    job = jobs.submit("selftest", "alice", {"steps": 20, "delay": 0.1})
    wait_for(lambda: jobs.get(job.id).progress_done >= 5, what="progress 5")
    first.kill()
    crashed = jobs.get(job.id)
    assert crashed.state == "running" and crashed.progress_done < 20
    # systemd restarts the unit under the same node name; its start-up recovery resumes.
    celery_worker_factory("admin", "admin@test-kill")
    done = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="job to finish")
    assert done.state == "succeeded", done.error
    assert done.attempts == 2
    assert "worker admin@test-kill lost; resuming" in done.log
    assert effects(job.id) == {n: 1 for n in range(1, 21)}


@pytest.mark.worker
def test_worker_killed_too_often_fails_the_job_with_a_reason(celery_worker_factory,
                                                              monkeypatch):
    first = celery_worker_factory("admin", "admin@test-giveup")
    job = jobs.submit("selftest", "alice", {"steps": 50, "delay": 0.1})
    wait_for(lambda: jobs.get(job.id).progress_done >= 2, what="progress 2")
    first.kill()
    monkeypatch.setenv("OMERO_PLUGINS_JOB_MAX_ATTEMPTS", "1")  # read by the next worker
    celery_worker_factory("admin", "admin@test-giveup")
    failed = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="job to fail")
    assert failed.state == "failed"
    assert failed.error.startswith("worker admin@test-giveup was lost 1 time(s); giving up")
    assert all(n == 1 for n in effects(job.id).values())


@pytest.mark.worker
def test_running_job_is_cancelled_at_its_next_progress(celery_worker_factory):
    celery_worker_factory("admin", "admin@test-cancel")
    job = jobs.submit("selftest", "alice", {"steps": 50, "delay": 0.05})
    wait_for(lambda: jobs.get(job.id).progress_done >= 2, what="progress 2")
    jobs.request_cancel(job.id)
    done = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="cancel")
    assert done.state == "cancelled"
    assert done.progress_done < 50


@pytest.mark.worker
def test_pool_process_killed_is_resumed_once_its_lease_expires(celery_worker_factory):
    """E.g. the OOM killer takes the pool process; the worker's main process lives on."""
    worker = celery_worker_factory("admin", "admin@test-oom")
    job = jobs.submit("selftest", "alice", {"steps": 30, "delay": 0.1})
    wait_for(lambda: jobs.get(job.id).progress_done >= 3, what="progress 3")
    children = subprocess.run(["pgrep", "-P", str(worker.proc.pid)], capture_output=True,
                              text=True, check=True).stdout.split()
    assert len(children) == 1
    os.kill(int(children[0]), signal.SIGKILL)
    # The sweep (a systemd timer in production) finds the job once its heartbeat is too old.
    def recovered():
        jobs.recover()
        job_now = jobs.get(job.id)
        return job_now.state == "queued" or job_now.attempts == 2

    wait_for(recovered, what="lease to expire")
    done = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="job to finish")
    assert done.state == "succeeded", done.error
    assert done.attempts == 2
    assert effects(job.id) == {n: 1 for n in range(1, 31)}


@pytest.mark.worker
def test_redis_restart_loses_no_job(plugin_services, celery_worker_factory, monkeypatch):
    """The state Redis keeps no data across a restart; the job row brings the job back."""
    import redis

    broker = redis.Redis.from_url(plugin_services.env["OMERO_PLUGINS_STATE_REDIS_URL"])
    waiting = broker.llen("imaris_export")  # messages earlier tests left for no worker
    job = jobs.submit("selftest", "alice", {"steps": 3}, queue="imaris_export")  # no worker yet
    assert broker.llen("imaris_export") == waiting + 1
    plugin_services.redis.restart()
    assert broker.llen("imaris_export") == 0  # the message is gone
    monkeypatch.setenv("OMERO_PLUGINS_JOB_REDISPATCH_SECONDS", "5")  # read by the worker
    wait_for(lambda: (time.time() - jobs.get(job.id).dispatched_at.timestamp()) > 5,
             what="re-dispatch age")
    celery_worker_factory("imaris_export", "imaris_export@test-redis")
    done = wait_for(lambda: (j := jobs.get(job.id)).finished and j, what="job to finish")
    assert done.state == "succeeded", done.error
    assert effects(job.id) == {1: 1, 2: 1, 3: 1}


def test_job_created_in_a_rolled_back_transaction_never_exists_nor_runs(celery_eager,
                                                                        monkeypatch):
    sent = []
    monkeypatch.setattr(jobs, "dispatch", lambda job_id, queue: sent.append(job_id))
    with pytest.raises(RuntimeError), db.transaction() as tx:
        job = jobs.create(tx, "selftest", "alice", {"steps": 1})
        raise RuntimeError("the plugin's own write failed")
    assert jobs.get(job.id) is None
    assert sent == []
    with db.transaction() as tx:
        job = jobs.create(tx, "selftest", "alice", {"steps": 1})
        assert sent == []  # not before the commit
    assert sent == [job.id]


def test_a_superseded_delivery_can_neither_progress_nor_finish_the_job(plugin_services,
                                                                       monkeypatch):
    """A worker cut off from the database looked lost; the job was resumed elsewhere."""
    monkeypatch.setattr(jobs, "dispatch", lambda job_id, queue: None)
    job = jobs.submit("selftest", "alice", {"steps": 3}, queue="omp")
    first = JobContext(jobs.claim(str(job.id), "task-a", "omp@one"))
    with db.transaction() as tx:  # what recovery does once the lease expired
        tx.execute("UPDATE plugin_jobs SET state = 'queued' WHERE id = %s", (str(job.id),))
    second = JobContext(jobs.claim(str(job.id), "task-b", "omp@two"))
    with pytest.raises(jobs.JobSuperseded):
        first.progress(1, 3)
    with pytest.raises(jobs.JobSuperseded):
        first.step("count-1", lambda tx: _record_effect(tx, job.id, 1))
    jobs.mark_succeeded(str(job.id), "task-a", {"stale": True})
    second.progress(1, 3)
    assert (jobs.get(job.id).state, jobs.get(job.id).worker) == ("running", "omp@two")
    jobs.mark_succeeded(str(job.id), "task-b", {"counted": 3})
    assert jobs.get(job.id).result == {"counted": 3}
    assert effects(job.id) == {}
