package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-SEC-2, R-SEC-13: on SQLite an event appended sealed (the gate's group
// commit) is in the log, hashed into the tree, the moment its transaction
// commits; a rolled-back transaction
// leaves neither entry nor tree state behind; and the log that results is
// the one the integrator would have built (it verifies, entries in commit
// order, multi-event transactions kept together, subjects indexed).
func TestSequencedAtCommit(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	appendSealedCommitted(t, l, db, 0, 5)
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
		if err := appendSealed(ctx, l, tx, ev(5), ev(6)); err != nil {
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
	if err := db.InTx(ctx, func(tx *store.Tx) error { return appendSealed(ctx, l, tx, ev(6), withSubject, ev(8)) }); err != nil {
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

// R-SEC-13, R-SEC-2: a business transaction's Append only queues its
// event (one row, decision 0111); the next sealed append sequences the
// queue ahead of its own events, in commit order, and empties it; events
// queued by an earlier version or another process are taken the same way.
func TestSealedAppendSequencesTheQueueFirst(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	appendSealedCommitted(t, l, db, 0, 2)
	body := `{"time":"2025-03-01T09:00:00Z","actor_kind":"system","action":"use","record_count":100}`
	if _, err := db.ExecContext(ctx, `INSERT INTO ledger_pending (body, created_at) VALUES ($1, 0)`, []byte(body)); err != nil {
		t.Fatal(err)
	}
	appendCommitted(t, l, db, 2, 2) // business transactions: queued
	if size, _ := l.TreeSize(ctx); size != 2 || count(t, db, "ledger_pending") != 3 {
		t.Fatalf("size %d, %d queued: Append must queue, behind the waiting one", size, count(t, db, "ledger_pending"))
	}
	appendSealedCommitted(t, l, db, 4, 1)
	if size, _ := l.TreeSize(ctx); size != 6 || count(t, db, "ledger_pending") != 0 {
		t.Fatalf("size %d, %d queued: the sealed append must sequence the queue, then itself", size, count(t, db, "ledger_pending"))
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

// A burst of queued events larger than one sequencing takes (a bulk
// import) is sequenced drainMax at a time: the sealed append's own events
// then queue behind the rest, and the integrator keeps commit order.
func TestSealedAppendBehindALongQueue(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	const queued = drainMax + 3
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for i := 0; i < queued; i++ {
			if err := l.Append(ctx, tx, ev(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	appendSealedCommitted(t, l, db, queued, 1)
	if size, _ := l.TreeSize(ctx); size != drainMax || count(t, db, "ledger_pending") != 4 {
		t.Fatalf("size %d, %d queued; want %d sequenced and 4 queued", size, count(t, db, "ledger_pending"), drainMax)
	}
	if size := mustIntegrate(t, l); size != queued+1 {
		t.Fatalf("size %d after integration, want %d", size, queued+1)
	}
	for i := 0; i <= queued; i++ {
		if e, err := l.Entry(ctx, uint64(i)); err != nil || e.RecordCount != int64(i) {
			t.Fatalf("entry %d: %+v %v; want event %d", i, e, err, i)
		}
	}
	if rep, err := Verify(ctx, db); err != nil || !rep.OK {
		t.Fatalf("Verify: %v %s", err, rep.Summary())
	}
}

// A queued row this version cannot read never fails a delivery: the sealed
// append leaves the queue to the integrator (which reports the row) and
// queues its own event behind it (R-SEC-2: the record still commits with
// the delivery).
func TestSealedAppendBehindAnUnreadableQueuedEvent(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenTestSQLite(t)
	l := newTestLedger(t, db)
	if _, err := db.ExecContext(ctx, `INSERT INTO ledger_pending (body, created_at) VALUES ($1, 0)`, []byte(`{"time":`)); err != nil {
		t.Fatal(err)
	}
	appendSealedCommitted(t, l, db, 0, 1)
	if size, _ := l.TreeSize(ctx); size != 0 || count(t, db, "ledger_pending") != 2 {
		t.Fatalf("size %d, %d queued; want nothing sequenced and both queued", size, count(t, db, "ledger_pending"))
	}
}
