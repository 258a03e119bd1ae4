package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// StatementType heads every receipt statement.
const StatementType = "shuqiao.receipt/v1"

// Statement is what a receipt attests (R-SHR-8): exactly which bytes
// (ContentSHA256) the platform delivered, to whom, when, under which grant
// and for which purpose, and the ledger event that records it (EventSHA256:
// the hash of the event JSON that the ledger entry carries after its seq).
type Statement struct {
	Type          string    `json:"type"`
	DeliveryID    string    `json:"delivery_id"`
	Time          time.Time `json:"time"`
	Action        string    `json:"action"`
	ResourceID    string    `json:"resource_id"`
	ResourceCode  string    `json:"resource_code,omitempty"`
	ResourceName  string    `json:"resource_name,omitempty"`
	GrantID       string    `json:"grant_id"`
	GrantKind     string    `json:"grant_kind"`
	Purpose       string    `json:"purpose"`
	Recipient     Recipient `json:"recipient"`
	Fields        []string  `json:"fields"`
	Format        string    `json:"format"`
	Records       int       `json:"records"`
	Bytes         int64     `json:"bytes"`
	ContentSHA256 string    `json:"content_sha256"`
	EventSHA256   string    `json:"event_sha256"`
	LedgerOrigin  string    `json:"ledger_origin"`
}

// Recipient is who received a delivery.
type Recipient struct {
	OrgID    string `json:"org_id,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	UserID   string `json:"user_id,omitempty"`
}

// Receipt is a signed statement, and once the ledger has integrated the
// delivery's event, the proof that the event is in the log. It is what
// `shuqiao receipt verify FILE RECEIPT` reads.
type Receipt struct {
	// Note is the signed note: "shuqiao.receipt/v1", the statement as one
	// JSON line, a blank line and the signature.
	Note string `json:"note"`
	// Statement repeats the note's statement for people; verification
	// reads the note, never this copy.
	Statement Statement `json:"statement"`
	// ReceiptKey is the key that signed the note (check it against the one
	// the platform publishes).
	ReceiptKey string       `json:"receipt_key"`
	Ledger     *LedgerProof `json:"ledger,omitempty"`
}

// LedgerProof places the delivery's event in the ledger.
type LedgerProof struct {
	Seq uint64 `json:"seq"`
	// Entry is the canonical entry bytes (JSON text).
	Entry      string                `json:"entry"`
	Proof      ledger.InclusionProof `json:"proof"`
	Checkpoint string                `json:"checkpoint"`
	// VerifierKey is the ledger's checkpoint key.
	VerifierKey string `json:"verifier_key"`
}

func (s *Service) sign(st Statement) (*Receipt, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: StatementType + "\n" + string(b) + "\n"}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("gate: sign receipt: %w", err)
	}
	return &Receipt{Note: string(signed), Statement: st, ReceiptKey: s.vkey}, nil
}

// Batched receipts. The recorder commits the records of many concurrent
// deliveries at once, and signing each statement was a sixth of the
// governed path's cost. So a group's statements are the leaves of a Merkle
// tree (RFC 6962 hashing, as the ledger's) and one signature covers its
// root; each receipt carries its own statement line and the path from it
// to the signed root, never another recipient's statement:
//
//	shuqiao.receipt.batched/v1
//	<statement JSON line>
//	<index> <size> <path hashes, base64, comma-separated>
//
//	<signed note: "shuqiao.receipt.batch/v1\n<size>\n<root, base64>\n">
const (
	batchedType   = "shuqiao.receipt.batched/v1"
	batchNoteType = "shuqiao.receipt.batch/v1"
)

// signReceipts signs the receipts of ds: one alone with its own signature,
// several under one batch signature.
func (s *Service) signReceipts(ds ...*Delivery) error {
	if len(ds) == 1 {
		rc, err := s.sign(ds[0].stmt)
		if err != nil {
			return err
		}
		ds[0].Receipt = rc
		return nil
	}
	if len(ds) == 0 {
		return nil
	}
	lines := make([][]byte, len(ds))
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, d := range ds {
		b, err := json.Marshal(d.stmt)
		if err != nil {
			return err
		}
		lines[i] = b
		hs, err := tlog.StoredHashes(int64(i), b, hr)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	n := int64(len(ds))
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		return err
	}
	batch, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", batchNoteType, n, root)}, s.signer)
	if err != nil {
		return fmt.Errorf("gate: sign receipts: %w", err)
	}
	for i, d := range ds {
		proof, err := tlog.ProveRecord(n, int64(i), hr)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.Grow(len(batchedType) + len(lines[i]) + 48*len(proof) + len(batch) + 32)
		b.WriteString(batchedType)
		b.WriteByte('\n')
		b.Write(lines[i])
		fmt.Fprintf(&b, "\n%d %d ", i, n)
		for j, h := range proof {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(h.String())
		}
		b.WriteString("\n\n")
		b.Write(batch)
		d.Receipt = &Receipt{Note: b.String(), Statement: d.stmt, ReceiptKey: s.vkey}
	}
	return nil
}

// receiptNote is a parsed receipt note, single or batched.
type receiptNote struct {
	statement Statement
	// signed is the note whose signature covers the statement: the
	// statement note itself, or the batch note.
	signed []byte
	// For a batched receipt: the statement line, its index in the batch and
	// the path to the batch root.
	line  []byte
	index int64
	path  tlog.RecordProof
}

func parseReceiptNote(text string) (*receiptNote, error) {
	if !strings.HasPrefix(text, batchedType+"\n") {
		st, err := parseStatementNote([]byte(text))
		if err != nil {
			return nil, err
		}
		return &receiptNote{statement: st, signed: []byte(text)}, nil
	}
	head, batch, ok := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	if !ok || len(lines) != 3 {
		return nil, fmt.Errorf("gate: a %s receipt has three lines before its batch note", batchedType)
	}
	rn := &receiptNote{signed: []byte(batch), line: []byte(lines[1])}
	dec := json.NewDecoder(strings.NewReader(lines[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rn.statement); err != nil || rn.statement.Type != StatementType {
		return nil, fmt.Errorf("gate: receipt statement is not a %s statement: %v", StatementType, err)
	}
	f := strings.Fields(lines[2])
	if len(f) != 3 {
		return nil, fmt.Errorf("gate: receipt batch line %q is not <index> <size> <path>", lines[2])
	}
	var err error
	if rn.index, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return nil, fmt.Errorf("gate: receipt batch index: %w", err)
	}
	for _, h := range strings.Split(f[2], ",") {
		x, err := tlog.ParseHash(h)
		if err != nil {
			return nil, fmt.Errorf("gate: receipt batch path: %w", err)
		}
		rn.path = append(rn.path, x)
	}
	return rn, nil
}

// open checks the note's signature with v and, for a batched receipt, that
// the statement line is in the signed batch.
func (rn *receiptNote) open(v note.Verifier) error {
	n, err := note.Open(rn.signed, note.VerifierList(v))
	if err != nil {
		return err
	}
	if rn.line == nil {
		return nil
	}
	l := strings.Split(n.Text, "\n")
	if len(l) != 4 || l[0] != batchNoteType || l[3] != "" {
		return fmt.Errorf("not a %s note", batchNoteType)
	}
	size, err := strconv.ParseInt(l[1], 10, 64)
	if err != nil {
		return fmt.Errorf("batch size: %w", err)
	}
	th, err := tlog.ParseHash(l[2])
	if err != nil {
		return fmt.Errorf("batch root: %w", err)
	}
	if rn.index < 0 || rn.index >= size {
		return fmt.Errorf("statement %d is outside a batch of %d", rn.index, size)
	}
	if err := tlog.CheckRecord(rn.path, size, th, rn.index, tlog.RecordHash(rn.line)); err != nil {
		return fmt.Errorf("the statement is not in the signed batch: %w", err)
	}
	return nil
}

// Delivered is a recorded delivery as the gate keeps it.
type Delivered struct {
	ID          string    `json:"id"`
	GrantID     string    `json:"grant_id"`
	ResourceID  string    `json:"resource_id"`
	Recipient   Recipient `json:"recipient"`
	Action      string    `json:"action"`
	Format      string    `json:"format"`
	Records     int64     `json:"records"`
	ContentHash string    `json:"content_hash"`
	Time        time.Time `json:"time"`
	signed      string
	evHash      string
	seq         sql.NullInt64
}

// Delivery returns a recorded delivery. Callers check who may see it.
func (s *Service) Delivery(ctx context.Context, id string) (*Delivered, error) {
	var (
		d  Delivered
		at int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, grant_id, resource_id, org_id, client_id, user_id, action, format, records, content_hash, event_hash, signed, created_at, ledger_seq
		FROM gate_deliveries WHERE id = $1`, id).Scan(&d.ID, &d.GrantID, &d.ResourceID, &d.Recipient.OrgID, &d.Recipient.ClientID, &d.Recipient.UserID,
		&d.Action, &d.Format, &d.Records, &d.ContentHash, &d.evHash, &d.signed, &at, &d.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoDelivery.At(id)
	}
	if err != nil {
		return nil, fmt.Errorf("gate: read delivery: %w", err)
	}
	d.Time = store.FromMicros(at)
	return &d, nil
}

// Receipt returns the receipt of a recorded delivery, with its ledger
// inclusion proof and checkpoint once the ledger has integrated the event
// (the ledger's background loop does so within moments; until then Ledger
// is nil and the signed statement stands alone).
func (s *Service) Receipt(ctx context.Context, deliveryID string) (*Receipt, error) {
	d, err := s.Delivery(ctx, deliveryID)
	if err != nil {
		return nil, err
	}
	rn, err := parseReceiptNote(d.signed)
	if err != nil {
		return nil, err
	}
	rc := &Receipt{Note: d.signed, Statement: rn.statement, ReceiptKey: s.vkey}
	seq, ok, err := s.findSeq(ctx, d)
	if err != nil || !ok {
		return rc, err
	}
	entry, err := s.led.Entry(ctx, seq)
	if err != nil {
		return nil, err
	}
	cp, err := s.led.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if cp.Size <= seq {
		if cp, err = s.led.SignCheckpoint(ctx); err != nil {
			return nil, err
		}
		if cp.Size <= seq {
			return rc, nil
		}
	}
	proof, err := s.led.InclusionProof(ctx, seq, cp.Size)
	if err != nil {
		return nil, err
	}
	rc.Ledger = &LedgerProof{Seq: seq, Entry: string(entry.Body), Proof: proof, Checkpoint: string(cp.Note), VerifierKey: s.led.VerifierKey()}
	return rc, nil
}

// findSeq finds the ledger entry of a delivery's event: among the entries
// of its grant at its time, the one whose event bytes hash to event_hash.
func (s *Service) findSeq(ctx context.Context, d *Delivered) (uint64, bool, error) {
	if d.seq.Valid {
		return uint64(d.seq.Int64), true, nil
	}
	entries, _, err := s.led.Query(ctx, ledger.Filter{GrantID: d.GrantID, Action: ledger.Action(d.Action), Since: d.Time, Until: d.Time.Add(time.Microsecond), Limit: 1000})
	if err != nil {
		return 0, false, err
	}
	for _, e := range entries {
		if eventHashOf(e.Body) == d.evHash {
			_, _ = s.db.ExecContext(ctx, `UPDATE gate_deliveries SET ledger_seq = $1 WHERE id = $2`, int64(e.Seq), d.ID)
			return e.Seq, true, nil
		}
	}
	return 0, false, nil
}

// eventHashOf recovers the hash of the event JSON inside canonical entry
// bytes {"seq":N,<event members>}: the event is "{" + what follows the seq.
func eventHashOf(entry []byte) string {
	i := bytes.IndexByte(entry, ',')
	if i < 0 || !bytes.HasPrefix(entry, []byte(`{"seq":`)) {
		return ""
	}
	ev := append([]byte{'{'}, entry[i+1:]...)
	sum := sha256.Sum256(ev)
	return hex.EncodeToString(sum[:])
}

func parseStatementNote(signed []byte) (Statement, error) {
	var st Statement
	text := string(signed)
	end := strings.Index(text, "\n\n")
	if end < 0 {
		return st, errors.New("gate: receipt note has no signature block")
	}
	body := text[:end]
	head, line, ok := strings.Cut(body, "\n")
	if !ok || head != StatementType {
		return st, fmt.Errorf("gate: not a %s receipt", StatementType)
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("gate: receipt statement: %w", err)
	}
	if st.Type != StatementType {
		return st, fmt.Errorf("gate: not a %s receipt", StatementType)
	}
	return st, nil
}

// Verification is what VerifyReceipt found.
type Verification struct {
	Statement Statement
	// KeyPinned says the receipt key was given by the verifier, not taken
	// from the receipt itself.
	KeyPinned bool
	// InLedger says the ledger proof checked out against a signed checkpoint;
	// LedgerKeyPinned says that checkpoint key was given by the verifier.
	InLedger        bool
	LedgerKeyPinned bool
	Seq             uint64
	TreeSize        uint64
	Notes           []string
}

// VerifyReceipt checks, offline, that file is exactly what the receipt says
// the platform delivered (R-SHR-8): the note's signature (under receiptKey,
// or the key the receipt carries when receiptKey is empty), the file's
// SHA-256 and size, and — when the receipt carries one — the ledger
// inclusion proof of the delivery's event against a signed checkpoint
// (under ledgerKey, or the carried key) and that this event is the one the
// statement names. Any mismatch is an error that says what failed.
func VerifyReceipt(file, receiptJSON []byte, receiptKey, ledgerKey string) (*Verification, error) {
	var rc Receipt
	if len(receiptJSON) > 1<<20 {
		return nil, errors.New("receipt is too large")
	}
	if err := json.Unmarshal(receiptJSON, &rc); err != nil {
		return nil, fmt.Errorf("receipt is not JSON: %w", err)
	}
	v := &Verification{KeyPinned: receiptKey != ""}
	if receiptKey == "" {
		receiptKey = rc.ReceiptKey
	}
	verifier, err := ledger.NewVerifier(strings.TrimSpace(receiptKey))
	if err != nil {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	rn, err := parseReceiptNote(rc.Note)
	if err != nil {
		return nil, err
	}
	if err := rn.open(verifier); err != nil {
		return nil, fmt.Errorf("the receipt's signature does not verify: %w", err)
	}
	st := rn.statement
	v.Statement = st
	sum := sha256.Sum256(file)
	if got := hex.EncodeToString(sum[:]); got != st.ContentSHA256 {
		return v, fmt.Errorf("the file is not what was delivered: its SHA-256 is %s, the receipt's %s", got, st.ContentSHA256)
	}
	if int64(len(file)) != st.Bytes {
		return v, fmt.Errorf("the file has %d bytes, the receipt %d", len(file), st.Bytes)
	}
	if rc.Ledger == nil {
		v.Notes = append(v.Notes, "no ledger proof yet: fetch the receipt again once the ledger has integrated the delivery")
		return v, nil
	}
	lp := rc.Ledger
	v.LedgerKeyPinned = ledgerKey != ""
	if ledgerKey == "" {
		ledgerKey = lp.VerifierKey
	}
	proof, _ := json.Marshal(lp.Proof)
	if ok, err := ledger.CheckProof([]byte(lp.Entry), proof, []byte(lp.Checkpoint), ledgerKey); !ok {
		return v, fmt.Errorf("the ledger proof does not check out: %w", err)
	}
	if eventHashOf([]byte(lp.Entry)) != st.EventSHA256 {
		return v, errors.New("the ledger entry is not the event the receipt names")
	}
	e, err := ledger.DecodeEntry([]byte(lp.Entry))
	if err != nil {
		return v, err
	}
	if e.ContentHash != st.ContentSHA256 || e.GrantID != st.GrantID || string(e.Action) != st.Action {
		return v, errors.New("the ledger entry does not match the receipt")
	}
	v.InLedger, v.Seq, v.TreeSize = true, e.Seq, lp.Proof.TreeSize
	return v, nil
}
