package ingest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/privacy/detect"
	"shuqiao/internal/store"
)

// piiSample is how many values of each field a load scans for identifiers.
const piiSample = 200

// piiThreshold is the share of sampled values that must hold an identifier
// for the field to be flagged, and piiMin the least number of them.
const (
	piiThreshold = 0.3
	piiMin       = 3
)

// piiCandidate: text fields the catalog does not mark personal.
func piiCandidate(f catalog.Field) bool {
	return f.Type == "string" && !f.Personal && !f.Sensitive
}

// recognizers are the identifiers R-SEC-1's hints look for.
var recognizers = []detect.Recognizer{detect.ResidentIDRecognizer(), detect.MobileRecognizer(), detect.BankCardRecognizer()}

// PIIHint says a field looks like it holds personal identifiers although the
// catalog does not classify it as personal (R-SEC-1). It is for the org's
// data stewards: classify the field in the next catalog version, or dismiss
// the hint.
type PIIHint struct {
	ID         string `json:"id"`
	ResourceID string `json:"resource_id"`
	OrgID      string `json:"org_id"`
	Field      string `json:"field"`
	// Entity is CN_RESIDENT_ID, CN_MOBILE or BANK_CARD.
	Entity  string `json:"entity"`
	Sampled int64  `json:"sampled"`
	Matched int64  `json:"matched"`
	// Examples are masked matches.
	Examples []string `json:"examples"`
	// Status is open, dismissed or resolved.
	Status    string    `json:"status"`
	Note      string    `json:"note,omitempty"`
	BatchID   string    `json:"batch_id,omitempty"`
	DecidedBy string    `json:"decided_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DetectPII returns, for each entity found in a validated whole-value match
// in at least piiThreshold of values, how many values matched and masked
// examples. It is exported for tests and the privacy tools.
func DetectPII(values []string) map[detect.Entity][]string {
	matches := map[detect.Entity][]string{}
	nonEmpty := 0
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		nonEmpty++
		for _, r := range recognizers {
			found := false
			for _, f := range r.Analyze(v) {
				if f.Validated && f.End-f.Start >= len(v)*2/3 {
					matches[r.Entity()] = append(matches[r.Entity()], f.Text)
					found = true
					break
				}
			}
			if found {
				break // a resident ID is not also a bank card
			}
		}
	}
	out := map[detect.Entity][]string{}
	for e, m := range matches {
		if len(m) >= piiMin && float64(len(m)) >= piiThreshold*float64(nonEmpty) {
			out[e] = m
		}
	}
	return out
}

func maskValue(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	keep := 3
	if len(r) < 8 {
		keep = 1
	}
	return string(r[:keep]) + strings.Repeat("*", len(r)-keep-2) + string(r[len(r)-2:])
}

// flagPII records hints for a load's samples in tx; a hint the stewards
// dismissed stays dismissed.
func (s *Service) flagPII(ctx context.Context, tx *store.Tx, b *Batch, ds *Dataset, sample map[int][]string, now time.Time) ([]PIIHint, error) {
	var out []PIIHint
	for i, f := range ds.Fields {
		vals := sample[i]
		if len(vals) == 0 || !piiCandidate(f) {
			continue
		}
		nonEmpty := int64(0)
		for _, v := range vals {
			if strings.TrimSpace(v) != "" {
				nonEmpty++
			}
		}
		for e, m := range DetectPII(vals) {
			var ex []string
			for _, v := range m {
				if len(ex) == 3 {
					break
				}
				ex = append(ex, maskValue(v))
			}
			h := PIIHint{ID: store.NewID(), ResourceID: b.ResourceID, OrgID: b.OrgID, Field: f.Name, Entity: string(e), Sampled: nonEmpty,
				Matched: int64(len(m)), Examples: ex, Status: "open", BatchID: b.ID, CreatedAt: now, UpdatedAt: now}
			var status string
			err := tx.QueryRowContext(ctx, `SELECT id, status FROM ingest_pii_hints WHERE resource_id = $1 AND field = $2 AND entity = $3`, h.ResourceID, h.Field, h.Entity).Scan(&h.ID, &status)
			if err == nil {
				if status == "dismissed" {
					continue
				}
				if _, err := tx.ExecContext(ctx, `UPDATE ingest_pii_hints SET sampled = $1, matched = $2, examples = $3, status = 'open', batch_id = $4, updated_at = $5 WHERE id = $6`,
					h.Sampled, h.Matched, strings.Join(ex, "\n"), b.ID, store.Micros(now), h.ID); err != nil {
					return nil, err
				}
			} else if _, err := tx.ExecContext(ctx, `INSERT INTO ingest_pii_hints (id, resource_id, org_id, field, entity, sampled, matched, examples, status, batch_id, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $10)`, h.ID, h.ResourceID, h.OrgID, h.Field, h.Entity, h.Sampled, h.Matched,
				strings.Join(ex, "\n"), b.ID, store.Micros(now)); err != nil {
				return nil, fmt.Errorf("ingest: pii hint: %w", err)
			}
			ev := s.event(System(b.OrgID), ledger.Admin, b.ResourceID, map[string]any{"what": "ingest.pii_hint", "field": f.Name, "entity": e, "matched": len(m), "sampled": nonEmpty, "batch": b.ID})
			if err := s.led.Append(ctx, tx, ev); err != nil {
				return nil, err
			}
			out = append(out, h)
		}
	}
	return out, nil
}

const hintCols = `id, resource_id, org_id, field, entity, sampled, matched, examples, status, note, batch_id, decided_by, created_at, updated_at`

func scanHint(sc interface{ Scan(...any) error }) (PIIHint, error) {
	var h PIIHint
	var ex string
	var c, u int64
	err := sc.Scan(&h.ID, &h.ResourceID, &h.OrgID, &h.Field, &h.Entity, &h.Sampled, &h.Matched, &ex, &h.Status, &h.Note, &h.BatchID, &h.DecidedBy, &c, &u)
	h.Examples = []string{}
	if ex != "" {
		h.Examples = strings.Split(ex, "\n")
	}
	h.CreatedAt, h.UpdatedAt = store.FromMicros(c), store.FromMicros(u)
	return h, err
}

func (s *Service) hintsOfBatch(ctx context.Context, batchID string) ([]PIIHint, error) {
	return s.queryHints(ctx, `SELECT `+hintCols+` FROM ingest_pii_hints WHERE batch_id = $1 ORDER BY field, entity`, batchID)
}

func (s *Service) queryHints(ctx context.Context, q string, args ...any) ([]PIIHint, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ingest: pii hints: %w", err)
	}
	defer rows.Close()
	out := []PIIHint{}
	for rows.Next() {
		h, err := scanHint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// PIIHints lists an org's hints (status "" means open). The org's data
// stewards and admins see their own; the authority sees any org's.
func (s *Service) PIIHints(ctx context.Context, p identity.Principal, orgID, status string) ([]PIIHint, error) {
	if orgID == "" {
		orgID = p.OrgID
	}
	if !canManage(p, orgID) && !(canSee(p, "") && p.Authenticated()) {
		return nil, apperr.ErrForbidden
	}
	if status == "" {
		status = "open"
	}
	if status == "all" {
		return s.queryHints(ctx, `SELECT `+hintCols+` FROM ingest_pii_hints WHERE org_id = $1 ORDER BY created_at DESC LIMIT 1000`, orgID)
	}
	return s.queryHints(ctx, `SELECT `+hintCols+` FROM ingest_pii_hints WHERE org_id = $1 AND status = $2 ORDER BY created_at DESC LIMIT 1000`, orgID, status)
}

// DecideHint closes a hint: "resolved" (the field is now classified) or
// "dismissed" (it is not personal data, with a note why).
func (s *Service) DecideHint(ctx context.Context, p identity.Principal, id, status, note string) (*PIIHint, error) {
	if status != "resolved" && status != "dismissed" {
		return nil, apperr.Invalidf("ingest.bad_status", "status", "状态须为 resolved 或 dismissed", "status must be resolved or dismissed")
	}
	note = clip(strings.TrimSpace(note), 1000)
	if status == "dismissed" && note == "" {
		return nil, apperr.Invalidf("ingest.note_required", "note", "忽略提示须说明理由", "dismissing a hint needs a note saying why")
	}
	var out PIIHint
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		h, err := scanHint(tx.QueryRowContext(ctx, `SELECT `+hintCols+` FROM ingest_pii_hints WHERE id = $1`, id))
		if err != nil {
			return apperr.ErrNotFound.At(id)
		}
		if !canManage(p, h.OrgID) {
			return apperr.ErrForbidden
		}
		_, actor := actorOf(p)
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE ingest_pii_hints SET status = $1, note = $2, decided_by = $3, updated_at = $4 WHERE id = $5`,
			status, note, actor, store.Micros(now), id); err != nil {
			return err
		}
		h.Status, h.Note, h.DecidedBy, h.UpdatedAt = status, note, actor, now
		out = h
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, h.ResourceID, map[string]any{"what": "ingest.pii_hint." + status, "hint": id, "field": h.Field, "entity": h.Entity}))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

var _ = strconv.Itoa
