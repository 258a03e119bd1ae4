package ingest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Lineage columns every dataset table carries after its fields (R-AGG-3):
// the batch (ingest_batches.seq) that last wrote the record, the providing
// org, the record's row in that batch's source, and the load time.
const (
	colBatch    = "_batch"
	colOrg      = "_org"
	colRow      = "_row"
	colLoadedAt = "_loaded_at"
)

var lineageCols = []string{colBatch, colOrg, colRow, colLoadedAt}

// fieldNameRE is the catalog's rule for field names; it is checked again
// here because names become SQL identifiers.
var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Dataset is a hosted resource's typed table as people see it.
type Dataset struct {
	ResourceID   string          `json:"resource_id"`
	ResourceCode string          `json:"resource_code"`
	OrgID        string          `json:"org_id"`
	Key          []string        `json:"key"`
	Fields       []catalog.Field `json:"fields"`
	// SchemaVersion is the catalog version the table's columns follow.
	SchemaVersion string `json:"schema_version"`
	Frequency     string `json:"frequency"`
	// Status is "ready", or "schema_refused" when the latest catalog
	// version's field changes could not be migrated (StatusReason says why).
	Status       string     `json:"status"`
	StatusReason string     `json:"status_reason,omitempty"`
	Rows         int64      `json:"rows"`
	ActiveBatch  string     `json:"active_batch,omitempty"`
	LastLoadAt   *time.Time `json:"last_load_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`

	table string
}

const (
	statusReady   = "ready"
	statusRefused = "schema_refused"
)

// tableBase derives the dataset table's name from the resource id: "ds_"
// and the id's 32 hex digits (ids are UUIDs), or a hash of any other id. No
// user string ever reaches SQL text.
func tableBase(resourceID string) string {
	h := strings.ReplaceAll(strings.ToLower(resourceID), "-", "")
	if len(h) == 32 && isHex(h) {
		return h
	}
	sum := sha256.Sum256([]byte(resourceID))
	return hex.EncodeToString(sum[:16])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func liveTable(resourceID string) string { return "ds_" + tableBase(resourceID) }

// stageTable is where batch seq's rows wait until they are applied.
func stageTable(resourceID string, seq int64) string {
	return "st_" + tableBase(resourceID) + "_" + strconv.FormatInt(seq, 10)
}

func indexName(table string) string {
	return "ux" + strings.TrimPrefix(strings.TrimPrefix(table, "ds"), "st")
}

// qi quotes an identifier. Every identifier it gets is generated here or
// checked against fieldNameRE; quoting is the second fence.
func qi(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// sqlType is the column type of a field type in a dialect.
func sqlType(d store.Dialect, t catalog.FieldType) string {
	if d == store.Postgres {
		switch t {
		case "integer":
			return "BIGINT"
		case "decimal":
			return "NUMERIC"
		case "boolean":
			return "BOOLEAN"
		case "date":
			return "DATE"
		case "datetime":
			return "TIMESTAMPTZ"
		case "binary":
			return "BYTEA"
		}
		return "TEXT"
	}
	switch t {
	case "integer", "boolean":
		return "INTEGER"
	case "binary":
		return "BLOB"
	}
	// Decimals stay exact as text; dates and times are ISO 8601 text.
	return "TEXT"
}

// createTable creates a dataset-shaped table whose primary key is the
// dataset's key. On SQLite the table is WITHOUT ROWID: records live in the
// key's B-tree, so a load maintains one tree, not a table and an index.
func createTable(ctx context.Context, q store.Queryer, d store.Dialect, table string, fields []catalog.Field, key []string) error {
	var cols []string
	for _, f := range fields {
		cols = append(cols, qi(f.Name)+" "+sqlType(d, f.Type))
	}
	cols = append(cols, qi(colBatch)+" BIGINT NOT NULL", qi(colOrg)+" TEXT NOT NULL", qi(colRow)+" BIGINT NOT NULL", qi(colLoadedAt)+" BIGINT NOT NULL",
		`CONSTRAINT `+qi(indexName(table))+` PRIMARY KEY (`+quoteList(key)+`)`)
	suffix := ""
	if d == store.SQLite {
		suffix = " WITHOUT ROWID"
	}
	if _, err := q.ExecContext(ctx, `CREATE TABLE `+qi(table)+` (`+strings.Join(cols, ", ")+`)`+suffix); err != nil {
		return fmt.Errorf("ingest: create table: %w", err)
	}
	return nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = qi(n)
	}
	return strings.Join(q, ", ")
}

func dropTable(ctx context.Context, q store.Queryer, table string) error {
	_, err := q.ExecContext(ctx, `DROP TABLE IF EXISTS `+qi(table))
	return err
}

const datasetCols = `resource_id, resource_code, org_id, table_name, key_fields, fields, schema_version, frequency, status, status_reason, row_count, active_batch, last_load_at, created_at, updated_at`

func scanDataset(sc interface{ Scan(...any) error }) (*Dataset, error) {
	var d Dataset
	var key, fields string
	var last, created, updated int64
	if err := sc.Scan(&d.ResourceID, &d.ResourceCode, &d.OrgID, &d.table, &key, &fields, &d.SchemaVersion, &d.Frequency,
		&d.Status, &d.StatusReason, &d.Rows, &d.ActiveBatch, &last, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(key), &d.Key); err != nil {
		return nil, fmt.Errorf("ingest: dataset key: %w", err)
	}
	if err := json.Unmarshal([]byte(fields), &d.Fields); err != nil {
		return nil, fmt.Errorf("ingest: dataset fields: %w", err)
	}
	if last != 0 {
		t := store.FromMicros(last)
		d.LastLoadAt = &t
	}
	d.CreatedAt, d.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return &d, nil
}

func (s *Service) loadDataset(ctx context.Context, q store.Queryer, d store.Dialect, resourceID string, forUpdate bool) (*Dataset, error) {
	query := `SELECT ` + datasetCols + ` FROM ingest_datasets WHERE resource_id = $1`
	if forUpdate && d == store.Postgres {
		query += ` FOR UPDATE`
	}
	ds, err := scanDataset(q.QueryRowContext(ctx, query, resourceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoDataset.At(resourceID)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: load dataset: %w", err)
	}
	return ds, nil
}

// DatasetInput creates a dataset.
type DatasetInput struct {
	// Key names the fields that identify a record (one or more).
	Key []string `json:"key"`
}

func checkFields(fields []catalog.Field) error {
	for _, f := range fields {
		if !fieldNameRE.MatchString(f.Name) {
			return apperr.Invalidf("ingest.bad_field_name", "fields."+f.Name, "数据项名 %q 不能作为列名", "field name %q cannot be a column name", f.Name)
		}
		if !slices.Contains(catalog.FieldTypes, f.Type) {
			return apperr.Invalidf("ingest.bad_field_type", "fields."+f.Name, "数据项 %s 的类型 %q 未知", "field %s has unknown type %q", f.Name, f.Type)
		}
	}
	return nil
}

func checkKey(fields []catalog.Field, key []string) error {
	if len(key) == 0 || len(key) > 8 {
		return ErrBadKey.At("key")
	}
	seen := map[string]bool{}
	for _, k := range key {
		i := slices.IndexFunc(fields, func(f catalog.Field) bool { return f.Name == k })
		if i < 0 || seen[k] {
			return ErrBadKey.At("key." + k)
		}
		seen[k] = true
		if t := fields[i].Type; t == "binary" || t == "geometry" {
			return apperr.Invalidf("ingest.bad_key_type", "key."+k, "数据项 %s 的类型 %s 不能作为主键", "field %s of type %s cannot be a key", k, t)
		}
	}
	return nil
}

// CreateDataset gives a hosted, published catalog resource its dataset: a
// typed table with the resource's fields, keyed by in.Key.
func (s *Service) CreateDataset(ctx context.Context, p identity.Principal, resource string, in DatasetInput) (*Dataset, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	if r.Delivery.Mode != catalog.Hosted {
		return nil, ErrNotHosted.At(r.Code)
	}
	if r.Version == "" || r.Status != catalog.StatusPublished {
		return nil, ErrNotPublished.At(r.Code)
	}
	if err := checkFields(r.Fields); err != nil {
		return nil, err
	}
	if err := checkKey(r.Fields, in.Key); err != nil {
		return nil, err
	}
	now := s.now()
	ds := &Dataset{ResourceID: r.ID, ResourceCode: r.Code, OrgID: r.OrgID, Key: in.Key, Fields: r.Fields, SchemaVersion: r.Version,
		Frequency: string(r.Frequency), Status: statusReady, CreatedAt: now, UpdatedAt: now, table: liveTable(r.ID)}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ingest_datasets (`+datasetCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 0, '', 0, $10, $10)`,
			ds.ResourceID, ds.ResourceCode, ds.OrgID, ds.table, mustJSON(ds.Key), mustJSON(ds.Fields), ds.SchemaVersion, ds.Frequency, ds.Status, store.Micros(now))
		if store.IsUniqueViolation(err) {
			return ErrDatasetExists.At(r.Code)
		}
		if err != nil {
			return fmt.Errorf("ingest: create dataset: %w", err)
		}
		if err := createTable(ctx, tx, tx.Dialect, ds.table, ds.Fields, ds.Key); err != nil {
			return err
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, r.ID, map[string]any{"what": "ingest.dataset.create", "key": ds.Key, "version": ds.SchemaVersion}))
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// Dataset returns a resource's dataset (by resource id or code).
func (s *Service) Dataset(ctx context.Context, p identity.Principal, resource string) (*Dataset, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canSee(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	return s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
}

// RecordKey returns the data items that name one record of a published
// resource's dataset: what an objection (R-QLT-2) must give to point at a
// record. Anyone may ask; the names are those of the public catalog entry.
func (s *Service) RecordKey(ctx context.Context, resource string) (*Dataset, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if r.Status != catalog.StatusPublished {
		return nil, catalog.ErrNotFound.At(resource)
	}
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
	if err != nil {
		return nil, err
	}
	return &Dataset{ResourceID: ds.ResourceID, ResourceCode: ds.ResourceCode, Key: ds.Key}, nil
}

// Datasets lists datasets, of one org when orgID is set, paged by resource id.
func (s *Service) Datasets(ctx context.Context, p identity.Principal, orgID, cursor string, limit int) ([]*Dataset, string, error) {
	if !p.Authenticated() {
		return nil, "", apperr.ErrAuth
	}
	if orgID == "" && !canSee(p, "") {
		orgID = p.OrgID
	}
	if orgID != "" && !canSee(p, orgID) {
		return nil, "", apperr.ErrForbidden
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	q := `SELECT ` + datasetCols + ` FROM ingest_datasets WHERE resource_id > $1`
	args := []any{cursor}
	if orgID != "" {
		q += ` AND org_id = $2`
		args = append(args, orgID)
	}
	q += ` ORDER BY resource_id LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("ingest: list datasets: %w", err)
	}
	defer rows.Close()
	out := []*Dataset{}
	for rows.Next() {
		d, err := scanDataset(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ResourceID
	}
	return out, next, nil
}

// SchemaChange is what a migration did, or why it was refused.
type SchemaChange struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Retyped []string `json:"retyped,omitempty"`
	// Refused is set, with Reason, when the migration was refused.
	Refused bool   `json:"refused,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func refused(zh, en string) *apperr.Error {
	return &apperr.Error{Kind: apperr.Conflict, Code: ErrSchemaRefused.Code, ZH: ErrSchemaRefused.ZH + "：" + zh, EN: ErrSchemaRefused.EN + ": " + en}
}

// SyncSchema brings a dataset's table to the resource's latest published
// version: added fields become columns, removed fields are dropped (a
// ledger delete event names them), retyped fields are converted when every
// stored value converts. A removed key field, or a value that does not
// convert, refuses the migration with the reason; the dataset then takes no
// loads until a later catalog version can be migrated.
func (s *Service) SyncSchema(ctx context.Context, p identity.Principal, resource string) (*SchemaChange, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	return s.sync(ctx, p, r)
}

func (s *Service) sync(ctx context.Context, p identity.Principal, r *catalog.Resource) (*SchemaChange, error) {
	// The gate reads the table by its columns: after a migration (or a
	// failed one) it must look again.
	defer s.tables.drop(r.ID)
	var ch *SchemaChange
	var refusal *apperr.Error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ds, err := s.loadDataset(ctx, tx, tx.Dialect, r.ID, true)
		if err != nil {
			return err
		}
		ch = &SchemaChange{From: ds.SchemaVersion, To: r.Version}
		if ds.SchemaVersion == r.Version && ds.Status == statusReady {
			return nil
		}
		if err := checkFields(r.Fields); err != nil {
			return err
		}
		// A refused migration undoes whatever it did, SQL errors included.
		if _, err := tx.ExecContext(ctx, `SAVEPOINT ingest_migrate`); err != nil {
			return err
		}
		refusal = s.migrate(ctx, tx, ds, r, ch)
		now := store.Micros(s.now())
		if refusal != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT ingest_migrate`); err != nil {
				return err
			}
			ch.Refused, ch.Reason = true, refusal.ZH+" / "+refusal.EN
			if _, err := tx.ExecContext(ctx, `UPDATE ingest_datasets SET status = $1, status_reason = $2, updated_at = $3 WHERE resource_id = $4`,
				statusRefused, ch.Reason, now, r.ID); err != nil {
				return err
			}
			return s.led.Append(ctx, tx, s.event(p, ledger.Admin, r.ID, map[string]any{"what": "ingest.schema.refused", "from": ch.From, "to": ch.To, "reason": ch.Reason}))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ingest_datasets SET fields = $1, schema_version = $2, frequency = $3, status = $4, status_reason = '', updated_at = $5 WHERE resource_id = $6`,
			mustJSON(r.Fields), r.Version, string(r.Frequency), statusReady, now, r.ID); err != nil {
			return err
		}
		evs := []ledger.Event{s.event(p, ledger.Admin, r.ID, map[string]any{"what": "ingest.schema.migrate", "change": ch})}
		if len(ch.Removed) > 0 {
			ev := s.event(p, ledger.Delete, r.ID, map[string]any{"what": "ingest.schema.drop_fields", "version": r.Version})
			ev.Fields, ev.RecordCount = ch.Removed, ds.Rows
			evs = append(evs, ev)
		}
		return s.led.Append(ctx, tx, evs...)
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return ch, refusal
	}
	return ch, nil
}

// migrate changes ds's table to r's fields inside tx, or returns why not.
// Non-nil *apperr.Error means refused, with nothing changed.
func (s *Service) migrate(ctx context.Context, tx *store.Tx, ds *Dataset, r *catalog.Resource, ch *SchemaChange) *apperr.Error {
	oldBy := map[string]catalog.Field{}
	for _, f := range ds.Fields {
		oldBy[f.Name] = f
	}
	newBy := map[string]catalog.Field{}
	for _, f := range r.Fields {
		newBy[f.Name] = f
	}
	for _, f := range ds.Fields {
		if _, ok := newBy[f.Name]; !ok {
			if slices.Contains(ds.Key, f.Name) {
				return refused(fmt.Sprintf("主键数据项 %s 在版本 %s 中被删除", f.Name, r.Version), fmt.Sprintf("key field %s is removed in version %s", f.Name, r.Version))
			}
			ch.Removed = append(ch.Removed, f.Name)
		}
	}
	for _, f := range r.Fields {
		old, ok := oldBy[f.Name]
		if !ok {
			ch.Added = append(ch.Added, f.Name)
		} else if old.Type != f.Type {
			ch.Retyped = append(ch.Retyped, f.Name)
		}
	}
	if len(ch.Retyped) > 0 {
		return s.rebuild(ctx, tx, ds, r.Fields, ch)
	}
	for _, name := range ch.Removed {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+qi(ds.table)+` DROP COLUMN `+qi(name)); err != nil {
			return refused("删除列失败："+err.Error(), "dropping the column failed: "+err.Error())
		}
	}
	for _, name := range ch.Added {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+qi(ds.table)+` ADD COLUMN `+qi(name)+` `+sqlType(tx.Dialect, newBy[name].Type)); err != nil {
			return refused("增加列失败："+err.Error(), "adding the column failed: "+err.Error())
		}
	}
	return nil
}

// rebuild copies ds's table into one with the new fields, converting every
// value of a retyped field through the new type's parser, and swaps it in.
// One value that does not convert refuses the whole migration.
func (s *Service) rebuild(ctx context.Context, tx *store.Tx, ds *Dataset, fields []catalog.Field, ch *SchemaChange) *apperr.Error {
	tmp := liveTable(ds.ResourceID) + "_m" + strings.ReplaceAll(store.NewID(), "-", "")[20:]
	if err := createTable(ctx, tx, tx.Dialect, tmp, fields, ds.Key); err != nil {
		return refused(err.Error(), err.Error())
	}
	oldBy := map[string]catalog.Field{}
	for _, f := range ds.Fields {
		oldBy[f.Name] = f
	}
	var sel []string
	var conv []*column
	for _, f := range fields {
		if _, ok := oldBy[f.Name]; ok {
			sel = append(sel, qi(f.Name))
		} else {
			sel = append(sel, "NULL")
		}
		conv = append(conv, &column{f: f})
	}
	sel = append(sel, quoteList(lineageCols))
	rows, err := tx.QueryContext(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+qi(ds.table))
	if err != nil {
		return refused(err.Error(), err.Error())
	}
	type rec []any
	var all []rec
	n := len(fields)
	for rows.Next() {
		raw := make([]any, n+4)
		ptrs := make([]any, n+4)
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return refused(err.Error(), err.Error())
		}
		for i, c := range conv {
			if raw[i] == nil {
				continue
			}
			old, had := oldBy[c.f.Name]
			if !had || old.Type == c.f.Type {
				continue
			}
			text := textOf(old.Type, raw[i])
			v, cerr := c.parse(text, tx.Dialect, false)
			if cerr != nil {
				rows.Close()
				return refused(fmt.Sprintf("数据项 %s 的值 %q 不能转换为 %s：%s", c.f.Name, clip(text, 40), c.f.Type, cerr.zh),
					fmt.Sprintf("value %q of field %s does not convert to %s: %s", clip(text, 40), c.f.Name, c.f.Type, cerr.en))
			}
			raw[i] = v
		}
		all = append(all, raw)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return refused(err.Error(), err.Error())
	}
	ins := newInserter(tx.Dialect, tmp, append(fieldNames(fields), lineageCols...), "")
	for _, r := range all {
		if err := ins.add(ctx, tx, r); err != nil {
			return refused(err.Error(), err.Error())
		}
	}
	if err := ins.flush(ctx, tx); err != nil {
		return refused(err.Error(), err.Error())
	}
	if err := dropTable(ctx, tx, ds.table); err != nil {
		return refused(err.Error(), err.Error())
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE `+qi(tmp)+` RENAME TO `+qi(ds.table)); err != nil {
		return refused(err.Error(), err.Error())
	}
	return nil
}

func fieldNames(fs []catalog.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// ensureCurrent migrates ds to the resource's latest version before a load.
func (s *Service) ensureCurrent(ctx context.Context, p identity.Principal, r *catalog.Resource) (*Dataset, error) {
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
	if err != nil {
		return nil, err
	}
	if ds.SchemaVersion != r.Version || ds.Status != statusReady {
		if ch, err := s.sync(ctx, System(r.OrgID), r); err != nil {
			return nil, err
		} else if ch.Refused {
			return nil, refused(ch.Reason, ch.Reason)
		}
		return s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
	}
	_ = p
	return ds, nil
}
