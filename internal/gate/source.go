package gate

import (
	"context"
	"fmt"
	"slices"
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
}

// Scan implements RowSource.
func (s *SQLSource) Scan(ctx context.Context, resourceID string, q Query, fn func(string, map[string]any) error) error {
	table, key, cols, err := s.Table(ctx, resourceID)
	if err != nil {
		return err
	}
	sel := make([]string, 0, len(q.Fields)+1)
	sel = append(sel, key)
	fields := slices.Clone(q.Fields)
	for _, f := range fields {
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
	rows, err := s.DB.QueryContext(ctx, query, args...)
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
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make(map[string]any, len(fields))
		for i, f := range fields {
			v := vals[i+1]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if v != nil {
				row[f] = v
			}
		}
		if err := fn(filter.Text(vals[0]), row); err != nil {
			return err
		}
	}
	return rows.Err()
}
