package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"shuqiao/internal/store"
)

// integratorLockID is the PostgreSQL advisory lock that makes one replica at
// a time the sequencer ("shuqiao.ledger.integrator", FNV-1a, shifted).
const integratorLockID int64 = 0x2b1e5d6c0f4a9317

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// nodeKey packs a tree node's level and index into one integer key.
func nodeKey(level uint, index uint64) int64 { return int64(uint64(level)<<56 | index) }

// maxIndexBits bounds the index part of nodeKey.
const maxIndexBits = 56

// treeState is the integrator's view of the tree.
type treeState struct {
	size uint64
	root []byte
	rng  *compact.Range
}

func (l *Ledger) initTree(ctx context.Context) error {
	_, err := l.db.ExecContext(ctx,
		`INSERT INTO ledger_tree (id, size, root, compact, updated_at) VALUES (1, 0, $1, $2, $3) ON CONFLICT (id) DO NOTHING`,
		hasher.EmptyRoot(), []byte{}, store.Micros(l.clock.Now()))
	if err != nil {
		return fmt.Errorf("ledger: init tree: %w", err)
	}
	return nil
}

func loadTree(ctx context.Context, q store.Queryer, forUpdate bool) (treeState, error) {
	query := `SELECT size, root, compact FROM ledger_tree WHERE id = 1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	var (
		size       int64
		root, comp []byte
	)
	if err := q.QueryRowContext(ctx, query).Scan(&size, &root, &comp); err != nil {
		return treeState{}, fmt.Errorf("ledger: read tree state: %w", err)
	}
	if len(comp)%hasher.Size() != 0 {
		return treeState{}, errors.New("ledger: tree state is corrupt")
	}
	hashes := make([][]byte, 0, len(comp)/hasher.Size())
	for i := 0; i < len(comp); i += hasher.Size() {
		hashes = append(hashes, comp[i:i+hasher.Size()])
	}
	rng, err := rangeFactory.NewRange(0, uint64(size), hashes)
	if err != nil {
		return treeState{}, fmt.Errorf("ledger: tree state is corrupt: %w", err)
	}
	return treeState{size: uint64(size), root: root, rng: rng}, nil
}

// ErrBusy says another integrator holds the sequencer lock.
var errBusy = errors.New("ledger: another integrator holds the lock")

// Integrate moves committed pending events, in order, into the sequenced log
// and the Merkle tree, and returns the tree size. Each batch is one
// transaction: an event's entry, its tree nodes, the new tree state and the
// removal of its pending row commit together or not at all, so an event is
// integrated exactly once even if the process dies mid-way (R-SEC-13).
//
// One integrator runs at a time: on PostgreSQL the one that holds an advisory
// lock; on SQLite the single writer. If another replica is integrating,
// Integrate waits for it, so when Integrate returns every event committed
// before the call is in the tree.
func (l *Ledger) Integrate(ctx context.Context) (uint64, error) {
	for {
		size, _, err := l.integrateAll(ctx)
		if !errors.Is(err, errBusy) {
			return size, err
		}
		select {
		case <-ctx.Done():
			return size, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// integrateAll runs batches until no pending event is left. It returns
// errBusy at once if another integrator holds the lock.
func (l *Ledger) integrateAll(ctx context.Context) (size uint64, integrated int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		s, n, err := l.integrateBatch(ctx)
		if err != nil {
			return size, integrated, err
		}
		size = s
		integrated += n
		if n < l.opts.BatchSize {
			return size, integrated, nil
		}
	}
}

type pendingRow struct {
	id   int64
	body []byte
}

func (l *Ledger) integrateBatch(ctx context.Context) (size uint64, n int, err error) {
	err = l.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect == store.Postgres {
			var ok bool
			if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, integratorLockID).Scan(&ok); err != nil {
				return fmt.Errorf("ledger: integrator lock: %w", err)
			}
			if !ok {
				return errBusy
			}
		}
		st, err := loadTree(ctx, tx, tx.Dialect == store.Postgres)
		if err != nil {
			return err
		}
		size = st.size
		pending, err := readPending(ctx, tx, l.opts.BatchSize)
		if err != nil || len(pending) == 0 {
			return err
		}
		if st.size+uint64(len(pending)) >= 1<<maxIndexBits {
			return errors.New("ledger: tree is full")
		}
		w := newBatchWriter(tx, len(pending))
		for i, p := range pending {
			seq := st.size + uint64(i)
			if err := w.add(seq, p.body, st.rng); err != nil {
				return fmt.Errorf("ledger: integrate pending event %d: %w", p.id, err)
			}
		}
		if err := w.flush(ctx); err != nil {
			return err
		}
		if err := deletePending(ctx, tx, pending); err != nil {
			return err
		}
		root, err := st.rng.GetRootHash(nil)
		if err != nil {
			return err
		}
		var comp []byte
		for _, h := range st.rng.Hashes() {
			comp = append(comp, h...)
		}
		newSize := st.size + uint64(len(pending))
		res, err := tx.ExecContext(ctx,
			`UPDATE ledger_tree SET size = $1, root = $2, compact = $3, updated_at = $4 WHERE id = 1 AND size = $5`,
			int64(newSize), root, comp, store.Micros(l.clock.Now()), int64(st.size))
		if err != nil {
			return fmt.Errorf("ledger: update tree state: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil || k != 1 {
			return fmt.Errorf("ledger: tree state moved under the integrator (%d rows, %v)", k, err)
		}
		size, n = newSize, len(pending)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return size, n, nil
}

func readPending(ctx context.Context, tx *store.Tx, limit int) ([]pendingRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, body FROM ledger_pending ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: read pending: %w", err)
	}
	defer rows.Close()
	var out []pendingRow
	for rows.Next() {
		var p pendingRow
		if err := rows.Scan(&p.id, &p.body); err != nil {
			return nil, fmt.Errorf("ledger: read pending: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// deletePending removes exactly the rows integrated. Ids are listed, not
// ranged: on PostgreSQL a lower id may commit after a higher one, and it must
// stay pending for the next batch.
func deletePending(ctx context.Context, tx *store.Tx, pending []pendingRow) error {
	const chunk = 500
	var deleted int64
	for start := 0; start < len(pending); start += chunk {
		end := min(start+chunk, len(pending))
		var sb strings.Builder
		sb.WriteString(`DELETE FROM ledger_pending WHERE id IN (`)
		args := make([]any, 0, end-start)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "$%d", i-start+1)
			args = append(args, pending[i].id)
		}
		sb.WriteByte(')')
		res, err := tx.ExecContext(ctx, sb.String(), args...)
		if err != nil {
			return fmt.Errorf("ledger: delete pending: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("ledger: delete pending: %w", err)
		}
		deleted += k
	}
	if deleted != int64(len(pending)) {
		// Someone else integrated some of these: never sequence an event twice.
		return fmt.Errorf("ledger: %d of %d pending events vanished during integration", int64(len(pending))-deleted, len(pending))
	}
	return nil
}

// batchWriter collects the rows of one integration batch and inserts them
// with multi-row statements.
type batchWriter struct {
	tx       *store.Tx
	entries  []any // 9 values per entry
	subjects []any // 2 values per subject row
	nodes    []any // 2 values per node
}

func newBatchWriter(tx *store.Tx, n int) *batchWriter {
	return &batchWriter{tx: tx, entries: make([]any, 0, 9*n), nodes: make([]any, 0, 2*n)}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (w *batchWriter) add(seq uint64, eventJSON []byte, rng *compact.Range) error {
	var e Event
	if err := json.Unmarshal(eventJSON, &e); err != nil {
		return err
	}
	body, err := EncodeEntry(seq, eventJSON)
	if err != nil {
		return err
	}
	leaf := hasher.HashLeaf(body)
	w.entries = append(w.entries, int64(seq), leaf, body, store.Micros(e.Time), string(e.Action),
		nullable(e.ActorID), nullable(e.OrgID), nullable(e.ResourceID), nullable(e.GrantID))
	for _, s := range dedupe(e.Subjects) {
		w.subjects = append(w.subjects, s, int64(seq))
	}
	return rng.Append(leaf, func(id compact.NodeID, hash []byte) {
		if id.Level > 0 {
			w.nodes = append(w.nodes, nodeKey(id.Level, id.Index), hash)
		}
	})
}

func dedupe(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (w *batchWriter) flush(ctx context.Context) error {
	if err := insertRows(ctx, w.tx, `INSERT INTO ledger_entries (seq, leaf_hash, body, time, action, actor_id, org_id, resource_id, grant_id) VALUES `, 9, w.entries); err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	if err := insertRows(ctx, w.tx, `INSERT INTO ledger_entry_subjects (subject, seq) VALUES `, 2, w.subjects); err != nil {
		return fmt.Errorf("ledger: insert entry subjects: %w", err)
	}
	if err := insertRows(ctx, w.tx, `INSERT INTO ledger_nodes (id, hash) VALUES `, 2, w.nodes); err != nil {
		return fmt.Errorf("ledger: insert tree nodes: %w", err)
	}
	return nil
}

// insertRows inserts args, cols values per row, in multi-row statements of at
// most ~900 parameters each.
func insertRows(ctx context.Context, q store.Queryer, prefix string, cols int, args []any) error {
	perStmt := 900 / cols
	rows := len(args) / cols
	for start := 0; start < rows; start += perStmt {
		end := min(start+perStmt, rows)
		var sb strings.Builder
		sb.Grow(len(prefix) + (end-start)*cols*6)
		sb.WriteString(prefix)
		p := 1
		for r := start; r < end; r++ {
			if r > start {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for c := 0; c < cols; c++ {
				if c > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "$%d", p)
				p++
			}
			sb.WriteByte(')')
		}
		if _, err := q.ExecContext(ctx, sb.String(), args[start*cols:end*cols]...); err != nil {
			return err
		}
	}
	return nil
}

// Run integrates in the background until ctx ends: promptly after Append
// (nudge) or every PollInterval, and signs a checkpoint after integration,
// at most once per CheckpointInterval. Replicas may all run it; on
// PostgreSQL one integrates at a time and the others find nothing to do.
func (l *Ledger) Run(ctx context.Context) error {
	poll := time.NewTicker(l.opts.PollInterval)
	defer poll.Stop()
	var (
		lastSigned   time.Time
		signedSize   uint64
		haveSigned   bool
		signTimer    <-chan time.Time
		batchTimer   <-chan time.Time
		pendingToSig bool
		due          = true
	)
	if cp, err := l.LatestCheckpoint(ctx); err == nil {
		signedSize, haveSigned = cp.Size, true
	}
	for {
		if due {
			due = false
			size, _, err := l.integrateAll(ctx)
			switch {
			case errors.Is(err, errBusy):
				// Another replica is the sequencer right now.
				if t, err := l.TreeSize(ctx); err == nil {
					size = t
				}
			case err != nil && ctx.Err() == nil:
				l.opts.Log.ErrorContext(ctx, "ledger: integrate", "err", err)
			}
			if err == nil || errors.Is(err, errBusy) {
				if !haveSigned || size > signedSize {
					pendingToSig = true
				}
			}
		}
		if pendingToSig && signTimer == nil {
			wait := max(l.opts.CheckpointInterval-time.Since(lastSigned), 0)
			signTimer = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.nudge:
			// Append nudges before its transaction commits. Integrate a
			// moment later: the commit has landed by then, and the events
			// of many transactions go into one integration transaction
			// instead of each business write being followed by one.
			if batchTimer == nil {
				batchTimer = time.After(l.opts.BatchDelay)
			}
		case <-batchTimer:
			batchTimer, due = nil, true
		case <-poll.C:
			due = true
		case <-signTimer:
			signTimer = nil
			cp, err := l.SignCheckpoint(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.opts.Log.ErrorContext(ctx, "ledger: sign checkpoint", "err", err)
				}
				continue
			}
			lastSigned, signedSize, haveSigned, pendingToSig = time.Now(), cp.Size, true, false
		}
	}
}

// TreeSize is the number of integrated entries.
func (l *Ledger) TreeSize(ctx context.Context) (uint64, error) {
	var size int64
	if err := l.db.QueryRowContext(ctx, `SELECT size FROM ledger_tree WHERE id = 1`).Scan(&size); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, fmt.Errorf("ledger: tree size: %w", err)
	}
	return uint64(size), nil
}
