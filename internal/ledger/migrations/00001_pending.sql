-- +goose Up
-- Events appended by business transactions wait here until the integrator
-- gives them a place in the Merkle tree.
CREATE TABLE ledger_pending (
    id {{ID}},
    body {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE ledger_pending;
