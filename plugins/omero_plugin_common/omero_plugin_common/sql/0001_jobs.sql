-- Durable background jobs: the row is the truth, Celery only carries the job id.
CREATE TABLE plugin_jobs (
    id               uuid        PRIMARY KEY,
    plugin           text        NOT NULL,
    kind             text        NOT NULL,
    queue            text        NOT NULL,
    owner            text        NOT NULL,
    state            text        NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    progress_done    integer     NOT NULL DEFAULT 0,
    progress_total   integer,
    log              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    result           jsonb,
    error            text,
    cancel_requested boolean     NOT NULL DEFAULT false,
    attempts         integer     NOT NULL DEFAULT 0,
    task_id          text,
    dispatched_at    timestamptz,
    worker           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    finished_at      timestamptz
);
CREATE INDEX plugin_jobs_owner ON plugin_jobs (owner, created_at DESC);

-- Steps a job has completed; a retried job skips them, so side effects are never repeated.
CREATE TABLE plugin_job_steps (
    job_id  uuid        NOT NULL REFERENCES plugin_jobs (id) ON DELETE CASCADE,
    step    text        NOT NULL,
    result  jsonb,
    done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, step)
);
