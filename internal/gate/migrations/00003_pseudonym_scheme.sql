-- +goose Up
-- The pseudonym PRF a grant's deliveries use. Grants made before this
-- migration keep HMAC (1), so their recipients' pseudonyms do not change;
-- new grants are made with CMAC (2). See internal/gate/fingerprint.go.
ALTER TABLE gate_grants ADD COLUMN pseudonym_scheme INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE gate_grants DROP COLUMN pseudonym_scheme;
