-- +goose Up
-- Chinese full-text search: FTS5 with the trigram tokenizer, which needs no
-- word segmentation. Rows are keyed by catalog_resources.fts_rowid.
CREATE VIRTUAL TABLE catalog_fts USING fts5(body, tokenize = 'trigram');

-- +goose Down
DROP TABLE catalog_fts;
