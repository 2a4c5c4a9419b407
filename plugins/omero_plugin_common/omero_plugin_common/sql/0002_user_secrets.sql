-- Per-user secrets (e.g. API keys), Fernet-encrypted; plaintext never reaches the database.
CREATE TABLE plugin_user_secrets (
    plugin     text        NOT NULL,
    username   text        NOT NULL,
    name       text        NOT NULL,
    token      bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin, username, name)
);
