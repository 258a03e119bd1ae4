package ledger

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"shuqiao/internal/clock"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// Decision 0109's migration on a log that version 1 wrote: the content
// hashes come out of the bodies into their column, every entry is
// indexed, and queries by content hash, org and action find them.
func TestMigrationIndexesExistingEntries(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := "migrations/sqlite"
		if db.Dialect == store.Postgres {
			dir = "migrations/postgres"
		}
		v1, err := migrations.ReadFile(dir + "/00001_ledger.sql")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "ledger", fstest.MapFS{"m/00001_ledger.sql": {Data: v1}}, "m"); err != nil {
			t.Fatal(err)
		}
		const n = 20
		for i := 0; i < n; i++ {
			e := ev(i)
			e.Time = t0.Add(time.Duration(i) * time.Minute)
			if i%3 == 0 {
				e.ContentHash = fmt.Sprintf("%064x", i)
			}
			sealed, err := (&Ledger{clock: clock.NewFake(t0)}).Seal(e)
			if err != nil {
				t.Fatal(err)
			}
			body, err := EncodeEntry(uint64(i), sealed.Body())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO ledger_entries (seq, leaf_hash, body, time, action, actor_id, org_id, resource_id, grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				i, LeafHash(body), body, store.Micros(e.Time), string(e.Action), e.ActorID, e.OrgID, e.ResourceID, e.GrantID); err != nil {
				t.Fatal(err)
			}
		}
		l := newTestLedger(t, db) // migrates to the current version
		var withHash, indexed int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_entries WHERE content_hash IS NOT NULL`).Scan(&withHash); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_entry_index`).Scan(&indexed); err != nil {
			t.Fatal(err)
		}
		upto, err := indexedUpTo(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if withHash != 7 || indexed != n || upto != n {
			t.Fatalf("after migration: %d content hashes (want 7), %d indexed (want %d), upto %d", withHash, indexed, n, upto)
		}
		es, _, err := l.Query(ctx, Filter{ContentHash: fmt.Sprintf("%064x", 9)})
		if err != nil || len(es) != 1 || es[0].Seq != 9 {
			t.Fatalf("query by content hash: %v, %v", es, err)
		}
		es, _, err = l.Query(ctx, Filter{OrgID: "org-1", Action: Provide})
		if err != nil || len(es) != n/2 {
			t.Fatalf("query by org and action: %d entries, %v", len(es), err)
		}
	})
}
