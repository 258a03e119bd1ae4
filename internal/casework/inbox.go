package casework

import (
	"context"
	"fmt"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// View selects an inbox.
type View string

const (
	ViewAll      View = ""         // every case p may see
	ViewAwaiting View = "awaiting" // open cases where p is an active assignee
	ViewFiled    View = "filed"    // cases p filed
	ViewOrg      View = "org"      // cases filed by, about, or assigned to p's org
)

// Query filters a case list. Every filter narrows what the caller may see
// anyway; none widens it.
type Query struct {
	View  View
	Kind  string
	State State
	// Overdue, when set, keeps only overdue (true) or not overdue (false) cases.
	Overdue *bool
	// OrgID keeps cases filed by or about this org.
	OrgID string
	// Assignee keeps cases with this active assignee (exact match).
	Assignee *Assignee
	// Since, when set, keeps cases filed at or after it (by the engine's
	// clock, as Case.CreatedAt).
	Since time.Time
	// After is the id of the last case of the previous page; pages run
	// newest first.
	After string
	Limit int
}

var errBadView = apperr.New(apperr.Invalid, "casework.bad_view", "未知的收件箱视图（可选 awaiting、filed、org）", "unknown inbox view (use awaiting, filed or org)")

// List returns the cases p may see that match q, newest first, and the
// cursor of the next page ("" at the end). Kinds' extra CanView rules are not
// applied here (they are Go functions); such cases are reachable by Get.
func (e *Engine) List(ctx context.Context, p identity.Principal, q Query) ([]*Case, string, error) {
	if !p.Authenticated() {
		return nil, "", apperr.ErrAuth
	}
	limit := clampLimit(q.Limit)
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	// Every parameter is allocated on first use: PostgreSQL cannot type a
	// parameter that the query never mentions.
	memo := map[string]string{}
	once := func(key string, build func() string) string {
		if v, ok := memo[key]; ok {
			return v
		}
		v := build()
		memo[key] = v
		return v
	}
	me := func() string { return once("me", func() string { return arg(actorID(p)) }) }
	org := func() string { return once("org", func() string { return arg(p.OrgID) }) }
	// matchAssignee is an assignee row (alias a) that p answers to.
	matchAssignee := func() string {
		return once("assignee", func() string {
			if len(p.Roles) == 0 {
				return `(a.user_id = ` + me() + `)`
			}
			return `(a.user_id = ` + me() + ` OR (a.user_id = '' AND (a.org_id = '' OR a.org_id = ` + org() +
				`) AND a.role IN (` + placeholders(&args, rolesAny(p.Roles)) + `)))`
		})
	}
	targetClause := func() string {
		return once("target", func() string {
			kinds := e.kindsWhere(func(k *Kind) bool { return k.TargetOrgSees })
			if len(kinds) == 0 || p.OrgID == "" {
				return `1 = 0`
			}
			return `(c.target_org = ` + org() + ` AND c.kind IN (` + placeholders(&args, kinds) + `))`
		})
	}
	// applicantOrg is a case filed by p's org that p's colleagues may see.
	applicantOrg := func() string {
		return once("applicantOrg", func() string {
			if p.OrgID == "" {
				return `1 = 0`
			}
			private := e.kindsWhere(func(k *Kind) bool { return k.ApplicantOnly })
			if len(private) == 0 {
				return `c.applicant_org = ` + org()
			}
			return `(c.applicant_org = ` + org() + ` AND c.kind NOT IN (` + placeholders(&args, private) + `))`
		})
	}
	var conds []string
	if !p.HasAny(identity.RoleAuthorityAdmin, identity.RoleCityGovernment) {
		orgClause := applicantOrg()
		conds = append(conds, `(c.applicant_id = `+me()+` OR `+orgClause+` OR `+targetClause()+
			` OR EXISTS (SELECT 1 FROM case_assignees a WHERE a.case_id = c.id AND `+matchAssignee()+`))`)
	}
	switch q.View {
	case ViewAll:
	case ViewAwaiting:
		conds = append(conds, `c.phase <> 'closed' AND EXISTS (SELECT 1 FROM case_assignees a WHERE a.case_id = c.id AND a.active = 1 AND `+matchAssignee()+`)`)
	case ViewFiled:
		conds = append(conds, `c.applicant_id = `+me())
	case ViewOrg:
		if p.OrgID == "" {
			return nil, "", nil
		}
		conds = append(conds, `(`+applicantOrg()+` OR `+targetClause()+
			` OR EXISTS (SELECT 1 FROM case_assignees a WHERE a.case_id = c.id AND a.org_id = `+org()+`))`)
	default:
		return nil, "", errBadView.At("view")
	}
	if q.Kind != "" {
		conds = append(conds, `c.kind = `+arg(q.Kind))
	}
	if q.State != "" {
		conds = append(conds, `c.state = `+arg(string(q.State)))
	}
	if q.OrgID != "" {
		o := arg(q.OrgID)
		conds = append(conds, `(c.applicant_org = `+o+` OR c.target_org = `+o+`)`)
	}
	if q.Assignee != nil {
		conds = append(conds, `EXISTS (SELECT 1 FROM case_assignees x WHERE x.case_id = c.id AND x.active = 1 AND x.org_id = `+
			arg(q.Assignee.OrgID)+` AND x.role = `+arg(string(q.Assignee.Role))+` AND x.user_id = `+arg(q.Assignee.UserID)+`)`)
	}
	if q.Overdue != nil {
		overdue := `(c.phase = 'active' AND c.deadline > 0 AND c.deadline <= ` + arg(store.Micros(e.clock.Now())) + `)`
		if *q.Overdue {
			conds = append(conds, overdue)
		} else {
			conds = append(conds, `NOT `+overdue)
		}
	}
	if !q.Since.IsZero() {
		conds = append(conds, `c.created_at >= `+arg(store.Micros(q.Since)))
	}
	if q.After != "" {
		conds = append(conds, `c.id < `+arg(q.After))
	}
	where := ""
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	query := `SELECT ` + prefixed(caseColumns, "c.") + ` FROM cases c` + where + ` ORDER BY c.id DESC LIMIT ` + arg(limit+1)
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("casework: list: %w", err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	if err := e.loadAssignees(ctx, e.db, out); err != nil {
		return nil, "", err
	}
	for _, c := range out {
		e.decorate(c)
	}
	return out, next, nil
}

func (e *Engine) kindsWhere(pred func(*Kind) bool) []any {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []any
	for name, k := range e.kinds {
		if pred(k) {
			out = append(out, name)
		}
	}
	return out
}

func prefixed(cols, prefix string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
