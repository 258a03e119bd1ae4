package ingest

import (
	"context"
	"strings"
	"sync"
	"time"

	"shuqiao/internal/gate"
	"shuqiao/internal/gate/filter"
	"shuqiao/internal/store"
)

// RowSource is the gate's reader over hosted datasets (DESIGN rule 1: the
// gate decides, ingest only reads). The app wires it with Gate.UseRows.
// Rows page by the dataset's key as text: the key column itself for a text
// key, else the key fields cast to text and joined with U+001F.
func (s *Service) RowSource() gate.RowSource {
	return &gate.SQLSource{DB: s.db, Table: s.gateTable}
}

func (s *Service) gateTable(ctx context.Context, resourceID string) (string, string, map[string]filter.Column, error) {
	now := s.clock.Now()
	if t, ok := s.tables.get(resourceID, now); ok {
		return t.table, t.key, t.cols, nil
	}
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, resourceID, false)
	if err != nil {
		return "", "", nil, err
	}
	t := s.gateTableOf(ds)
	s.tables.put(resourceID, t, now)
	return t.table, t.key, t.cols, nil
}

// gateTableOf is what the gate needs of a dataset to read it.
func (s *Service) gateTableOf(ds *Dataset) gateTableInfo {
	types := map[string]string{}
	cols := make(map[string]filter.Column, len(ds.Fields))
	for _, f := range ds.Fields {
		cols[f.Name] = filter.Column{Expr: qi(f.Name), Type: filter.Type(f.Type)}
		types[f.Name] = string(f.Type)
	}
	return gateTableInfo{table: qi(ds.table), key: keyExpr(s.db.Dialect, ds.Key, types), cols: cols}
}

type gateTableInfo struct {
	table, key string
	cols       map[string]filter.Column
}

// gateTableTTL is how long the gate's reads reuse a dataset's table, key
// and columns without reading them again: reading and decoding the
// dataset's row was an eighth of a governed call. They change only when a
// catalog version's fields are migrated (sync drops this process's copy at
// once); another replica sees the change within the TTL, as it sees the
// catalog entry itself through the gate's resource cache (2 s).
const gateTableTTL = 2 * time.Second

// tableCache holds gateTableInfo by resource id. The zero value is ready.
type tableCache struct {
	mu sync.Mutex
	m  map[string]cachedTable
}

type cachedTable struct {
	t  gateTableInfo
	at time.Time
}

func (c *tableCache) get(id string, now time.Time) (gateTableInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.Sub(e.at) >= gateTableTTL || now.Before(e.at) {
		return gateTableInfo{}, false
	}
	return e.t, true
}

func (c *tableCache) put(id string, t gateTableInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 4096 {
		c.m = map[string]cachedTable{}
	}
	c.m[id] = cachedTable{t: t, at: now}
}

func (c *tableCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func keyExpr(d store.Dialect, key []string, types map[string]string) string {
	if len(key) == 1 && types[key[0]] == "string" {
		return qi(key[0])
	}
	parts := make([]string, len(key))
	for i, k := range key {
		if d == store.Postgres {
			parts[i] = qi(k) + "::text"
		} else {
			parts[i] = "CAST(" + qi(k) + " AS TEXT)"
		}
	}
	sep := " || char(31) || "
	if d == store.Postgres {
		sep = " || chr(31) || "
	}
	return "(" + strings.Join(parts, sep) + ")"
}
