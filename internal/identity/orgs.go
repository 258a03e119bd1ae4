package identity

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// Org is an organisation on the platform.
type Org struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	NameEN     string    `json:"name_en,omitempty"`
	Kind       OrgKind   `json:"kind"`
	CreditCode string    `json:"credit_code"`
	ParentID   string    `json:"parent_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewOrg is what CreateOrg needs.
type NewOrg struct {
	Name       string  `json:"name"`
	NameEN     string  `json:"name_en,omitempty"`
	Kind       OrgKind `json:"kind"`
	CreditCode string  `json:"credit_code"`
	ParentID   string  `json:"parent_id,omitempty"`
}

// OrgFilter narrows ListOrgs: by kind, and by a query that matches the
// Chinese or English name (substring, case-insensitive) or the credit code.
type OrgFilter struct {
	Kind  OrgKind
	Query string
}

// Valid reports whether k is a known org kind.
func (k OrgKind) Valid() bool { return slices.Contains(OrgKinds, k) }

const maxNameLen = 200

func checkName(v, field string) error {
	if strings.TrimSpace(v) == "" {
		return apperr.Invalidf("identity.name_required", field, "名称不能为空", "a name is required")
	}
	if utf8.RuneCountInString(v) > maxNameLen || !utf8.ValidString(v) {
		return apperr.Invalidf("identity.name_too_long", field, "名称不能超过 %d 个字符", "a name has at most %d characters", maxNameLen)
	}
	return nil
}

// checkNewOrg validates and canonicalises in (trimmed names, upper-case
// credit code).
func checkNewOrg(in *NewOrg) error {
	in.Name = strings.TrimSpace(in.Name)
	in.NameEN = strings.TrimSpace(in.NameEN)
	in.CreditCode = strings.ToUpper(strings.TrimSpace(in.CreditCode))
	in.ParentID = strings.TrimSpace(in.ParentID)
	if err := checkName(in.Name, "name"); err != nil {
		return err
	}
	if in.NameEN != "" {
		if err := checkName(in.NameEN, "name_en"); err != nil {
			return err
		}
	}
	if !in.Kind.Valid() {
		return apperr.Invalidf("identity.org_kind_invalid", "kind", "未知机构类型 %q", "unknown organisation kind %q", string(in.Kind))
	}
	return ValidCreditCode(in.CreditCode)
}

// CreateOrg registers an organisation. Only an authority_admin may; the one
// authority of the platform is created by Bootstrap.
func (s *Service) CreateOrg(ctx context.Context, actor Principal, in NewOrg) (Org, error) {
	if !actor.Has(RoleAuthorityAdmin) {
		return Org{}, ErrForbiddenRole
	}
	if err := checkNewOrg(&in); err != nil {
		return Org{}, err
	}
	var org Org
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		org, err = s.insertOrg(ctx, tx, in)
		if err != nil {
			return err
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "org/"+org.ID, map[string]any{
			"op": "org.create", "name": org.Name, "kind": org.Kind, "credit_code": org.CreditCode, "parent_id": org.ParentID,
		}))
	})
	return org, err
}

func (s *Service) insertOrg(ctx context.Context, tx *store.Tx, in NewOrg) (Org, error) {
	if in.Kind == KindAuthority {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identity_orgs WHERE kind = $1`, string(KindAuthority)).Scan(&n); err != nil {
			return Org{}, internal("count authorities", err)
		}
		if n > 0 {
			return Org{}, ErrAuthorityExists
		}
	}
	var parent sql.NullString
	if in.ParentID != "" {
		if _, err := getOrg(ctx, tx, in.ParentID); err != nil {
			if errors.Is(err, ErrOrgNotFound) {
				return Org{}, ErrOrgNotFound.At("parent_id")
			}
			return Org{}, err
		}
		parent = sql.NullString{String: in.ParentID, Valid: true}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identity_orgs WHERE credit_code = $1`, in.CreditCode).Scan(&n); err != nil {
		return Org{}, internal("check credit code", err)
	}
	if n > 0 {
		return Org{}, ErrCreditCodeTaken
	}
	org := Org{ID: store.NewID(), Name: in.Name, NameEN: in.NameEN, Kind: in.Kind, CreditCode: in.CreditCode,
		ParentID: in.ParentID, CreatedAt: store.FromMicros(store.Micros(s.clk.Now()))}
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_orgs (id, name, name_en, kind, credit_code, parent_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		org.ID, org.Name, org.NameEN, string(org.Kind), org.CreditCode, parent, store.Micros(org.CreatedAt))
	if err != nil {
		if store.IsUniqueViolation(err) {
			// A concurrent insert won the race the checks above lost.
			if strings.Contains(err.Error(), "credit_code") {
				return Org{}, ErrCreditCodeTaken
			}
			return Org{}, ErrAuthorityExists
		}
		return Org{}, internal("insert org", err)
	}
	return org, nil
}

const orgColumns = `id, name, name_en, kind, credit_code, parent_id, created_at`

func scanOrg(row interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var parent sql.NullString
	var created int64
	var kind string
	if err := row.Scan(&o.ID, &o.Name, &o.NameEN, &kind, &o.CreditCode, &parent, &created); err != nil {
		return Org{}, err
	}
	o.Kind = OrgKind(kind)
	o.ParentID = parent.String
	o.CreatedAt = store.FromMicros(created)
	return o, nil
}

func getOrg(ctx context.Context, q store.Queryer, id string) (Org, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM identity_orgs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, ErrOrgNotFound
	}
	if err != nil {
		return Org{}, internal("get org", err)
	}
	return o, nil
}

// GetOrg returns an organisation by id.
func (s *Service) GetOrg(ctx context.Context, id string) (Org, error) {
	return getOrg(ctx, s.db, id)
}

// Authority returns the platform's authority org, or ErrOrgNotFound before
// bootstrap.
func (s *Service) Authority(ctx context.Context) (Org, error) {
	o, err := scanOrg(s.db.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM identity_orgs WHERE kind = $1`, string(KindAuthority)))
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, ErrOrgNotFound
	}
	if err != nil {
		return Org{}, internal("get authority", err)
	}
	return o, nil
}

// ListOrgs lists organisations in id (creation) order, limit at a time
// (default 50, at most 500), after the cursor after. next is the cursor of the
// following page, "" on the last page.
func (s *Service) ListOrgs(ctx context.Context, f OrgFilter, after string, limit int) ([]Org, string, error) {
	limit = pageLimit(limit)
	q := `SELECT ` + orgColumns + ` FROM identity_orgs WHERE id > $1`
	args := []any{after}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, "", apperr.Invalidf("identity.org_kind_invalid", "kind", "未知机构类型 %q", "unknown organisation kind %q", string(f.Kind))
		}
		args = append(args, string(f.Kind))
		q += ` AND kind = $2`
	}
	if query := strings.TrimSpace(f.Query); query != "" {
		if utf8.RuneCountInString(query) > maxNameLen {
			return nil, "", apperr.Invalidf("identity.query_too_long", "q", "查询过长", "the query is too long")
		}
		pat := "%" + likeEscaper.Replace(strings.ToLower(query)) + "%"
		n := len(args)
		args = append(args, pat, strings.ToUpper(query))
		q += ` AND (lower(name) LIKE $` + itoa(n+1) + ` ESCAPE '\' OR lower(name_en) LIKE $` + itoa(n+1) + ` ESCAPE '\' OR credit_code = $` + itoa(n+2) + `)`
	}
	args = append(args, limit+1)
	q += ` ORDER BY id LIMIT $` + itoa(len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", internal("list orgs", err)
	}
	defer rows.Close()
	out := []Org{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, "", internal("list orgs", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal("list orgs", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func itoa(n int) string { return strconv.Itoa(n) }
