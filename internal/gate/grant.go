package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate/filter"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Kind says under which arrangement a grant was made.
type Kind string

const (
	KindUnconditional Kind = "unconditional" // 无条件共享: declared scenario and fields (R-SHR-2)
	KindConditional   Kind = "conditional"   // 有条件共享: an approved share request (R-SHR-3)
	KindOpen          Kind = "open"          // 开放: open data, to an applicant or to the public (R-OPN-1, R-OPN-2)
	KindOperator      Kind = "operator"      // 授权运营 (R-DEV-1)
	KindMarket        Kind = "market"        // a market purchase (R-MKT-*)
	KindSubject       Kind = "subject"       // a data subject's access or portability request (R-PRS-1, R-PRS-2)
	KindService       Kind = "service"       // platform-internal use (sandbox results, supervision)
)

// Kinds lists every grant kind.
var Kinds = []Kind{KindUnconditional, KindConditional, KindOpen, KindOperator, KindMarket, KindSubject, KindService}

// State is where a grant is in its life: active → suspended ⇄ active →
// terminated (R-SHR-10). Terminated is final. An expired grant stays
// active in the table and is refused by time.
type State string

const (
	Active     State = "active"
	Suspended  State = "suspended"
	Terminated State = "terminated"
)

// Grant is the permission a recipient holds to receive data through the gate.
type Grant struct {
	ID         string `json:"id"`
	ResourceID string `json:"resource_id"`
	// GranteeOrgID is the recipient org; "" is the public (kind open only).
	GranteeOrgID string `json:"grantee_org_id"`
	// GranteeClientID, when set, limits the grant to one API client of the org.
	GranteeClientID string `json:"grantee_client_id,omitempty"`
	// GranteeUserID, when set, limits the grant to one person of the org
	// (an open-data application made by a person, R-OPN-2).
	GranteeUserID string `json:"grantee_user_id,omitempty"`
	// Fields are the data items granted (minimal sufficiency, R-SHR-4).
	Fields []string `json:"fields"`
	// Purpose is the application scenario the data may be used for (R-SHR-5).
	Purpose string `json:"purpose"`
	Kind    Kind   `json:"kind"`
	// CaseID is the case that decided the grant, if any.
	CaseID string `json:"case_id,omitempty"`
	// RowFilter, in the filter language, restricts the rows the grant
	// covers (e.g. the grantee's own district); it may name fields that are
	// not delivered. Every call's own filter is AND-ed to it.
	RowFilter string `json:"row_filter,omitempty"`
	// RowLimit caps the rows of one delivery; RatePerMinute the calls.
	RowLimit      int `json:"row_limit"`
	RatePerMinute int `json:"rate_per_minute"`
	// ExpiresAt ends the grant; zero never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Terms are the conditions the recipient accepted, including the notice
	// that deliveries carry a recipient-specific fingerprint.
	Terms string `json:"terms,omitempty"`
	// PseudonymScheme is the pseudonym PRF of its deliveries
	// (PseudonymHMAC, PseudonymCMAC), fixed when the grant is made.
	PseudonymScheme int       `json:"pseudonym_scheme"`
	State           State     `json:"state"`
	StateReason     string    `json:"state_reason,omitempty"`
	Revision        int       `json:"revision"`
	CreatedBy       string    `json:"created_by,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Public reports whether the grant is open to anyone.
func (g *Grant) Public() bool { return g.GranteeOrgID == "" }

// GrantSpec is what a capability asks for when it creates a grant.
type GrantSpec struct {
	ResourceID      string    `json:"resource_id"`
	GranteeOrgID    string    `json:"grantee_org_id"`
	GranteeClientID string    `json:"grantee_client_id,omitempty"`
	GranteeUserID   string    `json:"grantee_user_id,omitempty"`
	Fields          []string  `json:"fields"`
	Purpose         string    `json:"purpose"`
	Kind            Kind      `json:"kind"`
	CaseID          string    `json:"case_id,omitempty"`
	RowFilter       string    `json:"row_filter,omitempty"`
	RowLimit        int       `json:"row_limit,omitempty"`
	RatePerMinute   int       `json:"rate_per_minute,omitempty"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	Terms           string    `json:"terms,omitempty"`
}

// FingerprintNotice is appended to every grant's terms: the recipient is
// told that deliveries are traceable to them (R-SHR-5).
const FingerprintNotice = "本授权下交付的数据带有识别接收方的数字指纹（假名化字段中的密钥化标记），可追溯到本授权及接收方；数据仅限用于所述场景，不得向第三方提供。" +
	" Data delivered under this grant carries a fingerprint that identifies the recipient (keyed marks inside pseudonymised fields) and is traceable to this grant; use it only for the stated scenario and do not pass it to third parties."

func actorOf(p identity.Principal) (ledger.ActorKind, string) {
	switch {
	case p.UserID != "":
		return ledger.ActorUser, p.UserID
	case p.ClientID != "":
		return ledger.ActorClient, p.ClientID
	}
	return ledger.ActorSystem, ""
}

func badGrant(field, zh, en string) error {
	return &apperr.Error{Kind: apperr.Invalid, Code: ErrBadGrant.Code, ZH: ErrBadGrant.ZH + "：" + zh, EN: ErrBadGrant.EN + ": " + en, Field: field}
}

// Purpose lock (R-PRS-7). Data collected by public-place image capture or
// personal identity-recognition devices may be used only to maintain public
// security. The catalog has no attribute for how data was collected, so an
// entry carrying one of these tags is purpose-locked (docs/decisions/0101,
// 0102).
var PurposeLockTags = []string{
	"purpose_lock:public_security",
	"public_camera", "identity_device",
	"公共场所图像采集", "公共场所视频", "身份识别设备", "仅限公共安全",
}

// PurposeLocked reports whether r is purpose-locked to public security.
func PurposeLocked(r *catalog.Resource) bool {
	if r == nil {
		return false
	}
	for _, t := range r.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if slices.Contains(PurposeLockTags, t) {
			return true
		}
	}
	return false
}

// PublicSecurityPurpose is the prefix that marks a grant's purpose as
// maintaining public security, e.g. "public_security: 追查在逃人员" or
// "公共安全：重大活动安保". Only such grants may be made for a purpose-locked
// resource (docs/decisions/0102).
const PublicSecurityPurpose = "public_security:"

// IsPublicSecurityPurpose reports whether purpose is marked as public
// security ("public_security:" or "公共安全：" / "公共安全:") and says what for.
func IsPublicSecurityPurpose(purpose string) bool {
	purpose = strings.TrimSpace(purpose)
	for _, p := range []string{PublicSecurityPurpose, "公共安全：", "公共安全:"} {
		if rest, ok := strings.CutPrefix(purpose, p); ok {
			return strings.TrimSpace(rest) != ""
		}
	}
	return false
}

// ErrPurposeLocked refuses a grant of a purpose-locked resource that is open
// or not for public security.
var ErrPurposeLocked = apperr.New(apperr.Forbidden, "gate.purpose_locked",
	"公共场所图像采集、个人身份识别设备采集的数据仅用于维护公共安全，不得开放，也不得为其他目的共享（R-PRS-7）；公共安全用途须以“公共安全：”注明",
	"data from public-place cameras and identity devices is used only for public security: it is never opened nor shared for any other purpose (R-PRS-7); mark a public-security purpose with \"public_security:\"")

// CreateGrant validates spec against the catalog entry and records a new
// active grant in tx, with a ledger event in the same transaction. by is
// who decided it (the approver of a case, or the consumer for an
// unconditional resource). Share, open and market call it from their
// casework effects.
func (s *Service) CreateGrant(ctx context.Context, tx *store.Tx, by identity.Principal, spec GrantSpec) (*Grant, error) {
	if !slices.Contains(Kinds, spec.Kind) {
		return nil, badGrant("kind", "未知的授权类型", "unknown grant kind")
	}
	if spec.GranteeOrgID == "" && spec.Kind != KindOpen {
		return nil, badGrant("grantee_org_id", "只有开放类授权可以面向公众", "only open grants may be public")
	}
	if spec.GranteeOrgID == "" && (spec.GranteeUserID != "" || spec.GranteeClientID != "") {
		return nil, badGrant("grantee_org_id", "限定人员或客户端的授权须指明其所在单位", "a grant bound to a person or client names their org")
	}
	purpose := strings.TrimSpace(spec.Purpose)
	if purpose == "" || utf8.RuneCountInString(purpose) > 200 {
		return nil, badGrant("purpose", "须说明应用场景（不超过 200 字）", "state the application scenario (at most 200 characters)")
	}
	if len(spec.Fields) == 0 {
		return nil, badGrant("fields", "须列出所需的数据项", "list the data items needed")
	}
	res, err := s.resources.Resource(ctx, spec.ResourceID)
	if err != nil {
		return nil, err
	}
	if PurposeLocked(res) && (spec.Kind == KindOpen || !IsPublicSecurityPurpose(purpose)) {
		return nil, ErrPurposeLocked.At("purpose")
	}
	have := map[string]filter.Type{}
	for _, f := range res.Fields {
		have[f.Name] = filter.Type(f.Type)
	}
	seen := map[string]bool{}
	for _, f := range spec.Fields {
		if _, ok := have[f]; !ok {
			return nil, badGrant("fields", "数据项 "+f+" 不在目录条目中", "data item "+f+" is not in the catalog entry")
		}
		if seen[f] {
			return nil, badGrant("fields", "数据项 "+f+" 重复", "data item "+f+" is listed twice")
		}
		seen[f] = true
	}
	if spec.RowFilter != "" {
		e, err := filter.Parse(spec.RowFilter)
		if err == nil {
			err = filter.Check(e, have)
		}
		if err != nil {
			return nil, badGrant("row_filter", "行范围条件无效："+err.Error(), "invalid row filter: "+err.Error())
		}
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return nil, badGrant("expires_at", "到期时间须晚于现在", "the expiry must be in the future")
	}
	if spec.RowLimit < 0 || spec.RatePerMinute < 0 {
		return nil, badGrant("row_limit", "限额不能为负", "limits cannot be negative")
	}
	g := &Grant{
		ID: store.NewID(), ResourceID: res.ID, GranteeOrgID: spec.GranteeOrgID, GranteeClientID: spec.GranteeClientID, GranteeUserID: spec.GranteeUserID,
		Fields: slices.Clone(spec.Fields), Purpose: purpose, Kind: spec.Kind, CaseID: spec.CaseID, RowFilter: spec.RowFilter,
		RowLimit: spec.RowLimit, RatePerMinute: spec.RatePerMinute, ExpiresAt: spec.ExpiresAt.UTC(),
		Terms: strings.TrimSpace(spec.Terms + "\n" + FingerprintNotice), PseudonymScheme: PseudonymCMAC, State: Active, Revision: 1, CreatedAt: now, UpdatedAt: now,
	}
	if g.RowLimit == 0 {
		g.RowLimit = s.opts.DefaultRowLimit
	}
	if g.RatePerMinute == 0 {
		g.RatePerMinute = s.opts.DefaultRatePerMinute
	}
	_, g.CreatedBy = actorOf(by)
	fields, _ := json.Marshal(g.Fields)
	if _, err := tx.ExecContext(ctx, `INSERT INTO gate_grants (id, resource_id, grantee_org_id, grantee_client_id, fields, purpose, kind, case_id,
		row_filter, row_limit, rate_per_minute, expires_at, terms, state, state_reason, revision, created_by, created_at, updated_at, grantee_user_id, pseudonym_scheme)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,'',1,$15,$16,$16,$17,$18)`,
		g.ID, g.ResourceID, g.GranteeOrgID, g.GranteeClientID, string(fields), g.Purpose, string(g.Kind), g.CaseID,
		g.RowFilter, g.RowLimit, g.RatePerMinute, store.Micros(g.ExpiresAt), g.Terms, string(g.State), g.CreatedBy, store.Micros(now), g.GranteeUserID,
		g.PseudonymScheme); err != nil {
		return nil, fmt.Errorf("gate: create grant: %w", err)
	}
	if err := s.led.Append(ctx, tx, s.grantEvent(by, g, "gate.grant.create", "")); err != nil {
		return nil, err
	}
	s.forget(g.ResourceID)
	return g, nil
}

func (s *Service) grantEvent(by identity.Principal, g *Grant, what, reason string) ledger.Event {
	kind, id := actorOf(by)
	return ledger.Event{
		ActorKind: kind, ActorID: id, OrgID: by.OrgID, Action: ledger.Decide, Object: "grant/" + g.ID,
		ResourceID: g.ResourceID, Fields: g.Fields, Purpose: g.Purpose, GrantID: g.ID,
		Detail: ledger.DetailOf(map[string]any{
			"event": what, "grantee_org_id": g.GranteeOrgID, "grantee_client_id": g.GranteeClientID, "grantee_user_id": g.GranteeUserID, "kind": g.Kind,
			"state": g.State, "reason": reason, "case_id": g.CaseID, "expires_at": g.ExpiresAt, "row_limit": g.RowLimit,
			"rate_per_minute": g.RatePerMinute, "row_filter": g.RowFilter, "revision": g.Revision,
		}),
	}
}

// SuspendGrant suspends an active grant: calls fail with gate.grant_suspended
// until it is reinstated (R-SHR-10). reason is required and shown to the
// recipient.
func (s *Service) SuspendGrant(ctx context.Context, tx *store.Tx, by identity.Principal, id, reason string) (*Grant, error) {
	return s.transition(ctx, tx, by, id, reason, []State{Active}, Suspended, "gate.grant.suspend")
}

// ReinstateGrant returns a suspended grant to active.
func (s *Service) ReinstateGrant(ctx context.Context, tx *store.Tx, by identity.Principal, id, reason string) (*Grant, error) {
	return s.transition(ctx, tx, by, id, reason, []State{Suspended}, Active, "gate.grant.reinstate")
}

// TerminateGrant ends a grant for good.
func (s *Service) TerminateGrant(ctx context.Context, tx *store.Tx, by identity.Principal, id, reason string) (*Grant, error) {
	return s.transition(ctx, tx, by, id, reason, []State{Active, Suspended}, Terminated, "gate.grant.terminate")
}

func (s *Service) transition(ctx context.Context, tx *store.Tx, by identity.Principal, id, reason string, from []State, to State, what string) (*Grant, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 1000 {
		return nil, badGrant("reason", "须写明理由（不超过 1000 字）", "a reason is required (at most 1000 characters)")
	}
	g, err := s.loadGrant(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, g.State) {
		return nil, ErrGrantState.At(string(g.State))
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, `UPDATE gate_grants SET state = $1, state_reason = $2, revision = revision + 1, updated_at = $3 WHERE id = $4 AND revision = $5`,
		string(to), reason, store.Micros(now), g.ID, g.Revision)
	if err != nil {
		return nil, fmt.Errorf("gate: %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrGrantState.At("revision")
	}
	g.State, g.StateReason, g.Revision, g.UpdatedAt = to, reason, g.Revision+1, now
	if err := s.led.Append(ctx, tx, s.grantEvent(by, g, what, reason)); err != nil {
		return nil, err
	}
	// Drop now, before the commit, so the refusal applies at once here.
	s.forget(g.ResourceID)
	return g, nil
}

const grantCols = `id, resource_id, grantee_org_id, grantee_client_id, fields, purpose, kind, case_id, row_filter, row_limit,
	rate_per_minute, expires_at, terms, state, state_reason, revision, created_by, created_at, updated_at, grantee_user_id, pseudonym_scheme`

func scanGrant(sc interface{ Scan(...any) error }) (*Grant, error) {
	var (
		g                   Grant
		fields, kind, state string
		exp, created, upd   int64
	)
	if err := sc.Scan(&g.ID, &g.ResourceID, &g.GranteeOrgID, &g.GranteeClientID, &fields, &g.Purpose, &kind, &g.CaseID, &g.RowFilter,
		&g.RowLimit, &g.RatePerMinute, &exp, &g.Terms, &state, &g.StateReason, &g.Revision, &g.CreatedBy, &created, &upd, &g.GranteeUserID, &g.PseudonymScheme); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &g.Fields); err != nil {
		return nil, fmt.Errorf("gate: grant %s fields: %w", g.ID, err)
	}
	g.Kind, g.State = Kind(kind), State(state)
	g.ExpiresAt, g.CreatedAt, g.UpdatedAt = store.FromMicros(exp), store.FromMicros(created), store.FromMicros(upd)
	return &g, nil
}

func (s *Service) loadGrant(ctx context.Context, q store.Queryer, id string, forUpdate bool) (*Grant, error) {
	query := `SELECT ` + grantCols + ` FROM gate_grants WHERE id = $1`
	if forUpdate && s.db.Dialect == store.Postgres {
		query += ` FOR UPDATE`
	}
	g, err := scanGrant(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoGrant.At(id)
	}
	if err != nil {
		return nil, fmt.Errorf("gate: read grant: %w", err)
	}
	return g, nil
}

// Grant returns a grant by id, whoever asks: callers check who may see it.
func (s *Service) Grant(ctx context.Context, id string) (*Grant, error) {
	return s.loadGrant(ctx, s.db, id, false)
}

// GrantFilter selects grants; empty fields match anything.
type GrantFilter struct {
	ResourceID   string
	GranteeOrgID string
	State        State
	Kind         Kind
	CaseID       string
}

// Grants lists the grants f selects, newest first (at most 1000).
func (s *Service) Grants(ctx context.Context, f GrantFilter) ([]*Grant, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"resource_id", f.ResourceID}, {"grantee_org_id", f.GranteeOrgID},
		{"state", string(f.State)}, {"kind", string(f.Kind)}, {"case_id", f.CaseID}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	q := `SELECT ` + grantCols + ` FROM gate_grants`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT 1000`
	return s.queryGrants(ctx, q, args...)
}

func (s *Service) queryGrants(ctx context.Context, q string, args ...any) ([]*Grant, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("gate: list grants: %w", err)
	}
	defer rows.Close()
	var out []*Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// candidateGrants are the grants that could cover p on resource: the org's
// (and the public's), whatever their state, so a refusal can say why.
func (s *Service) candidateGrants(ctx context.Context, p identity.Principal, resourceID string) ([]*Grant, error) {
	key := p.OrgID + "\x00" + resourceID
	now := s.clock.Now()
	s.grantsMu.Lock()
	e, ok := s.grantCache[key]
	s.grantsMu.Unlock()
	if ok && now.Sub(e.at) >= 0 && now.Sub(e.at) < grantCacheTTL {
		return e.grants, nil
	}
	gs, err := s.loadCandidates(ctx, p, resourceID)
	if err != nil {
		return nil, err
	}
	s.grantsMu.Lock()
	if len(s.grantCache) > 100_000 {
		clear(s.grantCache)
	}
	s.grantCache[key] = grantCacheEntry{grants: gs, at: now}
	s.grantsMu.Unlock()
	return gs, nil
}

// grantCacheTTL bounds how long a grant change made on another replica
// takes to reach this one; changes made here drop the cache at once.
const grantCacheTTL = 500 * time.Millisecond

type grantCacheEntry struct {
	grants []*Grant
	at     time.Time
}

// forget drops cached grants of a resource, so a change made here applies
// to the next call.
func (s *Service) forget(resourceID string) {
	s.grantsMu.Lock()
	for k := range s.grantCache {
		if strings.HasSuffix(k, "\x00"+resourceID) {
			delete(s.grantCache, k)
		}
	}
	s.grantsMu.Unlock()
}

func (s *Service) loadCandidates(ctx context.Context, p identity.Principal, resourceID string) ([]*Grant, error) {
	if p.OrgID == "" {
		return s.queryGrants(ctx, `SELECT `+grantCols+` FROM gate_grants WHERE grantee_org_id = '' AND resource_id = $1`, resourceID)
	}
	return s.queryGrants(ctx, `SELECT `+grantCols+` FROM gate_grants WHERE grantee_org_id IN ('', $1) AND resource_id = $2`, p.OrgID, resourceID)
}
