package share

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-SHR-1, R-SHR-2, R-SHR-4, R-SHR-5: an unconditional resource is obtained
// at once by declaring scenario and fields; the grant covers exactly those
// fields and that scenario; the other two sharing types are not obtained
// this way; only admins and stewards of public orgs declare.
func TestUnconditional(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		decl := Declaration{ResourceID: e.open.ID, Scenario: "就业登记身份核验", LegalDuty: "《就业促进法》", Fields: []string{"id_card", "full_name"}}

		// Wrong principals.
		for _, c := range []struct {
			p    identity.Principal
			want string
		}{
			{anon, "auth.required"},
			{developer("rsj"), "share.forbidden"},
			{steward("ent"), "share.not_public_org"},
			{authority, "share.not_public_org"},
			{steward("gaj"), "share.own_resource"},
		} {
			_, err := e.s.ObtainUnconditional(e.ctx, c.p, decl)
			if c.want == "auth.required" {
				if err == nil {
					t.Fatal("anonymous declaration accepted")
				}
				continue
			}
			e.wantCode(err, c.want)
		}
		// Minimal sufficiency: fields must be named, exist, and not repeat.
		for _, fs := range [][]string{nil, {"id_card", "salary"}, {"id_card", "id_card"}} {
			d := decl
			d.Fields = fs
			_, err := e.s.ObtainUnconditional(e.ctx, steward("rsj"), d)
			e.wantCode(err, "share.fields")
		}
		d := decl
		d.Scenario = "  "
		_, err := e.s.ObtainUnconditional(e.ctx, steward("rsj"), d)
		e.wantCode(err, "share.text")
		d = decl
		d.Days = 5000
		_, err = e.s.ObtainUnconditional(e.ctx, steward("rsj"), d)
		e.wantCode(err, "share.duration")
		// The other sharing types (R-SHR-1).
		d = decl
		d.ResourceID = e.cond.ID
		_, err = e.s.ObtainUnconditional(e.ctx, steward("rsj"), d)
		e.wantCode(err, "share.conditional")
		d.ResourceID = e.none.ID
		_, err = e.s.ObtainUnconditional(e.ctx, steward("rsj"), d)
		e.wantCode(err, "share.not_shared")
		if !strings.Contains(err.Error(), "人民警察法") && !strings.Contains(err.Error(), "legal basis") {
			t.Fatalf("not-shared refusal does not cite the basis: %v", err)
		}

		g := must(e.s.ObtainUnconditional(e.ctx, steward("rsj"), decl))
		if g.Kind != gate.KindUnconditional || g.GranteeOrgID != "rsj" || g.Purpose != decl.Scenario || !slices.Equal(g.Fields, decl.Fields) || g.State != gate.Active {
			t.Fatalf("grant: %+v", g)
		}
		if want := e.clk.Now().AddDate(0, 0, 365); !g.ExpiresAt.Equal(want.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("expiry %v, want %v", g.ExpiresAt, want)
		}
		if !strings.Contains(g.Terms, "第三方") {
			t.Fatalf("terms lack the commitment: %s", g.Terms)
		}
		_, err = e.s.ObtainUnconditional(e.ctx, steward("rsj"), decl)
		e.wantCode(err, "share.duplicate_grant")

		// The org's business application gets the granted fields through the gate, no others.
		app := client("rsj")
		dl := must(e.deliver(app, e.open))
		if dl.Records != 30 || !slices.Equal(dl.Decision.Obl.Fields, decl.Fields) {
			t.Fatalf("delivery: %d records, fields %v", dl.Records, dl.Decision.Obl.Fields)
		}
		_, err = e.deliver(app, e.open, "id_card", "gender")
		e.wantCode(err, "gate.field_not_granted")
		// Another org holds nothing.
		_, err = e.deliver(client("water"), e.open, "id_card")
		e.wantCode(err, "gate.no_grant")
		// A public service org may obtain too, bound to one client.
		d = decl
		d.ClientID = "app-water"
		d.ResourceID = e.open.Code
		g2 := must(e.s.ObtainUnconditional(e.ctx, steward("water"), d))
		if g2.GranteeClientID != "app-water" {
			t.Fatalf("client binding: %+v", g2)
		}
		must(e.deliver(client("water"), e.open, "full_name"))

		// Visibility: consumer, provider and authority see it; others do not.
		for _, p := range []identity.Principal{steward("rsj"), steward("gaj"), authority} {
			must(e.s.Grant(e.ctx, p, g.ID))
		}
		_, err = e.s.Grant(e.ctx, steward("water"), g.ID)
		e.wantCode(err, "share.not_found")
		list := must(e.s.Grants(e.ctx, steward("gaj"), GrantQuery{View: "provider"}))
		if len(list) != 2 || list[0].ProviderOrgID != "gaj" || list[0].ResourceCode != e.open.Code {
			t.Fatalf("provider list: %d %+v", len(list), list)
		}
		if got := must(e.s.Grants(e.ctx, steward("rsj"), GrantQuery{View: "consumer"})); len(got) != 1 || got[0].ID != g.ID {
			t.Fatalf("consumer list: %+v", got)
		}
		if got := must(e.s.Grants(e.ctx, steward("rsj"), GrantQuery{View: "provider"})); len(got) != 0 {
			t.Fatalf("rsj provides nothing: %+v", got)
		}
		if got := must(e.s.Grants(e.ctx, authority, GrantQuery{})); len(got) != 2 {
			t.Fatalf("authority list: %d", len(got))
		}
	})
}

// R-SHR-3, R-SHR-4: a conditional request carries scenario, legal duty,
// fields, duration and an acknowledged commitment; the providing org and
// then the authority review it within 5 working days; approval creates the
// grant with exactly the requested fields in the same transaction; every
// transition refuses the wrong roles.
func TestConditionalRequest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		consumer := steward("rsj")

		// The commitment must be acknowledged, and be the platform's text.
		r := ShareRequest{ResourceID: e.cond.ID, RequestPayload: RequestPayload{Scenario: "社保资格认证", LegalDuty: "《社会保险法》", Fields: []string{"id_card"}}}
		_, err := e.s.RequestShare(e.ctx, consumer, r)
		e.wantCode(err, "share.commitment")
		r.Acknowledged, r.Commitment = true, "我们会小心使用"
		_, err = e.s.RequestShare(e.ctx, consumer, r)
		e.wantCode(err, "share.commitment")
		r.Commitment = ""
		r.LegalDuty = ""
		_, err = e.s.RequestShare(e.ctx, consumer, r)
		e.wantCode(err, "share.text")
		_, err = e.request(consumer, e.cond, "id_card", "passport_no")
		e.wantCode(err, "share.fields")
		_, err = e.request(developer("rsj"), e.cond, "id_card")
		e.wantCode(err, "share.forbidden")
		_, err = e.request(steward("ent"), e.cond, "id_card")
		e.wantCode(err, "share.not_public_org")
		_, err = e.request(consumer, e.open, "id_card")
		e.wantCode(err, "share.unconditional")

		c := must(e.request(consumer, e.cond, "id_card", "full_name"))
		if c.State != "submitted" || c.Target.OrgID != "gaj" || c.Deadline == nil {
			t.Fatalf("filed: %+v", c)
		}
		// 5 working days from Tuesday 24 Nov 2026: the end of Tuesday 1 Dec.
		if want := e.cw.Calendar().AddWorkingDays(e.clk.Now(), 5); !c.Deadline.Equal(want) {
			t.Fatalf("deadline %v, want %v", c.Deadline, want)
		}
		var pl RequestPayload
		if err := json.Unmarshal(c.Payload, &pl); err != nil || pl.Commitment != Commitment || pl.Attr != catalog.Conditional || pl.ResourceCode != e.cond.Code {
			t.Fatalf("payload: %s", c.Payload)
		}

		// Wrong roles and wrong order.
		_, err = e.act(consumer, c.ID, "concur", "")
		e.wantCode(err, "casework.forbidden_action")
		_, err = e.act(authority, c.ID, "concur", "")
		e.wantCode(err, "casework.forbidden_action")
		_, err = e.act(authority, c.ID, "approve", "")
		e.wantCode(err, "casework.wrong_state")
		_, err = e.act(developer("gaj"), c.ID, "concur", "")
		e.wantCode(err, "casework.forbidden_action")

		c = must(e.act(steward("gaj"), c.ID, "concur", "同意，限身份证号与姓名"))
		if c.State != "concurred" {
			t.Fatalf("state %s", c.State)
		}
		for _, p := range []identity.Principal{steward("gaj"), consumer, cityGov} {
			_, err = e.act(p, c.ID, "approve", "")
			e.wantCode(err, "casework.forbidden_action")
		}
		// No grant before approval.
		if gs := must(e.gate.Grants(e.ctx, gate.GrantFilter{CaseID: c.ID})); len(gs) != 0 {
			t.Fatalf("grant before approval: %+v", gs)
		}
		_, err = e.deliver(client("rsj"), e.cond, "id_card")
		e.wantCode(err, "gate.no_grant")

		e.clk.Advance(time.Hour)
		c = must(e.act(authority, c.ID, "approve", "同意共享"))
		if c.State != "approved" || c.Decision == nil || c.Decision.Outcome != casework.Approved {
			t.Fatalf("approved: %+v", c)
		}
		gs := must(e.gate.Grants(e.ctx, gate.GrantFilter{CaseID: c.ID}))
		if len(gs) != 1 {
			t.Fatalf("grants: %+v", gs)
		}
		g := gs[0]
		if g.Kind != gate.KindConditional || g.GranteeOrgID != "rsj" || !slices.Equal(g.Fields, []string{"id_card", "full_name"}) ||
			g.Purpose != "社会保险待遇资格认证" || !g.ExpiresAt.Equal(e.clk.Now().UTC().AddDate(0, 0, 180).Truncate(time.Microsecond)) {
			t.Fatalf("grant: %+v", g)
		}
		// Only the requested fields come through the gate.
		dl := must(e.deliver(client("rsj"), e.cond))
		if !slices.Equal(dl.Decision.Obl.Fields, []string{"id_card", "full_name"}) {
			t.Fatalf("delivered fields %v", dl.Decision.Obl.Fields)
		}
		_, err = e.deliver(client("rsj"), e.cond, "gender")
		e.wantCode(err, "gate.field_not_granted")
		// The grant ends at its expiry.
		e.clk.Advance(181 * 24 * time.Hour)
		_, err = e.deliver(client("rsj"), e.cond, "id_card")
		e.wantCode(err, "gate.grant_expired")
		// A decided case takes no more actions.
		_, err = e.act(authority, c.ID, "refuse", "改变主意")
		e.wantCode(err, "casework.wrong_state")

		// The request list shows it to the applicant and the provider.
		for _, p := range []identity.Principal{consumer, steward("gaj"), authority} {
			list, _, err := e.s.Requests(e.ctx, p, "", "", "", 10)
			if err != nil || len(list) != 1 || list[0].ID != c.ID {
				t.Fatalf("requests for %s: %v %+v", p.UserID, err, list)
			}
		}
	})
}

// R-SHR-3: the time limit is configurable, and an overdue request
// escalates to the authority.
func TestRequestDeadlineConfigurable(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{RequestDays: 2})
		c := must(e.request(steward("rsj"), e.cond, "id_card"))
		if want := e.cw.Calendar().AddWorkingDays(e.clk.Now(), 2); !c.Deadline.Equal(want) {
			t.Fatalf("deadline %v, want %v", c.Deadline, want)
		}
		e.clk.Set(c.Deadline.Add(time.Minute))
		n := must(e.cw.EscalateOverdue(e.ctx))
		if n != 1 {
			t.Fatalf("escalated %d", n)
		}
		c = must(e.cw.Get(e.ctx, authority, c.ID))
		if c.Level != 1 || c.LevelName != "authority" {
			t.Fatalf("escalation: level %d %s", c.Level, c.LevelName)
		}
		// The authority, now assigned, may refuse the stalled request.
		must(e.act(authority, c.ID, "refuse", "提供单位逾期未答复，经核实该场景不属于法定职责范围"))
	})
}

// R-SHR-3: a refusal needs a written reason, and the reason reaches the
// applicant: a notification in its inbox and the decision on its case. No
// grant is created.
func TestRefusalReachesApplicant(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		consumer := steward("rsj")
		c := must(e.request(consumer, e.cond, "id_card"))
		_, err := e.act(steward("gaj"), c.ID, "refuse", "")
		e.wantCode(err, "casework.reason_required")
		_, err = e.act(consumer, c.ID, "refuse", "不要了")
		e.wantCode(err, "casework.forbidden_action")
		reason := "该场景可通过无条件共享的《户籍人口基本信息》满足，不需要出入境证件信息"
		must(e.act(steward("gaj"), c.ID, "refuse", reason))

		got := must(e.cw.Get(e.ctx, consumer, c.ID))
		if got.State != "refused" || got.Decision == nil || got.Decision.Outcome != casework.Refused || got.Decision.Reason != reason {
			t.Fatalf("decision: %+v", got.Decision)
		}
		notes, _, err := e.cw.Notifications(e.ctx, consumer, casework.NotificationQuery{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, n := range notes {
			if n.CaseID == c.ID && n.Action == "refuse" && n.State == "refused" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no refusal notification for the applicant: %+v", notes)
		}
		if gs := must(e.gate.Grants(e.ctx, gate.GrantFilter{CaseID: c.ID})); len(gs) != 0 {
			t.Fatalf("grant after refusal: %+v", gs)
		}

		// The authority refuses after the provider concurred, too.
		c2 := must(e.request(consumer, e.cond, "full_name"))
		must(e.act(steward("gaj"), c2.ID, "concur", ""))
		_, err = e.act(steward("gaj"), c2.ID, "refuse", "反悔")
		e.wantCode(err, "casework.forbidden_action")
		c2 = must(e.act(authority, c2.ID, "refuse", "场景与申请单位法定职责不符"))
		if c2.Decision.Reason != "场景与申请单位法定职责不符" {
			t.Fatalf("reason: %+v", c2.Decision)
		}
	})
}

// R-SHR-1, R-CAT-5: a request for a not-shared resource is refused
// automatically, citing the legal basis recorded in the catalog; filed
// through the generic case API it is refused outright with the same basis.
func TestNotSharedAutoRefused(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		c := must(e.request(steward("rsj"), e.none, "id_card"))
		if c.State != "refused" || c.Decision == nil || c.Decision.Outcome != casework.Refused {
			t.Fatalf("not refused: %+v", c)
		}
		if !strings.Contains(c.Decision.Reason, "《中华人民共和国人民警察法》第二十条") || !strings.Contains(c.Decision.Reason, "涉及侦查秘密") {
			t.Fatalf("reason does not cite the basis: %s", c.Decision.Reason)
		}
		// The platform refused, not the applicant; the applicant reads it.
		got := must(e.cw.Get(e.ctx, steward("rsj"), c.ID))
		last := got.History[len(got.History)-1]
		if last.Action != "auto_refuse" || last.ActorID != system.ClientID {
			t.Fatalf("refusal recorded as %+v", last)
		}
		if gs := must(e.gate.Grants(e.ctx, gate.GrantFilter{ResourceID: e.none.ID})); len(gs) != 0 {
			t.Fatalf("grant for a not-shared resource: %+v", gs)
		}
		payload, _ := json.Marshal(RequestPayload{Scenario: "x", LegalDuty: "y", Fields: []string{"id_card"}, Acknowledged: true})
		_, err := e.cw.File(e.ctx, steward("rsj"), casework.Filing{Kind: KindRequest, Target: casework.Target{Type: "resource", ID: e.none.ID}, Payload: payload})
		e.wantCode(err, "share.not_shared")
		// Nobody can turn an ordinary request into an automatic refusal.
		c2 := must(e.request(steward("rsj"), e.cond, "id_card"))
		_, err = e.act(steward("rsj"), c2.ID, "auto_refuse", "自动")
		e.wantCode(err, "casework.forbidden_action")
	})
}

// R-SHR-6: a dispute over a sharing attribute: consultation with the
// providing org, then the city government decides.
func TestDispute(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		_, err := e.s.FileDispute(e.ctx, authority, DisputeInput{ResourceID: e.none.ID, Proposed: catalog.None, Reason: "x"})
		e.wantCode(err, "share.same_attr")
		_, err = e.s.FileDispute(e.ctx, authority, DisputeInput{ResourceID: e.none.ID, Proposed: "sometimes", Reason: "x"})
		e.wantCode(err, "share.bad_attr")
		_, err = e.s.FileDispute(e.ctx, steward("gaj"), DisputeInput{ResourceID: e.none.ID, Proposed: catalog.Conditional, Reason: "x"})
		e.wantCode(err, "share.own_resource")
		_, err = e.s.FileDispute(e.ctx, steward("ent"), DisputeInput{ResourceID: e.none.ID, Proposed: catalog.Conditional, Reason: "x"})
		e.wantCode(err, "casework.forbidden_filing")

		reason := "列为暂不共享的依据仅涉及侦查秘密字段，身份号码和姓名可有条件共享"
		c := must(e.s.FileDispute(e.ctx, authority, DisputeInput{ResourceID: e.none.ID, Proposed: catalog.Conditional, Reason: reason}))
		if c.State != "consulting" || c.Target.OrgID != "gaj" {
			t.Fatalf("filed: %+v", c)
		}
		// Only the city government decides, and only once referred.
		_, err = e.act(cityGov, c.ID, "decide", "决定")
		e.wantCode(err, "casework.forbidden_action")
		// An uninvolved org cannot even see it.
		_, err = e.act(steward("rsj"), c.ID, "refer", "协商不成")
		e.wantCode(err, "casework.not_found")
		_, err = e.act(steward("gaj"), c.ID, "refer", "")
		e.wantCode(err, "casework.reason_required")
		c = must(e.act(steward("gaj"), c.ID, "refer", "本局坚持依据《人民警察法》不予共享"))
		if c.State != "referred" || len(c.Assignees) != 1 || c.Assignees[0].Role != identity.RoleCityGovernment {
			t.Fatalf("referred: %+v", c)
		}
		for _, p := range []identity.Principal{authority, steward("gaj")} {
			_, err = e.cw.Act(e.ctx, p, c.ID, "decide", casework.ActInput{Reason: "r", Data: json.RawMessage(`{"attr":"conditional"}`)})
			e.wantCode(err, "casework.forbidden_action")
		}
		_, err = e.cw.Act(e.ctx, cityGov, c.ID, "decide", casework.ActInput{Reason: "r", Data: json.RawMessage(`{"attr":"maybe"}`)})
		e.wantCode(err, "share.bad_attr")
		c = must(e.cw.Act(e.ctx, cityGov, c.ID, "decide", casework.ActInput{Reason: "经研究，改为有条件共享，限身份号码和姓名", Data: json.RawMessage(`{"attr":"conditional"}`)}))
		if c.State != "decided" || c.Decision == nil || c.Decision.Outcome != casework.Approved {
			t.Fatalf("decided: %+v", c)
		}

		// An overdue consultation escalates to the city government, who then decides.
		c2 := must(e.s.FileDispute(e.ctx, steward("rsj"), DisputeInput{ResourceID: e.cond.ID, Proposed: catalog.Unconditional, Reason: "身份核验为高频基础需求"}))
		e.clk.Set(c2.Deadline.Add(time.Minute))
		must(e.cw.EscalateOverdue(e.ctx))
		c2 = must(e.cw.Act(e.ctx, cityGov, c2.ID, "decide", casework.ActInput{Reason: "维持有条件共享", Data: json.RawMessage(`{"attr":"conditional"}`)}))
		if c2.State != "decided" {
			t.Fatalf("decided after escalation: %s", c2.State)
		}
		// Or the providing org agrees during consultation.
		c3 := must(e.s.FileDispute(e.ctx, authority, DisputeInput{ResourceID: e.waterRes.ID, Proposed: catalog.Conditional, Reason: "含个人信息"}))
		_, err = e.act(steward("gaj"), c3.ID, "agree", "同意")
		e.wantCode(err, "casework.not_found")
		_, err = e.act(developer("water"), c3.ID, "agree", "同意")
		e.wantCode(err, "casework.forbidden_action")
		c3 = must(e.act(steward("water"), c3.ID, "agree", "同意调整为有条件共享，将更新目录"))
		if c3.State != "agreed" {
			t.Fatalf("agreed: %s", c3.State)
		}
	})
}

// R-SHR-7: the demand list: an org posts a need; the authority matches it
// to an entry, or asks an org to catalog it and the org matches its new
// entry; posters close their own needs.
func TestDemandList(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		in := DemandInput{Title: "独居老人用水异常数据", Description: "用于独居老人关爱，需要连续多日用水量为零的户", Scenario: "独居老人关爱巡访", Items: []string{"户号", "地址", "日用水量"}}
		_, err := e.s.PostDemand(e.ctx, steward("ent"), in)
		e.wantCode(err, "share.not_public_org")
		_, err = e.s.PostDemand(e.ctx, steward("rsj"), DemandInput{Title: "x", Description: "y", Scenario: "z"})
		e.wantCode(err, "share.fields")
		d := must(e.s.PostDemand(e.ctx, steward("rsj"), in))
		if d.Status != DemandOpen {
			t.Fatalf("status %s", d.Status)
		}
		// Only the authority asks and matches an open demand.
		_, err = e.s.AskToCatalog(e.ctx, steward("gaj"), d.ID, "water", "请编目")
		e.wantCode(err, "share.forbidden")
		_, err = e.s.MatchDemand(e.ctx, steward("water"), d.ID, e.waterRes.ID, "")
		e.wantCode(err, "share.forbidden")
		_, err = e.s.AskToCatalog(e.ctx, authority, d.ID, "ent", "请编目")
		e.wantCode(err, "share.not_public_org")
		d = must(e.s.AskToCatalog(e.ctx, authority, d.ID, "water", "请市自来水公司将日用水量数据编目并共享"))
		if d.Status != DemandCataloging || d.AskedOrgID != "water" {
			t.Fatalf("ask: %+v", d)
		}
		asked, _, err := e.s.Demands(e.ctx, steward("water"), DemandQuery{Asked: true})
		if err != nil || len(asked) != 1 {
			t.Fatalf("asked list: %v %+v", err, asked)
		}
		// The asked org matches its own entry, not another org's.
		_, err = e.s.MatchDemand(e.ctx, steward("water"), d.ID, e.open.ID, "")
		e.wantCode(err, "share.forbidden")
		d = must(e.s.MatchDemand(e.ctx, steward("water"), d.ID, e.waterRes.ID, "已编目为居民用水户信息"))
		if d.Status != DemandMatched || d.ResourceID != e.waterRes.ID {
			t.Fatalf("match: %+v", d)
		}
		_, err = e.s.CloseDemand(e.ctx, steward("rsj"), d.ID, "不再需要")
		e.wantCode(err, "share.demand_state")

		d2 := must(e.s.PostDemand(e.ctx, steward("water"), in))
		d2m := must(e.s.MatchDemand(e.ctx, authority, d2.ID, e.open.Code, "户籍人口信息可满足"))
		if d2m.ResourceID != e.open.ID {
			t.Fatalf("matched by code: %+v", d2m)
		}
		d3 := must(e.s.PostDemand(e.ctx, steward("water"), in))
		_, err = e.s.CloseDemand(e.ctx, steward("rsj"), d3.ID, "别人的")
		e.wantCode(err, "share.forbidden")
		must(e.s.CloseDemand(e.ctx, steward("water"), d3.ID, "需求已通过其他途径满足"))

		all, next, err := e.s.Demands(e.ctx, authority, DemandQuery{Limit: 2})
		if err != nil || len(all) != 2 || next == "" {
			t.Fatalf("page 1: %v %d %q", err, len(all), next)
		}
		rest, next, err := e.s.Demands(e.ctx, authority, DemandQuery{Limit: 2, After: next})
		if err != nil || len(rest) != 1 || next != "" || rest[0].ID != d.ID {
			t.Fatalf("page 2: %v %+v %q", err, rest, next)
		}
		_, _, err = e.s.Demands(e.ctx, steward("ent"), DemandQuery{})
		e.wantCode(err, "share.not_public_org")
	})
}

// R-SHR-10: the authority suspends a consumer's grant — calls then fail
// with gate.grant_suspended and the reason — reinstates it, and terminates
// it; the providing org asks for suspension through a case the authority
// decides; wrong roles are refused.
func TestSuspension(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		decl := Declaration{ResourceID: e.open.ID, Scenario: "就业登记身份核验", Fields: []string{"id_card", "full_name"}}
		g := must(e.s.ObtainUnconditional(e.ctx, steward("rsj"), decl))
		app := client("rsj")
		must(e.deliver(app, e.open))

		for _, p := range []identity.Principal{steward("gaj"), steward("rsj"), cityGov} {
			_, err := e.s.Apply(e.ctx, p, g.ID, Suspend, "超范围使用")
			e.wantCode(err, "share.forbidden")
		}
		_, err := e.s.Apply(e.ctx, authority, g.ID, Suspend, "")
		e.wantCode(err, "gate.bad_grant")
		_, err = e.s.Apply(e.ctx, authority, g.ID, Reinstate, "无事")
		e.wantCode(err, "gate.grant_state")
		reason := "发现将共享数据用于申请场景以外的用途，责令改正"
		g = must(e.s.Apply(e.ctx, authority, g.ID, Suspend, reason))
		if g.State != gate.Suspended {
			t.Fatalf("state %s", g.State)
		}
		_, err = e.deliver(app, e.open)
		e.wantCode(err, "gate.grant_suspended")
		if !strings.Contains(err.Error(), "used for") && !strings.Contains(err.Error(), reason) {
			// The reason travels with the refusal (ZH in the message).
			if ae, ok := asApp(err); !ok || !strings.Contains(ae.ZH, reason) {
				t.Fatalf("refusal lacks the reason: %v", err)
			}
		}
		must(e.s.Apply(e.ctx, authority, g.ID, Reinstate, "已整改"))
		must(e.deliver(app, e.open))

		// The providing org reports misuse through a case.
		_, err = e.s.ReportMisuse(e.ctx, steward("water"), MisuseReport{GrantID: g.ID, Measure: Suspend, Reason: "不是我的数据"})
		e.wantCode(err, "share.forbidden")
		_, err = e.s.ReportMisuse(e.ctx, steward("gaj"), MisuseReport{GrantID: g.ID, Measure: "ban", Reason: "x"})
		e.wantCode(err, "share.bad_measure")
		c := must(e.s.ReportMisuse(e.ctx, steward("gaj"), MisuseReport{GrantID: g.ID, Measure: Suspend, Reason: "调用量异常，疑似批量导出", Evidence: "使用监测：单日调用量突增"}))
		if c.Target.OrgID != "rsj" {
			t.Fatalf("target org %s", c.Target.OrgID)
		}
		// The consumer sees the report against it.
		must(e.cw.Get(e.ctx, steward("rsj"), c.ID))
		for _, p := range []identity.Principal{steward("gaj"), steward("rsj")} {
			_, err = e.act(p, c.ID, "approve", "")
			e.wantCode(err, "casework.forbidden_action")
		}
		must(e.act(authority, c.ID, "approve", "经核查属实，暂停数据服务"))
		_, err = e.deliver(app, e.open)
		e.wantCode(err, "gate.grant_suspended")
		// Refused reports change nothing.
		c2 := must(e.s.ReportMisuse(e.ctx, steward("gaj"), MisuseReport{GrantID: g.ID, Measure: Terminate, Reason: "拒不改正"}))
		for _, p := range []identity.Principal{steward("gaj"), steward("rsj"), cityGov} {
			_, err = e.act(p, c2.ID, "refuse", "不同意")
			e.wantCode(err, "casework.forbidden_action")
		}
		_, err = e.act(authority, c2.ID, "refuse", "")
		e.wantCode(err, "casework.reason_required")
		must(e.act(authority, c2.ID, "refuse", "正在整改期内"))
		if cur := must(e.gate.Grant(e.ctx, g.ID)); cur.State != gate.Suspended {
			t.Fatalf("state after refused report: %s", cur.State)
		}
		// Termination is final.
		must(e.s.Apply(e.ctx, authority, g.ID, Terminate, "拒不改正，终止数据服务"))
		_, err = e.deliver(app, e.open)
		e.wantCode(err, "gate.grant_terminated")
		_, err = e.s.Apply(e.ctx, authority, g.ID, Reinstate, "再给一次机会")
		e.wantCode(err, "gate.grant_state")
		_, err = e.s.Apply(e.ctx, authority, g.ID, "pause", "x")
		e.wantCode(err, "share.bad_measure")

		// The authority suspends all of a consumer's grants from one provider at once.
		g1 := must(e.s.ObtainUnconditional(e.ctx, steward("rsj"), Declaration{ResourceID: e.open.ID, Scenario: "另一场景", Fields: []string{"gender"}}))
		g2 := must(e.s.ObtainUnconditional(e.ctx, steward("rsj"), Declaration{ResourceID: e.waterRes.ID, Scenario: "另一场景", Fields: []string{"gender"}}))
		_, err = e.s.ConsumerMeasure(e.ctx, steward("gaj"), "rsj", "gaj", Suspend, "x")
		e.wantCode(err, "share.forbidden")
		changed := must(e.s.ConsumerMeasure(e.ctx, authority, "rsj", "gaj", Suspend, "违规使用，暂停本局全部数据服务"))
		if len(changed) != 1 || changed[0].ID != g1.ID {
			t.Fatalf("bulk suspension: %+v", changed)
		}
		if cur := must(e.gate.Grant(e.ctx, g2.ID)); cur.State != gate.Active {
			t.Fatalf("other provider's grant: %s", cur.State)
		}
		changed = must(e.s.ConsumerMeasure(e.ctx, authority, "rsj", "", Reinstate, "已整改"))
		if len(changed) != 1 || changed[0].ID != g1.ID {
			t.Fatalf("bulk reinstatement: %+v", changed)
		}
	})
}

// R-SHR-5, R-SHR-10: per-grant usage from the ledger: calls, rows,
// refusals, calls for fields outside the grant and volume spikes; seen by
// the providing org and the authority only.
func TestUsage(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{Usage: UsageOptions{SpikeMinCalls: 5}})
		g := must(e.s.ObtainUnconditional(e.ctx, steward("rsj"), Declaration{ResourceID: e.open.ID, Scenario: "就业登记身份核验", Fields: []string{"id_card", "full_name"}}))
		app := client("rsj")
		// One call a day for five days, then twelve in a day.
		for day := 0; day < 5; day++ {
			must(e.deliver(app, e.open))
			e.clk.Advance(24 * time.Hour)
		}
		for i := 0; i < 12; i++ {
			must(e.deliver(app, e.open, "id_card"))
		}
		_, err := e.deliver(app, e.open, "id_card", "gender")
		e.wantCode(err, "gate.field_not_granted")
		_, err = e.deliver(app, e.open, "district")
		e.wantCode(err, "gate.field_not_granted")
		if _, err := e.led.Integrate(e.ctx); err != nil {
			t.Fatal(err)
		}

		for _, p := range []identity.Principal{steward("rsj"), developer("gaj")} {
			_, err = e.s.Usage(e.ctx, p, g.ID, time.Time{})
			e.wantCode(err, "share.forbidden")
		}
		_, err = e.s.Usage(e.ctx, steward("water"), g.ID, time.Time{})
		e.wantCode(err, "share.not_found")
		_ = must(e.s.Usage(e.ctx, authority, g.ID, time.Time{}))
		u := must(e.s.Usage(e.ctx, steward("gaj"), g.ID, time.Time{}))
		if u.Calls != 17 || u.Rows != 17*30 || u.Denied != 2 || u.OutsideFields != 2 || u.DeniedByCode["gate.field_not_granted"] != 2 {
			t.Fatalf("usage: calls %d rows %d denied %d outside %d %v", u.Calls, u.Rows, u.Denied, u.OutsideFields, u.DeniedByCode)
		}
		if len(u.Days) != 6 || u.Days[5].Calls != 12 || u.Days[0].Calls != 1 {
			t.Fatalf("days: %+v", u.Days)
		}
		kinds := map[string]Anomaly{}
		for _, a := range u.Anomalies {
			kinds[a.Kind] = a
		}
		if a, ok := kinds["volume_spike"]; !ok || a.Count != 12 || a.Baseline != 1 {
			t.Fatalf("no volume spike: %+v", u.Anomalies)
		}
		if a, ok := kinds["fields_outside_grant"]; !ok || a.Count != 2 || !slices.Equal(a.Fields, []string{"district", "gender"}) {
			t.Fatalf("outside fields: %+v", u.Anomalies)
		}
		if u.LastCall == nil {
			t.Fatal("no last call")
		}
		// A window starting today sees only today.
		today := must(e.s.Usage(e.ctx, authority, g.ID, e.clk.Now().Add(-time.Hour)))
		if today.Calls != 12 {
			t.Fatalf("today: %d", today.Calls)
		}
	})
}
