-- +goose Up
-- The entries' secondary indexes (resource, org, grant, actor, action,
-- time, content hash) move to a table of their own, filled in
-- batches behind the log (decision 0109). Indexes on ledger_entries made
-- every commit that appended an entry write a page of each of them,
-- however few entries it appended; a gate delivery's
-- commit wrote about fourteen pages, six of them these.
--
-- ledger_entry_index holds the indexed columns of every entry with a seq
-- below ledger_index_state.upto; entries from upto on (at most a few
-- hundred) are read from ledger_entries directly. Keep in step with
-- migrations/sqlite.

-- The content hash joins the indexed columns: the gate traces a leaked
-- file to its delivery by it, through this index, so that the delivery
-- table keeps no index of its own on it (a random page in every commit).
ALTER TABLE ledger_entries ADD COLUMN content_hash TEXT;
ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only;
UPDATE ledger_entries SET content_hash = convert_from(body, 'UTF8')::jsonb ->> 'content_hash'
    WHERE convert_from(body, 'UTF8')::jsonb ->> 'content_hash' IS NOT NULL;
ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only;

CREATE TABLE ledger_entry_index (
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT,
    org_id TEXT,
    resource_id TEXT,
    grant_id TEXT,
    content_hash TEXT
);
INSERT INTO ledger_entry_index (seq, time, action, actor_id, org_id, resource_id, grant_id, content_hash)
    SELECT seq, time, action, actor_id, org_id, resource_id, grant_id, content_hash FROM ledger_entries ORDER BY seq;
CREATE INDEX ledger_entry_index_resource ON ledger_entry_index (resource_id, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX ledger_entry_index_org ON ledger_entry_index (org_id, seq) WHERE org_id IS NOT NULL;
CREATE INDEX ledger_entry_index_grant ON ledger_entry_index (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entry_index_actor ON ledger_entry_index (actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX ledger_entry_index_action ON ledger_entry_index (action, seq);
CREATE INDEX ledger_entry_index_time ON ledger_entry_index (time);
CREATE INDEX ledger_entry_index_content ON ledger_entry_index (content_hash, seq) WHERE content_hash IS NOT NULL;

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

CREATE TRIGGER ledger_entry_index_append_only BEFORE UPDATE OR DELETE ON ledger_entry_index
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- +goose Down
ALTER TABLE ledger_entries DROP COLUMN content_hash;
DROP TRIGGER ledger_entry_index_append_only ON ledger_entry_index;
CREATE INDEX ledger_entries_resource ON ledger_entries (resource_id, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX ledger_entries_org ON ledger_entries (org_id, seq) WHERE org_id IS NOT NULL;
CREATE INDEX ledger_entries_grant ON ledger_entries (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entries_actor ON ledger_entries (actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX ledger_entries_action ON ledger_entries (action, seq);
CREATE INDEX ledger_entries_time ON ledger_entries (time);
DROP TABLE ledger_index_state;
DROP TABLE ledger_entry_index;
