-- +goose Up
-- Organisations. One authority per platform (the partial unique index), and
-- every org's unified social credit code is unique.
CREATE TABLE identity_orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    parent_id TEXT REFERENCES identity_orgs (id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identity_orgs_one_authority ON identity_orgs (kind) WHERE kind = 'authority';
CREATE INDEX identity_orgs_kind ON identity_orgs (kind, id);

-- People with accounts. username_key is the lower-cased username, so names
-- are unique case-insensitively on both databases. The resident ID number is
-- never stored in clear: only its keyed hash (HMAC-SHA256 under the platform
-- secret, hex) and a masked form.
CREATE TABLE identity_users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES identity_orgs (id),
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    id_number_hash TEXT,
    id_number_masked TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    password_changed_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL DEFAULT 0,
    last_login_addr TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX identity_users_org ON identity_users (org_id, id);
CREATE INDEX identity_users_id_number ON identity_users (id_number_hash);

CREATE TABLE identity_user_roles (
    user_id TEXT NOT NULL REFERENCES identity_users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX identity_user_roles_role ON identity_user_roles (role, user_id);

-- Failed sign-ins per username (known or not, so a lockout says nothing about
-- whether an account exists). Kept in the database so replicas agree.
CREATE TABLE identity_login_failures (
    username_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failed_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX identity_login_failures_last ON identity_login_failures (last_failed_at);

-- Browser sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE identity_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES identity_users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX identity_sessions_user ON identity_sessions (user_id);
CREATE INDEX identity_sessions_expires ON identity_sessions (expires_at);

-- API clients: an org's business applications. roles and scopes are
-- space-separated lists (neither may contain a space).
CREATE TABLE identity_clients (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES identity_orgs (id),
    name TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

-- Bearer tokens of API clients: only the SHA-256 of the token is stored.
CREATE TABLE identity_tokens (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES identity_clients (id),
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX identity_tokens_client ON identity_tokens (client_id, id);

-- +goose Down
DROP TABLE identity_tokens;
DROP TABLE identity_clients;
DROP TABLE identity_sessions;
DROP TABLE identity_login_failures;
DROP TABLE identity_user_roles;
DROP TABLE identity_users;
DROP TABLE identity_orgs;
