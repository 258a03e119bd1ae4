-- +goose Up
-- The gate's tables (docs/gate.md). Times are unix microseconds.

-- Grants: who may receive which fields of which resource, for which purpose,
-- until when, under which limits. Share, open, market and the other
-- capabilities create and change them through gate's API, in their own
-- transactions; every change is also a ledger event.
CREATE TABLE gate_grants (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    -- grantee_org_id is '' for a public grant (kind open): anyone, signed in or not.
    grantee_org_id TEXT NOT NULL,
    grantee_client_id TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    kind TEXT NOT NULL,
    case_id TEXT NOT NULL DEFAULT '',
    row_filter TEXT NOT NULL DEFAULT '',
    row_limit INTEGER NOT NULL,
    rate_per_minute INTEGER NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0,
    terms TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX gate_grants_grantee ON gate_grants (grantee_org_id, resource_id);
CREATE INDEX gate_grants_resource ON gate_grants (resource_id, state);

-- Deliveries: one row per delivery, with the signed receipt statement, so a
-- receipt can be completed with its ledger proof later and a file traced.
CREATE TABLE gate_deliveries (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    org_id TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    format TEXT NOT NULL,
    records BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    signed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ledger_seq BIGINT
);
CREATE INDEX gate_deliveries_grant ON gate_deliveries (grant_id, created_at);
CREATE INDEX gate_deliveries_hash ON gate_deliveries (content_hash);

-- The receipt signing key (a note key, Ed25519 or SM2).
CREATE TABLE gate_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL DEFAULT '',
    public TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE gate_keys;
DROP TABLE gate_deliveries;
DROP TABLE gate_grants;
