package ledger

import (
	"context"
	"testing"

	"shuqiao/internal/store"
)

// BenchmarkAppendTx measures one business-like transaction (one row
// inserted) with and without an Append of one event, on SQLite, with no
// integrator running: what Append itself adds. bench/ledger measures the
// same under load, integrator included.
func BenchmarkAppendTx(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := newTestLedger(b, db)
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	e := ev(1)
	for _, withEvent := range []bool{false, true} {
		name := "raw"
		if withEvent {
			name = "append"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO bench_rows (v) VALUES ($1)`, i); err != nil {
						return err
					}
					if withEvent {
						return l.Append(ctx, tx, e)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
