-- +goose Up
-- One row per hosted dataset: the typed table that holds a hosted catalog
-- resource's records, the key, and the catalog version its schema follows.
CREATE TABLE ingest_datasets (
    resource_id    TEXT PRIMARY KEY,
    resource_code  TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    table_name     TEXT NOT NULL UNIQUE,
    key_fields     TEXT NOT NULL,
    fields         TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    frequency      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    status_reason  TEXT NOT NULL DEFAULT '',
    row_count      BIGINT NOT NULL DEFAULT 0,
    active_batch   TEXT NOT NULL DEFAULT '',
    last_load_at   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX ingest_datasets_org ON ingest_datasets (org_id);

-- A batch is one load: its rows are staged first and applied in one
-- transaction, so readers never see part of it.
CREATE TABLE ingest_batches (
    seq            {{ID}},
    id             TEXT NOT NULL UNIQUE,
    resource_id    TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    mode           TEXT NOT NULL,
    policy         TEXT NOT NULL,
    format         TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT '',
    fingerprint    TEXT NOT NULL DEFAULT '',
    case_id        TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    stage_table    TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    rows_read      BIGINT NOT NULL DEFAULT 0,
    rows_staged    BIGINT NOT NULL DEFAULT 0,
    rows_rejected  BIGINT NOT NULL DEFAULT 0,
    rows_duplicate BIGINT NOT NULL DEFAULT 0,
    inserted       BIGINT NOT NULL DEFAULT 0,
    updated        BIGINT NOT NULL DEFAULT 0,
    deleted        BIGINT NOT NULL DEFAULT 0,
    rows_total     BIGINT NOT NULL DEFAULT 0,
    errors_stored  BIGINT NOT NULL DEFAULT 0,
    content_hash   TEXT NOT NULL DEFAULT '',
    counters       TEXT NOT NULL DEFAULT '{}',
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ingest_batches_resource ON ingest_batches (resource_id, seq);
CREATE INDEX ingest_batches_status ON ingest_batches (status, resource_id);

-- Rejected rows of a batch: the downloadable error report.
CREATE TABLE ingest_errors (
    id       {{ID}},
    batch_id TEXT NOT NULL,
    row_no   BIGINT NOT NULL,
    col_no   INTEGER NOT NULL,
    field    TEXT NOT NULL,
    code     TEXT NOT NULL,
    zh       TEXT NOT NULL,
    en       TEXT NOT NULL,
    value    TEXT NOT NULL
);
CREATE INDEX ingest_errors_batch ON ingest_errors (batch_id, id);

-- The quality profile of each applied load.
CREATE TABLE ingest_profiles (
    batch_id     TEXT PRIMARY KEY,
    resource_id  TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    completeness DOUBLE PRECISION NOT NULL,
    validity     DOUBLE PRECISION NOT NULL,
    uniqueness   DOUBLE PRECISION NOT NULL,
    timeliness   DOUBLE PRECISION NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX ingest_profiles_resource ON ingest_profiles (resource_id, at);
CREATE INDEX ingest_profiles_org ON ingest_profiles (org_id, at);

-- Quality rules the org or the authority adds to a dataset.
CREATE TABLE ingest_rules (
    id          TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    field       TEXT NOT NULL,
    spec        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    authority   INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX ingest_rules_resource ON ingest_rules (resource_id);

-- Code lists that fields name (Field.CodeList): code and label.
CREATE TABLE ingest_code_lists (
    name  TEXT NOT NULL,
    code  TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (name, code)
);

-- Personal-information hints for the org's data stewards (R-SEC-1).
CREATE TABLE ingest_pii_hints (
    id          TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    field       TEXT NOT NULL,
    entity      TEXT NOT NULL,
    sampled     BIGINT NOT NULL,
    matched     BIGINT NOT NULL,
    examples    TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    batch_id    TEXT NOT NULL DEFAULT '',
    decided_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (resource_id, field, entity)
);
CREATE INDEX ingest_pii_hints_org ON ingest_pii_hints (org_id, status);

-- Service-interface resources: the upstream the platform proxies (R-AGG-2).
CREATE TABLE ingest_services (
    resource_id   TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    base_url      TEXT NOT NULL,
    openapi       TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    operations    INTEGER NOT NULL DEFAULT 0,
    auth_kind     TEXT NOT NULL,
    auth_name     TEXT NOT NULL DEFAULT '',
    secret_enc    {{BLOB}},
    timeout_ms    INTEGER NOT NULL,
    health_path   TEXT NOT NULL DEFAULT '',
    health_status TEXT NOT NULL DEFAULT 'unknown',
    health_detail TEXT NOT NULL DEFAULT '',
    health_ms     INTEGER NOT NULL DEFAULT 0,
    health_at     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE ingest_services;
DROP TABLE ingest_pii_hints;
DROP TABLE ingest_code_lists;
DROP TABLE ingest_rules;
DROP TABLE ingest_profiles;
DROP TABLE ingest_errors;
DROP TABLE ingest_batches;
DROP TABLE ingest_datasets;
