package share

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// DemandStatus is where a need on the demand list is.
type DemandStatus string

const (
	DemandOpen       DemandStatus = "open"       // posted, not yet answered
	DemandCataloging DemandStatus = "cataloging" // an org was asked to catalog the data
	DemandMatched    DemandStatus = "matched"    // matched to a catalog entry
	DemandClosed     DemandStatus = "closed"     // withdrawn or closed unmet
)

// Demand is a data need on the demand list (供需对接, SZ13, R-SHR-7).
type Demand struct {
	ID          string       `json:"id"`
	OrgID       string       `json:"org_id"`
	CreatedBy   string       `json:"created_by"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Scenario    string       `json:"scenario"`
	LegalDuty   string       `json:"legal_duty,omitempty"`
	Items       []string     `json:"items"`
	Status      DemandStatus `json:"status"`
	// ResourceID is the matched entry; AskedOrgID the org asked to catalog it.
	ResourceID string    `json:"resource_id,omitempty"`
	AskedOrgID string    `json:"asked_org_id,omitempty"`
	Note       string    `json:"note,omitempty"`
	DecidedBy  string    `json:"decided_by,omitempty"`
	Revision   int       `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DemandInput is a need an org posts.
type DemandInput struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Scenario    string   `json:"scenario"`
	LegalDuty   string   `json:"legal_duty,omitempty"`
	Items       []string `json:"items"`
}

func actor(p identity.Principal) (ledger.ActorKind, string) {
	if p.UserID != "" {
		return ledger.ActorUser, p.UserID
	}
	return ledger.ActorClient, p.ClientID
}

func (s *Service) demandEvent(ctx context.Context, tx *store.Tx, p identity.Principal, d *Demand, what string) error {
	kind, id := actor(p)
	return s.led.Append(ctx, tx, ledger.Event{
		ActorKind: kind, ActorID: id, OrgID: p.OrgID, Action: ledger.Decide, Object: "share_demand/" + d.ID,
		ResourceID: d.ResourceID, Purpose: d.Scenario,
		Detail: ledger.DetailOf(map[string]any{"event": what, "status": d.Status, "org_id": d.OrgID, "asked_org_id": d.AskedOrgID, "revision": d.Revision}),
	})
}

// PostDemand puts a need of p's org on the demand list.
func (s *Service) PostDemand(ctx context.Context, p identity.Principal, in DemandInput) (*Demand, error) {
	if err := canRequest(p); err != nil {
		return nil, err
	}
	d := &Demand{ID: store.NewID(), OrgID: p.OrgID, Status: DemandOpen, Revision: 1}
	_, d.CreatedBy = actor(p)
	var err error
	if d.Title, err = text("title", in.Title, 200, true); err != nil {
		return nil, err
	}
	if d.Description, err = text("description", in.Description, 5000, true); err != nil {
		return nil, err
	}
	if d.Scenario, err = text("scenario", in.Scenario, 200, true); err != nil {
		return nil, err
	}
	if d.LegalDuty, err = text("legal_duty", in.LegalDuty, 500, false); err != nil {
		return nil, err
	}
	if len(in.Items) == 0 || len(in.Items) > 200 {
		return nil, ErrFields.At("items")
	}
	for i, it := range in.Items {
		v, err := text("items["+strconv.Itoa(i)+"]", it, 100, true)
		if err != nil {
			return nil, err
		}
		d.Items = append(d.Items, v)
	}
	d.CreatedAt = s.now()
	d.UpdatedAt = d.CreatedAt
	items, _ := json.Marshal(d.Items)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO share_demands (id, org_id, created_by, title, description, scenario, legal_duty, items,
			status, revision, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,1,$10,$10)`,
			d.ID, d.OrgID, d.CreatedBy, d.Title, d.Description, d.Scenario, d.LegalDuty, string(items), string(d.Status), store.Micros(d.CreatedAt)); err != nil {
			return fmt.Errorf("share: post demand: %w", err)
		}
		return s.demandEvent(ctx, tx, p, d, "share.demand.post")
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

const demandCols = `id, org_id, created_by, title, description, scenario, legal_duty, items, status, resource_id, asked_org_id, note,
	decided_by, revision, created_at, updated_at`

func scanDemand(sc interface{ Scan(...any) error }) (*Demand, error) {
	var (
		d             Demand
		items, status string
		created, upd  int64
	)
	if err := sc.Scan(&d.ID, &d.OrgID, &d.CreatedBy, &d.Title, &d.Description, &d.Scenario, &d.LegalDuty, &items, &status,
		&d.ResourceID, &d.AskedOrgID, &d.Note, &d.DecidedBy, &d.Revision, &created, &upd); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &d.Items); err != nil {
		return nil, fmt.Errorf("share: demand %s items: %w", d.ID, err)
	}
	d.Status = DemandStatus(status)
	d.CreatedAt, d.UpdatedAt = store.FromMicros(created), store.FromMicros(upd)
	return &d, nil
}

// canSeeDemands: the demand list is for the orgs that share public data
// and for the authority.
func canSeeDemands(p identity.Principal) bool {
	return p.Authenticated() && (sharingOrg(p) || p.OrgKind == identity.KindAuthority || isAuthority(p))
}

// DemandQuery selects demands.
type DemandQuery struct {
	Status DemandStatus
	// OrgID keeps one org's demands; Asked those referred to p's org.
	OrgID string
	Asked bool
	// After is the id of the last demand of the previous page.
	After string
	Limit int
}

// Demands lists the demand list, newest first.
func (s *Service) Demands(ctx context.Context, p identity.Principal, q DemandQuery) ([]*Demand, string, error) {
	if !canSeeDemands(p) {
		if !p.Authenticated() {
			return nil, "", apperr.ErrAuth
		}
		return nil, "", ErrNotSharing
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(string(q.Status)))
	}
	if q.OrgID != "" {
		where = append(where, "org_id = "+arg(q.OrgID))
	}
	if q.Asked {
		where = append(where, "asked_org_id = "+arg(p.OrgID))
	}
	if q.After != "" {
		var at int64
		if err := s.db.QueryRowContext(ctx, `SELECT created_at FROM share_demands WHERE id = $1`, q.After).Scan(&at); err != nil {
			return nil, "", apperr.Invalidf("share.bad_cursor", "cursor", "分页游标无效", "invalid cursor")
		}
		c1, c2 := arg(at), arg(q.After)
		where = append(where, "(created_at < "+c1+" OR (created_at = "+c1+" AND id < "+c2+"))")
	}
	query := `SELECT ` + demandCols + ` FROM share_demands`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("share: demands: %w", err)
	}
	defer rows.Close()
	var out []*Demand
	for rows.Next() {
		d, err := scanDemand(rows)
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
		next = out[limit-1].ID
	}
	return out, next, nil
}

func (s *Service) loadDemand(ctx context.Context, q store.Queryer, id string, forUpdate bool) (*Demand, error) {
	query := `SELECT ` + demandCols + ` FROM share_demands WHERE id = $1`
	if forUpdate && s.db.Dialect == store.Postgres {
		query += ` FOR UPDATE`
	}
	d, err := scanDemand(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound.At(id)
	}
	if err != nil {
		return nil, fmt.Errorf("share: demand: %w", err)
	}
	return d, nil
}

// Demand returns one demand.
func (s *Service) Demand(ctx context.Context, p identity.Principal, id string) (*Demand, error) {
	if !canSeeDemands(p) {
		if !p.Authenticated() {
			return nil, apperr.ErrAuth
		}
		return nil, ErrNotSharing
	}
	return s.loadDemand(ctx, s.db, id, false)
}

// MatchDemand matches a need to a published catalog entry: the authority,
// or the org that was asked to catalog it, pointing at its new entry. The
// poster can then obtain or request the entry.
func (s *Service) MatchDemand(ctx context.Context, p identity.Principal, id, resourceID, note string) (*Demand, error) {
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	if note, err = text("note", note, 2000, false); err != nil {
		return nil, err
	}
	return s.changeDemand(ctx, p, id, "share.demand.match", func(d *Demand) error {
		askedOrg := d.Status == DemandCataloging && isProvider(p, d.AskedOrgID) && res.OrgID == d.AskedOrgID
		if !isAuthority(p) && !askedOrg {
			return ErrRole
		}
		if d.Status != DemandOpen && d.Status != DemandCataloging {
			return ErrDemandState.At(string(d.Status))
		}
		d.Status, d.ResourceID, d.Note = DemandMatched, res.ID, note
		return nil
	})
}

// AskToCatalog refers a need the catalog does not meet to the org that
// holds the data, asking it to catalog it (the authority only).
func (s *Service) AskToCatalog(ctx context.Context, p identity.Principal, id, orgID, note string) (*Demand, error) {
	orgID = strings.TrimSpace(orgID)
	if orgID == "" {
		return nil, ErrText.At("org_id")
	}
	if s.opts.Orgs != nil {
		o, err := s.opts.Orgs(ctx, orgID)
		if err != nil {
			return nil, ErrNotFound.At("org_id")
		}
		if o.Kind != identity.KindDepartment && o.Kind != identity.KindPublicService {
			return nil, ErrNotSharing.At("org_id")
		}
	}
	var err error
	if note, err = text("note", note, 2000, true); err != nil {
		return nil, err
	}
	return s.changeDemand(ctx, p, id, "share.demand.ask", func(d *Demand) error {
		if !isAuthority(p) {
			return ErrRole
		}
		if d.Status != DemandOpen && d.Status != DemandCataloging {
			return ErrDemandState.At(string(d.Status))
		}
		d.Status, d.AskedOrgID, d.Note = DemandCataloging, orgID, note
		return nil
	})
}

// CloseDemand closes a need unmet: its poster withdraws it, or the
// authority closes it with a reason.
func (s *Service) CloseDemand(ctx context.Context, p identity.Principal, id, reason string) (*Demand, error) {
	reason, err := text("reason", reason, 2000, true)
	if err != nil {
		return nil, err
	}
	return s.changeDemand(ctx, p, id, "share.demand.close", func(d *Demand) error {
		if !isAuthority(p) && !(p.OrgID == d.OrgID && canRequest(p) == nil) {
			return ErrRole
		}
		if d.Status == DemandMatched || d.Status == DemandClosed {
			return ErrDemandState.At(string(d.Status))
		}
		d.Status, d.Note = DemandClosed, reason
		return nil
	})
}

func (s *Service) changeDemand(ctx context.Context, p identity.Principal, id, what string, change func(d *Demand) error) (*Demand, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	var out *Demand
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		d, err := s.loadDemand(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := change(d); err != nil {
			return err
		}
		_, d.DecidedBy = actor(p)
		d.UpdatedAt = s.now()
		res, err := tx.ExecContext(ctx, `UPDATE share_demands SET status = $1, resource_id = $2, asked_org_id = $3, note = $4, decided_by = $5,
			revision = revision + 1, updated_at = $6 WHERE id = $7 AND revision = $8`,
			string(d.Status), d.ResourceID, d.AskedOrgID, d.Note, d.DecidedBy, store.Micros(d.UpdatedAt), d.ID, d.Revision)
		if err != nil {
			return fmt.Errorf("share: demand: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrDemandState.At("revision")
		}
		d.Revision++
		out = d
		return s.demandEvent(ctx, tx, p, d, what)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
