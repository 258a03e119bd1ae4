package store_test

import (
	"context"
	"embed"
	"errors"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

//go:embed testdata/*.sql
var testMigrations embed.FS

func TestMigrateTxAndPlaceholders(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, "storetest", testMigrations, "testdata"); err != nil {
			t.Fatal(err)
		}
		// Running again is a no-op.
		if err := db.Migrate(ctx, "storetest", testMigrations, "testdata"); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO widgets (name, body) VALUES ($1, $2)`, "a", []byte{0, 1})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// A failing transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO widgets (name, body) VALUES ($1, $2)`, "b", nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("want boom, got %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM widgets`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("want 1 row after rollback, got %d", n)
		}
		// Unique violations are recognised on both databases.
		_, err = db.ExecContext(ctx, `INSERT INTO widgets (name, body) VALUES ($1, $2)`, "A", nil)
		if db.Dialect == store.SQLite && !store.IsUniqueViolation(err) {
			t.Fatalf("NOCASE unique: want violation, got %v", err)
		}
		_, err = db.ExecContext(ctx, `INSERT INTO widgets (name, body) VALUES ($1, $2)`, "a", nil)
		if !store.IsUniqueViolation(err) {
			t.Fatalf("want unique violation, got %v", err)
		}
		var id int64
		var body []byte
		if err := db.QueryRowContext(ctx, `SELECT id, body FROM widgets WHERE name = $1`, "a").Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		if id != 1 || len(body) != 2 {
			t.Fatalf("got id %d body %v", id, body)
		}
	})
}

func TestNewIDSorts(t *testing.T) {
	a, b := store.NewID(), store.NewID()
	if !(a < b) {
		t.Fatalf("ids must sort by creation: %s !< %s", a, b)
	}
}
