-- +goose Up
-- The search index (docs/decisions/0056): one row per published entry (rid
-- sorts as the entry's id and is its catalog_resources.fts_rowid; c is its
-- facet combination) with its document as a tsvector of pre-split
-- tokens (character bigrams and characters of the text and the name, facet
-- values) under a GIN index. The trigram index of decision 0053 goes.
CREATE TABLE catalog_search (
    rid BIGINT PRIMARY KEY,
    c BIGINT NOT NULL,
    open_list INTEGER NOT NULL,
    body tsvector NOT NULL
);
CREATE INDEX catalog_search_open ON catalog_search (open_list, rid);
CREATE INDEX catalog_search_body ON catalog_search USING gin (body);
DROP INDEX IF EXISTS catalog_resources_search;

-- +goose Down
DROP TABLE catalog_search;
