package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-SEC-2, R-SEC-13: on SQLite an event is in the log, hashed into the
// tree, the moment its transaction commits; a rolled-back transaction
// leaves neither entry nor tree state behind; and the log that results is
// the one the integrator would have built (it verifies, entries in commit
// order, multi-event transactions kept together, subjects indexed).
func TestSequencedAtCommit(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	appendCommitted(t, l, db, 0, 5)
	if size, err := l.TreeSize(ctx); err != nil || size != 5 {
		t.Fatalf("tree size at commit = %d, %v; want 5 without integration", size, err)
	}
	if n := count(t, db, "ledger_pending"); n != 0 {
		t.Fatalf("%d events queued; SQLite sequences at commit", n)
	}
	subj, err := l.SubjectHash(ctx, nil, "350203199001011234")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("rolled back")
	err = db.InTx(ctx, func(tx *store.Tx) error {
		if err := l.Append(ctx, tx, ev(5), ev(6)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// Interior nodes wait for the indexing batch (decision 0109).
	if size, _ := l.TreeSize(ctx); size != 5 || count(t, db, "ledger_entries") != 5 || count(t, db, "ledger_nodes") != 0 {
		t.Fatalf("a rolled-back transaction left entries or nodes: size %d", size)
	}
	withSubject := ev(7)
	withSubject.Subjects = []string{subj, subj}
	if err := db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, ev(6), withSubject, ev(8)) }); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{0, 1, 2, 3, 4, 6, 7, 8} {
		e, err := l.Entry(ctx, uint64(i))
		if err != nil || e.RecordCount != want {
			t.Fatalf("entry %d: %+v %v; want event %d", i, e, err, want)
		}
	}
	if got, _, err := l.Query(ctx, Filter{Subject: subj}); err != nil || len(got) != 1 || got[0].Seq != 6 {
		t.Fatalf("subject lookup: %+v %v", got, err)
	}
	if _, err := l.SignCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, db)
	if err != nil || !rep.OK || rep.Entries != 8 {
		t.Fatalf("Verify: %v %s", err, rep.Summary())
	}
	// Proofs before the nodes are stored compute them from the leaves; the
	// same proofs after.
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var before []InclusionProof
	for seq := uint64(0); seq < 8; seq++ {
		p, err := l.InclusionProof(ctx, seq, 8)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := l.Entry(ctx, seq)
		if err := VerifyInclusion(e.Body, p, cp.Root); err != nil {
			t.Fatalf("entry %d before indexing: %v", seq, err)
		}
		before = append(before, p)
	}
	if _, err := l.IndexTail(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "ledger_nodes"); n != 7 {
		t.Fatalf("%d interior nodes stored for 8 leaves, want 7", n)
	}
	for seq := uint64(0); seq < 8; seq++ {
		p, err := l.InclusionProof(ctx, seq, 8)
		if err != nil || fmt.Sprint(p) != fmt.Sprint(before[seq]) {
			t.Fatalf("entry %d: proof after indexing %v (%v), before %v", seq, p, err, before[seq])
		}
	}
}

// Events queued before (by an earlier version, or on a store that queued
// them) stay ahead of new ones: while any wait, new events queue behind
// them, and integration keeps commit order (R-SEC-13).
func TestSequencingWaitsBehindQueuedEvents(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	appendCommitted(t, l, db, 0, 2)
	body := `{"time":"2025-03-01T09:00:00Z","actor_kind":"system","action":"use","record_count":100}`
	if _, err := db.ExecContext(ctx, `INSERT INTO ledger_pending (body, created_at) VALUES ($1, 0)`, []byte(body)); err != nil {
		t.Fatal(err)
	}
	appendCommitted(t, l, db, 2, 2)
	if size, _ := l.TreeSize(ctx); size != 2 || count(t, db, "ledger_pending") != 3 {
		t.Fatalf("size %d, %d queued: new events must queue behind the waiting one", size, count(t, db, "ledger_pending"))
	}
	if size := mustIntegrate(t, l); size != 5 {
		t.Fatalf("size %d after integration, want 5", size)
	}
	appendCommitted(t, l, db, 4, 1) // nothing waits now: sequenced at once
	if size, _ := l.TreeSize(ctx); size != 6 {
		t.Fatalf("size %d, want 6", size)
	}
	for i, want := range []int64{0, 1, 100, 2, 3, 4} {
		if e, err := l.Entry(ctx, uint64(i)); err != nil || e.RecordCount != want {
			t.Fatalf("entry %d: %+v %v; want record_count %d", i, e, err, want)
		}
	}
	if _, err := l.SignCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(ctx, db); err != nil || !rep.OK {
		t.Fatalf("Verify: %v %s", err, rep.Summary())
	}
}
