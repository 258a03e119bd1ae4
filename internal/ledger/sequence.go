package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"shuqiao/internal/store"
)

// sequencer appends events straight into the log inside the transaction
// that records them, on SQLite (decision 0107).
//
// Every SQLite write transaction already holds the database's one write
// lock from its first statement (BEGIN IMMEDIATE, and the store's
// in-process queue), so it can read the tree's state, add its entries and
// nodes and move the tree on, with no other writer in between. The event is
// then written once, not queued in ledger_pending and copied into the log
// by a second transaction that must take the same write lock again: that
// second turn at the lock was a third of the cost of recording a gate
// delivery, and, when the integrator fell behind a burst, its catch-up
// batches held the lock for tens of milliseconds at a time.
//
// PostgreSQL keeps the queue: there, writers run side by side, and making
// each one lock the tree for the rest of its transaction would serialise
// them all; one integrator sequences the queue instead (DESIGN.md).
type sequencer struct {
	db      *store.DB
	entries *store.RowInserter
	subjs   *store.RowInserter

	mu     sync.Mutex
	read   *sql.Stmt
	update *sql.Stmt
}

// newSequencer prepares its statements at once, while nothing else runs:
// prepared later, from inside a caller's transaction, they would need a
// second pooled connection while that transaction holds the write lock
// (see store.RowInserter.Prepare).
func newSequencer(ctx context.Context, db *store.DB) (*sequencer, error) {
	s := &sequencer{
		db:      db,
		entries: store.NewRowInserter(db, `INSERT INTO ledger_entries (seq, leaf_hash, body, time, action, actor_id, org_id, resource_id, grant_id, content_hash) VALUES `, numEntryCols),
		subjs:   store.NewRowInserter(db, `INSERT INTO ledger_entry_subjects (subject, seq) VALUES `, 2),
	}
	for _, ri := range []*store.RowInserter{s.entries, s.subjs} {
		if err := ri.Prepare(ctx); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	if _, _, err := s.statements(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// The tree's state, whether anything is still queued and how far the
// entries are indexed, in one read.
const sequenceReadSQL = `SELECT size, compact, EXISTS (SELECT 1 FROM ledger_pending), (SELECT upto FROM ledger_index_state WHERE id = 1) FROM ledger_tree WHERE id = 1`

const sequenceUpdateSQL = `UPDATE ledger_tree SET size = ?, root = ?, compact = ?, updated_at = ? WHERE id = 1 AND size = ?`

// statements returns the read and update statements, prepared once on the
// pool (database/sql prepares them again on each connection as needed).
func (s *sequencer) statements(ctx context.Context) (*sql.Stmt, *sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.read == nil {
		st, err := s.db.PrepareContext(ctx, sequenceReadSQL)
		if err != nil {
			return nil, nil, fmt.Errorf("ledger: prepare sequencing: %w", err)
		}
		s.read = st
	}
	if s.update == nil {
		st, err := s.db.PrepareContext(ctx, sequenceUpdateSQL)
		if err != nil {
			return nil, nil, fmt.Errorf("ledger: prepare sequencing: %w", err)
		}
		s.update = st
	}
	return s.read, s.update, nil
}

// errQueued says more events wait in ledger_pending than one sequencing
// takes (drainMax): the caller's go behind them, so the log keeps commit
// order.
var errQueued = errors.New("ledger: events are queued")

// drainMax is how many queued events a sequencing transaction takes in
// ahead of its own. Business transactions queue theirs (Append, decision
// 0111), a few a second, and the gate's next group commit sequences them;
// a burst past drainMax (a bulk import) is left to the integrator, so that
// no group commit, which every waiting call waits for, grows long.
const drainMax = 64

// append sequences the encoded events in tx, which must hold SQLite's write
// lock (every store transaction on SQLite does), after the queued events
// ahead of them. When more than drainMax wait, it sequences drainMax of
// them and returns errQueued: the caller queues its events behind the rest.
func (s *sequencer) append(ctx context.Context, tx *store.Tx, now int64, bodies [][]byte, fields []indexedFields) error {
	read, update, err := s.statements(ctx)
	if err != nil {
		return err
	}
	var (
		size   int64
		comp   []byte
		queued bool
		upto   int64
	)
	if err := tx.StmtContext(ctx, read).QueryRowContext(ctx).Scan(&size, &comp, &queued, &upto); err != nil {
		return fmt.Errorf("ledger: read tree state: %w", err)
	}
	var ahead []pendingRow
	own := true
	if queued {
		if ahead, err = readPending(ctx, tx, drainMax+1); err != nil {
			return err
		}
		if len(ahead) > drainMax {
			ahead, own = ahead[:drainMax], false
		}
	}
	if !own {
		bodies, fields = nil, nil
	}
	n := len(ahead) + len(bodies)
	if n == 0 {
		return errQueued // nothing to sequence; the caller queues nothing
	}
	st, err := treeFromCompact(uint64(size), comp)
	if err != nil {
		return err
	}
	if st.size+uint64(n) >= 1<<maxIndexBits {
		return errors.New("ledger: tree is full")
	}
	// The tree's interior nodes are written with the index, in batches
	// (decision 0109): the compact range above carries the root.
	w := newBatchWriter(n)
	w.noNodes = true
	for i, p := range ahead {
		if err := w.add(st.size+uint64(i), p.body, st.rng); err != nil {
			// A queued body this version cannot read (nothing is written
			// yet): leave the queue to the integrator, which reports it,
			// and queue behind it, so a bad row never fails deliveries.
			return errQueued
		}
	}
	for i, body := range bodies {
		if err := w.addIndexed(st.size+uint64(len(ahead)+i), body, fields[i], st.rng); err != nil {
			return fmt.Errorf("ledger: sequence event: %w", err)
		}
	}
	root, err := st.rng.GetRootHash(nil)
	if err != nil {
		return err
	}
	hashes := st.rng.Hashes()
	compact := make([]byte, 0, len(hashes)*hasher.Size())
	for _, h := range hashes {
		compact = append(compact, h...)
	}
	if err := s.entries.Insert(ctx, tx, w.entries); err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	if err := s.subjs.Insert(ctx, tx, w.subjects); err != nil {
		return fmt.Errorf("ledger: insert entry subjects: %w", err)
	}
	if len(ahead) > 0 {
		if err := deletePending(ctx, tx, ahead); err != nil {
			return err
		}
	}
	newSize := size + int64(n)
	res, err := tx.StmtContext(ctx, update).ExecContext(ctx, newSize, root, compact, now, size)
	if err != nil {
		return fmt.Errorf("ledger: update tree state: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		// Only a transaction without the write lock could see this.
		return fmt.Errorf("ledger: tree state moved under the sequencer (%d rows, %v)", k, err)
	}
	if newSize-upto >= indexBatch {
		if err := indexEntries(ctx, tx, upto, newSize, newSize); err != nil {
			return err
		}
	}
	if !own {
		return errQueued
	}
	return nil
}
