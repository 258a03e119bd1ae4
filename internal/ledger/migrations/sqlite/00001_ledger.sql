-- +goose Up
-- The ledger's tables on SQLite. migrations/postgres holds the same schema
-- for PostgreSQL; keep the two in step (decision 0020).

-- Events appended by business transactions wait here until the integrator
-- gives them a place in the Merkle tree. Rows are deleted when integrated, in
-- the same transaction that inserts their entries.
CREATE TABLE ledger_pending (
    id INTEGER PRIMARY KEY,
    body BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- The sequenced, append-only log. seq is the leaf index; body is the
-- canonical entry bytes that leaf_hash (RFC 6962 leaf hash) covers. The other
-- columns copy fields of body so queries can use indexes; verify checks that
-- they agree with body.
CREATE TABLE ledger_entries (
    seq INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    body BLOB NOT NULL,
    time BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT,
    org_id TEXT,
    resource_id TEXT,
    grant_id TEXT
);
CREATE INDEX ledger_entries_resource ON ledger_entries (resource_id, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX ledger_entries_org ON ledger_entries (org_id, seq) WHERE org_id IS NOT NULL;
CREATE INDEX ledger_entries_grant ON ledger_entries (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entries_actor ON ledger_entries (actor_id, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX ledger_entries_action ON ledger_entries (action, seq);
CREATE INDEX ledger_entries_time ON ledger_entries (time);

-- Keyed subject hashes of each entry (Event.Subjects), for queries by subject.
CREATE TABLE ledger_entry_subjects (
    subject TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;

-- Interior nodes of the Merkle tree: id = level<<56 | index, level >= 1.
-- Leaves (level 0) are ledger_entries.leaf_hash. Proofs read O(log n) rows.
CREATE TABLE ledger_nodes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- The integrator's state: one row, the tree size, its root and the compact
-- range (the hashes of the perfect subtrees covering [0, size)).
CREATE TABLE ledger_tree (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    root BLOB NOT NULL,
    compact BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Signed checkpoints (C2SP tlog-checkpoint as a signed note), one per size.
CREATE TABLE ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Checkpoint keys (kind 'signer': secret is the note private key, public
-- the verifier key; kind 'verifier': a supplied key's public half only) and
-- the subject lookup secret (kind 'subject-lookup').
CREATE TABLE ledger_keys (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    public TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- Per-subject keys. lookup is HMAC(lookup secret, identifier); deleting the
-- row destroys the only link between an identifier and its subject hash.
CREATE TABLE ledger_subject_keys (
    lookup TEXT PRIMARY KEY,
    key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- The log is append-only: refuse updates and deletes of entries, nodes and
-- checkpoints at the database level too.
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE ledger_subject_keys;
DROP TABLE ledger_keys;
DROP TABLE ledger_checkpoints;
DROP TABLE ledger_tree;
DROP TABLE ledger_nodes;
DROP TABLE ledger_entry_subjects;
DROP TABLE ledger_entries;
DROP TABLE ledger_pending;
