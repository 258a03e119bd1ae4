package casework_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// The cast of the tests.
var (
	authorityAdmin  = identity.Principal{UserID: "u-authority", OrgID: "org-authority", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
	securityOfficer = identity.Principal{UserID: "u-security", OrgID: "org-authority", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleSecurityOfficer}}
	cityGov         = identity.Principal{UserID: "u-city", OrgID: "org-city", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleCityGovernment}}
	deptAdmin       = identity.Principal{UserID: "u-dept-admin", OrgID: "org-dept", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleAdmin}}
	deptCDO         = identity.Principal{UserID: "u-dept-cdo", OrgID: "org-dept", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleChiefDataOfficer}}
	deptDeveloper   = identity.Principal{UserID: "u-dept-dev", OrgID: "org-dept", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleDeveloper}}
	otherAdmin      = identity.Principal{UserID: "u-other-admin", OrgID: "org-other", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleAdmin}}
	citizen         = identity.Principal{UserID: "u-citizen", OrgID: "org-enterprise", OrgKind: identity.KindEnterprise, Roles: []identity.Role{identity.RoleDeveloper}}
)

type fixture struct {
	db  *store.DB
	clk *clock.Fake
	eng *casework.Engine
	led *ledger.Ledger
}

func newFixture(t *testing.T, db *store.DB, start time.Time, opts casework.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(start)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	eng, err := casework.New(ctx, db, led, clk, casework.DefaultCalendar(), opts)
	if err != nil {
		t.Fatalf("casework: %v", err)
	}
	return &fixture{db: db, clk: clk, eng: eng, led: led}
}

func (f *fixture) file(t *testing.T, p identity.Principal, fl casework.Filing) *casework.Case {
	t.Helper()
	c, err := f.eng.File(context.Background(), p, fl)
	if err != nil {
		t.Fatalf("File(%s) by %s: %v", fl.Kind, p.UserID, err)
	}
	return c
}

func (f *fixture) act(t *testing.T, p identity.Principal, id, action, reason string) *casework.Case {
	t.Helper()
	c, err := f.eng.Act(context.Background(), p, id, action, casework.ActInput{Reason: reason})
	if err != nil {
		t.Fatalf("%s by %s: %v", action, p.UserID, err)
	}
	return c
}

// refuse checks that action by p fails with the error code want and leaves
// the case as it was.
func (f *fixture) refuse(t *testing.T, p identity.Principal, id, action, reason, want string) {
	t.Helper()
	before, err := f.eng.Get(context.Background(), authorityAdmin, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.eng.Act(context.Background(), p, id, action, casework.ActInput{Reason: reason})
	if code := codeOf(err); code != want {
		t.Fatalf("%s by %s: error %v (code %q), want code %q", action, p.UserID, err, code, want)
	}
	after, err := f.eng.Get(context.Background(), authorityAdmin, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != before.State || after.Version != before.Version || len(after.History) != len(before.History) {
		t.Fatalf("a refused %s changed the case: %s v%d -> %s v%d", action, before.State, before.Version, after.State, after.Version)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return "non-apperr: " + err.Error()
}

func (f *fixture) get(t *testing.T, p identity.Principal, id string) *casework.Case {
	t.Helper()
	c, err := f.eng.Get(context.Background(), p, id)
	if err != nil {
		t.Fatalf("Get by %s: %v", p.UserID, err)
	}
	return c
}

type ledgerDecision struct {
	ActorKind string `json:"actor_kind"`
	ActorID   string `json:"actor_id"`
	Action    string `json:"action"`
	Object    string `json:"object"`
	Detail    struct {
		Action     string `json:"action"`
		From       string `json:"from"`
		To         string `json:"to"`
		Level      int    `json:"level"`
		TextSHA256 string `json:"text_sha256"`
		Outcome    string `json:"outcome"`
	} `json:"detail"`
	ContentHash string `json:"content_hash"`
}

// ledgerSteps reads the decide events recorded for case id, oldest first,
// and returns their detail actions. On SQLite events are sequenced at
// commit; on PostgreSQL they wait in ledger_pending (the tests never start
// the integrator).
func (f *fixture) ledgerSteps(t *testing.T, id string) ([]string, []ledgerDecision) {
	t.Helper()
	rows, err := f.db.QueryContext(context.Background(), `SELECT body FROM (SELECT 0 AS q, seq AS n, body FROM ledger_entries UNION ALL SELECT 1, id, body FROM ledger_pending) AS ev ORDER BY q, n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var actions []string
	var evs []ledgerDecision
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		var ev ledgerDecision
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Object != "case/"+id {
			continue
		}
		if ev.Action != string(ledger.Decide) {
			t.Errorf("ledger event for a case has action %q, want decide", ev.Action)
		}
		actions = append(actions, ev.Detail.Action)
		evs = append(evs, ev)
	}
	return actions, evs
}

func historyActions(c *casework.Case) []string {
	var out []string
	for _, h := range c.History {
		out = append(out, h.Action)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func rectificationFiling(orgID string, days int) casework.Filing {
	return casework.Filing{
		Kind: casework.KindRectification, Title: "公共数据目录未按期更新",
		Target:  casework.Target{Type: "org", ID: orgID},
		Payload: json.RawMessage(`{"failing":"catalog","description":"2026年第一季度目录未更新","working_days":` + itoa(days) + `}`),
	}
}

func complaintFiling() casework.Filing {
	return casework.Filing{
		Kind: casework.KindComplaint, Title: "个人信息被超范围共享",
		Target:  casework.Target{Type: "org", ID: "org-dept"},
		Payload: json.RawMessage(`{"category":"personal_information","description":"我的手机号出现在无关单位的数据中"}`),
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
