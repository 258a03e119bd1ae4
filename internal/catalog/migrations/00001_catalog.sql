-- +goose Up
-- Catalog entries. The row holds the latest published content (doc) and
-- its facet columns, which search reads; the draft (if any) sits beside it.
-- Times are unix microseconds (docs/decisions/0001).
CREATE TABLE catalog_resources (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL,
    org_name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    remote_source TEXT NOT NULL DEFAULT '',
    remote_url TEXT NOT NULL DEFAULT '',
    remote_at BIGINT NOT NULL DEFAULT 0,
    draft TEXT,
    draft_rev INTEGER NOT NULL DEFAULT 0,
    draft_by TEXT NOT NULL DEFAULT '',
    draft_at BIGINT NOT NULL DEFAULT 0,
    review_case_id TEXT NOT NULL DEFAULT '',
    doc TEXT,
    major INTEGER NOT NULL DEFAULT 0,
    minor INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL DEFAULT '',
    data_class TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    share_attr TEXT NOT NULL DEFAULT '',
    open_attr TEXT NOT NULL DEFAULT '',
    frequency TEXT NOT NULL DEFAULT '',
    themes TEXT NOT NULL DEFAULT '',
    formats TEXT NOT NULL DEFAULT '',
    search TEXT NOT NULL DEFAULT '',
    fts_rowid BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT NOT NULL DEFAULT 0,
    data_updated_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX catalog_resources_org_seq ON catalog_resources (org_id, seq);
CREATE INDEX catalog_resources_status ON catalog_resources (status, id);
CREATE INDEX catalog_resources_org ON catalog_resources (org_id, id);
CREATE INDEX catalog_resources_open ON catalog_resources (status, open_attr, id);

-- Facet terms of published entries: one row per (facet, value), so filters
-- are index lookups whatever the facet (org, theme, level, share, open,
-- format, frequency, class, delivery, industry, library, tag).
CREATE TABLE catalog_terms (
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (facet, value, resource_id)
);
CREATE INDEX catalog_terms_resource ON catalog_terms (resource_id);

-- Data items of published entries, for the duplicate-collection check (R-CAT-8).
CREATE TABLE catalog_fields (
    resource_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    label_key TEXT NOT NULL,
    code_list TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (resource_id, pos)
);
CREATE INDEX catalog_fields_name ON catalog_fields (name);
CREATE INDEX catalog_fields_label ON catalog_fields (label_key);
CREATE INDEX catalog_fields_code_list ON catalog_fields (code_list);

-- Every published version and every withdrawal, kept forever (R-CAT-3).
CREATE TABLE catalog_versions (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    action TEXT NOT NULL,
    doc TEXT,
    diff TEXT NOT NULL,
    breaking INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    approver TEXT NOT NULL DEFAULT '',
    case_id TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX catalog_versions_resource ON catalog_versions (resource_id, id);

-- Configuration the authority sets (taxonomy, rules, review) and the
-- catalog's generation, bumped on every publish and withdrawal.
CREATE TABLE catalog_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE catalog_settings;
DROP TABLE catalog_versions;
DROP TABLE catalog_fields;
DROP TABLE catalog_terms;
DROP TABLE catalog_resources;
