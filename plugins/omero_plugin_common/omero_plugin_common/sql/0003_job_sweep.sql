-- The sweep and worker-start recovery look up unfinished jobs by state.
CREATE INDEX plugin_jobs_unfinished ON plugin_jobs (state, heartbeat_at)
    WHERE state IN ('queued', 'running');

-- Side effects of the platform self-test job, counted by tests to prove "applied once".
CREATE TABLE plugin_selftest_effects (
    job_id uuid    NOT NULL REFERENCES plugin_jobs (id) ON DELETE CASCADE,
    step   integer NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);

-- When the job last entered the queue (creation, retry or recovery): the queued timeout counts
-- from here, so a long job resumed after a crash is not mistaken for one no worker took.
ALTER TABLE plugin_jobs ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
