-- Upload jobs: one row per job, one per listed file. The files themselves are on disk under
-- OMERO_UPLOAD_DIR/<job id>/files/; received_bytes is the last confirmed (fsynced) offset.
-- No OMERO session key or password is ever stored: the import worker acts for the owner.
CREATE TABLE upload_jobs (
    id               uuid        PRIMARY KEY,
    owner            text        NOT NULL,
    state            text        NOT NULL DEFAULT 'uploading' CHECK (state IN (
                         'uploading', 'checking', 'awaiting_confirmation', 'ready',
                         'importing', 'done', 'error')),
    project_id       bigint,
    group_id         bigint,
    special_method   text        CHECK (special_method IN ('sem_edx_spectra')),
    options          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    orphan_dataset   text        NOT NULL,
    total_bytes      bigint      NOT NULL CHECK (total_bytes >= 0),
    platform_job_id  uuid,
    messages         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX upload_jobs_owner_state ON upload_jobs (owner, state);
CREATE INDEX upload_jobs_updated ON upload_jobs (updated_at);

CREATE TABLE upload_files (
    job_id          uuid        NOT NULL REFERENCES upload_jobs (id) ON DELETE CASCADE,
    idx             integer     NOT NULL CHECK (idx >= 0),
    relative_path   text        NOT NULL,
    size            bigint      NOT NULL CHECK (size >= 0),
    sha256          text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    received_bytes  bigint      NOT NULL DEFAULT 0,
    chunks          integer     NOT NULL DEFAULT 0,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN (
                        'pending', 'uploaded', 'skipped', 'pruned', 'importing', 'imported',
                        'failed')),
    skip_reason     text,
    import_skip     boolean     NOT NULL DEFAULT false,
    compat          text        NOT NULL DEFAULT 'unknown'
                        CHECK (compat IN ('unknown', 'compatible', 'incompatible')),
    dataset_name    text,
    image_ids       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    error           text,
    log             jsonb       NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (job_id, idx),
    UNIQUE (job_id, relative_path)
);

-- Settings of a special upload method (e.g. SEM-EDX), per user.
CREATE TABLE upload_special_method_settings (
    username    text        NOT NULL,
    method_key  text        NOT NULL,
    settings    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, method_key)
);
