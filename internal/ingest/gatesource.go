package ingest

import (
	"context"
	"strings"

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
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, resourceID, false)
	if err != nil {
		return "", "", nil, err
	}
	types := map[string]string{}
	cols := make(map[string]filter.Column, len(ds.Fields))
	for _, f := range ds.Fields {
		cols[f.Name] = filter.Column{Expr: qi(f.Name), Type: filter.Type(f.Type)}
		types[f.Name] = string(f.Type)
	}
	return qi(ds.table), keyExpr(s.db.Dialect, ds.Key, types), cols, nil
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
