-- Saved variable-name sets, per user (at most 10 per user, enforced by the plugin).
CREATE TABLE omp_variable_sets (
    id         bigserial   PRIMARY KEY,
    username   text        NOT NULL,
    set_name   text        NOT NULL,
    var_names  jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (username, set_name)
);
