package gate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// recorder commits deliveries' ledger events and rows in group commits: a
// request hands its record over and waits until the transaction that holds
// it has committed, so no data leaves before its record exists (R-SEC-2),
// while one transaction carries the records of many concurrent calls. This
// is what lets the governed path keep up with a bare handler on SQLite's
// single writer.
//
// There is no committer goroutine: a caller that finds no commit running
// commits the queue itself (it leads), and one that finds a commit running
// queues its record and waits. When a leader is done and records are
// waiting, it passes the baton to whichever waiting caller runs first.
// With a committer goroutine every call waited for two goroutine wake-ups
// (the committer's, then its own); under load on two cores each wake-up
// waited behind runnable calls, and those waits, not the commits, made the
// governed p99 at half load.
type recorder struct {
	s *Service
	// maxLeaders is how many commits may run at once: 1 on SQLite, which has
	// one writer anyway, more on PostgreSQL.
	maxLeaders int

	mu      sync.Mutex
	queue   []*recordJob
	leaders int // commits running, and batons passed but not yet taken
	closed  bool
	// baton hands leadership to a waiting caller.
	baton chan struct{}

	// preparing counts deliveries being decided and rendered: records
	// that will reach the queue shortly.
	preparing atomic.Int64
	// conn is SQLite's leader's own connection (nil: the pool), so its
	// page cache survives from one group commit to the next.
	conn *sql.Conn
}

type recordJob struct {
	d    *Delivery      // a delivery, or
	ev   *ledger.Sealed // a bare event (a refusal)
	done chan error
}

const maxBatch = 256

func newRecorder(s *Service, d store.Dialect) *recorder {
	r := &recorder{s: s, maxLeaders: 1}
	if d == store.Postgres {
		r.maxLeaders = 4
	} else if conn, err := s.db.Conn(context.Background()); err == nil {
		r.conn = conn
	}
	r.baton = make(chan struct{}, r.maxLeaders)
	return r
}

var errClosed = errors.New("gate: closed")

// close refuses new records and waits (at most closeWait) for the queued
// ones to be committed.
func (r *recorder) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	deadline := time.Now().Add(closeWait)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		idle := r.leaders == 0 && len(r.queue) == 0
		r.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil && r.leaders == 0 {
		_ = r.conn.Close()
		r.conn = nil
	}
}

const closeWait = 5 * time.Second

// inTx runs fn in a write transaction on the leader's connection, or on
// the pool when it has none or the connection has failed.
func (r *recorder) inTx(ctx context.Context, fn func(tx *store.Tx) error) error {
	if r.conn == nil {
		return r.s.db.InTx(ctx, fn)
	}
	err := r.s.db.InConnTx(ctx, r.conn, fn)
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		_ = r.conn.Close()
		r.conn = nil
		return r.s.db.InTx(ctx, fn)
	}
	return err
}

// submit queues j and returns when the transaction holding it has
// committed (or failed). Once queued, a record is waited for even if ctx
// ends: it may already be committed.
func (r *recorder) submit(ctx context.Context, j *recordJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.done = make(chan error, 1)
	if j.d != nil && r.commitsAlone() {
		// It will wait for the running commit and then most likely be
		// committed alone: sign its receipt now, on this core, rather
		// than in the next commit, which every call queued behind it
		// waits for. A call that finds others waiting leaves its receipt
		// to the group's one signature.
		rc, err := r.s.sign(j.d.stmt)
		if err != nil {
			return err
		}
		j.d.Receipt = rc
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errClosed
	}
	r.queue = append(r.queue, j)
	lead := r.leaders < r.maxLeaders
	if lead {
		r.leaders++
	}
	r.mu.Unlock()
	if lead {
		r.lead()
	}
	for {
		select {
		case err := <-j.done:
			return err
		case <-r.baton:
			r.lead()
		}
	}
}

// commitsAlone reports whether a record queued now would most likely be
// the next group's only one: a commit is running and no record waits. At
// half of the maximum load that is most calls; at saturation, few.
func (r *recorder) commitsAlone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leaders >= r.maxLeaders && len(r.queue) == 0
}

func (r *recorder) record(ctx context.Context, d *Delivery) error {
	if err := r.submit(ctx, &recordJob{d: d}); err != nil {
		return err
	}
	d.recorded = true
	return nil
}

func (r *recorder) recordEvent(ctx context.Context, e ledger.Event) error {
	ev, err := r.s.led.Seal(e)
	if err != nil {
		return err
	}
	return r.submit(ctx, &recordJob{ev: &ev})
}

// lead commits one group: what is queued now, and what arrives while
// other deliveries are still being prepared (see maxLinger). Then it
// passes the baton if records are waiting, or steps down.
func (r *recorder) lead() {
	batch := r.take(nil)
	if len(batch) > 0 {
		deadline := time.Now().Add(maxLinger)
		for len(batch) < maxBatch && r.preparing.Load() >= lingerAbove && time.Now().Before(deadline) {
			// Let the calls being prepared run and queue.
			runtime.Gosched()
			batch = r.take(batch)
		}
		r.commit(batch)
	}
	r.mu.Lock()
	if len(r.queue) > 0 {
		r.mu.Unlock()
		r.baton <- struct{}{} // never blocks: one slot per leader
		return
	}
	r.leaders--
	r.mu.Unlock()
}

// take moves queued records, up to maxBatch in all, onto batch.
func (r *recorder) take(batch []*recordJob) []*recordJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.queue), maxBatch-len(batch))
	batch = append(batch, r.queue[:n]...)
	rest := copy(r.queue, r.queue[n:])
	clear(r.queue[rest:])
	r.queue = r.queue[:rest]
	return batch
}

// maxLinger bounds how long a leader holds its group open for deliveries
// still being prepared, and lingerAbove is how many must be in preparation
// for it to wait at all. A commit has a fixed cost (the write lock, the
// tree's state, WAL frames, a signature) that dwarfs one record's: at
// saturation, groups of ten to twenty instead of three or four cut the
// recorder's CPU a call by 40%. Below saturation few calls are in
// preparation at once, and a leader commits at once.
const (
	maxLinger   = time.Millisecond
	lingerAbove = 4
)

func (r *recorder) commit(batch []*recordJob) {
	ctx := context.Background()
	err := r.inTx(ctx, func(tx *store.Tx) error { return r.write(ctx, tx, batch) })
	if err != nil && len(batch) > 1 {
		// One bad record must not fail the others: retry one by one, each
		// with a receipt of its own.
		for _, j := range batch {
			if j.d != nil && j.d.Receipt != nil && strings.HasPrefix(j.d.Receipt.Note, batchedType+"\n") {
				j.d.Receipt = nil
			}
			j.done <- r.inTx(ctx, func(tx *store.Tx) error { return r.write(ctx, tx, []*recordJob{j}) })
		}
		return
	}
	for _, j := range batch {
		j.done <- err
	}
}

func (r *recorder) write(ctx context.Context, tx *store.Tx, batch []*recordJob) error {
	events := make([]ledger.Sealed, 0, len(batch))
	ds := make([]*Delivery, 0, len(batch))
	var unsigned []*Delivery
	for _, j := range batch {
		if j.d != nil {
			ds = append(ds, j.d)
			events = append(events, j.d.event)
			if j.d.Receipt == nil {
				unsigned = append(unsigned, j.d)
			}
		} else {
			events = append(events, *j.ev)
		}
	}
	if err := r.s.signReceipts(unsigned...); err != nil {
		return err
	}
	if err := r.s.insertDeliveries(ctx, tx, ds); err != nil {
		return err
	}
	return r.s.led.AppendSealed(ctx, tx, events...)
}
