-- +goose Up
-- From not open to open (R-OPN-4). An anonymised derivative made by open
-- from a not-open entry (k-anonymity and masking), with its risk report;
-- and each approved opening (derivative or right holder's consent), whose
-- case and ledger events are the trail. Times are unix microseconds.
CREATE TABLE open_derivations (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    result TEXT NOT NULL,
    report TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX open_derivations_source ON open_derivations (source_id, created_at);

CREATE TABLE open_conversions (
    case_id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    path TEXT NOT NULL,
    attr TEXT NOT NULL,
    derivation_id TEXT NOT NULL DEFAULT '',
    approved_at BIGINT NOT NULL
);
CREATE INDEX open_conversions_resource ON open_conversions (resource_id, approved_at);

-- +goose Down
DROP TABLE open_conversions;
DROP TABLE open_derivations;
