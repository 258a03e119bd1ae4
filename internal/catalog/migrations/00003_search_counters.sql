-- +goose Up
-- Precomputed facet counts of the published catalog (scope 'all') and of the
-- open list (scope 'open'), kept in the transaction of every publication and
-- withdrawal, so browsing never recounts. Facet '~total' holds the total.
-- label is the org's name for facet 'org'.
CREATE TABLE catalog_facet_counts (
    scope TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, facet, value)
);
-- The distinct combinations of the seven shown facets (org, level, share,
-- open, frequency, themes, formats) of search rows, packed in k; a search
-- row holds its combination's id, so counting facets reads one small
-- integer per match (docs/decisions/0056). Never deleted.
CREATE TABLE catalog_search_combos (
    id {{ID}},
    k TEXT NOT NULL UNIQUE
);
-- A published entry's search row id, to map search rows back to entries.
CREATE INDEX catalog_resources_rid ON catalog_resources (fts_rowid);
-- Search reads catalog_search now.
DROP INDEX catalog_resources_search_cover;

-- +goose Down
CREATE INDEX catalog_resources_search_cover ON catalog_resources
    (fts_rowid, status, id, org_id, org_name, level, share_attr, open_attr, frequency, themes, formats, name);
DROP INDEX catalog_resources_rid;
DROP TABLE catalog_search_combos;
DROP TABLE catalog_facet_counts;
