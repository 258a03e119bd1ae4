package ledger

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"

	"shuqiao/internal/clock"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Ledger appends events and answers for them.
type Ledger struct {
	db    *store.DB
	clock clock.Clock
}

// New returns the ledger over db, migrating its tables.
func New(ctx context.Context, db *store.DB, clk clock.Clock) (*Ledger, error) {
	if err := db.Migrate(ctx, "ledger", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Ledger{db: db, clock: clk}, nil
}

// Append adds events inside the caller's transaction. They are queued with
// the change they record and integrated into the Merkle tree after commit.
func (l *Ledger) Append(ctx context.Context, tx *store.Tx, events ...Event) error {
	for i := range events {
		e := events[i]
		if e.Time.IsZero() {
			e.Time = l.clock.Now()
		}
		e.Time = e.Time.UTC()
		if err := e.validate(); err != nil {
			return err
		}
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("ledger: encode event: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO ledger_pending (body, created_at) VALUES ($1, $2)`,
			body, store.Micros(e.Time)); err != nil {
			return fmt.Errorf("ledger: append: %w", err)
		}
	}
	return nil
}
