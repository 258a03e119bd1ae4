package store_test

import (
	"context"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// Every count of rows lands exactly once, through the fixed-size statements.
func TestRowInserter(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE ins_t (k BIGINT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), `DROP TABLE ins_t`) })
		ri := store.NewRowInserter(db, `INSERT INTO ins_t (k, v) VALUES `, 2)
		defer ri.Close()
		next := 0
		for _, n := range []int{0, 1, 3, 4, 17, 64, 85, 150} {
			var args []any
			for i := 0; i < n; i++ {
				args = append(args, next, "v")
				next++
			}
			if err := db.InTx(ctx, func(tx *store.Tx) error { return ri.Insert(ctx, tx, args) }); err != nil {
				t.Fatalf("%d rows: %v", n, err)
			}
		}
		var count, sum int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(k), 0) FROM ins_t`).Scan(&count, &sum); err != nil {
			t.Fatal(err)
		}
		if count != next || sum != next*(next-1)/2 {
			t.Fatalf("%d rows (sum %d), want %d", count, sum, next)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return ri.Insert(ctx, tx, []any{1}) }); err == nil {
			t.Fatal("half a row accepted")
		}
	})
}
