-- One row per OpenHCS execution (its job row holds state, progress and log): what ran on what,
-- for whom, and the live detail the job list shows (current well and step).
CREATE TABLE openhcs_executions (
    job_id            uuid        PRIMARY KEY REFERENCES plugin_jobs (id) ON DELETE CASCADE,
    owner             text        NOT NULL,
    group_id          bigint      NOT NULL,
    preset            text        NOT NULL,
    params            jsonb       NOT NULL,
    source_type       text        NOT NULL CHECK (source_type IN ('plate', 'dataset')),
    source_id         bigint      NOT NULL,
    source_name       text        NOT NULL,
    gpu               boolean     NOT NULL,
    wells_done        integer,
    wells_total       integer,
    current_well      text,
    current_step      text,
    result_dataset_id bigint,
    reason            text,        -- why it failed, as a sentence for the user
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX openhcs_executions_owner ON openhcs_executions (owner, created_at DESC);

-- Processing time per group (quota). Kept apart from the jobs, which are deleted after their
-- retention: the quota period may be longer.
CREATE TABLE openhcs_processing_ledger (
    job_id      uuid             PRIMARY KEY,
    owner       text             NOT NULL,
    group_id    bigint           NOT NULL,
    seconds     double precision NOT NULL CHECK (seconds >= 0),
    recorded_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX openhcs_processing_ledger_group ON openhcs_processing_ledger (group_id, recorded_at);
