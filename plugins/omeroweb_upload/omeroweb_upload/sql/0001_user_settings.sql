-- Per-user preferences of omeroweb_upload.
CREATE TABLE upload_user_settings (
    username   text        PRIMARY KEY,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
