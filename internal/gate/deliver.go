package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/gate/filter"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Delivery is data that passed decide and transform: rendered, hashed and
// held in a spool until it is recorded and written out.
type Delivery struct {
	ID          string
	Decision    *Decision
	Format      Format
	Records     int
	NextCursor  string
	ContentHash string // hex SHA-256 of exactly the bytes WriteTo writes
	Size        int64
	Time        time.Time
	// Receipt is the signed statement of this delivery.
	Receipt *Receipt

	action   ledger.Action
	stmt     Statement
	event    ledger.Sealed
	evHash   string
	spool    *spool
	recorded bool
}

// ContentType is the delivery's media type.
func (d *Delivery) ContentType() string { return d.Format.ContentType() }

// FileName suggests a file name for downloads.
func (d *Delivery) FileName() string {
	return d.Decision.Resource.Code + "-" + d.ID + "." + d.Format.Ext()
}

// WriteTo writes the delivered bytes. It refuses before the delivery is recorded.
func (d *Delivery) WriteTo(w io.Writer) (int64, error) {
	if !d.recorded {
		return 0, errors.New("gate: delivery written before it was recorded")
	}
	if d.spool == nil {
		return 0, errors.New("gate: delivery written after it was closed")
	}
	return d.spool.writeTo(w)
}

// Bytes returns the delivered bytes (for tests and small deliveries).
func (d *Delivery) Bytes() ([]byte, error) {
	var b bytes.Buffer
	_, err := d.WriteTo(&b)
	return b.Bytes(), err
}

// Close releases the spool; closing twice is harmless (the spool goes back
// to the pool once, and is never shared by two deliveries).
func (d *Delivery) Close() error {
	if d == nil || d.spool == nil {
		return nil
	}
	sp := d.spool
	d.spool = nil
	return sp.close()
}

// spool keeps a delivery in memory up to a limit, then in a temporary file.
type spool struct {
	limit int
	mem   bytes.Buffer
	file  *os.File
	h     hash.Hash
	n     int64
}

func newSpool(limit int) *spool {
	s := spoolPool.Get().(*spool)
	s.limit = limit
	return s
}

// Spools (their buffers and hashes) are reused: a delivery's buffer grows
// to the size of its answer, and growing one afresh for every call showed
// in profiles.
var spoolPool = sync.Pool{New: func() any { return &spool{h: sha256.New()} }}

func (s *spool) Write(p []byte) (int, error) {
	s.h.Write(p)
	s.n += int64(len(p))
	if s.file == nil && s.mem.Len()+len(p) > s.limit {
		f, err := os.CreateTemp("", "shuqiao-gate-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // unlinked: gone when closed, even after a crash
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			f.Close()
			return 0, err
		}
		s.mem.Reset()
		s.file = f
	}
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.mem.Write(p)
}

func (s *spool) writeTo(w io.Writer) (int64, error) {
	if s.file == nil {
		n, err := w.Write(s.mem.Bytes())
		return int64(n), err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, s.file)
}

func (s *spool) close() error {
	var err error
	if s.file != nil {
		err = s.file.Close()
	}
	if s.mem.Cap() <= 4<<20 {
		s.mem.Reset()
		s.h.Reset()
		s.file, s.n = nil, 0
		spoolPool.Put(s)
	}
	return err
}

func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > 512 {
		return "", ErrBadCursor.At("cursor")
	}
	return string(b), nil
}

// Deliver runs the whole gate for a hosted resource: decide, transform,
// render, record (a ledger provide event and the delivery row, committed
// before Deliver returns) and sign the receipt. A refusal is recorded too
// and returned as an *apperr.Error whose message is the reason. The caller
// writes the delivery with WriteTo and must Close it.
func (s *Service) Deliver(ctx context.Context, req Request) (*Delivery, error) {
	// A leading call holds its group open for deliveries being prepared;
	// a refusal stops counting before it waits for its own record.
	s.rec.preparing.Add(1)
	counted := true
	doneCounting := func() {
		if counted {
			counted = false
			s.rec.preparing.Add(-1)
		}
	}
	d, err := s.prepare(ctx, req, doneCounting)
	doneCounting()
	if err != nil {
		return nil, err
	}
	if err := s.rec.record(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Prepare decides and renders a delivery without recording it; callers that
// deliver inside their own transaction (a market purchase, a subject access
// case) then call RecordTx in it, commit, and only then WriteTo. A refusal
// is recorded at once, in its own transaction.
func (s *Service) Prepare(ctx context.Context, req Request) (*Delivery, error) {
	return s.prepare(ctx, req, func() {})
}

// prepare is Prepare; beforeRefusal runs before a refusal is recorded.
func (s *Service) prepare(ctx context.Context, req Request, beforeRefusal func()) (*Delivery, error) {
	format, err := ParseFormat(string(req.Format))
	if err != nil {
		return nil, err
	}
	dec, err := s.Decide(ctx, req)
	if err != nil {
		return nil, err
	}
	if dec.Allow && dec.Resource.Delivery.Mode == catalog.ServiceAPI {
		dec.Allow, dec.Reason = false, ErrWrongDelivery.At("resource")
	}
	if dec.Allow && !s.limits.allow(dec.Grant.ID, dec.Grant.RatePerMinute) {
		dec.Allow, dec.Reason = false, ErrRateLimited
	}
	if !dec.Allow {
		beforeRefusal()
		if err := s.recordDenial(ctx, req, dec); err != nil {
			return nil, err
		}
		return nil, dec.Reason
	}
	src := s.rowSource()
	if src == nil {
		return nil, ErrNoRows
	}
	after, err := decodeCursor(req.Cursor)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = dec.Obl.RowLimit
		if format == JSON {
			limit = min(s.opts.PageSize, limit)
		}
	}
	limit = min(limit, dec.Obl.RowLimit)
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	d := &Delivery{ID: store.NewID(), Decision: dec, Format: format, Time: now, action: ledger.Provide, spool: newSpool(s.opts.SpoolMemory)}
	if err := s.render(ctx, d, src, after, limit); err != nil {
		d.Close()
		return nil, err
	}
	if err := s.seal(d, req); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// render reads, projects, masks and encodes the rows.
func (s *Service) render(ctx context.Context, d *Delivery, src RowSource, after string, limit int) error {
	dec := d.Decision
	enc := newEncoder(d.Format, d.spool, pageMeta{ResourceID: dec.Resource.ID, GrantID: dec.Grant.ID, DeliveryID: d.ID})
	if err := enc.begin(dec.Obl.Fields); err != nil {
		return err
	}
	fp := s.fingerprinter(dec.Grant)
	vals := make([]any, len(dec.plan))
	var lastKey string
	n := 0
	errMore := errors.New("more")
	q := Query{Fields: dec.readCols, Filter: dec.filter, Types: dec.types, After: after, Limit: limit + 1}
	// emit projects, masks and encodes one row whose values are cols (in
	// q.Fields order; plan i is readCols i).
	var row map[string]any
	emit := func(key string, cols []any) error {
		if n == limit {
			d.NextCursor = encodeCursor(lastKey)
			return errMore
		}
		// Sources are trusted to filter, and checked: a row the filter
		// does not select never leaves.
		if dec.filter != nil {
			if row == nil {
				row = make(map[string]any, len(q.Fields))
			}
			clear(row)
			for i, f := range q.Fields {
				if cols[i] != nil {
					row[f] = cols[i]
				}
			}
			if !filter.Eval(dec.filter, row) {
				return nil
			}
		}
		for i, pl := range dec.plan {
			v := cols[i]
			switch {
			case v == nil:
				vals[i] = nil
			case pl.fp:
				vals[i] = fp.Apply(filter.Text(v))
			case pl.tf != nil:
				vals[i] = pl.tf.Apply(filter.Text(v))
			default:
				vals[i] = v
			}
		}
		lastKey = key
		n++
		return enc.row(vals)
	}
	var err error
	if cs, ok := src.(ColumnSource); ok {
		err = cs.ScanColumns(ctx, dec.Resource.ID, q, emit)
	} else {
		cols := make([]any, len(q.Fields))
		err = src.Scan(ctx, dec.Resource.ID, q, func(key string, r map[string]any) error {
			for i, f := range q.Fields {
				cols[i] = r[f]
			}
			return emit(key, cols)
		})
	}
	if err != nil && !errors.Is(err, errMore) {
		return err
	}
	d.Records = n
	return enc.end(n, d.NextCursor)
}

// seal fixes the ledger event and the receipt statement. The statement is
// signed when the delivery is recorded: alone by RecordTx, or with the other
// deliveries of the recorder's group commit under one signature.
func (s *Service) seal(d *Delivery, req Request) error {
	dec := d.Decision
	d.ContentHash = hex.EncodeToString(d.spool.h.Sum(nil))
	d.Size = d.spool.n
	p := req.Principal
	kind, id := actorOf(p)
	var err error
	d.event, err = s.led.Seal(ledger.Event{
		Time: d.Time, ActorKind: kind, ActorID: id, OrgID: p.OrgID, Action: d.action,
		ResourceID: dec.Resource.ID, Fields: dec.Obl.Fields, Purpose: dec.Grant.Purpose, GrantID: dec.Grant.ID,
		RecordCount: int64(d.Records), ContentHash: d.ContentHash,
		Detail: ledger.DetailOf(deliveryDetail{
			DeliveryID: d.ID, Format: d.Format, Bytes: d.Size, Filter: dec.Obl.Filter, Masks: maskSummary(dec.Obl.Masks),
			ClientID: p.ClientID, Anonymous: !p.Authenticated(), Fingerprint: dec.Obl.Fingerprint != "" && dec.Obl.Fingerprint[0] == 'k',
		}),
	})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(d.event.Body())
	d.evHash = hex.EncodeToString(sum[:])
	st := Statement{
		Type: StatementType, DeliveryID: d.ID, Time: d.Time, Action: string(d.action),
		ResourceID: dec.Resource.ID, ResourceCode: dec.Resource.Code, ResourceName: dec.Resource.Name,
		GrantID: dec.Grant.ID, GrantKind: string(dec.Grant.Kind), Purpose: dec.Grant.Purpose,
		Recipient: Recipient{OrgID: p.OrgID, ClientID: p.ClientID, UserID: p.UserID},
		Fields:    dec.Obl.Fields, Format: string(d.Format), Records: d.Records, Bytes: d.Size,
		ContentSHA256: d.ContentHash, EventSHA256: d.evHash, LedgerOrigin: s.led.Origin(),
	}
	d.stmt = st
	return nil
}

// deliveryDetail is a delivery event's detail. Its fields are in the
// order of their names, as a map's would be encoded.
type deliveryDetail struct {
	Anonymous   bool              `json:"anonymous"`
	Bytes       int64             `json:"bytes"`
	ClientID    string            `json:"client_id"`
	DeliveryID  string            `json:"delivery_id"`
	Filter      string            `json:"filter"`
	Fingerprint bool              `json:"fingerprint"`
	Format      Format            `json:"format"`
	Masks       map[string]string `json:"masks"`
}

func maskSummary(ms []FieldMask) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		if m.Rule != "" {
			out[m.Field] = m.Transform
		}
	}
	return out
}

// RecordTx records a prepared delivery in the caller's transaction: the
// ledger event and the delivery row commit with the caller's change or not
// at all. Write the delivery only after the transaction commits.
func (s *Service) RecordTx(ctx context.Context, tx *store.Tx, d *Delivery) error {
	if err := s.signReceipts(d); err != nil {
		return err
	}
	if err := s.insertDelivery(ctx, tx, d); err != nil {
		return err
	}
	if err := s.led.AppendSealed(ctx, tx, d.event); err != nil {
		return err
	}
	d.recorded = true
	return nil
}

func (s *Service) insertDelivery(ctx context.Context, tx *store.Tx, d *Delivery) error {
	return s.insertDeliveries(ctx, tx, []*Delivery{d})
}

// deliveryCols are gate_deliveries' columns that a delivery fills.
const deliveryCols = 13

// insertDeliveries writes delivery rows with the gate's prepared
// multi-row statements, so a group commit parses nothing.
func (s *Service) insertDeliveries(ctx context.Context, tx *store.Tx, ds []*Delivery) error {
	args := make([]any, 0, len(ds)*deliveryCols)
	for _, d := range ds {
		p, r := d.Decision, d.Receipt.Statement.Recipient
		args = append(args, d.ID, p.Grant.ID, p.Resource.ID, r.OrgID, r.ClientID, r.UserID,
			string(d.action), string(d.Format), d.Records, d.ContentHash, d.evHash, d.Receipt.Note, store.Micros(d.Time))
	}
	if err := s.deliveries.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("gate: record delivery: %w", err)
	}
	return nil
}

// recordDenial writes a refusal to the ledger with its reason (R-SEC-2).
func (s *Service) recordDenial(ctx context.Context, req Request, dec *Decision) error {
	p := req.Principal
	kind, id := actorOf(p)
	ev := ledger.Event{
		ActorKind: kind, ActorID: id, OrgID: p.OrgID, Action: ledger.Decide, Object: "gate/decision",
		ResourceID: truncate(req.ResourceID, 200), Fields: truncList(req.Fields), Purpose: truncate(req.Purpose, 200),
		Detail: ledger.DetailOf(map[string]any{
			"outcome": "deny", "code": dec.Reason.Code, "reason_zh": truncate(dec.Reason.ZH, 500), "reason_en": truncate(dec.Reason.EN, 500),
			"field": dec.Reason.Field, "filter": truncate(req.Filter, 500), "format": truncate(string(req.Format), 20),
			"client_id": p.ClientID, "anonymous": !p.Authenticated(),
		}),
	}
	if dec.Grant != nil {
		ev.GrantID = dec.Grant.ID
	}
	return s.rec.recordEvent(ctx, ev)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

func truncList(ss []string) []string {
	if len(ss) > 200 {
		ss = ss[:200]
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = truncate(s, 100)
	}
	return out
}
