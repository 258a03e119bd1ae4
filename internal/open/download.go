package open

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Requester is who asks for a download, as far as open needs to know:
// never stored, only hashed into a fingerprint.
type Requester struct {
	IP        string
	UserAgent string
	// APIKey is a free open-data key (optional).
	APIKey string
}

// Fingerprint is the privacy-preserving requester fingerprint: the first
// 128 bits of HMAC(k, day ‖ IP ‖ UA), keyed by the platform secret and
// bucketed by UTC day, so one requester's downloads can be counted and
// limited within a day but neither reversed to an address nor linked
// across days (R-OPN-1, docs/decisions/0100).
func (s *Service) Fingerprint(r Requester) string {
	m := hmac.New(sha256.New, s.fpKey)
	m.Write([]byte(s.clock.Now().UTC().Format("2006-01-02")))
	m.Write([]byte{0})
	m.Write([]byte(r.IP))
	m.Write([]byte{0})
	m.Write([]byte(r.UserAgent))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// DownloadRequest is one download.
type DownloadRequest struct {
	// Principal is the caller: empty for anyone. For a conditional entry it
	// must hold an approved application's grant.
	Principal  identity.Principal
	Requester  Requester
	ResourceID string
	Format     gate.Format
	Fields     []string
	Filter     string
	Cursor     string
	Limit      int
	// GrantID names the caller's grant for a conditional entry (optional).
	GrantID string
	// Preview marks a look at the first rows on the resource page: a
	// delivery like any other (ledger, receipt, rate limit), counted in
	// demand as a preview, not a download (R-OPN-5).
	Preview bool
}

// Download delivers an open entry through the gate. Unconditional entries
// go to anyone under the entry's public grant, recorded as a ledger
// disclose event with the requester fingerprint beside gate's provide
// event; conditional entries go to holders of an approved application's
// grant (gate picks it and fingerprints the data). Both are counted for
// demand. The caller writes the delivery (WriteTo) and closes it.
func (s *Service) Download(ctx context.Context, req DownloadRequest) (*gate.Delivery, error) {
	res, err := s.resource(ctx, req.ResourceID)
	if err != nil {
		return nil, err
	}
	if PurposeLocked(res) {
		s.recordRefusal(ctx, req, res, ErrPurposeLocked.Code)
		return nil, ErrPurposeLocked.At("resource")
	}
	if res.Delivery.Mode == catalog.ServiceAPI {
		return nil, ErrServiceAPI.At("resource")
	}
	keyID := ""
	if req.Requester.APIKey != "" {
		if keyID, err = s.checkKey(ctx, req.Requester.APIKey); err != nil {
			return nil, err
		}
	}
	fp := s.Fingerprint(req.Requester)
	if keyID != "" {
		if !s.limits.allow("key:"+keyID, s.opts.KeyPerMinute) {
			return nil, ErrRateLimited
		}
	} else if !req.Principal.Authenticated() {
		if !s.limits.allow("fp:"+fp, s.opts.AnonPerMinute) {
			return nil, ErrRateLimited
		}
	} else if !s.limits.allow("p:"+req.Principal.OrgID+"/"+req.Principal.UserID+req.Principal.ClientID, s.opts.KeyPerMinute) {
		return nil, ErrRateLimited
	}
	greq := gate.Request{Principal: req.Principal, ResourceID: res.ID, Fields: req.Fields, Filter: req.Filter,
		Format: req.Format, Cursor: req.Cursor, Limit: req.Limit, GrantID: req.GrantID}
	disclose := false
	switch res.Open.Attr {
	case catalog.Unconditional:
		g, err := s.PublicGrant(ctx, res.ID)
		if err != nil {
			return nil, err
		}
		greq.GrantID, disclose = g.ID, true
	case catalog.Conditional:
		if !req.Principal.Authenticated() {
			return nil, ErrConditional.At("resource")
		}
		// The grant of the caller's own approved application (R-OPN-2).
		if greq.GrantID, err = s.applicantGrant(ctx, req.Principal, res.ID, req.GrantID); err != nil {
			if ae, ok := apperr.As(err); ok && ae.Code == ErrNotApplicant.Code {
				s.recordRefusal(ctx, req, res, ae.Code)
			}
			return nil, err
		}
	default:
		return nil, ErrNotOpen.At("resource")
	}
	d, err := s.gate.Prepare(ctx, greq)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.gate.RecordTx(ctx, tx, d); err != nil {
			return err
		}
		if disclose {
			kind, id := ledger.ActorSystem, ""
			if req.Principal.UserID != "" {
				kind, id = ledger.ActorUser, req.Principal.UserID
			} else if req.Principal.ClientID != "" {
				kind, id = ledger.ActorClient, req.Principal.ClientID
			}
			if err := s.led.Append(ctx, tx, ledger.Event{
				ActorKind: kind, ActorID: id, OrgID: req.Principal.OrgID, Action: ledger.Disclose, Object: "open/download/" + d.ID,
				ResourceID: res.ID, Fields: d.Decision.Obl.Fields, Purpose: d.Decision.Grant.Purpose, GrantID: d.Decision.Grant.ID,
				RecordCount: int64(d.Records), ContentHash: d.ContentHash,
				Detail: ledger.DetailOf(map[string]any{"delivery_id": d.ID, "format": d.Format, "requester_fingerprint": fp,
					"api_key_id": keyID, "anonymous": !req.Principal.Authenticated(), "free": true}),
			}); err != nil {
				return err
			}
		}
		kind := "download"
		if req.Preview {
			kind = "preview"
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO open_demand (id, resource_id, kind, fingerprint, key_id, delivery_id, format, records, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, store.NewID(), res.ID, kind, fp, keyID, d.ID, string(d.Format), d.Records, store.Micros(s.now()))
		return err
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// recordRefusal writes a refused open download to the ledger (best effort:
// the refusal stands even if the record fails).
func (s *Service) recordRefusal(ctx context.Context, req DownloadRequest, res *catalog.Resource, code string) {
	_ = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.led.Append(ctx, tx, ledger.Event{ActorKind: ledger.ActorSystem, Action: ledger.Decide, Object: "open/decision",
			ResourceID: res.ID, Detail: ledger.DetailOf(map[string]any{"outcome": "deny", "code": code, "requester_fingerprint": s.Fingerprint(req.Requester)})})
	})
}

// PublicPurpose is the scenario of every public open grant.
const PublicPurpose = "无条件开放：社会公众免费获取 (unconditional open data, free to the public)"

// PublicGrant returns the public grant of an unconditional open entry,
// creating it on first use. All the entry's fields are granted; the gate
// still masks them by classification level. The grant's own rate limit is
// high: open limits per requester, not per grant.
func (s *Service) PublicGrant(ctx context.Context, resourceID string) (*gate.Grant, error) {
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	if PurposeLocked(res) {
		return nil, ErrPurposeLocked.At("resource")
	}
	if res.Open.Attr != catalog.Unconditional {
		return nil, ErrNotOpen.At("resource")
	}
	var gid string
	err = s.db.QueryRowContext(ctx, `SELECT grant_id FROM open_public_grants WHERE resource_id = $1`, res.ID).Scan(&gid)
	if err == nil {
		g, err := s.gate.Grant(ctx, gid)
		if err != nil {
			return nil, err
		}
		if g.State == gate.Active && sameFields(g.Fields, res.Fields) {
			return g, nil
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	// None yet, or the entry's fields changed: make a new one and end the old.
	var g *gate.Grant
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT grant_id FROM open_public_grants WHERE resource_id = $1`, res.ID).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur != gid {
			return errRetry // another replica got there first
		}
		if cur != "" {
			if old, err := s.gate.Grant(ctx, cur); err == nil && old.State != gate.Terminated {
				if _, err := s.gate.TerminateGrant(ctx, tx, system, cur, "开放数据项已变更，更换公众授权 (fields changed)"); err != nil {
					return err
				}
			}
		}
		var fields []string
		for _, f := range res.Fields {
			fields = append(fields, f.Name)
		}
		g, err = s.gate.CreateGrant(ctx, tx, system, gate.GrantSpec{ResourceID: res.ID, Fields: fields, Purpose: PublicPurpose,
			Kind: gate.KindOpen, RatePerMinute: 1_000_000, Terms: "无条件开放数据，免费获取，无需注册 (R-OPN-1, R-DEV-6)。"})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO open_public_grants (resource_id, grant_id, created_at) VALUES ($1,$2,$3)
			ON CONFLICT (resource_id) DO UPDATE SET grant_id = excluded.grant_id, created_at = excluded.created_at`, res.ID, g.ID, store.Micros(s.now()))
		return err
	})
	if errors.Is(err, errRetry) {
		return s.PublicGrant(ctx, resourceID)
	}
	return g, err
}

var errRetry = errors.New("open: retry")

func sameFields(a []string, fs []catalog.Field) bool {
	if len(a) != len(fs) {
		return false
	}
	for i, f := range fs {
		if a[i] != f.Name {
			return false
		}
	}
	return true
}

// Sync ends the public grants of entries that are no longer unconditional
// open or have become purpose-locked (R-OPN-1, R-PRS-7). The scheduler runs
// it; it returns how many grants it terminated.
func (s *Service) Sync(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT resource_id, grant_id FROM open_public_grants`)
	if err != nil {
		return 0, err
	}
	type pg struct{ res, grant string }
	var all []pg
	for rows.Next() {
		var p pg
		if err := rows.Scan(&p.res, &p.grant); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, p)
	}
	rows.Close()
	n := 0
	for _, p := range all {
		res, err := s.resource(ctx, p.res)
		keep := err == nil && res.Open.Attr == catalog.Unconditional && !PurposeLocked(res)
		if keep {
			continue
		}
		reason := "资源已不再无条件开放 (no longer open unconditionally)"
		if err == nil && PurposeLocked(res) {
			reason = "公共安全用途锁定，不得开放 (purpose-locked to public security, R-PRS-7)"
		}
		g, gerr := s.gate.Grant(ctx, p.grant)
		if gerr != nil || g.State == gate.Terminated {
			continue
		}
		if err := s.db.InTx(ctx, func(tx *store.Tx) error {
			_, err := s.gate.TerminateGrant(ctx, tx, system, p.grant, reason)
			return err
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ---- free API keys ----

// Key is a free open-data API key's record; Secret is set only when issued.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Secret    string    `json:"key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// IssueKey issues a free API key to anyone who names their application
// (R-OPN-1, R-DEV-6): no account, no payment. The key is shown once; only
// its hash is kept.
func (s *Service) IssueKey(ctx context.Context, name, contact string) (*Key, error) {
	name, contact = strings.TrimSpace(name), strings.TrimSpace(contact)
	if name == "" || utf8.RuneCountInString(name) > 100 || utf8.RuneCountInString(contact) > 200 {
		return nil, ErrText.At("name")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	k := &Key{ID: store.NewID(), Name: name, Secret: "sqo_" + base64.RawURLEncoding.EncodeToString(b), CreatedAt: s.now()}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO open_keys (id, key_hash, name, contact, created_at) VALUES ($1,$2,$3,$4,$5)`,
			k.ID, keyHash(k.Secret), name, contact, store.Micros(k.CreatedAt)); err != nil {
			return err
		}
		return s.led.Append(ctx, tx, ledger.Event{ActorKind: ledger.ActorSystem, Action: ledger.Admin, Object: "open/key/" + k.ID,
			Detail: ledger.DetailOf(map[string]any{"op": "open.key.issue", "name": name})})
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func keyHash(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

func (s *Service) checkKey(ctx context.Context, key string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM open_keys WHERE key_hash = $1 AND revoked = 0`, keyHash(strings.TrimSpace(key))).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrBadKey.At("key")
	}
	return id, err
}

// ---- rate limits (per replica) ----

type limiter struct {
	mu    sync.Mutex
	clock clock.Clock
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(clk clock.Clock) *limiter { return &limiter{clock: clk, b: map[string]*bucket{}} }

// allow is a token bucket of perMinute calls a minute with a burst of a
// tenth of that (at least 5).
func (l *limiter) allow(key string, perMinute int) bool {
	burst := max(float64(perMinute)/10, 5)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) > 200_000 {
		clear(l.b)
	}
	b, ok := l.b[key]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		l.b[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(burst, b.tokens+el.Minutes()*float64(perMinute))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
