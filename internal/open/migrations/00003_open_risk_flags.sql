-- +goose Up
-- The scheduled re-identification risk scan (R-OPN-6). Each scan records
-- the catalog version and a hash of the quasi-identifier data it read, so a
-- dataset version is flagged once, not on every run: a flag row is reserved
-- (primary key) before its open_risk case is filed, which also keeps two
-- replicas' workers from filing twice.
ALTER TABLE open_risk_scans ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE open_risk_scans ADD COLUMN data_hash TEXT NOT NULL DEFAULT '';

CREATE TABLE open_risk_flags (
    resource_id TEXT NOT NULL,
    version TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    scan_id TEXT NOT NULL,
    case_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, version, data_hash)
);

-- +goose Down
DROP TABLE open_risk_flags;
ALTER TABLE open_risk_scans DROP COLUMN data_hash;
ALTER TABLE open_risk_scans DROP COLUMN version;
