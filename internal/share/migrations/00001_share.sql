-- +goose Up
-- Sharing's own tables (docs/sharing.md). Grants live in gate, cases in
-- casework; share keeps only the demand list. Times are unix microseconds.

-- The demand list (供需对接, SZ13, R-SHR-7): data needs an org posts that the
-- catalog does not meet; the authority matches each to a catalog entry or
-- asks an org to catalog it.
CREATE TABLE share_demands (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    scenario TEXT NOT NULL,
    legal_duty TEXT NOT NULL DEFAULT '',
    -- items is a JSON array of the data items wanted, in the poster's words.
    items TEXT NOT NULL,
    -- status: open → matched | cataloging → matched; open|cataloging → closed.
    status TEXT NOT NULL,
    resource_id TEXT NOT NULL DEFAULT '',
    asked_org_id TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX share_demands_status ON share_demands (status, created_at);
CREATE INDEX share_demands_org ON share_demands (org_id, created_at);
CREATE INDEX share_demands_asked ON share_demands (asked_org_id, status);

-- +goose Down
DROP TABLE share_demands;
