-- +goose Up
-- The entries' secondary indexes move to a table of their own, filled in
-- batches behind the log (decision 0109). Indexes on ledger_entries made
-- every commit that appended an entry write six more pages, one for each
-- index, whatever the number of entries it appended; a gate delivery's
-- commit wrote about fourteen pages, six of them these.
--
-- ledger_entry_index holds the indexed columns of every entry with a seq
-- below ledger_index_state.upto; entries from upto on (at most a few
-- hundred) are read from ledger_entries directly. Keep in step with
-- migrations/postgres.
CREATE TABLE ledger_entry_index (
    seq INTEGER PRIMARY KEY,
    time BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT,
    org_id TEXT,
    resource_id TEXT,
    grant_id TEXT
);
INSERT INTO ledger_entry_index (seq, time, action, actor_id, org_id, resource_id, grant_id)
    SELECT seq, time, action, actor_id, org_id, resource_id, grant_id FROM ledger_entries ORDER BY seq;
CREATE INDEX ledger_entry_index_resource ON ledger_entry_index (resource_id, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX ledger_entry_index_org ON ledger_entry_index (org_id, seq) WHERE org_id IS NOT NULL;
CREATE INDEX ledger_entry_index_grant ON ledger_entry_index (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entry_index_actor ON ledger_entry_index (actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX ledger_entry_index_action ON ledger_entry_index (action, seq);
CREATE INDEX ledger_entry_index_time ON ledger_entry_index (time);

CREATE TABLE ledger_index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    upto BIGINT NOT NULL
);
INSERT INTO ledger_index_state (id, upto) SELECT 1, COALESCE(MAX(seq) + 1, 0) FROM ledger_entries;

DROP INDEX ledger_entries_resource;
DROP INDEX ledger_entries_org;
DROP INDEX ledger_entries_grant;
DROP INDEX ledger_entries_actor;
DROP INDEX ledger_entries_action;
DROP INDEX ledger_entries_time;

CREATE TRIGGER ledger_entry_index_no_update BEFORE UPDATE ON ledger_entry_index
BEGIN SELECT RAISE(ABORT, 'ledger_entry_index is append-only'); END;
CREATE TRIGGER ledger_entry_index_no_delete BEFORE DELETE ON ledger_entry_index
BEGIN SELECT RAISE(ABORT, 'ledger_entry_index is append-only'); END;

-- +goose Down
CREATE INDEX ledger_entries_resource ON ledger_entries (resource_id, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX ledger_entries_org ON ledger_entries (org_id, seq) WHERE org_id IS NOT NULL;
CREATE INDEX ledger_entries_grant ON ledger_entries (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entries_actor ON ledger_entries (actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX ledger_entries_action ON ledger_entries (action, seq);
CREATE INDEX ledger_entries_time ON ledger_entries (time);
DROP TABLE ledger_index_state;
DROP TABLE ledger_entry_index;
