-- +goose Up
-- A grant may be bound to one person of the grantee org (an open-data
-- application made by a person: R-OPN-2), as it may to one API client.
ALTER TABLE gate_grants ADD COLUMN grantee_user_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE gate_grants DROP COLUMN grantee_user_id;
