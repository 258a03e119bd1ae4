package casework

import (
	"context"
	"encoding/json"
	"fmt"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// State is a state of a case; each kind names its own.
type State string

// Returned is the state every kind has for a case sent back to its applicant
// for more information. The clock is paused while a case is Returned.
const Returned State = "returned"

// Withdrawn is the state every kind has for a case its applicant withdrew.
const Withdrawn State = "withdrawn"

// Built-in actions that every kind has (unless a kind turns them off).
const (
	ActionReturn   = "return"   // an assignee sends the case back for more information; pauses the clock
	ActionResubmit = "resubmit" // the applicant answers a returned case; resumes the clock
	ActionWithdraw = "withdraw" // the applicant withdraws the case
	ActionEscalate = "escalate" // refer the case to the next level its kind names
)

// Outcome is the decision a transition makes, if any.
type Outcome string

const (
	Approved         Outcome = "approved"
	Refused          Outcome = "refused"
	OutcomeWithdrawn Outcome = "withdrawn"
)

// Phase says whether a case's clock runs: active cases count down to their
// deadline, paused cases wait for the applicant, closed cases are decided.
type Phase string

const (
	PhaseActive Phase = "active"
	PhasePaused Phase = "paused"
	PhaseClosed Phase = "closed"
)

// Assignee is who must act on a case: holders of Role in org OrgID, or one
// person (UserID). An empty OrgID with a platform role (authority_admin,
// security_officer, city_government, …) means every holder of that role.
type Assignee struct {
	OrgID  string        `json:"org_id,omitempty"`
	Role   identity.Role `json:"role,omitempty"`
	UserID string        `json:"user_id,omitempty"`
}

// Matches reports whether p is this assignee.
func (a Assignee) Matches(p identity.Principal) bool {
	if a.UserID != "" {
		return a.UserID == actorID(p)
	}
	if a.OrgID != "" && a.OrgID != p.OrgID {
		return false
	}
	return a.Role != "" && p.Has(a.Role)
}

// Who decides whether p may take an action on c.
type Who func(p identity.Principal, c *Case) bool

// Applicant allows the person or client who filed the case.
func Applicant() Who {
	return func(p identity.Principal, c *Case) bool { return actorID(p) != "" && actorID(p) == c.Applicant.ID }
}

// Assigned allows whoever matches one of the case's active assignees.
func Assigned() Who {
	return func(p identity.Principal, c *Case) bool {
		for _, a := range c.Assignees {
			if a.Matches(p) {
				return true
			}
		}
		return false
	}
}

// HasRole allows holders of any of roles, whatever their org.
func HasRole(roles ...identity.Role) Who {
	return func(p identity.Principal, c *Case) bool { return p.HasAny(roles...) }
}

// TargetOrgRole allows holders of any of roles in the case's target org.
func TargetOrgRole(roles ...identity.Role) Who {
	return func(p identity.Principal, c *Case) bool {
		return c.Target.OrgID != "" && p.OrgID == c.Target.OrgID && p.HasAny(roles...)
	}
}

// AnyOf allows p if any rule does.
func AnyOf(rules ...Who) Who {
	return func(p identity.Principal, c *Case) bool {
		for _, r := range rules {
			if r(p, c) {
				return true
			}
		}
		return false
	}
}

// Effect runs in the transaction of a transition, after the case row has been
// updated, e.g. to create a grant when a share request is approved. An error
// rolls the whole transition back.
type Effect func(ctx context.Context, tx *store.Tx, c *Case, a Act) error

// Act is one action taken on a case, as effects see it.
type Act struct {
	Action string
	From   State
	To     State
	By     identity.Principal
	Reason string
	Data   json.RawMessage
}

// StateSpec describes one state of a kind.
type StateSpec struct {
	Name State
	// Terminal states close the case; the kind's transition into one usually
	// carries an Outcome.
	Terminal bool
	// Assignees are who must act while the case is in this state.
	Assignees func(c *Case) []Assignee
	LabelZH   string
	LabelEN   string
}

// Transition is an action that moves a case from one of From to To.
type Transition struct {
	Action string
	From   []State
	To     State
	// Who may take the action. Required.
	Who Who
	// ReasonRequired demands a written reason (a report, a reply). Transitions
	// whose Outcome is Refused always require one (XM26).
	ReasonRequired bool
	// Outcome, when set, records a decision on the case.
	Outcome Outcome
	// Deadline, when set, restarts the clock on entry to To with this many
	// working days from now ("N working days from a step").
	Deadline func(c *Case) int
	// Data validates and normalises the action's structured input, if any.
	Data func(c *Case, data json.RawMessage) (json.RawMessage, error)
	// Effect runs in the same transaction.
	Effect  Effect
	LabelZH string
	LabelEN string
}

// Level is one step of a kind's escalation chain.
type Level struct {
	Name      string // e.g. "authority", "city_government"
	Assignees []Assignee
	// Days is the new deadline, in working days from the escalation; 0 uses
	// the kind's own deadline rule.
	Days    int
	LabelZH string
	LabelEN string
}

// Filing is what an applicant submits to open a case.
type Filing struct {
	Kind    string          `json:"kind"`
	Title   string          `json:"title"`
	Target  Target          `json:"target"`
	Payload json.RawMessage `json:"payload"`
}

// Kind is a kind of case: its payload, states, transitions, who acts,
// deadlines, escalation and effects. Capabilities register kinds with
// (*Engine).Register; the engine itself knows none of them.
type Kind struct {
	Name    string
	LabelZH string
	LabelEN string
	// TargetTypes lists the allowed target types ("org", "resource", …);
	// empty allows any, including none.
	TargetTypes []string
	// CanFile reports whether p may file a case of this kind on target; nil
	// allows anyone authenticated.
	CanFile func(p identity.Principal, t Target) bool
	// Validate checks and normalises the payload, and may fill in the
	// target (for example the org that owns a resource). It returns apperr
	// errors whose Field is a JSON path ("payload.fields[2]"). nil accepts
	// any JSON object. It also runs on a resubmitted payload.
	Validate func(ctx context.Context, p identity.Principal, t *Target, payload json.RawMessage) (json.RawMessage, error)
	// Initial is the state a new case starts in.
	Initial State
	States  []StateSpec
	// Transitions are the kind's own actions. The engine adds return,
	// resubmit, withdraw and escalate.
	Transitions []Transition
	// Deadline is the number of working days from filing (and from
	// escalation, unless the level says otherwise); 0 means no deadline.
	Deadline func(c *Case) int
	// Escalation is the chain a case climbs when it is overdue, e.g. the
	// authority and then the city government.
	Escalation []Level
	// NoReturn turns off the built-in return/resubmit actions.
	NoReturn bool
	// NoWithdraw turns off the built-in withdraw action.
	NoWithdraw bool
	// TargetOrgSees lets the target org see cases about it.
	TargetOrgSees bool
	// ApplicantOnly keeps a case from the applicant's colleagues: only the
	// applicant person (not their whole org) sees it as its filer. For
	// complaints and subject requests, which may be personal.
	ApplicantOnly bool
	// CanView, when set, lets more principals see a case (for example a
	// resource's stewards); it adds to the engine's own rule.
	CanView func(p identity.Principal, c *Case) bool
	// OnApprove, OnRefuse and OnWithdraw run in the transaction of any
	// transition with that outcome, after the transition's own Effect.
	OnApprove  Effect
	OnRefuse   Effect
	OnWithdraw Effect
}

// Days is a deadline rule of a fixed number of working days.
func Days(n int) func(*Case) int { return func(*Case) int { return n } }

func (k *Kind) state(s State) (StateSpec, bool) {
	for _, st := range k.States {
		if st.Name == s {
			return st, true
		}
	}
	switch s {
	case Returned:
		return StateSpec{Name: Returned, LabelZH: "已退回补正", LabelEN: "returned for more information",
			Assignees: func(c *Case) []Assignee { return []Assignee{{UserID: c.Applicant.ID}} }}, true
	case Withdrawn:
		return StateSpec{Name: Withdrawn, Terminal: true, LabelZH: "已撤回", LabelEN: "withdrawn"}, true
	}
	return StateSpec{}, false
}

func (k *Kind) check() error {
	if k.Name == "" || k.Initial == "" {
		return fmt.Errorf("casework: kind needs a name and an initial state")
	}
	if _, ok := k.state(k.Initial); !ok {
		return fmt.Errorf("casework: kind %s: initial state %s is not declared", k.Name, k.Initial)
	}
	for _, st := range k.States {
		if st.Name == Returned || st.Name == Withdrawn {
			return fmt.Errorf("casework: kind %s: state %s is built in", k.Name, st.Name)
		}
	}
	seen := map[string]bool{}
	for _, t := range k.Transitions {
		switch t.Action {
		case ActionReturn, ActionResubmit, ActionWithdraw, ActionEscalate, "":
			return fmt.Errorf("casework: kind %s: action %q is built in or empty", k.Name, t.Action)
		}
		if t.Who == nil {
			return fmt.Errorf("casework: kind %s: action %s has no Who rule", k.Name, t.Action)
		}
		if _, ok := k.state(t.To); !ok {
			return fmt.Errorf("casework: kind %s: action %s goes to undeclared state %s", k.Name, t.Action, t.To)
		}
		for _, f := range t.From {
			if _, ok := k.state(f); !ok {
				return fmt.Errorf("casework: kind %s: action %s comes from undeclared state %s", k.Name, t.Action, f)
			}
			key := t.Action + "\x00" + string(f)
			if seen[key] {
				return fmt.Errorf("casework: kind %s: action %s is declared twice from %s", k.Name, t.Action, f)
			}
			seen[key] = true
		}
	}
	return nil
}

// transition finds the kind's own transition for action from state s.
func (k *Kind) transition(action string, s State) (Transition, bool, bool) {
	known := false
	for _, t := range k.Transitions {
		if t.Action != action {
			continue
		}
		known = true
		for _, f := range t.From {
			if f == s {
				return t, true, true
			}
		}
	}
	return Transition{}, known, false
}

// Actions lists the actions that exist on this kind, built-ins included.
func (k *Kind) Actions() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range k.Transitions {
		if !seen[t.Action] {
			seen[t.Action] = true
			out = append(out, t.Action)
		}
	}
	if !k.NoReturn {
		out = append(out, ActionReturn, ActionResubmit)
	}
	if !k.NoWithdraw {
		out = append(out, ActionWithdraw)
	}
	if len(k.Escalation) > 0 {
		out = append(out, ActionEscalate)
	}
	return out
}

func actorID(p identity.Principal) string {
	if p.UserID != "" {
		return p.UserID
	}
	return p.ClientID
}
