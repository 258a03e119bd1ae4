package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// RowInserter writes rows with multi-row INSERT statements of a few fixed
// sizes, each prepared once. Group commits insert a different number of
// rows each time; a statement built for each count was parsed afresh every
// time, and parsing showed as a third of the cost of the insert.
type RowInserter struct {
	db    *DB
	head  string // INSERT INTO t (a, b) VALUES
	cols  int
	mu    sync.Mutex
	stmts map[int]*sql.Stmt
}

// insertChunks are the statement sizes, largest first; 64 rows of up to 15
// columns stay within both databases' parameter limits.
var insertChunks = [...]int{64, 16, 4, 1}

// NewRowInserter returns an inserter of rows of cols values; head is the
// statement up to VALUES, e.g. "INSERT INTO t (a, b) VALUES ".
func NewRowInserter(db *DB, head string, cols int) *RowInserter {
	return &RowInserter{db: db, head: head, cols: cols, stmts: map[int]*sql.Stmt{}}
}

// Insert writes the rows whose values are args (row after row) in tx.
func (ri *RowInserter) Insert(ctx context.Context, tx *Tx, args []any) error {
	if len(args)%ri.cols != 0 {
		return fmt.Errorf("store: insert: %d values are not rows of %d", len(args), ri.cols)
	}
	rows := len(args) / ri.cols
	for _, size := range insertChunks {
		for rows >= size {
			st, err := ri.stmt(ctx, size)
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args[:size*ri.cols]...); err != nil {
				return err
			}
			args, rows = args[size*ri.cols:], rows-size
		}
	}
	return nil
}

// Prepare prepares every statement size now. Insert otherwise prepares a
// size on the pool the first time it needs it, from inside the caller's
// transaction; where every pooled connection may be held by a transaction
// waiting for the one SQLite writer, that would wait for a connection the
// writer's own transaction keeps busy.
func (ri *RowInserter) Prepare(ctx context.Context) error {
	for _, size := range insertChunks {
		if _, err := ri.stmt(ctx, size); err != nil {
			return err
		}
	}
	return nil
}

func (ri *RowInserter) stmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if st, ok := ri.stmts[rows]; ok {
		return st, nil
	}
	st, err := ri.db.PrepareContext(ctx, ri.text(rows))
	if err != nil {
		return nil, fmt.Errorf("store: prepare insert: %w", err)
	}
	ri.stmts[rows] = st
	return st, nil
}

// text is head and rows groups of placeholders: "?" on SQLite, whose
// driver (modernc.org/sqlite) looks numbered ones up by name, quadratic in
// a wide statement; "$n" on PostgreSQL.
func (ri *RowInserter) text(rows int) string {
	var b strings.Builder
	b.WriteString(ri.head)
	p := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < ri.cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			if ri.db.Dialect == Postgres {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(p))
			} else {
				b.WriteByte('?')
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Close releases the prepared statements.
func (ri *RowInserter) Close() error {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	for n, st := range ri.stmts {
		_ = st.Close()
		delete(ri.stmts, n)
	}
	return nil
}
