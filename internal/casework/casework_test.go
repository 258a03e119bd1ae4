package casework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-GOV-3 (XM63): the authority orders an org to rectify with a deadline;
// the org reports back; the authority sends it back or accepts it. Every
// transition, and every forbidden attempt by the wrong role.
func TestRectificationOrderTransitions(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})

		// Only the authority files orders, and never against itself.
		for _, p := range []identity.Principal{deptAdmin, securityOfficer, citizen, cityGov} {
			if _, err := f.eng.File(ctx, p, rectificationFiling("org-dept", 10)); codeOf(err) != "casework.forbidden_filing" {
				t.Fatalf("filing by %s: %v, want forbidden_filing", p.UserID, err)
			}
		}
		if _, err := f.eng.File(ctx, authorityAdmin, rectificationFiling("org-authority", 10)); codeOf(err) != "casework.forbidden_filing" {
			t.Fatalf("order against the authority itself: %v", err)
		}
		bad := rectificationFiling("org-dept", 10)
		bad.Payload = json.RawMessage(`{"failing":"laziness","description":"x"}`)
		if _, err := f.eng.File(ctx, authorityAdmin, bad); codeOf(err) != "casework.payload_choice" {
			t.Fatalf("bad failing: %v", err)
		} else if ae, _ := errorsAs(err); ae.Field != "payload.failing" {
			t.Fatalf("field = %q, want payload.failing", ae.Field)
		}
		bad.Payload = json.RawMessage(`{"failing":"catalog","description":"x","working_days":500}`)
		if _, err := f.eng.File(ctx, authorityAdmin, bad); codeOf(err) != "casework.payload_range" {
			t.Fatalf("bad working_days: %v", err)
		}
		bad.Payload = json.RawMessage(`{"failing":"catalog","description":"x","colour":"red"}`)
		if _, err := f.eng.File(ctx, authorityAdmin, bad); codeOf(err) != "casework.payload_unknown_field" {
			t.Fatalf("unknown field: %v", err)
		}
		bad.Target = casework.Target{Type: "resource", ID: "r1"}
		if _, err := f.eng.File(ctx, authorityAdmin, bad); codeOf(err) != "casework.bad_target" {
			t.Fatalf("resource target: %v", err)
		}

		c := f.file(t, authorityAdmin, rectificationFiling("org-dept", 10))
		if c.State != "ordered" || c.Phase != casework.PhaseActive {
			t.Fatalf("new order: %s/%s", c.State, c.Phase)
		}
		// Ten working days from Monday 2 March 2026.
		if c.Deadline == nil || !c.Deadline.Equal(endOf(2026, 3, 16)) {
			t.Fatalf("deadline = %v, want end of 16 March", c.Deadline)
		}
		if c.Target.OrgID != "org-dept" {
			t.Fatalf("target org = %q", c.Target.OrgID)
		}

		// The target org sees the order; another org does not.
		if got := f.get(t, deptDeveloper, c.ID); has(got.Actions, "report") {
			t.Fatalf("a developer may not report: %v", got.Actions)
		}
		if got := f.get(t, deptAdmin, c.ID); !has(got.Actions, "report") {
			t.Fatalf("the org admin should be offered report, got %v", got.Actions)
		}
		if _, err := f.eng.Get(ctx, otherAdmin, c.ID); codeOf(err) != "casework.not_found" {
			t.Fatalf("another org sees the order: %v", err)
		}

		f.refuse(t, deptDeveloper, c.ID, "report", "done", "casework.forbidden_action")
		f.refuse(t, otherAdmin, c.ID, "report", "done", "casework.not_found")
		f.refuse(t, authorityAdmin, c.ID, "report", "done", "casework.forbidden_action")
		f.refuse(t, deptAdmin, c.ID, "report", "  ", "casework.reason_required")
		f.refuse(t, authorityAdmin, c.ID, "accept", "", "casework.wrong_state")
		f.refuse(t, deptAdmin, c.ID, "return", "unclear", "casework.unknown_action")
		f.refuse(t, deptAdmin, c.ID, "withdraw", "", "casework.forbidden_action")
		f.refuse(t, deptAdmin, c.ID, "approve", "", "casework.unknown_action")

		f.clk.Set(at(2026, 3, 5, 9))
		c = f.act(t, deptAdmin, c.ID, "report", "已于3月4日更新目录，新增资源12项")
		if c.State != "reported" || len(c.Assignees) != 1 || c.Assignees[0].Role != identity.RoleAuthorityAdmin {
			t.Fatalf("after report: %s %+v", c.State, c.Assignees)
		}
		// The authority has ten working days from the report to review it.
		if !c.Deadline.Equal(endOf(2026, 3, 19)) {
			t.Fatalf("review deadline = %v, want end of 19 March", c.Deadline.In(cst))
		}
		f.refuse(t, deptAdmin, c.ID, "accept", "", "casework.forbidden_action")
		f.refuse(t, deptCDO, c.ID, "reopen", "no", "casework.forbidden_action")
		f.refuse(t, authorityAdmin, c.ID, "reopen", "", "casework.reason_required")
		f.refuse(t, deptAdmin, c.ID, "report", "again", "casework.wrong_state")

		c = f.act(t, authorityAdmin, c.ID, "reopen", "新增资源缺少字段说明，请补充")
		if c.State != "reopened" || !c.Deadline.Equal(endOf(2026, 3, 19)) {
			t.Fatalf("after reopen: %s, deadline %v (want a fresh 10 working days: end of 19 March)", c.State, c.Deadline.In(cst))
		}
		// The chief data officer may report too.
		c = f.act(t, deptCDO, c.ID, "report", "已补充字段说明")
		c = f.act(t, authorityAdmin, c.ID, "accept", "")
		if c.State != "closed" || c.Phase != casework.PhaseClosed || c.Decision == nil || c.Decision.Outcome != casework.Approved {
			t.Fatalf("after accept: %s %s %+v", c.State, c.Phase, c.Decision)
		}
		if len(c.Assignees) != 0 {
			t.Fatalf("a closed case has assignees: %+v", c.Assignees)
		}
		f.refuse(t, authorityAdmin, c.ID, "reopen", "late", "casework.wrong_state")
		f.refuse(t, authorityAdmin, c.ID, "withdraw", "", "casework.wrong_state")

		got := f.get(t, authorityAdmin, c.ID)
		want := []string{"file", "report", "reopen", "report", "accept"}
		if !equal(historyActions(got), want) {
			t.Fatalf("history = %v, want %v", historyActions(got), want)
		}
		if got.History[2].Body != "新增资源缺少字段说明，请补充" || got.History[2].ActorID != authorityAdmin.UserID {
			t.Fatalf("history entry: %+v", got.History[2])
		}
		// One ledger decide event per step, in the same order (DESIGN rule 2).
		steps, evs := f.ledgerSteps(t, c.ID)
		if !equal(steps, want) {
			t.Fatalf("ledger steps = %v, want %v", steps, want)
		}
		if evs[2].Detail.TextSHA256 == "" || evs[2].ActorID != authorityAdmin.UserID || evs[4].Detail.Outcome != "approved" {
			t.Fatalf("ledger detail: %+v", evs)
		}

		// The authority may withdraw an order it issued in error.
		c2 := f.file(t, authorityAdmin, rectificationFiling("org-dept", 5))
		c2 = f.act(t, authorityAdmin, c2.ID, "withdraw", "")
		if c2.State != casework.Withdrawn || c2.Decision.Outcome != casework.OutcomeWithdrawn {
			t.Fatalf("withdrawn order: %s %+v", c2.State, c2.Decision)
		}
	})
}

func errorsAs(err error) (*apperr.Error, bool) { return apperr.As(err) }

// R-SEC-11 (XM61): anyone files a complaint; the security officer accepts
// and resolves it with a reply, or refuses it with a reason (XM26).
func TestComplaintTransitions(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})

		if _, err := f.eng.File(ctx, identity.Principal{}, complaintFiling()); codeOf(err) != "unauthenticated" {
			t.Fatalf("anonymous filing: %v", err)
		}
		bad := complaintFiling()
		bad.Payload = json.RawMessage(`{"category":"personal_information","description":"  "}`)
		if _, err := f.eng.File(ctx, citizen, bad); codeOf(err) != "casework.payload_required" {
			t.Fatalf("empty description: %v", err)
		}
		bad.Payload = json.RawMessage(`[1,2]`)
		if _, err := f.eng.File(ctx, citizen, bad); codeOf(err) != "casework.bad_payload" {
			t.Fatalf("array payload: %v", err)
		}

		c := f.file(t, citizen, complaintFiling())
		if c.State != "submitted" || !c.Deadline.Equal(endOf(2026, 3, 23)) {
			t.Fatalf("new complaint: %s, deadline %v (want 15 working days: end of 23 March)", c.State, c.Deadline)
		}
		// The org complained about does not see the complaint.
		if _, err := f.eng.Get(ctx, deptAdmin, c.ID); codeOf(err) != "casework.not_found" {
			t.Fatalf("target org sees the complaint: %v", err)
		}
		// Nor do the complainant's colleagues.
		colleague := identity.Principal{UserID: "u-colleague", OrgID: citizen.OrgID, Roles: []identity.Role{identity.RoleAdmin}}
		if _, err := f.eng.Get(ctx, colleague, c.ID); codeOf(err) != "casework.not_found" {
			t.Fatalf("a colleague sees the complaint: %v", err)
		}
		f.refuse(t, citizen, c.ID, "accept", "", "casework.forbidden_action")
		f.refuse(t, authorityAdmin, c.ID, "accept", "", "casework.forbidden_action")
		f.refuse(t, deptAdmin, c.ID, "accept", "", "casework.not_found")
		f.refuse(t, securityOfficer, c.ID, "withdraw", "", "casework.forbidden_action")
		f.refuse(t, securityOfficer, c.ID, "resubmit", "", "casework.wrong_state")
		f.refuse(t, citizen, c.ID, "escalate", "too slow", "casework.forbidden_action")

		c = f.act(t, securityOfficer, c.ID, "accept", "")
		if c.State != "accepted" {
			t.Fatalf("after accept: %s", c.State)
		}
		f.refuse(t, securityOfficer, c.ID, "accept", "", "casework.wrong_state")
		// XM26: a refusal without a written reason is rejected.
		f.refuse(t, securityOfficer, c.ID, "refuse", "", "casework.reason_required")
		f.refuse(t, securityOfficer, c.ID, "refuse", " \n\t ", "casework.reason_required")
		f.refuse(t, securityOfficer, c.ID, "resolve", "", "casework.reason_required")
		f.refuse(t, citizen, c.ID, "resolve", "fine", "casework.forbidden_action")
		c = f.act(t, securityOfficer, c.ID, "resolve", "经核查，相关单位已删除超范围数据并整改。")
		if c.State != "resolved" || c.Decision.Outcome != casework.Approved || c.Decision.Reason == "" || c.Decision.By != securityOfficer.UserID {
			t.Fatalf("resolved: %s %+v", c.State, c.Decision)
		}
		f.refuse(t, citizen, c.ID, "withdraw", "", "casework.wrong_state")

		// Refused with a reason.
		c2 := f.file(t, citizen, complaintFiling())
		c2 = f.act(t, securityOfficer, c2.ID, "refuse", "不属于数据处理投诉范围，请向市场监管部门反映。")
		if c2.State != "refused" || c2.Decision.Outcome != casework.Refused || c2.Decision.Reason == "" {
			t.Fatalf("refused: %s %+v", c2.State, c2.Decision)
		}
		steps, evs := f.ledgerSteps(t, c2.ID)
		if !equal(steps, []string{"file", "refuse"}) || evs[1].Detail.Outcome != "refused" {
			t.Fatalf("ledger steps = %v %+v", steps, evs)
		}

		// Withdrawn by the complainant.
		c3 := f.file(t, citizen, complaintFiling())
		c3 = f.act(t, citizen, c3.ID, "withdraw", "")
		if c3.State != casework.Withdrawn || c3.Phase != casework.PhaseClosed {
			t.Fatalf("withdrawn: %s %s", c3.State, c3.Phase)
		}
		steps, _ = f.ledgerSteps(t, c3.ID)
		if !equal(steps, []string{"file", "withdraw"}) {
			t.Fatalf("ledger steps = %v", steps)
		}
	})
}

// Returning a case for more information pauses its clock; the deadline moves
// by the working days it spent with the applicant.
func TestReturnPausesTheClock(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})
		c := f.file(t, citizen, complaintFiling())
		if !c.Deadline.Equal(endOf(2026, 3, 23)) {
			t.Fatalf("deadline %v", c.Deadline)
		}
		f.clk.Set(at(2026, 3, 3, 10))
		f.refuse(t, securityOfficer, c.ID, "return", "", "casework.reason_required")
		f.refuse(t, citizen, c.ID, "return", "x", "casework.forbidden_action")
		c = f.act(t, securityOfficer, c.ID, "return", "请补充发生时间和涉及的单位")
		if c.State != casework.Returned || c.Phase != casework.PhasePaused || c.PausedAt == nil {
			t.Fatalf("returned: %s %s", c.State, c.Phase)
		}
		// The applicant now has it in their awaiting inbox; the officer does not.
		if list, _, err := f.eng.List(ctx, citizen, casework.Query{View: casework.ViewAwaiting}); err != nil || len(list) != 1 {
			t.Fatalf("applicant's awaiting inbox: %v %d", err, len(list))
		}
		if list, _, err := f.eng.List(ctx, securityOfficer, casework.Query{View: casework.ViewAwaiting}); err != nil || len(list) != 0 {
			t.Fatalf("officer's awaiting inbox while returned: %v %d", err, len(list))
		}
		f.refuse(t, securityOfficer, c.ID, "accept", "", "casework.wrong_state")
		f.refuse(t, securityOfficer, c.ID, "resubmit", "", "casework.forbidden_action")

		// Far past the original deadline: a paused case is never overdue.
		f.clk.Set(at(2026, 3, 30, 10))
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 0 {
			t.Fatalf("escalated a paused case: %d %v", n, err)
		}
		f.clk.Set(at(2026, 3, 6, 15)) // back to Friday: paused Wed, Thu, Fri
		_, err := f.eng.Act(ctx, citizen, c.ID, "resubmit", casework.ActInput{Payload: json.RawMessage(`{"category":"nonsense","description":"x"}`)})
		if codeOf(err) != "casework.payload_choice" {
			t.Fatalf("resubmit with a bad payload: %v", err)
		}
		c, err = f.eng.Act(ctx, citizen, c.ID, "resubmit", casework.ActInput{
			Payload: json.RawMessage(`{"category":"personal_information","description":"补充：2026年2月发生，涉及某区卫健委","occurred_on":"2026-02-10"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "submitted" || c.Phase != casework.PhaseActive || c.PausedAt != nil {
			t.Fatalf("resubmitted: %s %s", c.State, c.Phase)
		}
		if c.PausedDays != 3 || !c.Deadline.Equal(endOf(2026, 3, 26)) {
			t.Fatalf("paused %d days, deadline %v; want 3 days and end of 26 March", c.PausedDays, c.Deadline.In(cst))
		}
		var pl casework.ComplaintPayload
		_ = json.Unmarshal(c.Payload, &pl)
		if pl.OccurredOn != "2026-02-10" {
			t.Fatalf("payload not replaced: %s", c.Payload)
		}
		// Return again from accepted: it comes back to accepted.
		c = f.act(t, securityOfficer, c.ID, "accept", "")
		c = f.act(t, securityOfficer, c.ID, "return", "请提供截图")
		f.clk.Set(at(2026, 3, 9, 9)) // Monday
		c = f.act(t, citizen, c.ID, "resubmit", "已上传截图")
		if c.State != "accepted" || c.PausedDays != 4 || !c.Deadline.Equal(endOf(2026, 3, 27)) {
			t.Fatalf("second resubmit: %s paused %d deadline %v", c.State, c.PausedDays, c.Deadline.In(cst))
		}
		steps, _ := f.ledgerSteps(t, c.ID)
		want := []string{"file", "return", "resubmit", "accept", "return", "resubmit"}
		if !equal(steps, want) {
			t.Fatalf("ledger steps = %v, want %v", steps, want)
		}
	})
}

// XM26: the scheduler escalates overdue cases up the chain their kind names,
// the authority and then the city government, driven by a fake clock.
func TestEscalationByFakeClock(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})
		c := f.file(t, citizen, complaintFiling())
		order := f.file(t, authorityAdmin, rectificationFiling("org-dept", 3))

		f.clk.Set(at(2026, 3, 23, 23)) // the last day of the complaint: not yet overdue
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 1 {
			t.Fatalf("escalated %d (%v), want only the rectification order", n, err)
		}
		if got := f.get(t, securityOfficer, c.ID); got.Overdue || got.Level != 0 {
			t.Fatalf("complaint overdue early: %+v", got)
		}
		o := f.get(t, authorityAdmin, order.ID)
		if o.Level != 1 || o.LevelName != "authority" || o.State != "ordered" {
			t.Fatalf("order after escalation: level %d %s", o.Level, o.State)
		}
		// The org must still report.
		if !has(f.get(t, deptAdmin, order.ID).Actions, "report") {
			t.Fatal("the org can no longer report after escalation")
		}

		f.clk.Set(at(2026, 3, 24, 0)) // midnight: overdue
		if got := f.get(t, securityOfficer, c.ID); !got.Overdue {
			t.Fatal("complaint should be overdue at 00:00 after its last day")
		}
		overdue := true
		if list, _, err := f.eng.List(ctx, securityOfficer, casework.Query{Overdue: &overdue}); err != nil || len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("overdue filter: %v %d", err, len(list))
		}
		// Before escalation the authority's administrators cannot decide it.
		f.refuse(t, authorityAdmin, c.ID, "resolve", "x", "casework.forbidden_action")
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 1 {
			t.Fatalf("escalated %d (%v), want the complaint", n, err)
		}
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 0 {
			t.Fatalf("escalated twice: %d %v", n, err)
		}
		got := f.get(t, authorityAdmin, c.ID)
		if got.Level != 1 || got.Overdue || !got.Deadline.Equal(endOf(2026, 3, 31)) {
			t.Fatalf("after escalation: level %d overdue %v deadline %v (want 5 working days: end of 31 March)", got.Level, got.Overdue, got.Deadline.In(cst))
		}
		if list, _, _ := f.eng.List(ctx, authorityAdmin, casework.Query{View: casework.ViewAwaiting, Kind: casework.KindComplaint}); len(list) != 1 {
			t.Fatalf("the authority's awaiting inbox has %d complaints, want 1", len(list))
		}
		if list, _, _ := f.eng.List(ctx, cityGov, casework.Query{View: casework.ViewAwaiting}); len(list) != 0 {
			t.Fatalf("city government awaiting too early: %d", len(list))
		}

		f.clk.Set(at(2026, 4, 1, 9))
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 2 {
			t.Fatalf("second round escalated %d (%v), want 2", n, err)
		}
		got = f.get(t, cityGov, c.ID)
		if got.Level != 2 || got.LevelName != "city_government" || !has(got.Actions, "resolve") {
			t.Fatalf("at the city government: level %d %v", got.Level, got.Actions)
		}
		// At the top of the chain nothing climbs further.
		f.clk.Set(at(2026, 6, 1, 9))
		if n, err := f.eng.EscalateOverdue(ctx); err != nil || n != 0 {
			t.Fatalf("escalated past the top: %d %v", n, err)
		}
		f.refuse(t, securityOfficer, c.ID, "escalate", "again", "casework.no_higher_level")
		c2 := f.act(t, cityGov, c.ID, "resolve", "市政府督办后已办结")
		if c2.Decision.By != cityGov.UserID {
			t.Fatalf("decided by %s", c2.Decision.By)
		}

		steps, evs := f.ledgerSteps(t, c.ID)
		if !equal(steps, []string{"file", "escalate", "escalate", "resolve"}) {
			t.Fatalf("ledger steps = %v", steps)
		}
		if evs[1].ActorKind != "system" || evs[1].Detail.Level != 1 || evs[2].Detail.Level != 2 {
			t.Fatalf("escalation events: %+v", evs)
		}

		// Manual escalation by an assignee, with a reason (R-SHR-6 style referral).
		c3 := f.file(t, citizen, complaintFiling())
		f.refuse(t, securityOfficer, c3.ID, "escalate", "", "casework.reason_required")
		c3 = f.act(t, securityOfficer, c3.ID, "escalate", "涉及多个部门，提请主管部门协调")
		if c3.Level != 1 {
			t.Fatalf("manual escalation level %d", c3.Level)
		}
	})
}

// Inbox views, filters and cursor pagination.
func TestInbox(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})
		var complaints []string
		for i := 0; i < 3; i++ {
			complaints = append(complaints, f.file(t, citizen, complaintFiling()).ID)
		}
		order := f.file(t, authorityAdmin, rectificationFiling("org-dept", 10))
		other := f.file(t, authorityAdmin, rectificationFiling("org-other", 10))

		count := func(p identity.Principal, q casework.Query) int {
			t.Helper()
			list, _, err := f.eng.List(ctx, p, q)
			if err != nil {
				t.Fatalf("List(%+v) by %s: %v", q, p.UserID, err)
			}
			return len(list)
		}
		checks := []struct {
			name string
			p    identity.Principal
			q    casework.Query
			want int
		}{
			{"citizen all", citizen, casework.Query{}, 3},
			{"citizen filed", citizen, casework.Query{View: casework.ViewFiled}, 3},
			{"citizen awaiting", citizen, casework.Query{View: casework.ViewAwaiting}, 0},
			{"officer awaiting", securityOfficer, casework.Query{View: casework.ViewAwaiting}, 3},
			// The officer's org (the authority) filed the two orders.
			{"officer all", securityOfficer, casework.Query{}, 5},
			{"citizen's colleague", identity.Principal{UserID: "u-colleague", OrgID: "org-enterprise", Roles: []identity.Role{identity.RoleAdmin}}, casework.Query{}, 0},
			{"citizen's colleague org view", identity.Principal{UserID: "u-colleague", OrgID: "org-enterprise", Roles: []identity.Role{identity.RoleAdmin}}, casework.Query{View: casework.ViewOrg}, 0},
			{"dept admin awaiting", deptAdmin, casework.Query{View: casework.ViewAwaiting}, 1},
			{"dept developer awaiting", deptDeveloper, casework.Query{View: casework.ViewAwaiting}, 0},
			{"dept developer org view", deptDeveloper, casework.Query{View: casework.ViewOrg}, 1},
			{"other admin all", otherAdmin, casework.Query{}, 1},
			{"authority all", authorityAdmin, casework.Query{}, 5},
			{"authority filed", authorityAdmin, casework.Query{View: casework.ViewFiled}, 2},
			{"authority by kind", authorityAdmin, casework.Query{Kind: casework.KindComplaint}, 3},
			{"authority by org", authorityAdmin, casework.Query{OrgID: "org-dept"}, 4},
			{"authority by state", authorityAdmin, casework.Query{State: "ordered"}, 2},
			{"by assignee", authorityAdmin, casework.Query{Assignee: &casework.Assignee{OrgID: "org-other", Role: identity.RoleAdmin}}, 1},
			{"by assignee role", citizen, casework.Query{Assignee: &casework.Assignee{Role: identity.RoleSecurityOfficer}}, 3},
			{"city all", cityGov, casework.Query{}, 5},
		}
		for _, c := range checks {
			if got := count(c.p, c.q); got != c.want {
				t.Errorf("%s: %d cases, want %d", c.name, got, c.want)
			}
		}
		if _, _, err := f.eng.List(ctx, citizen, casework.Query{View: "everything"}); codeOf(err) != "casework.bad_view" {
			t.Errorf("bad view: %v", err)
		}
		_ = order
		_ = other

		// Pages of two, newest first, until the end.
		var seen []string
		after := ""
		for i := 0; i < 5; i++ {
			list, next, err := f.eng.List(ctx, authorityAdmin, casework.Query{Limit: 2, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range list {
				seen = append(seen, c.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		if len(seen) != 5 || seen[4] != complaints[0] {
			t.Fatalf("paged through %d cases: %v", len(seen), seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Fatalf("pages not newest first: %v", seen)
			}
		}
	})
}

// A kind registered by a capability: its own payload, transitions and
// effects run in the decision's transaction; an effect that fails rolls
// the decision back.
func TestRegisteredKindEffects(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{NoBuiltinKinds: true})
		if _, err := db.ExecContext(ctx, `CREATE TABLE test_grants (case_id TEXT PRIMARY KEY, outcome TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		failNext := false
		grant := func(outcome string) casework.Effect {
			return func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
				if failNext {
					return fmt.Errorf("grant store unavailable")
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO test_grants (case_id, outcome) VALUES ($1, $2)`, c.ID, outcome+":"+a.Action)
				return err
			}
		}
		provider := func(c *casework.Case) []casework.Assignee {
			return []casework.Assignee{{OrgID: c.Target.OrgID, Role: identity.RoleReviewer}}
		}
		k := casework.Kind{
			Name: "share_request", LabelZH: "共享申请", LabelEN: "share request",
			TargetTypes: []string{"resource"}, TargetOrgSees: true,
			Validate: func(_ context.Context, _ identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
				t.OrgID = "org-dept" // a real kind would look the resource up
				return raw, nil
			},
			Initial: "pending",
			States: []casework.StateSpec{
				{Name: "pending", Assignees: provider},
				{Name: "approved", Terminal: true},
				{Name: "refused", Terminal: true},
			},
			Transitions: []casework.Transition{
				{Action: "approve", From: []casework.State{"pending"}, To: "approved", Who: casework.Assigned(), Outcome: casework.Approved},
				{Action: "refuse", From: []casework.State{"pending"}, To: "refused", Who: casework.Assigned(), Outcome: casework.Refused},
			},
			Deadline:   casework.Days(5),
			OnApprove:  grant("approved"),
			OnRefuse:   grant("refused"),
			OnWithdraw: grant("withdrawn"),
		}
		if err := f.eng.Register(k); err != nil {
			t.Fatal(err)
		}
		if err := f.eng.Register(k); err == nil {
			t.Fatal("registered the same kind twice")
		}
		broken := k
		broken.Name = "broken"
		broken.Transitions = append(broken.Transitions, casework.Transition{Action: "x", From: []casework.State{"nowhere"}, To: "approved", Who: casework.Assigned()})
		if err := f.eng.Register(broken); err == nil {
			t.Fatal("registered a kind with an undeclared state")
		}
		if _, err := f.eng.File(ctx, citizen, casework.Filing{Kind: casework.KindComplaint}); codeOf(err) != "casework.unknown_kind" {
			t.Fatalf("unregistered kind: %v", err)
		}

		reviewer := identity.Principal{UserID: "u-dept-reviewer", OrgID: "org-dept", Roles: []identity.Role{identity.RoleReviewer}}
		filing := casework.Filing{Kind: "share_request", Target: casework.Target{Type: "resource", ID: "res-1", OrgID: "org-spoofed"}}
		c := f.file(t, otherAdmin, filing)
		if c.Target.OrgID != "org-dept" {
			t.Fatalf("target org = %q; the client's org must not be trusted", c.Target.OrgID)
		}
		failNext = true
		if _, err := f.eng.Act(ctx, reviewer, c.ID, "approve", casework.ActInput{}); err == nil {
			t.Fatal("approve succeeded although its effect failed")
		}
		if got := f.get(t, reviewer, c.ID); got.State != "pending" {
			t.Fatalf("a failed effect left the case %s", got.State)
		}
		if steps, _ := f.ledgerSteps(t, c.ID); !equal(steps, []string{"file"}) {
			t.Fatalf("a rolled-back decision left ledger events: %v", steps)
		}
		failNext = false
		f.refuse(t, reviewer, c.ID, "refuse", "", "casework.reason_required") // XM26 holds for every kind
		f.act(t, reviewer, c.ID, "approve", "")
		c2 := f.file(t, otherAdmin, filing)
		f.act(t, reviewer, c2.ID, "refuse", "字段超出最小必要范围")
		c3 := f.file(t, otherAdmin, filing)
		f.act(t, otherAdmin, c3.ID, "withdraw", "")
		for id, want := range map[string]string{c.ID: "approved:approve", c2.ID: "refused:refuse", c3.ID: "withdrawn:withdraw"} {
			var got string
			if err := db.QueryRowContext(ctx, `SELECT outcome FROM test_grants WHERE case_id = $1`, id).Scan(&got); err != nil || got != want {
				t.Errorf("effect for %s: %q %v, want %q", id, got, err, want)
			}
		}
	})
}

// A list can keep only the cases filed since a time, by the engine's clock
// (the scorecards read one period's cases this way, R-GOV-1).
func TestListSince(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{})
		old := f.file(t, citizen, complaintFiling())
		f.clk.Set(at(2026, 4, 1, 9))
		recent := f.file(t, citizen, complaintFiling())
		list, _, err := f.eng.List(ctx, securityOfficer, casework.Query{Since: at(2026, 4, 1, 0)})
		if err != nil || len(list) != 1 || list[0].ID != recent.ID {
			t.Fatalf("since 1 April: %v %d cases, want only %s", err, len(list), recent.ID)
		}
		all, _, err := f.eng.List(ctx, securityOfficer, casework.Query{})
		if err != nil || len(all) != 2 || all[1].ID != old.ID {
			t.Fatalf("no since: %v %d cases, want both", err, len(all))
		}
	})
}
