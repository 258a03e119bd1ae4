package ingest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// keyArgs parses a record's key (field name → text) into query arguments in
// the dataset's key order.
func keyArgs(ds *Dataset, d store.Dialect, key map[string]string) ([]any, error) {
	if len(key) != len(ds.Key) {
		return nil, apperr.Invalidf("ingest.bad_record_key", "key", "须给出主键数据项 %s 的值", "give the values of the key fields %s", strings.Join(ds.Key, ", "))
	}
	var args []any
	for _, k := range ds.Key {
		raw, ok := key[k]
		if !ok {
			return nil, apperr.Invalidf("ingest.bad_record_key", "key."+k, "缺少主键数据项 %s", "key field %s is missing", k)
		}
		i := slices.IndexFunc(ds.Fields, func(f catalog.Field) bool { return f.Name == k })
		c := &column{f: ds.Fields[i], key: true}
		v, ce := c.parse(raw, d, false)
		if ce != nil {
			return nil, &apperr.Error{Kind: apperr.Invalid, Code: ce.code, Field: "key." + k, ZH: ce.zh, EN: ce.en}
		}
		args = append(args, v)
	}
	return args, nil
}

func keyWhere(ds *Dataset, start int) string {
	var parts []string
	for i, k := range ds.Key {
		parts = append(parts, qi(k)+" = $"+strconv.Itoa(start+i))
	}
	return strings.Join(parts, " AND ")
}

// RecordLineage is where a record came from (R-AGG-3, R-QLT-3): the org,
// the batch that last wrote it and the row of that batch's source.
type RecordLineage struct {
	ResourceID string            `json:"resource_id"`
	Key        map[string]string `json:"key"`
	OrgID      string            `json:"org_id"`
	BatchID    string            `json:"batch_id"`
	BatchSeq   int64             `json:"batch_seq"`
	Mode       Mode              `json:"mode"`
	Source     string            `json:"source,omitempty"`
	SourceRow  int64             `json:"source_row"`
	LoadedAt   time.Time         `json:"loaded_at"`
	CaseID     string            `json:"case_id,omitempty"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id,omitempty"`
	// ContentHash is the batch's, as in its ledger events.
	ContentHash string `json:"content_hash"`
}

// Lineage traces one record, by key, to its batch. The org's people and the
// authority see it; it shows no field values.
func (s *Service) Lineage(ctx context.Context, p identity.Principal, resource string, key map[string]string) (*RecordLineage, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canSee(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
	if err != nil {
		return nil, err
	}
	args, err := keyArgs(ds, s.db.Dialect, key)
	if err != nil {
		return nil, err
	}
	l := &RecordLineage{ResourceID: r.ID, Key: key}
	var loaded int64
	err = s.db.QueryRowContext(ctx, `SELECT `+quoteList(lineageCols)+` FROM `+qi(ds.table)+` WHERE `+keyWhere(ds, 1), args...).Scan(&l.BatchSeq, &l.OrgID, &l.SourceRow, &loaded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoRecord
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: lineage: %w", err)
	}
	l.LoadedAt = store.FromMicros(loaded)
	err = s.db.QueryRowContext(ctx, `SELECT id, mode, source, case_id, actor_kind, actor_id, content_hash FROM ingest_batches WHERE seq = $1`, l.BatchSeq).
		Scan(&l.BatchID, &l.Mode, &l.Source, &l.CaseID, &l.ActorKind, &l.ActorID, &l.ContentHash)
	if err != nil {
		return nil, fmt.Errorf("ingest: lineage batch: %w", err)
	}
	return l, nil
}

// Record is one record as the gate reads it: values as text (the form a
// load accepts), by field, and its lineage.
type Record struct {
	Values   map[string]string `json:"values"`
	BatchSeq int64             `json:"batch_seq"`
	OrgID    string            `json:"org_id"`
	Row      int64             `json:"row"`
	LoadedAt time.Time         `json:"loaded_at"`
}

// Scan streams a hosted dataset's records to fn, of the named fields (all
// when empty), in key order. It is the seam the gate reads hosted data
// through (DESIGN rule 1): it checks no permission itself.
func (s *Service) Scan(ctx context.Context, resourceID string, fields []string, fn func(Record) error) error {
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, resourceID, false)
	if err != nil {
		return err
	}
	var sel []catalog.Field
	if len(fields) == 0 {
		sel = ds.Fields
	}
	for _, name := range fields {
		i := slices.IndexFunc(ds.Fields, func(f catalog.Field) bool { return f.Name == name })
		if i < 0 {
			return apperr.Invalidf("ingest.unknown_field", "fields", "数据项 %q 不存在", "field %q does not exist", name)
		}
		sel = append(sel, ds.Fields[i])
	}
	cols := append(fieldNames(sel), lineageCols...)
	rows, err := s.db.QueryContext(ctx, `SELECT `+quoteList(cols)+` FROM `+qi(ds.table)+` ORDER BY `+quoteList(ds.Key))
	if err != nil {
		return fmt.Errorf("ingest: scan: %w", err)
	}
	defer rows.Close()
	n := len(sel)
	raw := make([]any, n+4)
	ptrs := make([]any, n+4)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		rec := Record{Values: make(map[string]string, n)}
		for i, f := range sel {
			rec.Values[f.Name] = textOf(f.Type, raw[i])
		}
		rec.BatchSeq, _ = raw[n].(int64)
		rec.OrgID = textOf("string", raw[n+1])
		rec.Row, _ = raw[n+2].(int64)
		lt, _ := raw[n+3].(int64)
		rec.LoadedAt = store.FromMicros(lt)
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

// correct changes one record's fields as an incremental update linked to a
// case, inside the case's transaction: a batch of one row, with ledger
// collect and store events naming the case.
func (s *Service) correct(ctx context.Context, tx *store.Tx, p identity.Principal, resourceID string, key map[string]string, values map[string]string, caseID string) (*Batch, error) {
	ds, err := s.loadDataset(ctx, tx, tx.Dialect, resourceID, true)
	if err != nil {
		return nil, err
	}
	if ds.Status != statusReady {
		return nil, ErrDatasetNotReady
	}
	args, err := keyArgs(ds, tx.Dialect, key)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, apperr.Invalidf("ingest.no_values", "data.values", "须给出更正后的值", "give the corrected values")
	}
	codes, err := s.codeLists(ctx, ds.Fields)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var sets []string
	var setArgs []any
	for _, name := range names {
		i := slices.IndexFunc(ds.Fields, func(f catalog.Field) bool { return f.Name == name })
		if i < 0 {
			return nil, apperr.Invalidf("ingest.unknown_field", "data.values."+name, "数据项 %q 不存在", "field %q does not exist", name)
		}
		if slices.Contains(ds.Key, name) {
			return nil, apperr.Invalidf("ingest.key_immutable", "data.values."+name, "主键数据项不能更正，须删除后重新汇聚", "a key field cannot be corrected; delete the record and load it again")
		}
		c := &column{f: ds.Fields[i], codes: codes[ds.Fields[i].CodeList]}
		v, ce := c.parse(values[name], tx.Dialect, false)
		if ce != nil {
			return nil, &apperr.Error{Kind: apperr.Invalid, Code: ce.code, Field: "data.values." + name, ZH: ce.zh, EN: ce.en}
		}
		setArgs = append(setArgs, v)
		sets = append(sets, qi(name)+" = $"+strconv.Itoa(len(setArgs)))
	}
	now := s.now()
	kind, actor := actorOf(p)
	b := &Batch{ID: store.NewID(), ResourceID: ds.ResourceID, OrgID: ds.OrgID, Mode: Upsert, Policy: RejectAll, Format: JSON, Source: "case/" + caseID,
		CaseID: caseID, Status: BatchApplied, ActorKind: string(kind), ActorID: actor, CreatedAt: now, UpdatedAt: now, FinishedAt: &now,
		RowsRead: 1, RowsStaged: 1, Updated: 1, RowsTotal: ds.Rows}
	sum := sha256.Sum256([]byte(mustJSON(map[string]any{"key": key, "values": values})))
	b.ContentHash = hex.EncodeToString(sum[:])
	if err := tx.QueryRowContext(ctx, `INSERT INTO ingest_batches (id, resource_id, org_id, mode, policy, format, source, case_id, status, stage_table, schema_version,
		rows_read, rows_staged, updated, rows_total, content_hash, actor_kind, actor_id, created_at, updated_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, 1, 1, 1, $11, $12, $13, $14, $15, $15, $15) RETURNING seq`,
		b.ID, b.ResourceID, b.OrgID, b.Mode, b.Policy, b.Format, b.Source, b.CaseID, b.Status, ds.SchemaVersion, ds.Rows, b.ContentHash,
		b.ActorKind, b.ActorID, store.Micros(now)).Scan(&b.Seq); err != nil {
		return nil, fmt.Errorf("ingest: correction batch: %w", err)
	}
	setArgs = append(setArgs, b.Seq, store.Micros(now))
	sets = append(sets, qi(colBatch)+" = $"+strconv.Itoa(len(setArgs)-1), qi(colLoadedAt)+" = $"+strconv.Itoa(len(setArgs)), qi(colRow)+" = 1")
	res, err := tx.ExecContext(ctx, `UPDATE `+qi(ds.table)+` SET `+strings.Join(sets, ", ")+` WHERE `+keyWhere(ds, len(setArgs)+1), append(setArgs, args...)...)
	if err != nil {
		return nil, fmt.Errorf("ingest: correct: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrNoRecord
	}
	collect := s.event(p, ledger.Collect, ds.ResourceID, map[string]any{"what": "ingest.batch.collect", "batch": b.ID, "seq": b.Seq, "mode": b.Mode, "case_id": caseID, "correction": true})
	collect.Fields, collect.RecordCount, collect.ContentHash, collect.Object = names, 1, b.ContentHash, "case/"+caseID
	storeEv := s.event(p, ledger.Store, ds.ResourceID, map[string]any{"what": "ingest.batch.store", "batch": b.ID, "seq": b.Seq, "mode": b.Mode, "updated": 1, "case_id": caseID, "correction": true})
	storeEv.Fields, storeEv.RecordCount, storeEv.ContentHash, storeEv.Object = names, 1, b.ContentHash, "case/"+caseID
	if err := s.led.Append(ctx, tx, collect, storeEv); err != nil {
		return nil, err
	}
	return b, nil
}
