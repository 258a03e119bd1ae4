-- +goose Up
CREATE TABLE widgets (
    id {{ID}},
    name TEXT NOT NULL {{NOCASE}} UNIQUE,
    body {{BLOB}}
);

-- +goose Down
DROP TABLE widgets;
