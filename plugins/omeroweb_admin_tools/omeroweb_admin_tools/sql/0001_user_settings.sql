-- Per-user preferences of omeroweb_admin_tools.
CREATE TABLE admin_tools_user_settings (
    username   text        PRIMARY KEY,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
