package gate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// recorder commits deliveries' ledger events and rows in group commits: a
// request hands its record to a committer and waits until the transaction
// that holds it has committed, so no data leaves before its record exists
// (R-SEC-2), while one transaction carries the records of many concurrent
// calls. This is what lets the governed path keep up with a bare handler
// on SQLite's single writer.
type recorder struct {
	s      *Service
	ch     chan *recordJob
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	// preparing counts deliveries being decided and rendered: records
	// that will reach the committer shortly.
	preparing atomic.Int64
	// conn is SQLite's committer's own connection (nil: the pool), so its
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
	r := &recorder{s: s, ch: make(chan *recordJob, 4*maxBatch), quit: make(chan struct{})}
	workers := 1 // SQLite has one writer
	if d == store.Postgres {
		workers = 4
	} else if conn, err := s.db.Conn(context.Background()); err == nil {
		r.conn = conn
	}
	for i := 0; i < workers; i++ {
		r.wg.Add(1)
		go r.run()
	}
	return r
}

var errClosed = errors.New("gate: closed")

func (r *recorder) close() {
	r.closed.Do(func() { close(r.quit) })
	r.wg.Wait()
	if r.conn != nil {
		_ = r.conn.Close()
	}
}

// inTx runs fn in a write transaction on the committer's connection, or on
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

func (r *recorder) submit(ctx context.Context, j *recordJob) error {
	j.done = make(chan error, 1)
	select {
	case r.ch <- j:
	case <-r.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-j.done:
		return err
	case <-r.quit:
		// The committer may still finish it; wait a little for its answer.
		select {
		case err := <-j.done:
			return err
		case <-time.After(5 * time.Second):
			return errClosed
		}
	}
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

// maxLinger bounds how long the committer holds a group open for
// deliveries still being prepared. A commit has a fixed cost (the write
// lock, the tree's state, WAL frames, a signature) that dwarfs one
// record's: at a few thousand calls a second, groups that closed as soon as
// the queue was empty held three or four records, and those fixed costs
// were a fifth of a governed call. The committer waits only while another
// delivery is being prepared, so a lone caller never waits, and at most
// maxLinger; 1 ms gave groups of ten to twenty here and cut the
// recorder's CPU a call by 40%.
const maxLinger = time.Millisecond

// lingerPoll is how often a lingering committer looks again at the count of
// deliveries being prepared when no record arrives.
const lingerPoll = 100 * time.Microsecond

func (r *recorder) run() {
	defer r.wg.Done()
	batch := make([]*recordJob, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case j := <-r.ch:
			batch = append(batch, j)
		case <-r.quit:
			r.drain()
			return
		}
		batch = r.gather(batch)
		deadline := time.Now().Add(maxLinger)
		for len(batch) < maxBatch && r.preparing.Load() > 0 {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			timer.Reset(min(wait, lingerPoll))
			select {
			case j := <-r.ch:
				batch = r.gather(append(batch, j))
			case <-timer.C:
			}
			timer.Stop()
		}
		r.commit(batch)
	}
}

// gather adds the records already waiting, without blocking.
func (r *recorder) gather(batch []*recordJob) []*recordJob {
	for len(batch) < maxBatch {
		select {
		case j := <-r.ch:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

func (r *recorder) drain() {
	for {
		select {
		case j := <-r.ch:
			r.commit([]*recordJob{j})
		default:
			return
		}
	}
}

func (r *recorder) commit(batch []*recordJob) {
	ctx := context.Background()
	err := r.inTx(ctx, func(tx *store.Tx) error { return r.write(ctx, tx, batch) })
	if err != nil && len(batch) > 1 {
		// One bad record must not fail the others: retry one by one.
		for _, j := range batch {
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
	for _, j := range batch {
		if j.d != nil {
			ds = append(ds, j.d)
			events = append(events, j.d.event)
		} else {
			events = append(events, *j.ev)
		}
	}
	if err := r.s.signReceipts(ds...); err != nil {
		return err
	}
	if err := r.s.insertDeliveries(ctx, tx, ds); err != nil {
		return err
	}
	return r.s.led.AppendSealed(ctx, tx, events...)
}
