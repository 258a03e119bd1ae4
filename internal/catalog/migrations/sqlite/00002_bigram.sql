-- +goose Up
-- The search index (docs/decisions/0056): one narrow row per published entry
-- (rid sorts as the entry's id and is its catalog_resources.fts_rowid; c is
-- its facet combination) and its full-text document of pre-split tokens
-- (character bigrams and characters of the text and the name, facet values),
-- which the "ascii" tokenizer splits on spaces only. Contentless: the
-- document is never read back.
CREATE TABLE catalog_search (
    rid INTEGER PRIMARY KEY,
    c INTEGER NOT NULL,
    open_list INTEGER NOT NULL
);
CREATE INDEX catalog_search_open ON catalog_search (open_list, rid);
CREATE VIRTUAL TABLE catalog_sx USING fts5(body, tokenize = 'ascii', detail = full, content = '', contentless_delete = 1);
DROP TABLE catalog_fts;

-- +goose Down
CREATE VIRTUAL TABLE catalog_fts USING fts5(body, tokenize = 'trigram');
DROP TABLE catalog_sx;
DROP TABLE catalog_search;
