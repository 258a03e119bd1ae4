// Package dp computes differentially private aggregates (count, sum, mean,
// quantiles) with github.com/google/differential-privacy/go/v3 and keeps a
// privacy-budget account per operator and dataset that refuses to overspend
// (R-DEV-2: results leave the trusted environment as aggregates; R-SEC-3:
// privacy computing). Every spend is a ledger event in the same transaction.
//
// Aggregates use the Laplace mechanism (pure ε-DP, δ = 0). Each record is
// one privacy unit contributing once (MaxContributions 1) to one partition.
package dp

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"

	"shuqiao/internal/apperr"
	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Kind names an aggregate.
type Kind string

const (
	Count     Kind = "count"
	Sum       Kind = "sum"
	Mean      Kind = "mean"
	Quantiles Kind = "quantiles"
)

// Aggregate describes one query.
type Aggregate struct {
	Kind Kind `json:"kind"`
	// Epsilon is the privacy loss the query spends.
	Epsilon float64 `json:"epsilon"`
	// Lower and Upper clamp values (required for sum, mean, quantiles).
	Lower float64 `json:"lower,omitempty"`
	Upper float64 `json:"upper,omitempty"`
	// Ranks are the quantiles wanted, in [0,1] (quantiles only).
	Ranks []float64 `json:"ranks,omitempty"`
}

// Result is a noisy answer.
type Result struct {
	Kind  Kind      `json:"kind"`
	Value float64   `json:"value"`
	Quant []float64 `json:"quantiles,omitempty"`
	// Remaining is the account's ε left after this query.
	Remaining float64 `json:"remaining_epsilon"`
}

var (
	errAggregate = apperr.New(apperr.Invalid, "privacy.dp_aggregate", "差分隐私查询参数无效", "invalid differential-privacy query")
	// ErrExhausted is returned when a query would spend more ε than is left.
	ErrExhausted = apperr.New(apperr.Forbidden, "privacy.budget_exhausted", "隐私预算不足，查询被拒绝", "the privacy budget is exhausted; the query is refused")
	// ErrNoAccount is returned when no budget was granted.
	ErrNoAccount = apperr.New(apperr.Forbidden, "privacy.no_budget", "该运营主体在此数据集上没有隐私预算", "the operator has no privacy budget on this dataset")
)

// Compute runs agg over values without any budget; callers outside tests go
// through Budgets.Query.
func Compute(agg Aggregate, values []float64) (Result, error) {
	if !(agg.Epsilon > 0) || math.IsInf(agg.Epsilon, 0) {
		return Result{}, errAggregate.At("epsilon")
	}
	lap := noise.Laplace()
	res := Result{Kind: agg.Kind}
	needBounds := func() error {
		if !(agg.Lower < agg.Upper) || math.IsInf(agg.Lower, 0) || math.IsInf(agg.Upper, 0) {
			return errAggregate.At("lower")
		}
		return nil
	}
	switch agg.Kind {
	case Count:
		c, err := dpagg.NewCount(&dpagg.CountOptions{Epsilon: agg.Epsilon, MaxPartitionsContributed: 1, Noise: lap})
		if err != nil {
			return res, errAggregate.Wrap(err)
		}
		if err := c.IncrementBy(int64(len(values))); err != nil {
			return res, errAggregate.Wrap(err)
		}
		v, err := c.Result()
		if err != nil {
			return res, errAggregate.Wrap(err)
		}
		res.Value = float64(max(v, 0))
	case Sum:
		if err := needBounds(); err != nil {
			return res, err
		}
		s, err := dpagg.NewBoundedSumFloat64(&dpagg.BoundedSumFloat64Options{Epsilon: agg.Epsilon, MaxPartitionsContributed: 1,
			Lower: agg.Lower, Upper: agg.Upper, Noise: lap})
		if err != nil {
			return res, errAggregate.Wrap(err)
		}
		for _, v := range values {
			if err := s.Add(v); err != nil {
				return res, errAggregate.Wrap(err)
			}
		}
		if res.Value, err = s.Result(); err != nil {
			return res, errAggregate.Wrap(err)
		}
	case Mean:
		if err := needBounds(); err != nil {
			return res, err
		}
		m, err := dpagg.NewBoundedMean(&dpagg.BoundedMeanOptions{Epsilon: agg.Epsilon, MaxPartitionsContributed: 1,
			MaxContributionsPerPartition: 1, Lower: agg.Lower, Upper: agg.Upper, Noise: lap})
		if err != nil {
			return res, errAggregate.Wrap(err)
		}
		for _, v := range values {
			if err := m.Add(v); err != nil {
				return res, errAggregate.Wrap(err)
			}
		}
		if res.Value, err = m.Result(); err != nil {
			return res, errAggregate.Wrap(err)
		}
	case Quantiles:
		if err := needBounds(); err != nil {
			return res, err
		}
		if len(agg.Ranks) == 0 {
			return res, errAggregate.At("ranks")
		}
		q, err := dpagg.NewBoundedQuantiles(&dpagg.BoundedQuantilesOptions{Epsilon: agg.Epsilon, MaxPartitionsContributed: 1,
			MaxContributionsPerPartition: 1, Lower: agg.Lower, Upper: agg.Upper, Noise: lap})
		if err != nil {
			return res, errAggregate.Wrap(err)
		}
		for _, v := range values {
			if err := q.Add(v); err != nil {
				return res, errAggregate.Wrap(err)
			}
		}
		ranks := append([]float64(nil), agg.Ranks...)
		sort.Float64s(ranks)
		for _, r := range ranks {
			if r < 0 || r > 1 {
				return res, errAggregate.At("ranks")
			}
			v, err := q.Result(r)
			if err != nil {
				return res, errAggregate.Wrap(err)
			}
			res.Quant = append(res.Quant, v)
		}
		res.Value = res.Quant[0]
	default:
		return res, errAggregate.At("kind")
	}
	return res, nil
}

// Appender is the part of the ledger Budgets needs.
type Appender interface {
	Append(ctx context.Context, tx *store.Tx, events ...ledger.Event) error
}

// Budgets keeps the privacy-budget accounts.
type Budgets struct {
	db    *store.DB
	led   Appender
	clock clock.Clock
}

// New migrates the budget tables and returns the service.
func New(ctx context.Context, db *store.DB, led Appender, clk clock.Clock) (*Budgets, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	if err := db.Migrate(ctx, "privacy", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Budgets{db: db, led: led, clock: clk}, nil
}

// Actor is who acts: an authority user granting, an operator's user or
// client querying.
type Actor struct {
	Kind  ledger.ActorKind
	ID    string
	OrgID string
}

// Account is an operator's budget on a dataset.
type Account struct {
	Operator  string  `json:"operator_id"`
	Dataset   string  `json:"dataset_id"`
	Epsilon   float64 `json:"epsilon"`
	Spent     float64 `json:"spent"`
	Remaining float64 `json:"remaining"`
}

const nano = 1e9

func toNano(eps float64) (int64, error) {
	if !(eps > 0) || eps > 1e6 || math.IsNaN(eps) {
		return 0, errAggregate.At("epsilon")
	}
	return int64(math.Round(eps * nano)), nil
}

func account(op, ds string, total, spent int64) Account {
	return Account{Operator: op, Dataset: ds, Epsilon: float64(total) / nano, Spent: float64(spent) / nano, Remaining: float64(total-spent) / nano}
}

// Grant sets the operator's total ε on dataset (creating the account, or
// raising or lowering its total; never below what is spent).
func (b *Budgets) Grant(ctx context.Context, by Actor, operator, dataset string, epsilon float64) (Account, error) {
	total, err := toNano(epsilon)
	if err != nil {
		return Account{}, err
	}
	var acc Account
	err = b.db.InTx(ctx, func(tx *store.Tx) error {
		now := store.Micros(b.clock.Now())
		var spent int64
		err := tx.QueryRowContext(ctx, `INSERT INTO privacy_budgets (operator_id, dataset_id, total_nano, spent_nano, created_at, updated_at)
			VALUES ($1, $2, $3, 0, $4, $4)
			ON CONFLICT (operator_id, dataset_id) DO UPDATE SET total_nano = excluded.total_nano, updated_at = excluded.updated_at
			WHERE privacy_budgets.spent_nano <= excluded.total_nano
			RETURNING spent_nano`, operator, dataset, total, now).Scan(&spent)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Invalidf("privacy.budget_below_spent", "epsilon", "新的预算低于已花费的预算", "the new budget is below what is already spent")
		}
		if err != nil {
			return fmt.Errorf("privacy: grant budget: %w", err)
		}
		acc = account(operator, dataset, total, spent)
		return b.led.Append(ctx, tx, ledger.Event{ActorKind: by.Kind, ActorID: by.ID, OrgID: by.OrgID, Action: ledger.Admin,
			Object: "privacy_budget/" + operator, ResourceID: dataset,
			Detail: ledger.DetailOf(map[string]any{"op": "grant", "operator_id": operator, "epsilon": acc.Epsilon, "spent": acc.Spent})})
	})
	return acc, err
}

// Get returns an account.
func (b *Budgets) Get(ctx context.Context, operator, dataset string) (Account, error) {
	var total, spent int64
	err := b.db.QueryRowContext(ctx, `SELECT total_nano, spent_nano FROM privacy_budgets WHERE operator_id = $1 AND dataset_id = $2`,
		operator, dataset).Scan(&total, &spent)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, fmt.Errorf("privacy: read budget: %w", err)
	}
	return account(operator, dataset, total, spent), nil
}

// Spend takes epsilon from the account inside tx, or returns ErrExhausted
// and takes nothing. The check and the decrement are one conditional
// UPDATE, so concurrent spenders on SQLite (one writer) and PostgreSQL (row
// lock, condition re-checked) can never take the account below zero. The
// spend is recorded, and a ledger event appended, in the same transaction.
func (b *Budgets) Spend(ctx context.Context, tx *store.Tx, by Actor, operator, dataset, purpose string, agg Kind, epsilon float64) (Account, error) {
	eps, err := toNano(epsilon)
	if err != nil {
		return Account{}, err
	}
	now := b.clock.Now()
	var total, spent int64
	err = tx.QueryRowContext(ctx, `UPDATE privacy_budgets SET spent_nano = spent_nano + $1, updated_at = $2
		WHERE operator_id = $3 AND dataset_id = $4 AND spent_nano + $1 <= total_nano
		RETURNING total_nano, spent_nano`, eps, store.Micros(now), operator, dataset).Scan(&total, &spent)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if e := tx.QueryRowContext(ctx, `SELECT 1 FROM privacy_budgets WHERE operator_id = $1 AND dataset_id = $2`, operator, dataset).Scan(&one); errors.Is(e, sql.ErrNoRows) {
			return Account{}, ErrNoAccount
		}
		return Account{}, ErrExhausted
	}
	if err != nil {
		return Account{}, fmt.Errorf("privacy: spend budget: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO privacy_budget_spends (id, operator_id, dataset_id, epsilon_nano, aggregate, purpose, actor_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, store.NewID(), operator, dataset, eps, string(agg), purpose, by.ID, store.Micros(now)); err != nil {
		return Account{}, fmt.Errorf("privacy: record spend: %w", err)
	}
	acc := account(operator, dataset, total, spent)
	err = b.led.Append(ctx, tx, ledger.Event{ActorKind: by.Kind, ActorID: by.ID, OrgID: by.OrgID, Action: ledger.Use,
		ResourceID: dataset, Purpose: purpose, Object: "privacy_budget/" + operator,
		Detail: ledger.DetailOf(map[string]any{"op": "dp_" + string(agg), "operator_id": operator, "epsilon": float64(eps) / nano, "remaining": acc.Remaining})})
	return acc, err
}

// Query spends agg.Epsilon from the operator's account on dataset and
// returns the noisy aggregate of values. If the budget is short, nothing is
// computed and nothing is spent.
func (b *Budgets) Query(ctx context.Context, by Actor, operator, dataset, purpose string, agg Aggregate, values []float64) (Result, error) {
	var res Result
	err := b.db.InTx(ctx, func(tx *store.Tx) error {
		acc, err := b.Spend(ctx, tx, by, operator, dataset, purpose, agg.Kind, agg.Epsilon)
		if err != nil {
			return err
		}
		if res, err = Compute(agg, values); err != nil {
			return err
		}
		res.Remaining = acc.Remaining
		return nil
	})
	return res, err
}
