package ingest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Batch statuses.
const (
	BatchLoading  = "loading"  // rows are being staged; nothing is visible yet
	BatchApplied  = "applied"  // the batch changed the dataset in one transaction
	BatchRejected = "rejected" // reject_all and some row was invalid: nothing changed
	BatchFailed   = "failed"   // the input could not be read to its end: nothing changed
	BatchAborted  = "aborted"  // given up by its loader: nothing changed
)

// Batch is one load.
type Batch struct {
	ID         string `json:"id"`
	Seq        int64  `json:"seq"`
	ResourceID string `json:"resource_id"`
	OrgID      string `json:"org_id"`
	Mode       Mode   `json:"mode"`
	Policy     Policy `json:"policy"`
	Format     Format `json:"format"`
	Source     string `json:"source,omitempty"`
	// CaseID links a correction to the objection it answers.
	CaseID string `json:"case_id,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// RowsRead counts input records (committed so far while loading).
	RowsRead      int64 `json:"rows_read"`
	RowsStaged    int64 `json:"rows_staged"`
	RowsRejected  int64 `json:"rows_rejected"`
	RowsDuplicate int64 `json:"rows_duplicate"`
	Inserted      int64 `json:"inserted"`
	Updated       int64 `json:"updated"`
	Deleted       int64 `json:"deleted"`
	// RowsTotal is the dataset's size after the batch.
	RowsTotal int64 `json:"rows_total"`
	// ErrorsStored is how many error report lines were kept.
	ErrorsStored int64 `json:"errors_stored"`
	// ContentHash is the hex SHA-256 of the input bytes.
	ContentHash string     `json:"content_hash,omitempty"`
	ActorKind   string     `json:"actor_kind"`
	ActorID     string     `json:"actor_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Profile     *Profile   `json:"profile,omitempty"`
	PIIHints    []PIIHint  `json:"pii_hints,omitempty"`

	fingerprint   string
	stage         string
	schemaVersion string
	counters      counters
}

// counters are a batch's running tallies, saved with each chunk so a
// resumed load profiles the whole input.
type counters struct {
	Present   []int64          `json:"present"`
	Warnings  int64            `json:"warnings"`
	Codes     map[string]int64 `json:"codes"`
	PrefixCRC uint32           `json:"prefix_crc"`
	Encoding  string           `json:"encoding,omitempty"`
	Delimiter string           `json:"delimiter,omitempty"`
	Columns   []string         `json:"columns,omitempty"`
}

const batchCols = `seq, id, resource_id, org_id, mode, policy, format, source, fingerprint, case_id, status, reason, stage_table, schema_version,
	rows_read, rows_staged, rows_rejected, rows_duplicate, inserted, updated, deleted, rows_total, errors_stored, content_hash, counters,
	actor_kind, actor_id, created_at, updated_at, finished_at`

func scanBatch(sc interface{ Scan(...any) error }) (*Batch, error) {
	var b Batch
	var ctr string
	var created, updated, finished int64
	if err := sc.Scan(&b.Seq, &b.ID, &b.ResourceID, &b.OrgID, &b.Mode, &b.Policy, &b.Format, &b.Source, &b.fingerprint, &b.CaseID, &b.Status, &b.Reason,
		&b.stage, &b.schemaVersion, &b.RowsRead, &b.RowsStaged, &b.RowsRejected, &b.RowsDuplicate, &b.Inserted, &b.Updated, &b.Deleted, &b.RowsTotal,
		&b.ErrorsStored, &b.ContentHash, &ctr, &b.ActorKind, &b.ActorID, &created, &updated, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ctr), &b.counters); err != nil {
		return nil, fmt.Errorf("ingest: batch counters: %w", err)
	}
	b.CreatedAt, b.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	if finished != 0 {
		t := store.FromMicros(finished)
		b.FinishedAt = &t
	}
	return &b, nil
}

func (s *Service) loadBatch(ctx context.Context, q store.Queryer, id string) (*Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, `SELECT `+batchCols+` FROM ingest_batches WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBatchNotFound.At(id)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: load batch: %w", err)
	}
	return b, nil
}

// Progress is how far a load has come.
type Progress struct {
	Rows  int64
	Bytes int64
}

// LoadInput says how to read and apply an input.
type LoadInput struct {
	Mode   Mode   `json:"mode"`
	Policy Policy `json:"policy"`
	Format Format `json:"format"`
	// Source names the input (a file name) in reports and the ledger.
	Source string `json:"source,omitempty"`
	// Encoding of CSV input: "" or "auto" detects UTF-8 (with or without a
	// BOM), GBK or GB18030; or name one.
	Encoding string `json:"encoding,omitempty"`
	// Delimiter of CSV input: "" or "auto" detects it.
	Delimiter string `json:"delimiter,omitempty"`
	// Sheet of XLSX input: "" is the active sheet.
	Sheet string `json:"sheet,omitempty"`
	// Fingerprint identifies the input (name, size, modification time) so
	// that a resumable loader finds its unfinished batch (OpenBatch).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Progress, when set, is called as rows are committed.
	Progress func(Progress) `json:"-"`

	caseID string
}

func (in *LoadInput) normalise() error {
	if in.Mode == "" {
		in.Mode = Replace
	}
	if in.Policy == "" {
		in.Policy = AcceptValid
	}
	switch in.Mode {
	case Replace, Upsert, Delete:
	default:
		return ErrBadMode.At("mode")
	}
	switch in.Policy {
	case RejectAll, AcceptValid:
	default:
		return ErrBadPolicy.At("policy")
	}
	switch in.Format {
	case CSV, XLSX, JSON, NDJSON:
	default:
		return ErrBadFormat.At("format")
	}
	in.Source = clip(strings.TrimSpace(in.Source), 200)
	in.Fingerprint = clip(in.Fingerprint, 300)
	return nil
}

// FormatOf guesses a format from a file name or media type.
func FormatOf(nameOrType string) Format {
	s := strings.ToLower(nameOrType)
	switch {
	case strings.HasSuffix(s, ".csv"), strings.HasSuffix(s, ".tsv"), strings.HasSuffix(s, ".txt"), strings.Contains(s, "text/csv"), strings.Contains(s, "text/tab-separated-values"):
		return CSV
	case strings.HasSuffix(s, ".xlsx"), strings.Contains(s, "spreadsheetml"):
		return XLSX
	case strings.HasSuffix(s, ".ndjson"), strings.HasSuffix(s, ".jsonl"), strings.Contains(s, "ndjson"), strings.Contains(s, "jsonl"), strings.Contains(s, "json-seq"):
		return NDJSON
	case strings.HasSuffix(s, ".json"), strings.Contains(s, "json"):
		return JSON
	}
	return ""
}

// Load reads r and applies it to the resource's dataset as one batch: rows
// are validated and staged in chunks, then applied in one transaction (a
// replace swaps the new snapshot in whole), so readers never see part of
// it. A batch whose input cannot be read to its end fails and changes
// nothing; an interrupted one stays "loading" and can be resumed
// (OpenBatch, Continue) or aborted.
func (s *Service) Load(ctx context.Context, p identity.Principal, resource string, r io.Reader, in LoadInput) (*Batch, error) {
	b, err := s.Begin(ctx, p, resource, in)
	if err != nil {
		return nil, err
	}
	out, err := s.Continue(ctx, p, b.ID, r, in)
	if err != nil {
		if _, ok := apperr.As(err); !ok {
			// Not resumable by this caller: give it up so nothing lingers.
			_ = s.abort(context.WithoutCancel(ctx), p, b.ID, "load interrupted: "+clip(err.Error(), 300))
		}
		return nil, err
	}
	return out, nil
}

// Begin opens a batch for a resource's dataset and its staging table.
func (s *Service) Begin(ctx context.Context, p identity.Principal, resource string, in LoadInput) (*Batch, error) {
	if err := in.normalise(); err != nil {
		return nil, err
	}
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
	ds, err := s.ensureCurrent(ctx, p, r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	kind, actor := actorOf(p)
	b := &Batch{ID: store.NewID(), ResourceID: r.ID, OrgID: r.OrgID, Mode: in.Mode, Policy: in.Policy, Format: in.Format, Source: in.Source,
		CaseID: in.caseID, Status: BatchLoading, ActorKind: string(kind), ActorID: actor, CreatedAt: now, UpdatedAt: now,
		fingerprint: in.Fingerprint, schemaVersion: ds.SchemaVersion}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO ingest_batches (id, resource_id, org_id, mode, policy, format, source, fingerprint, case_id, status,
			stage_table, schema_version, actor_kind, actor_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', $11, $12, $13, $14, $14) RETURNING seq`,
			b.ID, b.ResourceID, b.OrgID, b.Mode, b.Policy, b.Format, b.Source, b.fingerprint, b.CaseID, b.Status, b.schemaVersion,
			b.ActorKind, b.ActorID, store.Micros(now)).Scan(&b.Seq); err != nil {
			return fmt.Errorf("ingest: open batch: %w", err)
		}
		b.stage = stageTable(r.ID, b.Seq)
		if _, err := tx.ExecContext(ctx, `UPDATE ingest_batches SET stage_table = $1 WHERE id = $2`, b.stage, b.ID); err != nil {
			return err
		}
		return createTable(ctx, tx, tx.Dialect, b.stage, ds.Fields, ds.Key)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// OpenBatch finds the newest unfinished batch of a resource whose input
// had this fingerprint, to resume it; nil when there is none.
func (s *Service) OpenBatch(ctx context.Context, p identity.Principal, resource, fingerprint string) (*Batch, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	b, err := scanBatch(s.db.QueryRowContext(ctx, `SELECT `+batchCols+` FROM ingest_batches WHERE resource_id = $1 AND status = $2 AND fingerprint = $3 AND fingerprint <> '' ORDER BY seq DESC LIMIT 1`,
		r.ID, BatchLoading, clip(fingerprint, 300)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, wrap("open batch", err)
}

// Abort gives up an unfinished batch: its staged rows are dropped.
func (s *Service) Abort(ctx context.Context, p identity.Principal, batchID, reason string) error {
	b, err := s.loadBatch(ctx, s.db, batchID)
	if err != nil {
		return err
	}
	if !canManage(p, b.OrgID) {
		return apperr.ErrForbidden
	}
	return s.abort(ctx, p, batchID, reason)
}

func (s *Service) abort(ctx context.Context, p identity.Principal, batchID, reason string) error {
	return s.end(ctx, batchID, BatchAborted, orDefault(reason, "aborted"))
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// end closes a loading batch without applying it and drops its stage.
func (s *Service) end(ctx context.Context, batchID, status, reason string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		b, err := s.loadBatch(ctx, tx, batchID)
		if err != nil {
			return err
		}
		if b.Status != BatchLoading {
			return ErrBatchDone.At(batchID)
		}
		now := store.Micros(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE ingest_batches SET status = $1, reason = $2, updated_at = $3, finished_at = $3 WHERE id = $4`,
			status, clip(reason, 1000), now, batchID); err != nil {
			return err
		}
		return dropTable(ctx, tx, b.stage)
	})
}

// loader is one run of Continue.
type loader struct {
	s    *Service
	p    identity.Principal
	b    *Batch
	ds   *Dataset
	d    store.Dialect
	cols []*column
	src  source
	// keyIdx are the key's positions among cols.
	keyIdx []int
	rules  []*compiledRule
	ins    *inserter
	errs   *inserter
	conn   *sql.Conn
	tx     *store.Tx
	now    int64
	// errRows counts rows rejected in the open chunk, dupRows duplicates.
	sample map[int][]string
	crc    uint32
	mapped []string
	// errLines counts error report lines, against Options.MaxErrors.
	errLines atomic.Int64
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// Continue reads r from its start and stages the rows the batch has not
// committed yet, checking that the rows it skips are the ones committed
// before, then applies the batch.
func (s *Service) Continue(ctx context.Context, p identity.Principal, batchID string, r io.Reader, in LoadInput) (*Batch, error) {
	b, err := s.loadBatch(ctx, s.db, batchID)
	if err != nil {
		return nil, err
	}
	if !canManage(p, b.OrgID) {
		return nil, apperr.ErrForbidden
	}
	if b.Status != BatchLoading {
		return nil, ErrBatchDone.At(batchID)
	}
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, b.ResourceID, false)
	if err != nil {
		return nil, err
	}
	if ds.SchemaVersion != b.schemaVersion {
		_ = s.end(ctx, b.ID, BatchFailed, ErrSchemaChanged.EN)
		return nil, ErrSchemaChanged
	}
	hr := &hashingReader{r: r, h: sha256.New()}
	l := &loader{s: s, p: p, b: b, ds: ds, d: s.db.Dialect, now: store.Micros(b.CreatedAt), sample: map[int][]string{}}
	if err := l.open(ctx, hr, in); err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			_ = s.end(ctx, b.ID, BatchFailed, ae.ZH+" / "+ae.EN+" ["+ae.Field+"]")
		}
		return nil, err
	}
	defer l.close()
	if err := l.run(ctx, hr, in.Progress); err != nil {
		if l.tx != nil {
			_ = l.tx.Rollback()
			l.tx = nil
		}
		var ae *apperr.Error
		if errors.As(err, &ae) && !errors.Is(err, ErrResumeMismatch) {
			_ = s.end(context.WithoutCancel(ctx), b.ID, BatchFailed, ae.ZH+" / "+ae.EN+" ["+ae.Field+"]")
		}
		return nil, err
	}
	b.ContentHash = hex.EncodeToString(hr.h.Sum(nil))
	if err := l.finish(ctx); err != nil {
		if l.tx != nil {
			_ = l.tx.Rollback()
			l.tx = nil
		}
		return nil, err
	}
	if b.Status == BatchApplied {
		if err := s.catalog.MarkDataUpdated(ctx, System(b.OrgID), b.ResourceID, store.FromMicros(l.now)); err != nil {
			s.log.Warn("ingest: mark catalog entry updated", "resource", b.ResourceID, "err", err)
		}
	}
	return s.batchView(ctx, b.ID)
}

// open reads the input's header and maps it onto the dataset's fields.
func (l *loader) open(ctx context.Context, r io.Reader, in LoadInput) error {
	fields := l.ds.Fields
	lookup := fieldLookup(fields)
	name := orDefault(l.b.Source, "input."+string(l.b.Format))
	var err error
	switch l.b.Format {
	case CSV:
		var cs *csvSource
		cs, err = newCSVSource(r, name, in.Encoding, in.Delimiter)
		if err == nil {
			l.src = cs
			l.b.counters.Encoding, l.b.counters.Delimiter = cs.encoding, string(cs.delim)
		}
	case XLSX:
		l.src, err = newXLSXSource(r, name, in.Sheet)
	case JSON, NDJSON:
		l.src, err = newObjectSource(r, name, l.b.Format == NDJSON, fieldNames(fields), lookup)
	default:
		return ErrBadFormat
	}
	if err != nil {
		return err
	}
	codes, err := l.s.codeLists(ctx, fields)
	if err != nil {
		return err
	}
	head := l.src.header()
	for i, f := range fields {
		c := &column{f: f, src: -1, key: slices.Contains(l.ds.Key, f.Name), codes: codes[f.CodeList]}
		if c.key {
			l.keyIdx = append(l.keyIdx, i)
		}
		l.cols = append(l.cols, c)
	}
	for i, h := range head {
		if h == "" {
			continue
		}
		fi := lookup(h)
		if fi < 0 {
			return fileError("ingest.unknown_column", name, 1, i+1, "表头 %q 不对应任何数据项（按数据项名或中文名称匹配）", "header %q matches no field (by name or Chinese label)", clip(h, 40))
		}
		if l.cols[fi].src >= 0 {
			return fileError("ingest.duplicate_column", name, 1, i+1, "数据项 %s 在表头中出现两次", "field %s appears twice in the header", fields[fi].Name)
		}
		l.cols[fi].src = i
		l.mapped = append(l.mapped, fields[fi].Name)
	}
	if l.b.Format == JSON || l.b.Format == NDJSON {
		l.mapped = fieldNames(fields)
	}
	for _, c := range l.cols {
		if c.src >= 0 {
			continue
		}
		if c.key {
			return fileError("ingest.missing_key_column", name, 1, 0, "表头缺少主键数据项 %s（%s）", "the header lacks key field %s (%s)", c.f.Name, c.f.Label)
		}
		if c.f.Required && l.b.Mode != Delete {
			return fileError("ingest.missing_column", name, 1, 0, "表头缺少必填数据项 %s（%s）", "the header lacks required field %s (%s)", c.f.Name, c.f.Label)
		}
	}
	if l.b.counters.Present == nil {
		l.b.counters.Present = make([]int64, len(fields))
	}
	if l.b.counters.Codes == nil {
		l.b.counters.Codes = map[string]int64{}
	}
	l.b.counters.Columns = l.mapped
	if l.rules, err = l.s.compiledRules(ctx, l.ds); err != nil {
		return err
	}
	cols := append(fieldNames(fields), lineageCols...)
	var suffix string
	switch l.b.Mode {
	case Replace, Delete:
		suffix = ` ON CONFLICT (` + quoteList(l.ds.Key) + `) DO NOTHING`
	case Upsert:
		suffix = ` ON CONFLICT (` + quoteList(l.ds.Key) + `) DO UPDATE SET ` + setExcluded(cols, l.ds.Key)
	}
	l.ins = newInserter(l.d, l.b.stage, cols, suffix)
	switch l.b.Mode {
	case Upsert:
		l.ins.dedupe(l.keyIdx)
	case Replace:
		l.ins.executed = l.duplicates
	}
	l.errs = newInserter(l.d, "ingest_errors", []string{"batch_id", "row_no", "col_no", "field", "code", "zh", "en", "value"}, "")
	return nil
}

func setExcluded(cols, key []string) string {
	var sets []string
	for _, c := range cols {
		if !slices.Contains(key, c) {
			sets = append(sets, qi(c)+" = excluded."+qi(c))
		}
	}
	return strings.Join(sets, ", ")
}

// fieldLookup matches a header or JSON key to a field by name (any case)
// or Chinese label.
func fieldLookup(fields []catalog.Field) func(string) int {
	m := map[string]int{}
	for i, f := range fields {
		m[strings.ToLower(f.Name)] = i
	}
	for i, f := range fields {
		if l := strings.TrimSpace(f.Label); l != "" {
			if _, ok := m[l]; !ok {
				m[l] = i
			}
		}
	}
	return func(h string) int {
		h = strings.TrimSpace(h)
		if i, ok := m[strings.ToLower(h)]; ok {
			return i
		}
		if i, ok := m[h]; ok {
			return i
		}
		return -1
	}
}

func (l *loader) close() {
	if l.ins != nil {
		l.ins.release()
	}
	if l.errs != nil {
		l.errs.release()
	}
	if xs, ok := l.src.(*xlsxSource); ok {
		xs.close()
	}
	if l.conn != nil {
		if l.d == store.SQLite {
			_, _ = l.conn.ExecContext(context.Background(), `PRAGMA cache_size = -2000`)
		}
		_ = l.conn.Close()
	}
}

func (l *loader) begin(ctx context.Context) error {
	if l.conn == nil {
		c, err := l.s.db.Conn(ctx)
		if err != nil {
			return err
		}
		l.conn = c
		if l.d == store.SQLite {
			// A larger page cache keeps a chunk's pages in memory until it
			// commits instead of spilling them to the WAL mid-transaction.
			if _, err := c.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
				return err
			}
		}
	}
	tx, err := l.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ingest: begin: %w", err)
	}
	l.tx = &store.Tx{Tx: tx, Dialect: l.d}
	return nil
}

// duplicates finds, after a replace or delete statement that skipped rows,
// which rows repeated a key staged before, and reports them.
func (l *loader) duplicates(ctx context.Context, tx *store.Tx, affected int64, args []any, n int) error {
	if affected >= int64(n) {
		return nil
	}
	width := len(l.cols) + len(lineageCols)
	var where []string
	for i, k := range l.keyIdx {
		where = append(where, qi(l.cols[k].f.Name)+" = $"+strconv.Itoa(i+1))
	}
	q := `SELECT ` + qi(colRow) + ` FROM ` + qi(l.b.stage) + ` WHERE ` + strings.Join(where, " AND ")
	for r := 0; r < n; r++ {
		row := args[r*width : (r+1)*width]
		kv := make([]any, len(l.keyIdx))
		for i, k := range l.keyIdx {
			kv[i] = row[k]
		}
		var first int64
		if err := tx.QueryRowContext(ctx, q, kv...).Scan(&first); err != nil {
			return fmt.Errorf("ingest: duplicate check: %w", err)
		}
		own := row[len(l.cols)+2].(int64)
		if first == own {
			continue
		}
		l.b.RowsStaged--
		l.b.RowsDuplicate++
		for i, v := range row[:len(l.cols)] {
			if v != nil {
				l.b.counters.Present[i]--
			}
		}
		ce := cellErr("ingest.duplicate_key", "主键与第 %d 行重复，本行未采用", "the key repeats row %d's; this row was not used", first)
		k := l.cols[l.keyIdx[0]]
		if err := l.reject(ctx, own, k.src+1, k.f.Name, ce, keyText(row, l.keyIdx, l.cols)); err != nil {
			return err
		}
	}
	return nil
}

func keyText(row []any, idx []int, cols []*column) string {
	var parts []string
	for _, i := range idx {
		parts = append(parts, textOf(cols[i].f.Type, row[i]))
	}
	return strings.Join(parts, "|")
}

// commit ends the open chunk: staged rows, error lines and the batch's
// counters commit together, so a resumed load starts exactly after them.
func (l *loader) commit(ctx context.Context) error {
	if err := l.ins.flush(ctx, l.tx); err != nil {
		return err
	}
	if err := l.errs.flush(ctx, l.tx); err != nil {
		return err
	}
	if err := l.saveCounters(ctx); err != nil {
		return err
	}
	l.ins.release()
	l.errs.release()
	err := l.tx.Commit()
	l.tx = nil
	if err != nil {
		return fmt.Errorf("ingest: commit chunk: %w", err)
	}
	return nil
}

func (l *loader) saveCounters(ctx context.Context) error {
	b := l.b
	b.counters.PrefixCRC = l.crc
	_, err := l.tx.ExecContext(ctx, `UPDATE ingest_batches SET rows_read = $1, rows_staged = $2, rows_rejected = $3, rows_duplicate = $4,
		errors_stored = $5, counters = $6, updated_at = $7 WHERE id = $8`,
		b.RowsRead, b.RowsStaged, b.RowsRejected, b.RowsDuplicate, b.ErrorsStored, mustJSON(b.counters), store.Micros(l.s.now()), b.ID)
	return err
}

// finish applies the batch in the open transaction: all of it, or, under
// reject_all with any invalid row, none of it.
func (l *loader) finish(ctx context.Context) error {
	s, b, tx := l.s, l.b, l.tx
	if err := l.ins.flush(ctx, tx); err != nil {
		return err
	}
	if err := l.errs.flush(ctx, tx); err != nil {
		return err
	}
	l.ins.release()
	l.errs.release()
	ds, err := s.loadDataset(ctx, tx, tx.Dialect, b.ResourceID, true)
	if err != nil {
		return err
	}
	if ds.SchemaVersion != b.schemaVersion {
		return ErrSchemaChanged
	}
	now := s.now()
	collect := s.event(l.p, ledger.Collect, b.ResourceID, map[string]any{"what": "ingest.batch.collect", "batch": b.ID, "seq": b.Seq,
		"mode": b.Mode, "policy": b.Policy, "format": b.Format, "source": b.Source, "rejected": b.RowsRejected, "duplicates": b.RowsDuplicate,
		"case_id": b.CaseID})
	collect.Fields, collect.RecordCount, collect.ContentHash = l.mapped, b.RowsRead, b.ContentHash
	if b.Policy == RejectAll && b.RowsRejected+b.RowsDuplicate > 0 {
		b.Status = BatchRejected
		b.Reason = fmt.Sprintf("%d 行无效，按 reject_all 策略整批拒绝 / %d invalid rows: the whole batch is rejected (reject_all)", b.RowsRejected+b.RowsDuplicate, b.RowsRejected+b.RowsDuplicate)
		if err := dropTable(ctx, tx, b.stage); err != nil {
			return err
		}
		if err := l.saveFinal(ctx, now); err != nil {
			return err
		}
		if err := s.led.Append(ctx, tx, collect); err != nil {
			return err
		}
		return l.commitFinal()
	}
	live := ds.table
	cols := append(fieldNames(ds.Fields), lineageCols...)
	switch b.Mode {
	case Replace:
		b.Inserted, b.Deleted, b.RowsTotal = b.RowsStaged, ds.Rows, b.RowsStaged
		if err := dropTable(ctx, tx, live); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+qi(b.stage)+` RENAME TO `+qi(live)); err != nil {
			return fmt.Errorf("ingest: swap in: %w", err)
		}
	case Upsert:
		match := keyMatch("s", live, ds.Key)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+qi(b.stage)+` s WHERE EXISTS (SELECT 1 FROM `+qi(live)+` WHERE `+match+`)`).Scan(&b.Updated); err != nil {
			return fmt.Errorf("ingest: count updates: %w", err)
		}
		var staged int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+qi(b.stage)).Scan(&staged); err != nil {
			return err
		}
		b.Inserted = staged - b.Updated
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+qi(live)+` (`+quoteList(cols)+`) SELECT `+quoteList(cols)+` FROM `+qi(b.stage)+
			` WHERE true ON CONFLICT (`+quoteList(ds.Key)+`) DO UPDATE SET `+setExcluded(cols, ds.Key)); err != nil {
			return fmt.Errorf("ingest: upsert: %w", err)
		}
		b.RowsTotal = ds.Rows + b.Inserted
		if err := dropTable(ctx, tx, b.stage); err != nil {
			return err
		}
	case Delete:
		res, err := tx.ExecContext(ctx, `DELETE FROM `+qi(live)+` WHERE EXISTS (SELECT 1 FROM `+qi(b.stage)+` s WHERE `+keyMatch("s", live, ds.Key)+`)`)
		if err != nil {
			return fmt.Errorf("ingest: delete: %w", err)
		}
		b.Deleted, _ = res.RowsAffected()
		b.RowsTotal = ds.Rows - b.Deleted
		if err := dropTable(ctx, tx, b.stage); err != nil {
			return err
		}
	}
	b.Status = BatchApplied
	prof := l.profile(ds, now)
	b.Profile = prof
	if err := s.saveProfile(ctx, tx, b, prof); err != nil {
		return err
	}
	hints, err := s.flagPII(ctx, tx, b, ds, l.sample, now)
	if err != nil {
		return err
	}
	b.PIIHints = hints
	if _, err := tx.ExecContext(ctx, `UPDATE ingest_datasets SET row_count = $1, active_batch = $2, last_load_at = $3, updated_at = $3 WHERE resource_id = $4`,
		b.RowsTotal, b.ID, store.Micros(now), b.ResourceID); err != nil {
		return err
	}
	if err := l.saveFinal(ctx, now); err != nil {
		return err
	}
	storeEv := s.event(l.p, ledger.Store, b.ResourceID, map[string]any{"what": "ingest.batch.store", "batch": b.ID, "seq": b.Seq, "mode": b.Mode,
		"inserted": b.Inserted, "updated": b.Updated, "deleted": b.Deleted, "rows_total": b.RowsTotal, "score": prof.Score, "case_id": b.CaseID})
	storeEv.Fields, storeEv.RecordCount, storeEv.ContentHash = l.mapped, b.Inserted+b.Updated, b.ContentHash
	evs := []ledger.Event{collect, storeEv}
	if b.Deleted > 0 {
		del := s.event(l.p, ledger.Delete, b.ResourceID, map[string]any{"what": "ingest.batch.delete", "batch": b.ID, "mode": b.Mode})
		del.RecordCount, del.ContentHash = b.Deleted, b.ContentHash
		evs = append(evs, del)
	}
	if err := s.led.Append(ctx, tx, evs...); err != nil {
		return err
	}
	return l.commitFinal()
}

func keyMatch(alias, table string, key []string) string {
	var parts []string
	for _, k := range key {
		parts = append(parts, alias+"."+qi(k)+" = "+qi(table)+"."+qi(k))
	}
	return strings.Join(parts, " AND ")
}

func (l *loader) saveFinal(ctx context.Context, now time.Time) error {
	b := l.b
	b.counters.PrefixCRC = l.crc
	b.FinishedAt = &now
	_, err := l.tx.ExecContext(ctx, `UPDATE ingest_batches SET status = $1, reason = $2, rows_read = $3, rows_staged = $4, rows_rejected = $5,
		rows_duplicate = $6, inserted = $7, updated = $8, deleted = $9, rows_total = $10, errors_stored = $11, content_hash = $12, counters = $13,
		updated_at = $14, finished_at = $14 WHERE id = $15`,
		b.Status, b.Reason, b.RowsRead, b.RowsStaged, b.RowsRejected, b.RowsDuplicate, b.Inserted, b.Updated, b.Deleted, b.RowsTotal,
		b.ErrorsStored, b.ContentHash, mustJSON(b.counters), store.Micros(now), b.ID)
	return err
}

func (l *loader) commitFinal() error {
	err := l.tx.Commit()
	l.tx = nil
	if err != nil {
		return fmt.Errorf("ingest: apply batch: %w", err)
	}
	return nil
}

// Batch returns a batch with its profile.
func (s *Service) Batch(ctx context.Context, p identity.Principal, id string) (*Batch, error) {
	b, err := s.batchView(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(p, b.OrgID) {
		return nil, ErrBatchNotFound.At(id)
	}
	return b, nil
}

func (s *Service) batchView(ctx context.Context, id string) (*Batch, error) {
	b, err := s.loadBatch(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if b.Status == BatchApplied {
		if b.Profile, err = s.profileOf(ctx, id); err != nil {
			return nil, err
		}
		if b.PIIHints, err = s.hintsOfBatch(ctx, id); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Batches lists a resource's batches, newest first.
func (s *Service) Batches(ctx context.Context, p identity.Principal, resource string, cursor string, limit int) ([]*Batch, string, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, "", err
	}
	if !canSee(p, r.OrgID) {
		return nil, "", apperr.ErrForbidden
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var before int64 = 1 << 62
	if cursor != "" {
		if before, err = strconv.ParseInt(cursor, 10, 64); err != nil {
			return nil, "", apperr.Invalidf("ingest.bad_cursor", "cursor", "分页参数无效", "invalid cursor")
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+batchCols+` FROM ingest_batches WHERE resource_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT `+strconv.Itoa(limit+1), r.ID, before)
	if err != nil {
		return nil, "", fmt.Errorf("ingest: list batches: %w", err)
	}
	defer rows.Close()
	out := []*Batch{}
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].Seq, 10)
	}
	return out, next, nil
}

// ReportLine is one line of a batch's error report.
type ReportLine struct {
	Row    int64  `json:"row"`
	Column int    `json:"column,omitempty"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	ZH     string `json:"zh"`
	EN     string `json:"en"`
	Value  string `json:"value,omitempty"`
}

// ErrorReport calls fn for each line of a batch's error report, in order.
// Only the org's data stewards and admins and the authority read it: it
// quotes the rejected values.
func (s *Service) ErrorReport(ctx context.Context, p identity.Principal, batchID string, fn func(ReportLine) error) error {
	b, err := s.loadBatch(ctx, s.db, batchID)
	if err != nil {
		return err
	}
	if !canManage(p, b.OrgID) {
		return apperr.ErrForbidden
	}
	rows, err := s.db.QueryContext(ctx, `SELECT row_no, col_no, field, code, zh, en, value FROM ingest_errors WHERE batch_id = $1 ORDER BY row_no, id`, batchID)
	if err != nil {
		return fmt.Errorf("ingest: error report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l ReportLine
		if err := rows.Scan(&l.Row, &l.Column, &l.Field, &l.Code, &l.ZH, &l.EN, &l.Value); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StaleAfter is how long a batch may sit unfinished before Maintain aborts
// it and drops its staged rows.
const StaleAfter = 7 * 24 * time.Hour

// Maintain runs the service's periodic work: it checks every upstream
// service's health and aborts batches left unfinished for StaleAfter (a
// loader that never came back), dropping their staging tables.
func (s *Service) Maintain(ctx context.Context) error {
	cut := store.Micros(s.now().Add(-StaleAfter))
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM ingest_batches WHERE status = $1 AND updated_at < $2 ORDER BY seq LIMIT 100`, BatchLoading, cut)
	if err != nil {
		return err
	}
	var stale []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		stale = append(stale, id)
	}
	rows.Close()
	for _, id := range stale {
		if err := s.end(ctx, id, BatchAborted, "abandoned: unfinished for a week"); err != nil && !errors.Is(err, ErrBatchDone) {
			return err
		}
	}
	return s.CheckAllHealth(ctx)
}
