package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// Party is who filed a case: a person (Kind "user") or an org's API client
// (Kind "client"), and their org.
type Party struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
}

// Target is what a case is about: Type "org", "resource", "listing", …, its
// ID, and the org responsible for it (for an org, the org itself).
type Target struct {
	Type  string `json:"type,omitempty"`
	ID    string `json:"id,omitempty"`
	OrgID string `json:"org_id,omitempty"`
}

// Decision is the outcome of a decided case with its written reason.
type Decision struct {
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Case is one request that someone decides.
type Case struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Title     string          `json:"title"`
	Applicant Party           `json:"applicant"`
	Target    Target          `json:"target"`
	Payload   json.RawMessage `json:"payload"`
	State     State           `json:"state"`
	Phase     Phase           `json:"phase"`
	// Assignees are who must act now.
	Assignees []Assignee `json:"assignees"`
	// Deadline is the end of the last working day to act (exclusive).
	Deadline *time.Time `json:"deadline,omitempty"`
	Overdue  bool       `json:"overdue"`
	// PausedAt is when the case was returned to its applicant; PausedDays
	// totals the working days it has spent returned.
	PausedAt   *time.Time `json:"paused_at,omitempty"`
	PausedDays int        `json:"paused_days"`
	// Level is the escalation level: 0 is the kind's first responders,
	// 1 the first level of its chain, and so on.
	Level     int       `json:"level"`
	LevelName string    `json:"level_name,omitempty"`
	MaxLevel  int       `json:"max_level"`
	Decision  *Decision `json:"decision,omitempty"`
	// Actions lists the actions the caller may take now (set by Get).
	Actions   []string  `json:"actions,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"`
	// History is every step, oldest first (set by Get).
	History []Entry `json:"history,omitempty"`

	resumeState State
}

// Entry is one line of a case's history.
type Entry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	ActorKind string          `json:"actor_kind"`
	ActorID   string          `json:"actor_id,omitempty"`
	ActorOrg  string          `json:"actor_org,omitempty"`
	Action    string          `json:"action"`
	From      State           `json:"from,omitempty"`
	To        State           `json:"to,omitempty"`
	Level     int             `json:"level"`
	Body      string          `json:"body,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
}

const caseColumns = `id, kind, title, state, phase, applicant_kind, applicant_id, applicant_org,
	target_type, target_id, target_org, payload, level, max_level, deadline, paused_at, paused_days,
	resume_state, outcome, reason, decided_by, decided_at, created_at, updated_at, version`

type scanner interface{ Scan(dest ...any) error }

func scanCase(row scanner) (*Case, error) {
	var c Case
	var payload string
	var deadline, pausedAt, decidedAt, created, updated int64
	var outcome, reason, decidedBy, resume string
	err := row.Scan(&c.ID, &c.Kind, &c.Title, &c.State, &c.Phase, &c.Applicant.Kind, &c.Applicant.ID, &c.Applicant.OrgID,
		&c.Target.Type, &c.Target.ID, &c.Target.OrgID, &payload, &c.Level, &c.MaxLevel, &deadline, &pausedAt, &c.PausedDays,
		&resume, &outcome, &reason, &decidedBy, &decidedAt, &created, &updated, &c.Version)
	if err != nil {
		return nil, err
	}
	c.Payload = json.RawMessage(payload)
	if deadline != 0 {
		t := store.FromMicros(deadline)
		c.Deadline = &t
	}
	if pausedAt != 0 {
		t := store.FromMicros(pausedAt)
		c.PausedAt = &t
	}
	if outcome != "" {
		c.Decision = &Decision{Outcome: Outcome(outcome), Reason: reason, By: decidedBy, At: store.FromMicros(decidedAt)}
	}
	c.resumeState = State(resume)
	c.CreatedAt = store.FromMicros(created)
	c.UpdatedAt = store.FromMicros(updated)
	return &c, nil
}

var (
	ErrNotFound      = apperr.New(apperr.NotFound, "casework.not_found", "未找到该案件", "case not found")
	ErrUnknownKind   = apperr.New(apperr.Invalid, "casework.unknown_kind", "未知的案件类型", "unknown case kind")
	ErrUnknownAction = apperr.New(apperr.Invalid, "casework.unknown_action", "该类案件没有此操作", "this kind of case has no such action")
	ErrWrongState    = apperr.New(apperr.Conflict, "casework.wrong_state", "案件当前状态不允许此操作", "the case is not in a state that allows this action")
	ErrNotYourTurn   = apperr.New(apperr.Forbidden, "casework.forbidden_action", "您无权对该案件执行此操作", "you may not take this action on this case")
	ErrCannotFile    = apperr.New(apperr.Forbidden, "casework.forbidden_filing", "您无权提交此类案件", "you may not file this kind of case")
	// ErrReasonRequired is returned for a refusal (or any action that needs
	// one) without a written reason (XM26: 拒绝共享的，应当提供书面理由).
	ErrReasonRequired = apperr.New(apperr.Invalid, "casework.reason_required", "该操作须提供书面理由", "this action requires a written reason")
	ErrReasonTooLong  = apperr.New(apperr.Invalid, "casework.reason_too_long", "理由过长（最多 20000 字）", "the reason is too long (at most 20000 characters)")
	ErrConcurrent     = apperr.New(apperr.Conflict, "casework.concurrent_update", "案件已被他人更新，请刷新后重试", "the case was changed by someone else; reload and try again")
	ErrNoHigherLevel  = apperr.New(apperr.Conflict, "casework.no_higher_level", "案件已在最高督办层级", "the case is already at the highest escalation level")
	ErrBadTarget      = apperr.New(apperr.Invalid, "casework.bad_target", "案件对象无效", "invalid case target")
	ErrBadPayload     = apperr.New(apperr.Invalid, "casework.bad_payload", "案件内容须为 JSON 对象", "the case payload must be a JSON object")
	ErrTitle          = apperr.New(apperr.Invalid, "casework.bad_title", "标题须为 1 到 200 字", "the title must be 1 to 200 characters")
	ErrCommentEmpty   = apperr.New(apperr.Invalid, "casework.comment_empty", "评论内容不能为空", "the comment is empty")
)

func (e *Engine) loadCase(ctx context.Context, q store.Queryer, id string, forUpdate bool) (*Case, error) {
	query := `SELECT ` + caseColumns + ` FROM cases WHERE id = $1`
	if forUpdate && e.db.Dialect == store.Postgres {
		query += ` FOR UPDATE`
	}
	c, err := scanCase(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("casework: load case: %w", err)
	}
	if err := e.loadAssignees(ctx, q, []*Case{c}); err != nil {
		return nil, err
	}
	e.decorate(c)
	return c, nil
}

// decorate fills the computed fields.
func (e *Engine) decorate(c *Case) {
	c.Overdue = c.Phase == PhaseActive && c.Deadline != nil && !e.clock.Now().Before(*c.Deadline)
	if k, ok := e.kind(c.Kind); ok && c.Level > 0 && c.Level <= len(k.Escalation) {
		c.LevelName = k.Escalation[c.Level-1].Name
	}
	if c.Assignees == nil {
		c.Assignees = []Assignee{}
	}
}

func (e *Engine) loadAssignees(ctx context.Context, q store.Queryer, cases []*Case) error {
	if len(cases) == 0 {
		return nil
	}
	byID := map[string]*Case{}
	args := make([]any, 0, len(cases))
	ph := ""
	for i, c := range cases {
		byID[c.ID] = c
		args = append(args, c.ID)
		if i > 0 {
			ph += ", "
		}
		ph += fmt.Sprintf("$%d", i+1)
	}
	rows, err := q.QueryContext(ctx, `SELECT case_id, org_id, role, user_id FROM case_assignees
		WHERE active = 1 AND case_id IN (`+ph+`) ORDER BY case_id, user_id, org_id, role`, args...)
	if err != nil {
		return fmt.Errorf("casework: load assignees: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a Assignee
		if err := rows.Scan(&id, &a.OrgID, &a.Role, &a.UserID); err != nil {
			return err
		}
		byID[id].Assignees = append(byID[id].Assignees, a)
	}
	return rows.Err()
}

// canView is the engine's visibility rule: the applicant and their org, the
// target org when the kind allows it, anyone who is or was an assignee, the
// authority's administrators and the city government (who oversee all
// casework), and whoever the kind's CanView admits.
func (e *Engine) canView(ctx context.Context, q store.Queryer, p identity.Principal, c *Case) (bool, error) {
	if !p.Authenticated() {
		return false, nil
	}
	k, _ := e.kind(c.Kind)
	if actorID(p) == c.Applicant.ID || (p.OrgID != "" && p.OrgID == c.Applicant.OrgID && (k == nil || !k.ApplicantOnly)) {
		return true, nil
	}
	if p.HasAny(identity.RoleAuthorityAdmin, identity.RoleCityGovernment) {
		return true, nil
	}
	if k != nil && k.TargetOrgSees && c.Target.OrgID != "" && c.Target.OrgID == p.OrgID {
		return true, nil
	}
	if k != nil && k.CanView != nil && k.CanView(p, c) {
		return true, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT org_id, role, user_id FROM case_assignees WHERE case_id = $1`, c.ID)
	if err != nil {
		return false, fmt.Errorf("casework: assignees: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Assignee
		if err := rows.Scan(&a.OrgID, &a.Role, &a.UserID); err != nil {
			return false, err
		}
		if a.Matches(p) {
			return true, nil
		}
	}
	return false, rows.Err()
}
