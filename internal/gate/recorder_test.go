package gate

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// TestGroupCommitUnderConcurrency (R-SEC-2, R-SHR-8): many concurrent calls,
// deliveries and refusals mixed, each leave exactly one ledger event and,
// when delivered, one delivery row, before their data is released; every
// receipt verifies; after Close no call is recorded and none hangs.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"name", "age", "district"}, Purpose: "养老服务", Kind: KindConditional, RatePerMinute: 100000})
		const callers, each = 24, 5
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			delivered []*Delivery
			refused   int
		)
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					p := deptA
					if (c+i)%4 == 0 {
						p = deptB // no grant: refused, and the refusal recorded
					}
					d, err := f.gate.Deliver(ctx, Request{Principal: p, ResourceID: "res-people", Limit: 1 + i})
					mu.Lock()
					switch {
					case err == nil:
						if !d.recorded {
							t.Error("a delivery was handed out before it was recorded")
						}
						delivered = append(delivered, d)
					case errors.Is(err, ErrNoGrantForYou):
						refused++
					default:
						t.Errorf("caller %d call %d: %v", c, i, err)
					}
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		if len(delivered)+refused != callers*each || refused == 0 {
			t.Fatalf("%d delivered, %d refused of %d", len(delivered), refused, callers*each)
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gate_deliveries`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(delivered) {
			t.Fatalf("%d delivery rows for %d deliveries", rows, len(delivered))
		}
		f.integrate()
		var provides, denials int
		q := `SELECT COUNT(*) FROM ledger_entries WHERE action = $1`
		if err := db.QueryRowContext(ctx, q, "provide").Scan(&provides); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, q, "decide").Scan(&denials); err != nil {
			t.Fatal(err)
		}
		if provides != len(delivered) || denials < refused {
			t.Fatalf("ledger: %d provide events for %d deliveries, %d decide events for %d refusals", provides, len(delivered), denials, refused)
		}
		for i, d := range delivered {
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := f.gate.Receipt(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyReceipt(b, mustJSON(t, rc), f.gate.ReceiptVerifierKey(), f.led.VerifierKey()); err != nil {
				t.Fatalf("delivery %d: %v", i, err)
			}
			d.Close()
		}
		f.gate.Close()
		if _, err := f.gate.Deliver(ctx, Request{Principal: deptA, ResourceID: "res-people", Limit: 1}); !errors.Is(err, errClosed) {
			t.Fatalf("a call after Close: %v, want %v", err, errClosed)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A delivery that queues behind a running commit with nobody else waiting
// signs its own receipt while it waits, so the next commit has no
// signature to make; deliveries that find others waiting leave theirs to
// the group's one signature. Both kinds verify (R-SHR-8).
func TestReceiptSignedWhileWaiting(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"name", "age", "district"}, Purpose: "养老服务", Kind: KindConditional, RatePerMinute: 100000})
		r := f.gate.rec
		prepare := func(limit int) *Delivery {
			d, err := f.gate.Prepare(ctx, Request{Principal: deptA, ResourceID: "res-people", Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		queued := func(n int) {
			for {
				r.mu.Lock()
				k := len(r.queue)
				r.mu.Unlock()
				if k == n {
					return
				}
				runtime.Gosched()
			}
		}
		// Every commit slot is taken, as if commits were running.
		r.mu.Lock()
		r.leaders = r.maxLeaders
		r.mu.Unlock()
		ds := []*Delivery{prepare(1), prepare(2), prepare(3)}
		errs := make(chan error, len(ds))
		for i, d := range ds {
			go func() { errs <- r.record(ctx, d) }()
			queued(i + 1)
		}
		if ds[0].Receipt == nil || ds[1].Receipt != nil || ds[2].Receipt != nil {
			t.Fatalf("signed before the commit: %v %v %v; want only the first", ds[0].Receipt != nil, ds[1].Receipt != nil, ds[2].Receipt != nil)
		}
		r.lead() // one of the running commits ends and takes the queue
		for range ds {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		r.mu.Lock()
		r.leaders = 0
		r.mu.Unlock()
		for i, d := range ds {
			batched := strings.HasPrefix(d.Receipt.Note, batchedType+"\n")
			if batched != (i > 0) {
				t.Fatalf("delivery %d: batched receipt %v", i, batched)
			}
			b, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyReceipt(b, mustJSON(t, d.Receipt), f.gate.ReceiptVerifierKey(), f.led.VerifierKey()); err != nil {
				t.Fatalf("delivery %d: %v", i, err)
			}
			d.Close()
		}
	})
}
