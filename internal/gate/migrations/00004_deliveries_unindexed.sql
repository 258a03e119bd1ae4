-- +goose Up
-- Deliveries are found by content hash and by grant through their ledger
-- events (the ledger's index, kept in batches behind the log: decision
-- 0109), not through indexes of this table: the one on content_hash put a
-- random page into every group commit's WAL, and with the one on grant it
-- was two of the nine pages a delivery's commit wrote.
DROP INDEX gate_deliveries_grant;
DROP INDEX gate_deliveries_hash;

-- +goose Down
CREATE INDEX gate_deliveries_grant ON gate_deliveries (grant_id, created_at);
CREATE INDEX gate_deliveries_hash ON gate_deliveries (content_hash);
