-- +goose Up
-- Differential-privacy budget accounts, one per operator and dataset
-- (R-DEV-2). Epsilon is kept in integer nano-units (1e-9) so spending is
-- exact arithmetic and the CHECK holds on both databases.
CREATE TABLE privacy_budgets (
    operator_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    total_nano BIGINT NOT NULL,
    spent_nano BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (operator_id, dataset_id),
    CHECK (spent_nano >= 0 AND spent_nano <= total_nano)
);

-- Every spend, for the operator's own statement; the ledger holds the same
-- event tamper-evidently.
CREATE TABLE privacy_budget_spends (
    id TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    epsilon_nano BIGINT NOT NULL,
    aggregate TEXT NOT NULL,
    purpose TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX privacy_budget_spends_account ON privacy_budget_spends (operator_id, dataset_id, created_at);

-- +goose Down
DROP TABLE privacy_budget_spends;
DROP TABLE privacy_budgets;
