-- +goose Up
-- Open data's own tables (docs/open-data.md). Grants live in gate, cases in
-- casework, every download's record in the ledger; open keeps counts, keys,
-- public requests, review and risk state. Times are unix microseconds.

-- The one public grant of each unconditional open resource (R-OPN-1); the
-- primary key stops two replicas from creating two.
CREATE TABLE open_public_grants (
    resource_id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Free API keys (R-OPN-1, R-DEV-6): only the SHA-256 of the key is kept.
CREATE TABLE open_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    contact TEXT NOT NULL DEFAULT '',
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Demand events (R-OPN-5): kind download | application | request. The
-- requester is a keyed, day-bucketed fingerprint, never an address.
CREATE TABLE open_demand (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    key_id TEXT NOT NULL DEFAULT '',
    delivery_id TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT '',
    records INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX open_demand_resource ON open_demand (resource_id, kind, created_at);
CREATE INDEX open_demand_time ON open_demand (created_at);

-- Periodic review of conditional-open entries (R-OPN-3): the last review
-- and the pending case, if any.
CREATE TABLE open_reviews (
    resource_id TEXT PRIMARY KEY,
    reviewed_at BIGINT NOT NULL DEFAULT 0,
    case_id TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- Re-identification risk scans of opened entries (R-OPN-6).
CREATE TABLE open_risk_scans (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL DEFAULT '',
    report TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    case_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX open_risk_scans_resource ON open_risk_scans (resource_id, created_at);

-- The service grant through which the risk scan reads an entry's data.
CREATE TABLE open_scan_grants (
    resource_id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL
);

-- +goose Down
DROP TABLE open_scan_grants;
DROP TABLE open_risk_scans;
DROP TABLE open_reviews;
DROP TABLE open_demand;
DROP TABLE open_keys;
DROP TABLE open_public_grants;
