-- +goose Up
-- A covering index for search: matches found by full-text row id read their
-- facet columns, name and org from the index alone, never the wide row
-- with its JSON content.
CREATE INDEX catalog_resources_search_cover ON catalog_resources
    (fts_rowid, status, id, org_id, org_name, level, share_attr, open_attr, frequency, themes, formats, name);

-- +goose Down
DROP INDEX catalog_resources_search_cover;
