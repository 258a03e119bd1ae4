package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	st, err := treeFromCompact(uint64(size), comp)
	st.root = root
	return st, err
}

// treeFromCompact rebuilds the compact range of a tree of size leaves from
// its stored hashes.
func treeFromCompact(size uint64, comp []byte) (treeState, error) {
	if len(comp)%hasher.Size() != 0 {
		return treeState{}, errors.New("ledger: tree state is corrupt")
	}
	hashes := make([][]byte, 0, len(comp)/hasher.Size())
	for i := 0; i < len(comp); i += hasher.Size() {
		hashes = append(hashes, comp[i:i+hasher.Size()])
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return treeState{}, fmt.Errorf("ledger: tree state is corrupt: %w", err)
	}
	return treeState{size: size, rng: rng}, nil
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
	// Nothing queued (on SQLite, where events are sequenced at commit,
	// almost always): answer from one read, without taking and tuning a
	// connection for a batch (Run asks several times a second).
	var (
		cur    int64
		queued bool
	)
	if err := l.db.QueryRowContext(ctx, `SELECT size, EXISTS (SELECT 1 FROM ledger_pending) FROM ledger_tree WHERE id = 1`).Scan(&cur, &queued); err == nil && !queued {
		return uint64(cur), 0, nil
	}
	conn, restore, err := l.integratorConn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer restore()
	stmts := &stmtCache{conn: conn}
	defer stmts.close()
	for stale := 0; ; {
		s, n, err := l.integrateBatch(ctx, conn, stmts)
		if errors.Is(err, errStale) && stale < 100 {
			stale++
			continue
		}
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

// integratorConn returns the connection the integrator's batches run on and
// a function that gives it back. On SQLite the connection is tuned while the
// integrator holds it: temp_store=MEMORY keeps the statement journal that
// multi-row INSERTs need inside a transaction out of a temporary file, and
// a larger page cache keeps one batch's index pages from spilling and being
// read again. Both are per-connection settings and are put back afterwards,
// so the pooled connection returns as it came.
func (l *Ledger) integratorConn(ctx context.Context) (*sql.Conn, func(), error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: integrator connection: %w", err)
	}
	if l.db.Dialect != store.SQLite {
		return conn, func() { _ = conn.Close() }, nil
	}
	var cacheSize, tempStore int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("ledger: integrator connection: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&tempStore); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("ledger: integrator connection: %w", err)
	}
	restore := func() {
		// A fresh context: put the settings back even when ctx has ended.
		bg := context.Background()
		_, err1 := conn.ExecContext(bg, fmt.Sprintf(`PRAGMA cache_size = %d`, cacheSize))
		_, err2 := conn.ExecContext(bg, fmt.Sprintf(`PRAGMA temp_store = %d`, tempStore))
		if err1 != nil || err2 != nil {
			// Do not hand a connection in an unknown state back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err != nil {
		restore()
		return nil, nil, fmt.Errorf("ledger: integrator connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -integratorCacheKiB)); err != nil {
		restore()
		return nil, nil, fmt.Errorf("ledger: integrator connection: %w", err)
	}
	return conn, restore, nil
}

// integratorCacheKiB is the SQLite page cache of the integrator's connection.
const integratorCacheKiB = 64 << 10

// inConnTx runs fn in a transaction on conn, as store.DB.InTx does on the pool.
func inConnTx(ctx context.Context, conn *sql.Conn, d store.Dialect, fn func(tx *store.Tx) error) (err error) {
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(&store.Tx{Tx: sqlTx, Dialect: d}); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

// errStale says the tree moved between preparing a batch and writing it:
// another integrator got there first. The batch is discarded and prepared
// again.
var errStale = errors.New("ledger: tree moved while the batch was prepared")

// preparedBatch is one integration batch computed outside the write
// transaction: the rows to insert, the pending ids to delete and the new
// tree state.
type preparedBatch struct {
	base    uint64 // the tree size it builds on
	pending []pendingRow
	w       *batchWriter
	root    []byte
	compact []byte
}

// prepareBatch reads the tree state and up to BatchSize pending events with
// plain reads (no write lock) and does all the CPU work of integrating them:
// decoding the indexed fields, the canonical entry bytes, leaf hashes, new
// tree nodes, the new root and compact range. Only the inserts are left for
// the write transaction, so on SQLite the integrator holds the single write
// lock for as short a time as it can.
func (l *Ledger) prepareBatch(ctx context.Context, q store.Queryer) (*preparedBatch, error) {
	st, err := loadTree(ctx, q, false)
	if err != nil {
		return nil, err
	}
	pending, err := readPending(ctx, q, l.opts.BatchSize)
	if err != nil {
		return nil, err
	}
	b := &preparedBatch{base: st.size, pending: pending}
	if len(pending) == 0 {
		return b, nil
	}
	if st.size+uint64(len(pending)) >= 1<<maxIndexBits {
		return nil, errors.New("ledger: tree is full")
	}
	b.w = newBatchWriter(len(pending))
	for i, p := range pending {
		if err := b.w.add(st.size+uint64(i), p.body, st.rng); err != nil {
			return nil, fmt.Errorf("ledger: integrate pending event %d: %w", p.id, err)
		}
	}
	if b.root, err = st.rng.GetRootHash(nil); err != nil {
		return nil, err
	}
	for _, h := range st.rng.Hashes() {
		b.compact = append(b.compact, h...)
	}
	return b, nil
}

// integrateBatch prepares one batch and writes it in one transaction: the
// entries, their tree nodes, the removal of exactly their pending rows and
// the new tree state commit together or not at all. The write transaction
// first checks that the tree is still the size the batch was prepared on;
// if another integrator moved it, the batch is thrown away (errStale).
func (l *Ledger) integrateBatch(ctx context.Context, conn *sql.Conn, stmts *stmtCache) (size uint64, n int, err error) {
	b, err := l.prepareBatch(ctx, conn)
	if err != nil {
		return 0, 0, err
	}
	if len(b.pending) == 0 {
		// Nothing to do; no write lock taken. (On PostgreSQL a lower id
		// still uncommitted is picked up by a later run.) The size was read
		// before the pending rows: another integrator may have committed in
		// between, so read it again, after them.
		st, err := loadTree(ctx, conn, false)
		if err != nil {
			return 0, 0, err
		}
		return st.size, 0, nil
	}
	// Queue with the business transactions for SQLite's one write lock.
	release, err := l.db.WriteLock(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer release()
	err = inConnTx(ctx, conn, l.db.Dialect, func(tx *store.Tx) error {
		if tx.Dialect == store.Postgres {
			var ok bool
			if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, integratorLockID).Scan(&ok); err != nil {
				return fmt.Errorf("ledger: integrator lock: %w", err)
			}
			if !ok {
				return errBusy
			}
		}
		query := `SELECT size FROM ledger_tree WHERE id = 1`
		if tx.Dialect == store.Postgres {
			query += ` FOR UPDATE`
		}
		var cur int64
		if err := tx.QueryRowContext(ctx, query).Scan(&cur); err != nil {
			return fmt.Errorf("ledger: read tree state: %w", err)
		}
		if uint64(cur) != b.base {
			return errStale
		}
		if err := b.w.flush(ctx, tx, stmts); err != nil {
			return err
		}
		if err := deletePending(ctx, tx, b.pending); err != nil {
			return err
		}
		newSize := b.base + uint64(len(b.pending))
		res, err := tx.ExecContext(ctx,
			`UPDATE ledger_tree SET size = $1, root = $2, compact = $3, updated_at = $4 WHERE id = 1 AND size = $5`,
			int64(newSize), b.root, b.compact, store.Micros(l.clock.Now()), int64(b.base))
		if err != nil {
			return fmt.Errorf("ledger: update tree state: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil || k != 1 {
			return fmt.Errorf("ledger: tree state moved under the integrator (%d rows, %v)", k, err)
		}
		// Integration runs in batches already: index them at once.
		if err := indexAll(ctx, tx, int64(newSize), int64(b.base)); err != nil {
			return err
		}
		size, n = newSize, len(b.pending)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return size, n, nil
}

func readPending(ctx context.Context, q store.Queryer, limit int) ([]pendingRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, body FROM ledger_pending ORDER BY id LIMIT $1`, limit)
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
//
// When the ids read are contiguous (always on SQLite, whose single writer
// hands out rowids in commit order, and usually on PostgreSQL) no other id
// lies between the first and the last, and one range delete removes exactly
// them; the row count is checked either way.
func deletePending(ctx context.Context, tx *store.Tx, pending []pendingRow) error {
	if first, last := pending[0].id, pending[len(pending)-1].id; last-first+1 == int64(len(pending)) && sortedIDs(pending) {
		res, err := tx.ExecContext(ctx, `DELETE FROM ledger_pending WHERE id BETWEEN $1 AND $2`, first, last)
		if err != nil {
			return fmt.Errorf("ledger: delete pending: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("ledger: delete pending: %w", err)
		}
		if k != int64(len(pending)) {
			return fmt.Errorf("ledger: %d of %d pending events vanished during integration", int64(len(pending))-k, len(pending))
		}
		return nil
	}
	const chunk = 500
	var deleted int64
	args := make([]any, 0, chunk)
	for start := 0; start < len(pending); start += chunk {
		end := min(start+chunk, len(pending))
		args = args[:0]
		for i := start; i < end; i++ {
			args = append(args, pending[i].id)
		}
		res, err := tx.ExecContext(ctx, stmtText(tx.Dialect, `DELETE FROM ledger_pending WHERE id IN `, 1, end-start, ""), args...)
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

// sortedIDs reports whether the ids strictly increase (readPending orders
// them; this keeps deletePending's range reasoning local).
func sortedIDs(pending []pendingRow) bool {
	for i := 1; i < len(pending); i++ {
		if pending[i].id <= pending[i-1].id {
			return false
		}
	}
	return true
}

// batchWriter collects the rows of one integration batch and inserts them
// with multi-row statements.
type batchWriter struct {
	entries  []any // numEntryCols values per entry
	subjects []any // 2 values per subject row
	nodes    []any // 2 values per node
	// noNodes: the tree's interior nodes are not collected (the sequencer
	// leaves them to the indexing batch, decision 0109).
	noNodes bool
}

const numEntryCols = 10

func newBatchWriter(n int) *batchWriter {
	return &batchWriter{entries: make([]any, 0, numEntryCols*n), nodes: make([]any, 0, 2*n)}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// indexedFields are the members of an event's JSON that integration copies
// into indexed columns. Decoding only these skips the fields, detail and
// the rest: the body is stored as it came.
type indexedFields struct {
	Time        time.Time `json:"time"`
	Action      Action    `json:"action"`
	ActorID     string    `json:"actor_id"`
	OrgID       string    `json:"org_id"`
	ResourceID  string    `json:"resource_id"`
	GrantID     string    `json:"grant_id"`
	ContentHash string    `json:"content_hash"`
	Subjects    []string  `json:"subjects"`
}

func (w *batchWriter) add(seq uint64, eventJSON []byte, rng *compact.Range) error {
	var e indexedFields
	if err := json.Unmarshal(eventJSON, &e); err != nil {
		return err
	}
	return w.addIndexed(seq, eventJSON, e, rng)
}

// addIndexed is add for a caller that has the indexed fields already.
func (w *batchWriter) addIndexed(seq uint64, eventJSON []byte, e indexedFields, rng *compact.Range) error {
	body, err := EncodeEntry(seq, eventJSON)
	if err != nil {
		return err
	}
	leaf := hasher.HashLeaf(body)
	w.entries = append(w.entries, int64(seq), leaf, body, store.Micros(e.Time), string(e.Action),
		nullable(e.ActorID), nullable(e.OrgID), nullable(e.ResourceID), nullable(e.GrantID), nullable(e.ContentHash))
	for _, s := range dedupe(e.Subjects) {
		w.subjects = append(w.subjects, s, int64(seq))
	}
	if w.noNodes {
		return rng.Append(leaf, nil)
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

func (w *batchWriter) flush(ctx context.Context, tx *store.Tx, stmts *stmtCache) error {
	if err := insertRows(ctx, tx, stmts, `INSERT INTO ledger_entries (seq, leaf_hash, body, time, action, actor_id, org_id, resource_id, grant_id, content_hash) VALUES `, numEntryCols, w.entries); err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	if err := insertRows(ctx, tx, stmts, `INSERT INTO ledger_entry_subjects (subject, seq) VALUES `, 2, w.subjects); err != nil {
		return fmt.Errorf("ledger: insert entry subjects: %w", err)
	}
	if err := insertRows(ctx, tx, stmts, `INSERT INTO ledger_nodes (id, hash) VALUES `, 2, w.nodes); err != nil {
		return fmt.Errorf("ledger: insert tree nodes: %w", err)
	}
	return nil
}

// maxParams bounds the parameters of one statement (SQLite before 3.32
// allowed 999).
const maxParams = 900

// insertRows inserts args, cols values per row, in multi-row statements of at
// most maxParams parameters each.
// Full chunks run as statements prepared once per integration run.
func insertRows(ctx context.Context, tx *store.Tx, stmts *stmtCache, prefix string, cols int, args []any) error {
	perStmt := maxParams / cols
	rows := len(args) / cols
	for start := 0; start < rows; start += perStmt {
		end := min(start+perStmt, rows)
		text := stmtText(tx.Dialect, prefix, cols, end-start, ",")
		var err error
		if st := stmts.get(ctx, text, end-start == perStmt); st != nil {
			_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args[start*cols:end*cols]...)
		} else {
			_, err = tx.ExecContext(ctx, text, args[start*cols:end*cols]...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// stmtCache holds the statements prepared on the integrator's connection
// for one integration run.
type stmtCache struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// get returns text prepared, or nil when it is not worth preparing (a
// partial chunk) or preparing failed (the caller then runs it unprepared).
func (c *stmtCache) get(ctx context.Context, text string, full bool) *sql.Stmt {
	if st, ok := c.stmts[text]; ok || !full {
		return st
	}
	st, err := c.conn.PrepareContext(ctx, text)
	if err != nil {
		return nil
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[text] = st
	return st
}

func (c *stmtCache) close() {
	for _, st := range c.stmts {
		_ = st.Close()
	}
}

// stmtTexts keeps the text of multi-row statements, which are the same for
// every full chunk.
var stmtTexts sync.Map // stmtKey -> string

type stmtKey struct {
	dialect    store.Dialect
	prefix     string
	cols, rows int
	sep        string
}

// stmtText returns prefix followed by rows groups of cols placeholders:
// "(?,?),(?,?)" on SQLite, "($1,$2),($3,$4)" on PostgreSQL. With sep ""
// the groups are flattened into one list, "(?,?,?)", for IN.
//
// SQLite gets anonymous "?" placeholders: modernc.org/sqlite resolves
// numbered ones ("$7") by name, a linear search per parameter, which made
// statements of hundreds of parameters quadratic.
func stmtText(d store.Dialect, prefix string, cols, rows int, sep string) string {
	k := stmtKey{d, prefix, cols, rows, sep}
	if s, ok := stmtTexts.Load(k); ok {
		return s.(string)
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + rows*cols*6)
	sb.WriteString(prefix)
	p := 1
	if sep == "" {
		sb.WriteByte('(')
	}
	for r := 0; r < rows; r++ {
		if r > 0 {
			if sep == "" {
				sb.WriteByte(',')
			} else {
				sb.WriteString(sep)
			}
		}
		if sep != "" {
			sb.WriteByte('(')
		}
		for c := 0; c < cols; c++ {
			if c > 0 {
				sb.WriteByte(',')
			}
			if d == store.Postgres {
				sb.WriteByte('$')
				sb.WriteString(strconv.Itoa(p))
			} else {
				sb.WriteByte('?')
			}
			p++
		}
		if sep != "" {
			sb.WriteByte(')')
		}
	}
	if sep == "" {
		sb.WriteByte(')')
	}
	s := sb.String()
	stmtTexts.Store(k, s)
	return s
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
		lastSize     uint64
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
			if err == nil {
				// Appends have paused: index the tail they left.
				if size == lastSize {
					if _, err := l.IndexTail(ctx); err != nil && ctx.Err() == nil {
						l.opts.Log.ErrorContext(ctx, "ledger: index entries", "err", err)
					}
				}
				lastSize = size
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
