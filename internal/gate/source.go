package gate

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"

	"shuqiao/internal/gate/filter"
	"shuqiao/internal/store"
)

// Query is what the gate asks a row source for: already decided, so the
// source only reads. ingest implements RowSource over its typed tables.
type Query struct {
	// Fields are the fields to read: those delivered plus those the filter
	// needs. A source must return no other field.
	Fields []string
	// Filter selects rows; nil selects all. It has been checked against
	// Types. Compile it with filter.SQL (never paste text into SQL) or
	// evaluate it with filter.Eval.
	Filter *filter.Expr
	Types  map[string]filter.Type
	// After is the key of the last row already delivered ("" from the
	// start); rows come in ascending key order, strictly after it.
	After string
	// Limit is the most rows to return.
	Limit int
}

// RowSource reads hosted rows. Scan calls fn for each row q selects, in
// ascending key order, at most q.Limit times; key is the row's stable,
// unique, ordered key (it becomes the paging cursor). Returning an error
// from fn stops the scan with that error.
type RowSource interface {
	Scan(ctx context.Context, resourceID string, q Query, fn func(key string, row map[string]any) error) error
}

// ColumnSource is a RowSource that can also hand rows over as values in
// q.Fields order (nil for a missing value), sparing a map per row. The gate
// uses it when a source offers it; vals is only valid during the call.
type ColumnSource interface {
	RowSource
	ScanColumns(ctx context.Context, resourceID string, q Query, fn func(key string, vals []any) error) error
}

// MemorySource is a RowSource over rows held in memory: for tests, demos
// and benchmarks, and a reference for what a source must do.
type MemorySource struct {
	mu   sync.RWMutex
	rows map[string][]memRow
}

type memRow struct {
	key string
	row map[string]any
}

// NewMemorySource returns an empty MemorySource.
func NewMemorySource() *MemorySource { return &MemorySource{rows: map[string][]memRow{}} }

// Put stores rows of resource under their keys (replacing the same keys).
func (m *MemorySource) Put(resourceID string, keys []string, rows []map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := map[string]map[string]any{}
	for _, r := range m.rows[resourceID] {
		cur[r.key] = r.row
	}
	for i, k := range keys {
		cur[k] = rows[i]
	}
	out := make([]memRow, 0, len(cur))
	for k, r := range cur {
		out = append(out, memRow{k, r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	m.rows[resourceID] = out
}

// Scan implements RowSource.
func (m *MemorySource) Scan(ctx context.Context, resourceID string, q Query, fn func(string, map[string]any) error) error {
	m.mu.RLock()
	rows := m.rows[resourceID]
	m.mu.RUnlock()
	i := sort.Search(len(rows), func(i int) bool { return rows[i].key > q.After })
	n := 0
	for ; i < len(rows) && n < q.Limit; i++ {
		if !filter.Eval(q.Filter, rows[i].row) {
			continue
		}
		out := make(map[string]any, len(q.Fields))
		for _, f := range q.Fields {
			if v, ok := rows[i].row[f]; ok {
				out[f] = v
			}
		}
		if err := fn(rows[i].key, out); err != nil {
			return err
		}
		n++
	}
	return ctx.Err()
}

// SQLSource reads rows from one table per resource with the filter compiled
// to bind parameters. A package that keeps hosted rows in tables (ingest)
// may wrap its tables with it; the gate itself never names a table.
type SQLSource struct {
	DB *store.DB
	// Table returns the table (a trusted, quoted name), its key column and
	// the column expression of each field for a resource.
	Table func(ctx context.Context, resourceID string) (table, key string, cols map[string]filter.Column, err error)

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Scan implements RowSource.
func (s *SQLSource) Scan(ctx context.Context, resourceID string, q Query, fn func(string, map[string]any) error) error {
	return s.ScanColumns(ctx, resourceID, q, func(key string, vals []any) error {
		row := make(map[string]any, len(q.Fields))
		for i, f := range q.Fields {
			if vals[i] != nil {
				row[f] = vals[i]
			}
		}
		return fn(key, row)
	})
}

// maxStmts bounds the prepared statements an SQLSource keeps (one per
// distinct query shape: table, fields and filter structure; never values).
const maxStmts = 256

// ScanColumns implements ColumnSource: rows come as values in q.Fields
// order, without a map per row.
func (s *SQLSource) ScanColumns(ctx context.Context, resourceID string, q Query, fn func(string, []any) error) error {
	table, key, cols, err := s.Table(ctx, resourceID)
	if err != nil {
		return err
	}
	sel := make([]string, 0, len(q.Fields)+1)
	sel = append(sel, key)
	for _, f := range q.Fields {
		c, ok := cols[f]
		if !ok {
			return fmt.Errorf("gate: resource %s has no column for %s", resourceID, f)
		}
		sel = append(sel, c.Expr)
	}
	where, args, err := filter.SQL(q.Filter, cols, filter.Dialect(s.DB.Dialect), 1)
	if err != nil {
		return err
	}
	query := `SELECT ` + strings.Join(sel, ", ") + ` FROM ` + table + ` WHERE ` + where
	if q.After != "" {
		args = append(args, q.After)
		query += fmt.Sprintf(` AND %s > $%d`, key, len(args))
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(` ORDER BY %s LIMIT $%d`, key, len(args))
	var rows *sql.Rows
	if st := s.stmt(ctx, query); st != nil {
		if rows, err = st.QueryContext(ctx, args...); err != nil {
			// The table may have changed under the statement (a schema
			// migration): forget it and run the query afresh.
			s.dropStmt(query)
			rows, err = s.DB.QueryContext(ctx, query, args...)
		}
	} else {
		rows, err = s.DB.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return fmt.Errorf("gate: read rows: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i := 1; i < len(vals); i++ {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
		}
		if err := fn(filter.Text(vals[0]), vals[1:]); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stmt returns query prepared on the pool (database/sql prepares it once
// per connection and reuses it), so a call does not pay for parsing its
// SELECT. Only query shapes are cached: every value is a bind parameter.
// nil: not cached (too many shapes, or preparing failed).
func (s *SQLSource) stmt(ctx context.Context, query string) *sql.Stmt {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st
	}
	if len(s.stmts) >= maxStmts {
		return nil
	}
	st, err := s.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[query] = st
	return st
}

func (s *SQLSource) dropStmt(query string) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		_ = st.Close()
		delete(s.stmts, query)
	}
}

// Close releases the prepared statements.
func (s *SQLSource) Close() error {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for q, st := range s.stmts {
		_ = st.Close()
		delete(s.stmts, q)
	}
	return nil
}
