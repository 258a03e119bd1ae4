// Package casework is the one engine for every request that someone decides
// (DESIGN.md rule 3): share requests, open-data applications, rectification
// orders, complaints and the rest are cases with an applicant, a target, a
// validated payload, a state machine, assignees, a deadline counted in working
// days, a history, and a decision with its reason. Kinds plug in with
// (*Engine).Register; every step is a ledger decide event written in the same
// transaction as the change.
package casework

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure the engine. The zero value is usable: no email, no
// webhook, 10 MiB attachments.
type Options struct {
	// MaxAttachment bounds one attachment in bytes (default 10 MiB).
	MaxAttachment int64
	// Webhook, when its URL is set, receives every notification as a signed
	// JSON POST.
	Webhook WebhookConfig
	// SMTP, when its Addr is set, emails every notification.
	SMTP SMTPConfig
	// AddressBook resolves a notification's recipient to email addresses
	// (identity knows people's addresses; casework does not). When nil, or
	// when it returns none, mail goes to SMTP.To.
	AddressBook func(ctx context.Context, r Recipient) ([]string, error)
	// MaxAttempts bounds deliveries per notification and channel (default 8);
	// RetryBase is the first back-off (default 30s), doubling each time.
	MaxAttempts int
	RetryBase   time.Duration
	// HTTPClient sends webhooks (default: 10s timeout).
	HTTPClient *http.Client
	Log        *slog.Logger
	// NoBuiltinKinds skips registering rectification_order and complaint.
	NoBuiltinKinds bool
	// ComplaintDays and RectificationReviewDays override the built-in kinds'
	// deadlines (defaults 15 and 10 working days).
	ComplaintDays           int
	RectificationReviewDays int
}

// Engine runs cases.
type Engine struct {
	db    *store.DB
	led   *ledger.Ledger
	clock clock.Clock
	cal   *Calendar
	opts  Options
	log   *slog.Logger

	mu    sync.RWMutex
	kinds map[string]*Kind

	kick chan struct{}
}

// New returns the engine over db, migrating its tables, and registers the
// built-in kinds rectification_order (R-GOV-3) and complaint (R-SEC-11)
// unless opts.NoBuiltinKinds. cal nil means DefaultCalendar().
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, cal *Calendar, opts Options) (*Engine, error) {
	if err := db.Migrate(ctx, "casework", migrations, "migrations"); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if cal == nil {
		cal = DefaultCalendar()
	}
	if opts.MaxAttachment <= 0 {
		opts.MaxAttachment = 10 << 20
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 30 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	e := &Engine{db: db, led: led, clock: clk, cal: cal, opts: opts, log: opts.Log, kinds: map[string]*Kind{}, kick: make(chan struct{}, 1)}
	if !opts.NoBuiltinKinds {
		if err := e.Register(RectificationOrder(opts.RectificationReviewDays)); err != nil {
			return nil, err
		}
		if err := e.Register(Complaint(opts.ComplaintDays)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Calendar returns the engine's working-day calendar.
func (e *Engine) Calendar() *Calendar { return e.cal }

// Register adds a kind. Registering a name twice is an error.
func (e *Engine) Register(k Kind) error {
	if err := k.check(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.kinds[k.Name]; ok {
		return fmt.Errorf("casework: kind %s is already registered", k.Name)
	}
	kk := k
	e.kinds[k.Name] = &kk
	return nil
}

// Kinds lists the registered kinds' names and labels.
func (e *Engine) Kinds() []KindInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]KindInfo, 0, len(e.kinds))
	for _, k := range e.kinds {
		ki := KindInfo{Name: k.Name, LabelZH: k.LabelZH, LabelEN: k.LabelEN, Actions: k.Actions(),
			ActionLabels: map[string][2]string{}, StateLabels: map[string][2]string{}}
		for _, t := range k.Transitions {
			if t.LabelZH != "" && t.LabelEN != "" {
				ki.ActionLabels[t.Action] = [2]string{t.LabelZH, t.LabelEN}
			}
		}
		for _, st := range k.States {
			if st.LabelZH != "" && st.LabelEN != "" {
				ki.StateLabels[string(st.Name)] = [2]string{st.LabelZH, st.LabelEN}
			}
		}
		out = append(out, ki)
	}
	return out
}

// KindInfo describes a registered kind for clients.
type KindInfo struct {
	Name    string   `json:"name"`
	LabelZH string   `json:"label_zh"`
	LabelEN string   `json:"label_en"`
	Actions []string `json:"actions"`
	// ActionLabels and StateLabels name this kind's own actions and states
	// ([中文, English]) where the kind labels them: "concur" reads
	// differently on a share request and an open-data application.
	ActionLabels map[string][2]string `json:"action_labels"`
	StateLabels  map[string][2]string `json:"state_labels"`
}

func (e *Engine) kind(name string) (*Kind, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	k, ok := e.kinds[name]
	return k, ok
}

const maxReason = 20000

// File opens a case. The payload is validated by the kind; the clock starts
// with the kind's deadline rule.
func (e *Engine) File(ctx context.Context, p identity.Principal, f Filing) (*Case, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	k, ok := e.kind(f.Kind)
	if !ok {
		return nil, ErrUnknownKind.At("kind")
	}
	f.Title = strings.TrimSpace(f.Title)
	if f.Title == "" {
		f.Title = k.LabelZH
	}
	if utf8.RuneCountInString(f.Title) > 200 {
		return nil, ErrTitle.At("title")
	}
	t := f.Target
	t.Type, t.ID = strings.TrimSpace(t.Type), strings.TrimSpace(t.ID)
	if len(k.TargetTypes) > 0 {
		okType := false
		for _, tt := range k.TargetTypes {
			okType = okType || tt == t.Type
		}
		if !okType {
			return nil, ErrBadTarget.At("target.type")
		}
		if t.ID == "" {
			return nil, ErrBadTarget.At("target.id")
		}
	}
	// The target's org is never taken from the client: it is the org itself
	// for "org" targets, and the kind's Validate fills it in for others.
	t.OrgID = ""
	if t.Type == "org" {
		t.OrgID = t.ID
	}
	if k.CanFile != nil && !k.CanFile(p, t) {
		return nil, ErrCannotFile
	}
	payload, err := e.validatePayload(ctx, k, p, &t, f.Payload)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	c := &Case{
		ID: store.NewID(), Kind: k.Name, Title: f.Title,
		Applicant: Party{Kind: actorKind(p), ID: actorID(p), OrgID: p.OrgID},
		Target:    t, Payload: payload, State: k.Initial, Phase: PhaseActive,
		MaxLevel: len(k.Escalation), CreatedAt: now, UpdatedAt: now,
	}
	if k.Deadline != nil {
		if n := k.Deadline(c); n > 0 {
			d := e.cal.AddWorkingDays(now, n)
			c.Deadline = &d
		}
	}
	err = e.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cases (id, kind, title, state, phase, applicant_kind, applicant_id, applicant_org,
			target_type, target_id, target_org, payload, level, max_level, deadline, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14, $15, $15, 0)`,
			c.ID, c.Kind, c.Title, c.State, c.Phase, c.Applicant.Kind, c.Applicant.ID, c.Applicant.OrgID,
			t.Type, t.ID, t.OrgID, string(payload), c.MaxLevel, micros(c.Deadline), store.Micros(now))
		if err != nil {
			return fmt.Errorf("casework: insert case: %w", err)
		}
		if err := e.setAssignees(ctx, tx, k, c); err != nil {
			return err
		}
		return e.record(ctx, tx, k, c, record{action: "file", p: p, to: c.State, detail: map[string]any{"target": t}})
	})
	if err != nil {
		return nil, err
	}
	e.wake()
	e.decorate(c)
	return c, nil
}

func (e *Engine) validatePayload(ctx context.Context, k *Kind, p identity.Principal, t *Target, raw json.RawMessage) (json.RawMessage, error) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, ErrBadPayload.At("payload")
	}
	if k.Validate == nil {
		return compactJSON(raw)
	}
	out, err := k.Validate(ctx, p, t, raw)
	if err != nil {
		return nil, err
	}
	return compactJSON(out)
}

func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, ErrBadPayload.At("payload").Wrap(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, ErrBadPayload.At("payload").Wrap(err)
	}
	return b, nil
}

// ActInput is what an actor sends with an action.
type ActInput struct {
	// Reason is the written reason, reply or report. Refusals, returns and
	// manual escalations need one.
	Reason string `json:"reason,omitempty"`
	// Data is action-specific structured input, checked by the transition.
	Data json.RawMessage `json:"data,omitempty"`
	// Payload replaces the case's payload on resubmit (validated again).
	Payload json.RawMessage `json:"payload,omitempty"`
	// Version, when non-zero, must equal the case's version (optimistic
	// concurrency for clients that show a case and then act on it).
	Version int `json:"version,omitempty"`
}

// Act takes action on case id as p: one of the kind's transitions, or a
// built-in return, resubmit, withdraw or escalate.
func (e *Engine) Act(ctx context.Context, p identity.Principal, id, action string, in ActInput) (*Case, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if utf8.RuneCountInString(in.Reason) > maxReason {
		return nil, ErrReasonTooLong.At("reason")
	}
	var out *Case
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := e.loadCase(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if ok, err := e.canView(ctx, tx, p, c); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if in.Version != 0 && in.Version != c.Version {
			return ErrConcurrent
		}
		k, ok := e.kind(c.Kind)
		if !ok {
			return ErrUnknownKind.At("kind")
		}
		r, err := e.plan(ctx, k, c, p, action, in)
		if err != nil {
			return err
		}
		if err := e.apply(ctx, tx, k, c, r); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.wake()
	return out, nil
}

// record is one step to apply and write down.
type record struct {
	action  string
	p       identity.Principal // zero for the system
	to      State
	reason  string
	data    json.RawMessage
	outcome Outcome
	restart int // >0: restart the clock with this many working days
	level   int // new escalation level (when escalating)
	payload json.RawMessage
	effects []Effect
	detail  map[string]any
	hash    string // content hash for the ledger (attachments)
	notify  bool
	label   [2]string
}

// plan checks that p may take action on c now and says what it does.
func (e *Engine) plan(ctx context.Context, k *Kind, c *Case, p identity.Principal, action string, in ActInput) (record, error) {
	r := record{action: action, p: p, reason: in.Reason, notify: true}
	spec, _ := k.state(c.State)
	switch action {
	case ActionReturn:
		if k.NoReturn {
			return r, ErrUnknownAction.At("action")
		}
		if spec.Terminal || c.State == Returned {
			return r, ErrWrongState
		}
		if !Assigned()(p, c) {
			return r, ErrNotYourTurn
		}
		if in.Reason == "" {
			return r, ErrReasonRequired.At("reason")
		}
		r.to = Returned
		r.label = [2]string{"退回补正", "returned for more information"}
		return r, nil
	case ActionResubmit:
		if k.NoReturn {
			return r, ErrUnknownAction.At("action")
		}
		if c.State != Returned {
			return r, ErrWrongState
		}
		if !Applicant()(p, c) {
			return r, ErrNotYourTurn
		}
		if len(in.Payload) > 0 {
			t := c.Target
			pl, err := e.validatePayload(ctx, k, p, &t, in.Payload)
			if err != nil {
				return r, err
			}
			if t != c.Target {
				return r, ErrBadTarget.At("target")
			}
			r.payload = pl
		}
		r.to = c.resumeState
		r.label = [2]string{"补正后重新提交", "resubmitted"}
		return r, nil
	case ActionWithdraw:
		if k.NoWithdraw {
			return r, ErrUnknownAction.At("action")
		}
		if spec.Terminal {
			return r, ErrWrongState
		}
		if !Applicant()(p, c) {
			return r, ErrNotYourTurn
		}
		r.to, r.outcome = Withdrawn, OutcomeWithdrawn
		if k.OnWithdraw != nil {
			r.effects = append(r.effects, k.OnWithdraw)
		}
		r.label = [2]string{"撤回", "withdrawn"}
		return r, nil
	case ActionEscalate:
		if len(k.Escalation) == 0 {
			return r, ErrUnknownAction.At("action")
		}
		if spec.Terminal || c.Phase != PhaseActive {
			return r, ErrWrongState
		}
		if !(Assigned()(p, c) || (Applicant()(p, c) && c.Overdue)) {
			return r, ErrNotYourTurn
		}
		if c.Level >= len(k.Escalation) {
			return r, ErrNoHigherLevel
		}
		if in.Reason == "" {
			return r, ErrReasonRequired.At("reason")
		}
		return e.escalation(k, c, r), nil
	}
	t, known, ok := k.transition(action, c.State)
	if !known {
		return r, ErrUnknownAction.At("action")
	}
	if !ok || c.Phase == PhasePaused {
		return r, ErrWrongState
	}
	if !t.Who(p, c) {
		return r, ErrNotYourTurn
	}
	if (t.ReasonRequired || t.Outcome == Refused) && in.Reason == "" {
		return r, ErrReasonRequired.At("reason")
	}
	if t.Data != nil {
		d, err := t.Data(c, in.Data)
		if err != nil {
			return r, err
		}
		r.data = d
	} else if len(in.Data) > 0 {
		d, err := compactJSON(in.Data)
		if err != nil {
			return r, apperr.Invalidf("casework.bad_data", "data", "操作数据须为 JSON", "action data must be JSON")
		}
		r.data = d
	}
	r.to, r.outcome = t.To, t.Outcome
	if t.Deadline != nil {
		r.restart = t.Deadline(c)
	}
	if t.Effect != nil {
		r.effects = append(r.effects, t.Effect)
	}
	switch t.Outcome {
	case Approved:
		if k.OnApprove != nil {
			r.effects = append(r.effects, k.OnApprove)
		}
	case Refused:
		if k.OnRefuse != nil {
			r.effects = append(r.effects, k.OnRefuse)
		}
	case OutcomeWithdrawn:
		if k.OnWithdraw != nil {
			r.effects = append(r.effects, k.OnWithdraw)
		}
	}
	r.label = [2]string{t.LabelZH, t.LabelEN}
	return r, nil
}

func (e *Engine) escalation(k *Kind, c *Case, r record) record {
	r.action = ActionEscalate
	r.to = c.State
	r.level = c.Level + 1
	lv := k.Escalation[r.level-1]
	r.restart = lv.Days
	if r.restart == 0 && k.Deadline != nil {
		r.restart = k.Deadline(c)
	}
	r.detail = map[string]any{"level_name": lv.Name}
	r.label = [2]string{"督办升级至" + orDefault(lv.LabelZH, lv.Name), "escalated to " + orDefault(lv.LabelEN, lv.Name)}
	return r
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// apply performs r on c inside tx: the case row, its assignees, the history,
// the ledger, notifications and effects.
func (e *Engine) apply(ctx context.Context, tx *store.Tx, k *Kind, c *Case, r record) error {
	now := e.clock.Now()
	from := c.State
	spec, ok := k.state(r.to)
	if !ok {
		return fmt.Errorf("casework: kind %s has no state %s", k.Name, r.to)
	}
	detail := map[string]any{}
	for key, v := range r.detail {
		detail[key] = v
	}
	switch {
	case spec.Terminal:
		c.Phase = PhaseClosed
	case r.to == Returned:
		c.Phase = PhasePaused
		c.PausedAt = &now
		c.resumeState = from
	default:
		c.Phase = PhaseActive
	}
	if from == Returned && r.to != Returned {
		// Resume: the deadline moves by the working days spent returned.
		if c.PausedAt != nil {
			days := e.cal.WorkingDaysBetween(*c.PausedAt, now)
			c.PausedDays += days
			if c.Deadline != nil {
				d := e.cal.Extend(*c.Deadline, days)
				c.Deadline = &d
			}
			detail["paused_working_days"] = days
		}
		c.PausedAt = nil
		c.resumeState = ""
	}
	if r.restart > 0 {
		d := e.cal.AddWorkingDays(now, r.restart)
		c.Deadline = &d
	}
	if r.level > c.Level {
		c.Level = r.level
	}
	if r.payload != nil {
		c.Payload = r.payload
		detail["payload_sha256"] = sha256Hex(r.payload)
	}
	if r.outcome != "" {
		c.Decision = &Decision{Outcome: r.outcome, Reason: r.reason, By: actorID(r.p), At: now}
		if c.Decision.By == "" {
			c.Decision.By = "system"
		}
	}
	c.State = r.to
	c.UpdatedAt = now
	var outcome, reason, by string
	var decidedAt int64
	if c.Decision != nil {
		outcome, reason, by, decidedAt = string(c.Decision.Outcome), c.Decision.Reason, c.Decision.By, store.Micros(c.Decision.At)
	}
	res, err := tx.ExecContext(ctx, `UPDATE cases SET state = $1, phase = $2, payload = $3, level = $4, deadline = $5,
		paused_at = $6, paused_days = $7, resume_state = $8, outcome = $9, reason = $10, decided_by = $11, decided_at = $12,
		updated_at = $13, version = version + 1 WHERE id = $14 AND version = $15`,
		c.State, c.Phase, string(c.Payload), c.Level, micros(c.Deadline), micros(c.PausedAt), c.PausedDays, string(c.resumeState),
		outcome, reason, by, decidedAt, store.Micros(now), c.ID, c.Version)
	if err != nil {
		return fmt.Errorf("casework: update case: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return ErrConcurrent
	}
	c.Version++
	if err := e.setAssignees(ctx, tx, k, c); err != nil {
		return err
	}
	if r.outcome != "" {
		detail["outcome"] = r.outcome
	}
	r.detail = detail
	if err := e.record(ctx, tx, k, c, r, withFrom(from)); err != nil {
		return err
	}
	act := Act{Action: r.action, From: from, To: c.State, By: r.p, Reason: r.reason, Data: r.data}
	for _, eff := range r.effects {
		if err := eff(ctx, tx, c, act); err != nil {
			return err
		}
	}
	e.decorate(c)
	return nil
}

// setAssignees makes the case's active assignees those of its state plus,
// while the clock runs, those of every escalation level reached. Earlier
// assignees stay on record (inactive) so they can still see the case.
func (e *Engine) setAssignees(ctx context.Context, tx *store.Tx, k *Kind, c *Case) error {
	var list []Assignee
	spec, _ := k.state(c.State)
	if !spec.Terminal {
		if spec.Assignees != nil {
			list = append(list, spec.Assignees(c)...)
		}
		if c.Phase == PhaseActive {
			for i := 0; i < c.Level && i < len(k.Escalation); i++ {
				list = append(list, k.Escalation[i].Assignees...)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE case_assignees SET active = 0 WHERE case_id = $1`, c.ID); err != nil {
		return fmt.Errorf("casework: assignees: %w", err)
	}
	seen := map[Assignee]bool{}
	c.Assignees = c.Assignees[:0]
	for _, a := range list {
		if seen[a] || (a.UserID == "" && a.Role == "") {
			continue
		}
		seen[a] = true
		c.Assignees = append(c.Assignees, a)
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_assignees (case_id, org_id, role, user_id, active) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (case_id, org_id, role, user_id) DO UPDATE SET active = 1`, c.ID, a.OrgID, string(a.Role), a.UserID); err != nil {
			return fmt.Errorf("casework: assignees: %w", err)
		}
	}
	return nil
}

type recordOpt func(*recordState)
type recordState struct{ from State }

func withFrom(s State) recordOpt { return func(r *recordState) { r.from = s } }

// record writes a history entry, the ledger decide event and notifications.
func (e *Engine) record(ctx context.Context, tx *store.Tx, k *Kind, c *Case, r record, opts ...recordOpt) error {
	var rs recordState
	for _, o := range opts {
		o(&rs)
	}
	now := e.clock.Now()
	aKind, aID, aOrg := actorKind(r.p), actorID(r.p), r.p.OrgID
	if !r.p.Authenticated() {
		aKind, aID, aOrg = string(ledger.ActorSystem), "", ""
	}
	detail := map[string]any{}
	for key, v := range r.detail {
		detail[key] = v
	}
	if len(r.data) > 0 {
		detail["data"] = r.data
	}
	var detailJSON string
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		detailJSON = string(b)
	}
	var eventID int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO case_events (case_id, at, actor_kind, actor_id, actor_org, action, from_state, to_state, level, body, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		c.ID, store.Micros(now), aKind, aID, aOrg, r.action, string(rs.from), string(r.to), c.Level, r.reason, detailJSON).Scan(&eventID); err != nil {
		return fmt.Errorf("casework: history: %w", err)
	}
	// The ledger records the step, not the words: a reason or comment may
	// hold personal data, so only its hash and length enter the log.
	ld := map[string]any{"kind": c.Kind, "action": r.action, "event": eventID, "level": c.Level}
	if rs.from != "" {
		ld["from"] = rs.from
	}
	if r.to != "" {
		ld["to"] = r.to
	}
	if r.reason != "" {
		ld["text_sha256"] = sha256Hex([]byte(r.reason))
		ld["text_chars"] = utf8.RuneCountInString(r.reason)
	}
	for _, key := range []string{"outcome", "level_name", "paused_working_days", "payload_sha256", "attachment", "size"} {
		if v, ok := detail[key]; ok {
			ld[key] = v
		}
	}
	if len(r.data) > 0 {
		ld["data_sha256"] = sha256Hex(r.data)
	}
	if err := e.led.Append(ctx, tx, ledger.Event{
		Time: now, ActorKind: ledger.ActorKind(aKind), ActorID: aID, OrgID: aOrg,
		Action: ledger.Decide, Object: "case/" + c.ID, ContentHash: r.hash, Detail: ledger.DetailOf(ld),
	}); err != nil {
		return err
	}
	if r.notify || r.action == "file" {
		return e.notify(ctx, tx, k, c, r, aID)
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func micros(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return store.Micros(*t)
}

func actorKind(p identity.Principal) string {
	if p.UserID == "" && p.ClientID != "" {
		return string(ledger.ActorClient)
	}
	return string(ledger.ActorUser)
}

// Get returns case id with its history and the actions p may take, if p may
// see it; otherwise ErrNotFound.
func (e *Engine) Get(ctx context.Context, p identity.Principal, id string) (*Case, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	c, err := e.loadCase(ctx, e.db, id, false)
	if err != nil {
		return nil, err
	}
	if ok, err := e.canView(ctx, e.db, p, c); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrNotFound
	}
	if c.History, err = e.history(ctx, c.ID); err != nil {
		return nil, err
	}
	c.Actions = e.allowed(ctx, p, c)
	return c, nil
}

// allowed lists the actions p could take on c now.
func (e *Engine) allowed(ctx context.Context, p identity.Principal, c *Case) []string {
	k, ok := e.kind(c.Kind)
	if !ok {
		return nil
	}
	out := []string{}
	for _, a := range k.Actions() {
		if _, err := e.plan(ctx, k, c, p, a, ActInput{Reason: "x"}); err == nil {
			out = append(out, a)
		} else if ae, ok := apperr.As(err); ok && ae.Code != ErrNotYourTurn.Code && ae.Code != ErrWrongState.Code &&
			ae.Code != ErrUnknownAction.Code && ae.Code != ErrNoHigherLevel.Code {
			// Allowed, but the probe input was not enough (e.g. data).
			out = append(out, a)
		}
	}
	return out
}

func (e *Engine) history(ctx context.Context, id string) ([]Entry, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT id, at, actor_kind, actor_id, actor_org, action, from_state, to_state, level, body, detail
		FROM case_events WHERE case_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("casework: history: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var en Entry
		var at int64
		var from, to, detail string
		if err := rows.Scan(&en.ID, &at, &en.ActorKind, &en.ActorID, &en.ActorOrg, &en.Action, &from, &to, &en.Level, &en.Body, &detail); err != nil {
			return nil, err
		}
		en.At, en.From, en.To = store.FromMicros(at), State(from), State(to)
		if detail != "" {
			en.Detail = json.RawMessage(detail)
		}
		out = append(out, en)
	}
	return out, rows.Err()
}
