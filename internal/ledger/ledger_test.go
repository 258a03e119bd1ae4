package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"shuqiao/internal/clock"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func newTestLedger(t testing.TB, db *store.DB, opts ...Options) *Ledger {
	t.Helper()
	l, err := New(context.Background(), db, clock.NewFake(t0), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func ev(i int) Event {
	return Event{
		ActorKind: ActorUser, ActorID: fmt.Sprintf("user-%d", i%3), OrgID: fmt.Sprintf("org-%d", i%2),
		Action: Provide, ResourceID: fmt.Sprintf("res-%d", i%5), GrantID: "grant-1", RecordCount: int64(i),
		Detail: DetailOf(map[string]int{"i": i}),
	}
}

// appendCommitted appends events [from, from+n) in one committed transaction each.
func appendCommitted(t testing.TB, l *Ledger, db *store.DB, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, ev(i)) }); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// appendSealedCommitted appends events from..from+n-1, one transaction
// each, as the gate's group commit appends them (sequenced at commit on
// SQLite).
func appendSealedCommitted(t testing.TB, l *Ledger, db *store.DB, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		if err := db.InTx(ctx, func(tx *store.Tx) error { return appendSealed(ctx, l, tx, ev(i)) }); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// appendSealed seals events and appends them with AppendSealed.
func appendSealed(ctx context.Context, l *Ledger, tx *store.Tx, events ...Event) error {
	sealed := make([]Sealed, len(events))
	for i, e := range events {
		var err error
		if sealed[i], err = l.Seal(e); err != nil {
			return err
		}
	}
	return l.AppendSealed(ctx, tx, sealed...)
}

func mustIntegrate(t testing.TB, l *Ledger) uint64 {
	t.Helper()
	size, err := l.Integrate(context.Background())
	if err != nil {
		t.Fatalf("Integrate: %v", err)
	}
	return size
}

func count(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// R-SEC-2: an event exists exactly when the change it records commits.
func TestAppendRollbackLeavesNoEntry(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db)
		boom := errors.New("business rule failed")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := l.Append(ctx, tx, ev(1), ev(2)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v", err)
		}
		if size := mustIntegrate(t, l); size != 0 {
			t.Fatalf("tree size after rollback = %d, want 0", size)
		}
		if n := count(t, db, "ledger_pending") + count(t, db, "ledger_entries"); n != 0 {
			t.Fatalf("%d rows survived the rollback", n)
		}
		// And a committed one does land.
		appendCommitted(t, l, db, 3, 1)
		if size := mustIntegrate(t, l); size != 1 {
			t.Fatalf("tree size = %d, want 1", size)
		}
	})
}

func TestAppendRejectsBadEvents(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db)
		bad := []Event{
			{ActorKind: ActorUser, Action: Use},                                                       // no actor id
			{ActorKind: ActorSystem, Action: "steal"},                                                 // unknown action
			{ActorKind: ActorSystem, Action: Use, Subjects: []string{"110105194912310021"}},           // identifier in clear (R-PRS-6)
			{ActorKind: ActorSystem, Action: Use, Detail: []byte(`{"x":`)},                            // not JSON
			{ActorKind: ActorSystem, Action: Use, RecordCount: -1},                                    // negative count
			{ActorKind: ActorSystem, Action: Use, ResourceID: string(bytes.Repeat([]byte("r"), 600))}, // too long
		}
		for i, e := range bad {
			err := db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, e) })
			if err == nil {
				t.Errorf("bad event %d was accepted", i)
			}
		}
	})
}

// TestAppendSealed: the entry holds exactly the bytes Seal returned (after
// its seq), so a
// receipt that names an event by the hash of its sealed body finds it
// (R-SHR-8); an unsealed zero value is refused.
func TestAppendSealed(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db)
		e := ev(7)
		e.Time = t0.Add(1500 * time.Nanosecond).In(time.FixedZone("CST", 8*3600))
		sealed, err := l.Seal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Seal(Event{ActorKind: ActorSystem, Action: "steal"}); err == nil {
			t.Error("Seal accepted an unknown action")
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.AppendSealed(ctx, tx, Sealed{}) }); err == nil {
			t.Error("AppendSealed accepted an unsealed event")
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.AppendSealed(ctx, tx, sealed) }); err != nil {
			t.Fatal(err)
		}
		mustIntegrate(t, l)
		var body []byte
		if err := db.QueryRowContext(ctx, `SELECT body FROM ledger_entries WHERE seq = 0`).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if want, err := EncodeEntry(0, sealed.Body()); err != nil || !bytes.Equal(body, want) {
			t.Fatalf("entry body %s, sealed %s (%v)", body, sealed.Body(), err)
		}
		got, err := DecodeEntry(body)
		if err != nil || !got.Time.Equal(t0.Add(time.Microsecond)) || got.Time.Location() != time.UTC {
			t.Fatalf("sealed time %v, %v: want UTC, truncated to the microsecond", got.Time, err)
		}
	})
}

// R-SEC-13: entries are integrated in commit order, each exactly once.
func TestIntegrateOrderAndExactlyOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db, Options{BatchSize: 7}) // several batches
		appendCommitted(t, l, db, 0, 20)
		// A multi-event transaction keeps its events together and in order.
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, ev(20), ev(21), ev(22)) }); err != nil {
			t.Fatal(err)
		}
		if size := mustIntegrate(t, l); size != 23 {
			t.Fatalf("size = %d, want 23", size)
		}
		if size := mustIntegrate(t, l); size != 23 {
			t.Fatalf("second Integrate: size = %d, want 23", size)
		}
		if n := count(t, db, "ledger_pending"); n != 0 {
			t.Fatalf("%d events still pending", n)
		}
		if n := count(t, db, "ledger_entries"); n != 23 {
			t.Fatalf("%d entries, want 23", n)
		}
		for i := 0; i < 23; i++ {
			e, err := l.Entry(ctx, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != uint64(i) || e.RecordCount != int64(i) {
				t.Fatalf("entry %d holds event %d", i, e.RecordCount)
			}
			if !bytes.Equal(e.LeafHash, LeafHash(e.Body)) {
				t.Fatalf("entry %d: leaf hash does not cover the body", i)
			}
		}
		if _, err := l.Entry(ctx, 23); err == nil {
			t.Fatal("entry 23 exists")
		}
		rep, err := Verify(ctx, db)
		if err != nil || !rep.OK {
			t.Fatalf("Verify: %v %+v", err, rep)
		}
	})
}

// Proofs served from stored nodes verify with merkle/proof against the
// signed roots (R-SHR-8).
func TestProofs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db)
		var cps []Checkpoint
		total := 0
		// 66 events: on SQLite the last 2 are the unindexed tail, whose
		// interior nodes are not stored yet and are computed for proofs.
		for _, n := range []int{1, 2, 5, 8, 13, 37} {
			appendCommitted(t, l, db, total, n)
			total += n
			mustIntegrate(t, l)
			cp, err := l.SignCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != uint64(total) {
				t.Fatalf("checkpoint size %d, want %d", cp.Size, total)
			}
			cps = append(cps, cp)
		}
		latest, err := l.LatestCheckpoint(ctx)
		if err != nil || latest.Size != uint64(total) {
			t.Fatalf("LatestCheckpoint = %d, %v", latest.Size, err)
		}
		for _, cp := range cps {
			for seq := uint64(0); seq < cp.Size; seq++ {
				p, err := l.InclusionProof(ctx, seq, cp.Size)
				if err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", seq, cp.Size, err)
				}
				e, err := l.Entry(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(hasher, seq, cp.Size, LeafHash(e.Body), p.Hashes, cp.Root); err != nil {
					t.Fatalf("inclusion %d in %d: %v", seq, cp.Size, err)
				}
			}
			for _, to := range cps {
				if to.Size < cp.Size {
					continue
				}
				p, err := l.ConsistencyProof(ctx, cp.Size, to.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(hasher, cp.Size, to.Size, p.Hashes, cp.Root, to.Root); err != nil {
					t.Fatalf("consistency %d→%d: %v", cp.Size, to.Size, err)
				}
			}
		}
		// size 0 means the latest checkpoint.
		p, err := l.InclusionProof(ctx, 3, 0)
		if err != nil || p.TreeSize != uint64(total) {
			t.Fatalf("InclusionProof(3, 0) = %+v, %v", p, err)
		}
		if _, err := l.InclusionProof(ctx, 3, uint64(total)+1); err == nil {
			t.Fatal("proof for a size beyond the tree")
		}
		if _, err := l.InclusionProof(ctx, uint64(total), uint64(total)); err == nil {
			t.Fatal("proof for a seq beyond the tree")
		}
		if _, err := l.ConsistencyProof(ctx, uint64(total)+1, 0); err == nil {
			t.Fatal("consistency from beyond the tree")
		}
	})
}

// Queries page through the entries that match, newest first, whether an
// entry is in the index yet or still in the log's unindexed tail
// (decision 0109): 300 entries leave a tail on SQLite, whose commits
// index every indexBatch; PostgreSQL's integrator indexes each batch.
func TestQuery(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		l, err := New(ctx, db, clk)
		if err != nil {
			t.Fatal(err)
		}
		const n = 300
		var subj string
		for i := 0; i < n; i++ {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				e := ev(i)
				if i%7 == 0 {
					e.ContentHash = fmt.Sprintf("%064x", (i/7)%2)
				}
				if i%10 == 0 {
					h, err := l.SubjectHash(ctx, tx, "110105194912310021")
					if err != nil {
						return err
					}
					subj = h
					e.Subjects = []string{h, h}
				}
				// Sequenced at commit on SQLite, so that a tail is left
				// unindexed there (Append would queue them).
				sealed, err := l.Seal(e)
				if err != nil {
					return err
				}
				return l.AppendSealed(ctx, tx, sealed)
			})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
		}
		mustIntegrate(t, l)
		all := func(f Filter) []Entry {
			t.Helper()
			var out []Entry
			for page := 0; page < 100; page++ {
				es, next, err := l.Query(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, es...)
				if next == "" {
					return out
				}
				f.After = next
			}
			t.Fatal("paging does not end")
			return nil
		}
		check := func(name string, f Filter, want func(i int) bool) {
			t.Helper()
			f.Limit = 4
			got := all(f)
			var wantSeqs []uint64
			for i := n - 1; i >= 0; i-- {
				if want(i) {
					wantSeqs = append(wantSeqs, uint64(i))
				}
			}
			if len(got) != len(wantSeqs) {
				t.Fatalf("%s: %d entries, want %d", name, len(got), len(wantSeqs))
			}
			for k := range got {
				if got[k].Seq != wantSeqs[k] {
					t.Fatalf("%s: entry %d is seq %d, want %d", name, k, got[k].Seq, wantSeqs[k])
				}
			}
		}
		checkAll := func() {
			t.Helper()
			check("all", Filter{}, func(int) bool { return true })
			check("resource", Filter{ResourceID: "res-2"}, func(i int) bool { return i%5 == 2 })
			check("org", Filter{OrgID: "org-1"}, func(i int) bool { return i%2 == 1 })
			check("actor+org", Filter{ActorID: "user-0", OrgID: "org-0"}, func(i int) bool { return i%3 == 0 && i%2 == 0 })
			check("grant", Filter{GrantID: "grant-1"}, func(int) bool { return true })
			check("action", Filter{Action: Use}, func(int) bool { return false })
			check("subject", Filter{Subject: subj}, func(i int) bool { return i%10 == 0 })
			check("subject+org", Filter{Subject: subj, OrgID: "org-0"}, func(i int) bool { return i%10 == 0 })
			check("time", Filter{Since: t0.Add(5 * time.Minute), Until: t0.Add(9 * time.Minute)}, func(i int) bool { return i >= 5 && i < 9 })
			check("content hash", Filter{ContentHash: fmt.Sprintf("%064x", 1)}, func(i int) bool { return i%7 == 0 && (i/7)%2 == 1 })
			check("content hash+resource", Filter{ContentHash: fmt.Sprintf("%064x", 0), ResourceID: "res-1"}, func(i int) bool { return i%7 == 0 && (i/7)%2 == 0 && i%5 == 1 })
			edge := n - n%indexBatch // the tail's first entry on SQLite
			check("time across the tail", Filter{Since: t0.Add(time.Duration(edge-10) * time.Minute), Until: t0.Add(time.Duration(edge+5) * time.Minute)},
				func(i int) bool { return i >= edge-10 && i < edge+5 })
		}
		upto, err := indexedUpTo(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[store.Dialect]int64{store.SQLite: n - n%indexBatch, store.Postgres: n}[db.Dialect]; upto != want || (db.Dialect == store.SQLite && upto == n) {
			t.Fatalf("indexed up to %d, want %d", upto, want)
		}
		checkAll()
		// Run indexes the tail once appends pause.
		if k, err := l.IndexTail(ctx); err != nil || int64(k) != n-upto {
			t.Fatalf("IndexTail: %d, %v; want %d", k, err, n-upto)
		}
		if upto, err = indexedUpTo(ctx, db); err != nil || upto != n {
			t.Fatalf("indexed up to %d (%v), want all %d", upto, err, n)
		}
		checkAll()
		if _, _, err := l.Query(ctx, Filter{Subject: "110105194912310021"}); err == nil {
			t.Fatal("query by identifier in clear was accepted")
		}
		if _, _, err := l.Query(ctx, Filter{ContentHash: "not-a-hash"}); err == nil {
			t.Fatal("a malformed content hash was accepted")
		}
		if _, _, err := l.Query(ctx, Filter{After: "x"}); err == nil {
			t.Fatal("bad cursor was accepted")
		}
	})
}

// Run integrates promptly after appends and signs checkpoints.
func TestRunIntegratesAndSigns(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := newTestLedger(t, db, Options{CheckpointInterval: 20 * time.Millisecond, PollInterval: time.Hour})
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		appendCommitted(t, l, db, 0, 25)
		deadline := time.Now().Add(10 * time.Second)
		for {
			cp, err := l.LatestCheckpoint(ctx)
			if err == nil && cp.Size == 25 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkpoint did not reach 25 (err %v, size %d)", err, cp.Size)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(context.Background(), db)
		if err != nil || !rep.OK {
			t.Fatalf("Verify: %v %s", err, rep.Summary())
		}
	})
}
