package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// secondHandle opens another connection pool on the same database, as a
// second replica would: on PostgreSQL the same schema, on SQLite the same
// store (one writer at a time is the file's own rule).
func secondHandle(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	if db.Dialect != store.Postgres {
		return db
	}
	var schema string
	if err := db.QueryRowContext(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(context.Background(), store.Options{DSN: os.Getenv(storetest.TestPostgresEnv), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	return db2
}

// Two replicas append and integrate at once; the advisory lock keeps one
// sequencer, so the result is one consistent log with every event once
// (R-SEC-13, DESIGN "Scale beyond one machine").
func TestTwoIntegratorsOneLog(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		db2 := secondHandle(t, db)
		opts := Options{PollInterval: 5 * time.Millisecond, CheckpointInterval: 10 * time.Millisecond, BatchSize: 16}
		l1 := newTestLedger(t, db, opts)
		l2 := newTestLedger(t, db2, opts)
		if l1.VerifierKey() != l2.VerifierKey() {
			t.Fatal("the replicas made different signing keys")
		}
		var runs sync.WaitGroup
		for _, l := range []*Ledger{l1, l2} {
			runs.Add(1)
			go func() { defer runs.Done(); _ = l.Run(ctx) }()
		}
		const writers, each = 4, 60
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, d := l1, db
				if w%2 == 1 {
					l, d = l2, db2
				}
				for i := 0; i < each; i++ {
					e := ev(i)
					e.Detail = DetailOf(map[string]string{"id": fmt.Sprintf("w%d-%d", w, i)})
					if err := d.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, e) }); err != nil {
						errs <- err
						return
					}
					// Integrate from the writers as well, to contend for the lock.
					if i%10 == 0 {
						if _, err := l.Integrate(ctx); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		size, err := l2.Integrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Let the replicas' loops sign (a fast run can end within one
		// checkpoint interval).
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if rep, err := Verify(context.Background(), db); err == nil && rep.Checkpoints >= 2 {
				break
			}
		}
		cancel()
		runs.Wait()
		if size != writers*each {
			t.Fatalf("tree size %d, want %d", size, writers*each)
		}
		seen := map[string]bool{}
		rows, err := db.QueryContext(context.Background(), `SELECT body FROM ledger_entries ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				t.Fatal(err)
			}
			e, err := DecodeEntry(body)
			if err != nil {
				t.Fatal(err)
			}
			var d struct{ ID string }
			_ = json.Unmarshal(e.Detail, &d)
			if seen[d.ID] {
				t.Fatalf("event %s integrated twice", d.ID)
			}
			seen[d.ID] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("%d distinct events, want %d", len(seen), writers*each)
		}
		rep, err := Verify(context.Background(), db)
		if err != nil || !rep.OK {
			t.Fatalf("Verify: %v %s", err, rep.Summary())
		}
		if rep.Checkpoints < 2 {
			t.Fatalf("only %d checkpoints signed", rep.Checkpoints)
		}
	})
}

// Export, verify offline, and check a proof with no database (R-SHR-8).
func TestExportAndCheckProof(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := seedLog(t, db)
		var buf bytes.Buffer
		n, err := Export(ctx, db, &buf)
		if err != nil || n != 40 {
			t.Fatalf("Export = %d, %v", n, err)
		}
		export := buf.Bytes()
		rep, err := VerifyExport(bytes.NewReader(export), []string{l.VerifierKey()})
		if err != nil || !rep.OK || rep.Entries != 40 || rep.Checkpoints != 3 {
			t.Fatalf("VerifyExport: %v %s", err, rep.Summary())
		}
		// One changed byte in an entry's body is caught offline too.
		lines := strings.Split(string(export), "\n")
		for i, line := range lines {
			if strings.Contains(line, `"seq":12,`) {
				var el exportLine
				if err := json.Unmarshal([]byte(line), &el); err != nil {
					t.Fatal(err)
				}
				el.Body = bytes.Replace(el.Body, []byte(`"provide"`), []byte(`"disclose"`), 1)
				b, _ := json.Marshal(el)
				lines[i] = string(b)
			}
		}
		rep, err = VerifyExport(strings.NewReader(strings.Join(lines, "\n")), []string{l.VerifierKey()})
		if err != nil || rep.OK || rep.FirstBadEntry == nil || *rep.FirstBadEntry != 12 {
			t.Fatalf("tampered export: %v %s", err, rep.Summary())
		}

		cp, err := l.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e, err := l.Entry(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.InclusionProof(ctx, 7, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		pj, _ := json.Marshal(p)
		if ok, err := CheckProof(e.Body, pj, cp.Note, l.VerifierKey()); !ok || err != nil {
			t.Fatalf("CheckProof = %v, %v", ok, err)
		}
		if ok, err := CheckProof(append(e.Body, '\n'), pj, cp.Note, l.VerifierKey()+"\n"); !ok || err != nil {
			t.Fatalf("CheckProof with trailing newlines = %v, %v", ok, err)
		}
		other, _ := l.Entry(ctx, 8)
		badNote := bytes.Replace(cp.Note, []byte("\n40\n"), []byte("\n41\n"), 1)
		p2 := p
		p2.Hashes = append([][]byte{}, p.Hashes...)
		p2.Hashes[0] = bytes.Repeat([]byte{1}, 32)
		pj2, _ := json.Marshal(p2)
		_, wrongKey, _ := GenerateSM2Key(nil, DefaultOrigin)
		for name, c := range map[string]struct {
			entry, proof, note []byte
			key                string
		}{
			"other entry":      {other.Body, pj, cp.Note, l.VerifierKey()},
			"changed entry":    {bytes.Replace(e.Body, []byte("provide"), []byte("use"), 1), pj, cp.Note, l.VerifierKey()},
			"bad proof hash":   {e.Body, pj2, cp.Note, l.VerifierKey()},
			"altered note":     {e.Body, pj, badNote, l.VerifierKey()},
			"wrong key":        {e.Body, pj, cp.Note, wrongKey},
			"garbage proof":    {e.Body, []byte("{"), cp.Note, l.VerifierKey()},
			"older checkpoint": {e.Body, pj, mustCheckpoint(t, l, 25).Note, l.VerifierKey()},
		} {
			if ok, err := CheckProof(c.entry, c.proof, c.note, c.key); ok || err == nil {
				t.Errorf("%s: CheckProof = %v, %v", name, ok, err)
			}
		}
	})
}

func mustCheckpoint(t *testing.T, l *Ledger, size uint64) Checkpoint {
	t.Helper()
	cp, err := l.CheckpointAt(context.Background(), size)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
