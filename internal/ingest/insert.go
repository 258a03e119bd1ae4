package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"shuqiao/internal/store"
)

// inserter writes rows with multi-row INSERTs: a prepared statement of
// `per` rows for full groups and one built statement for the rest.
type inserter struct {
	d        store.Dialect
	table    string
	cols     []string
	suffix   string // ON CONFLICT … or ""
	width    int
	per      int
	args     []any
	n        int
	stmt     *sql.Stmt
	stmtTx   *sql.Tx
	fullSQL  string
	keyIdx   []int          // with dedupe: positions of the key in a row
	slots    map[string]int // key → row slot in args, with dedupe
	executed func(ctx context.Context, tx *store.Tx, affected int64, args []any, n int) error
}

func newInserter(d store.Dialect, table string, cols []string, suffix string) *inserter {
	width := len(cols)
	limit := 32000 // SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766
	if d == store.Postgres {
		limit = 65000
	}
	per := min(1000, max(1, limit/width))
	ins := &inserter{d: d, table: table, cols: cols, suffix: suffix, width: width, per: per, args: make([]any, 0, per*width)}
	ins.fullSQL = ins.build(per)
	return ins
}

// dedupe makes a later row with the same key replace the earlier one within
// a statement (PostgreSQL refuses to upsert one key twice in a statement).
func (ins *inserter) dedupe(keyIdx []int) {
	ins.keyIdx = keyIdx
	ins.slots = map[string]int{}
}

func (ins *inserter) build(rows int) string {
	var b strings.Builder
	b.Grow(64 + rows*ins.width*6)
	b.WriteString(`INSERT INTO `)
	b.WriteString(qi(ins.table))
	b.WriteString(` (`)
	b.WriteString(quoteList(ins.cols))
	b.WriteString(`) VALUES `)
	p := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < ins.width; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			p++
			if ins.d == store.Postgres {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(p))
			} else {
				// modernc's SQLite binds ? far faster than numbered parameters.
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(ins.suffix)
	return b.String()
}

func keyString(row []any, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		b.WriteString(fmt.Sprint(row[i]))
		b.WriteByte(0)
	}
	return b.String()
}

// add queues one row (its values are copied) and writes a full group.
func (ins *inserter) add(ctx context.Context, tx *store.Tx, row []any) error {
	if ins.slots != nil {
		k := keyString(row, ins.keyIdx)
		if slot, ok := ins.slots[k]; ok {
			copy(ins.args[slot*ins.width:(slot+1)*ins.width], row)
			return nil
		}
		ins.slots[k] = ins.n
	}
	ins.args = append(ins.args, row...)
	ins.n++
	if ins.n == ins.per {
		if ins.stmtTx != tx.Tx {
			st, err := tx.PrepareContext(ctx, ins.fullSQL)
			if err != nil {
				return fmt.Errorf("ingest: prepare insert: %w", err)
			}
			ins.stmt, ins.stmtTx = st, tx.Tx
		}
		res, err := ins.stmt.ExecContext(ctx, ins.args...)
		if err != nil {
			return fmt.Errorf("ingest: insert: %w", err)
		}
		return ins.done(ctx, tx, res)
	}
	return nil
}

func (ins *inserter) done(ctx context.Context, tx *store.Tx, res sql.Result) error {
	if ins.executed != nil {
		affected, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := ins.executed(ctx, tx, affected, ins.args, ins.n); err != nil {
			return err
		}
	}
	ins.args = ins.args[:0]
	ins.n = 0
	if ins.slots != nil {
		clear(ins.slots)
	}
	return nil
}

// flush writes the queued rows.
func (ins *inserter) flush(ctx context.Context, tx *store.Tx) error {
	if ins.n == 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, ins.build(ins.n), ins.args...)
	if err != nil {
		return fmt.Errorf("ingest: insert: %w", err)
	}
	return ins.done(ctx, tx, res)
}

// release forgets the statement of a finished transaction.
func (ins *inserter) release() {
	if ins.stmt != nil {
		_ = ins.stmt.Close()
	}
	ins.stmt, ins.stmtTx = nil, nil
}
