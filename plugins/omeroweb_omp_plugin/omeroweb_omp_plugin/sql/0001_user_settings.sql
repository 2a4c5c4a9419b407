-- Per-user preferences of omeroweb_omp_plugin.
CREATE TABLE omp_user_settings (
    username   text        PRIMARY KEY,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
