-- Per-user preferences of omeroweb_imaris_connector.
CREATE TABLE imaris_user_settings (
    username   text        PRIMARY KEY,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
