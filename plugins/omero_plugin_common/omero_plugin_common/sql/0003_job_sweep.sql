-- The sweep and worker-start recovery look up unfinished jobs by state.
CREATE INDEX plugin_jobs_unfinished ON plugin_jobs (state, heartbeat_at)
    WHERE state IN ('queued', 'running');

-- Side effects of the platform self-test job, counted by tests to prove "applied once".
CREATE TABLE plugin_selftest_effects (
    job_id uuid    NOT NULL REFERENCES plugin_jobs (id) ON DELETE CASCADE,
    step   integer NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
