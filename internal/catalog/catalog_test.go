package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

type env struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	clk *clock.Fake
	led *ledger.Ledger
	cw  *casework.Engine
	s   *Service
}

var testOrgs = map[string]Org{
	"auth":  {ID: "auth", Name: "市大数据管理局", Code: "11350200MA2600000A", Kind: identity.KindAuthority},
	"gaj":   {ID: "gaj", Name: "市公安局", Code: "11350200MA2600001B", Kind: identity.KindDepartment},
	"rsj":   {ID: "rsj", Name: "市人力资源和社会保障局", Code: "11350200MA2600002C", Kind: identity.KindDepartment},
	"water": {ID: "water", Name: "市自来水有限公司", Code: "91350200MA2600003D", Kind: identity.KindPublicService},
	"ent":   {ID: "ent", Name: "某科技公司", Code: "91350200MA2600004E", Kind: identity.KindEnterprise},
}

func testLookup(_ context.Context, id string) (Org, error) {
	o, ok := testOrgs[id]
	if !ok {
		return Org{}, apperr.ErrNotFound.At(id)
	}
	return o, nil
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := casework.New(ctx, db, led, clk, casework.DefaultCalendar(), casework.Options{NoBuiltinKinds: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, db, led, clk, Options{Orgs: testLookup})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseCasework(cw); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, db: db, clk: clk, led: led, cw: cw, s: s}
}

func steward(org string) identity.Principal {
	return identity.Principal{UserID: "steward-" + org, OrgID: org, OrgKind: testOrgs[org].Kind, Roles: []identity.Role{identity.RoleDataSteward}}
}

func authority() identity.Principal {
	return identity.Principal{UserID: "admin", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin, identity.RoleReviewer}}
}

var anon = identity.Principal{}

func sample(org, name string) Entry {
	return Entry{
		Name: name, Description: name + "，按日更新。", OrgID: org, DataClass: ClassGovernment,
		Themes: []string{"public_security"}, Industry: "S", Library: Library{Kind: "base", Code: "population"},
		Frequency: Daily, Formats: []string{"csv", "json"}, LegalBasis: "《中华人民共和国户口登记条例》", Level: LevelImportant,
		Share:    Sharing{Attr: Conditional, Conditions: "用于履职"},
		Open:     Sharing{Attr: None, Basis: "《个人信息保护法》", Reason: "含个人信息"},
		Delivery: Delivery{Mode: Hosted}, Contact: Contact{Name: "张三", Phone: "0592-1234567", Email: "data@example.gov.cn"},
		Tags: []string{"户籍", "人口"},
		Fields: []Field{
			{Name: "id_card", Label: "公民身份号码", Type: "string", Required: true, CodeList: "GB 11643-1999", Category: "个人信息/身份信息", Level: LevelImportant, Personal: true, Sensitive: true},
			{Name: "full_name", Label: "姓名", Type: "string", Required: true, Category: "个人信息/基本信息", Level: LevelGeneral, Personal: true},
			{Name: "gender", Label: "性别", Type: "string", CodeList: "GB/T 2261.1-2003", Level: LevelGeneral},
		},
	}
}

func code(err error) string {
	if ae, ok := apperr.As(err); ok {
		return ae.Code
	}
	if err == nil {
		return ""
	}
	return "non-apperr: " + err.Error()
}

func (e *env) publish(p identity.Principal, entry Entry) *Resource {
	e.t.Helper()
	d, err := e.s.CreateDraft(e.ctx, p, entry)
	if err != nil {
		e.t.Fatalf("create draft: %v", err)
	}
	res, err := e.s.Publish(e.ctx, p, d.ResourceID, PublishInput{Reason: "首次发布"})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return res.Resource
}

// R-CAT-1, R-CAT-3: an org's steward drafts, publishes and adjusts an entry;
// every published version is kept with who, when, why and a diff; the
// published catalog is public; a withdrawn entry leaves it. A field removal
// needs acknowledgement and makes a new major version.
func TestDraftPublishVersionsWithdraw(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		st := steward("gaj")
		d, err := e.s.CreateDraft(e.ctx, st, sample("gaj", "常住人口基本信息"))
		if err != nil {
			t.Fatal(err)
		}
		if d.Code != "11350200MA2600001B-00001" {
			t.Fatalf("code %q: want org code + sequence", d.Code)
		}
		// A draft is not public.
		if _, err := e.s.Get(e.ctx, anon, d.ResourceID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("draft visible to the public: %v", err)
		}
		if _, err := e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{}); code(err) != "catalog.invalid" {
			t.Fatalf("publish without a reason: %v", err)
		}
		if _, err := e.s.Publish(e.ctx, steward("rsj"), d.ResourceID, PublishInput{Reason: "x"}); code(err) != "forbidden" {
			t.Fatalf("another org published: %v", err)
		}
		pr, err := e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "首次发布"})
		if err != nil {
			t.Fatal(err)
		}
		if pr.Resource.Version != "1.0" || pr.Resource.Status != StatusPublished || pr.Resource.HasDraft {
			t.Fatalf("published: %+v", pr.Resource)
		}
		pub, err := e.s.Get(e.ctx, anon, d.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		if pub.OrgName != "市公安局" || pub.Frequency != Daily || pub.Level != LevelImportant || pub.Share.Attr != Conditional || len(pub.Fields) != 3 {
			t.Fatalf("public entry: %+v", pub)
		}

		// Adjust: a compatible change is a minor version.
		next := sample("gaj", "常住人口基本信息")
		next.Fields = append(next.Fields, Field{Name: "birth_date", Label: "出生日期", Type: "date", Level: LevelGeneral, Personal: true})
		next.Share = Sharing{Attr: Conditional, Conditions: "仅用于政务服务"}
		if _, err := e.s.UpdateDraft(e.ctx, st, d.ResourceID, DraftUpdate{Entry: next}); err != nil {
			t.Fatal(err)
		}
		// The public still sees version 1.0 until the draft is published.
		if got, _ := e.s.Get(e.ctx, anon, d.ResourceID); len(got.Fields) != 3 || !got.HasDraft {
			t.Fatalf("draft leaked into the published entry: %+v", got)
		}
		e.clk.Advance(time.Hour)
		pr, err = e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "增加出生日期"})
		if err != nil {
			t.Fatal(err)
		}
		if pr.Resource.Version != "1.1" {
			t.Fatalf("version %s, want 1.1", pr.Resource.Version)
		}

		// Breaking: remove a field and retype another.
		br := next
		br.Fields = []Field{next.Fields[0], next.Fields[1], {Name: "birth_date", Label: "出生日期", Type: "string", Level: LevelGeneral}}
		dr, err := e.s.UpdateDraft(e.ctx, st, d.ResourceID, DraftUpdate{Entry: br})
		if err != nil {
			t.Fatal(err)
		}
		if len(dr.Breaking) != 2 {
			t.Fatalf("breaking changes not flagged on the draft: %+v", dr.Breaking)
		}
		_, err = e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "精简"})
		if code(err) != "catalog.breaking_change" || !strings.Contains(err.Error(), "fields.gender") || !strings.Contains(err.Error(), "fields.birth_date.type") {
			t.Fatalf("breaking publish: %v", err)
		}
		if got, _ := e.s.Get(e.ctx, anon, d.ResourceID); got.Version != "1.1" {
			t.Fatalf("refused publish changed the entry: %s", got.Version)
		}
		pr, err = e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "精简", AcknowledgeBreaking: true})
		if err != nil {
			t.Fatal(err)
		}
		if pr.Resource.Version != "2.0" {
			t.Fatalf("breaking version %s, want 2.0", pr.Resource.Version)
		}

		if _, err := e.s.Withdraw(e.ctx, st, d.ResourceID, WithdrawInput{Reason: "数据源停用"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Get(e.ctx, anon, d.ResourceID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("withdrawn entry still public: %v", err)
		}
		vs, err := e.s.Versions(e.ctx, st, d.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 4 || vs[0].Action != "withdraw" || vs[1].Version != "2.0" || !vs[1].Breaking || vs[3].Version != "1.0" {
			t.Fatalf("versions: %+v", vs)
		}
		if vs[2].By != "steward-gaj" || vs[2].Reason != "增加出生日期" || vs[2].At.IsZero() {
			t.Fatalf("who/why/when missing: %+v", vs[2])
		}
		var sawShare, sawField bool
		for _, c := range vs[2].Diff {
			sawShare = sawShare || c.Path == "share.conditions"
			sawField = sawField || (c.Path == "fields.birth_date" && c.Op == "add")
		}
		if !sawShare || !sawField {
			t.Fatalf("diff: %+v", vs[2].Diff)
		}
		if vs[3].Entry == nil || len(vs[3].Entry.Fields) != 3 {
			t.Fatal("version 1.0's content is not kept")
		}

		// The ledger has each step (R-SEC-2): drafts are admin, publishing is disclose.
		if _, err := e.led.Integrate(e.ctx); err != nil {
			t.Fatal(err)
		}
		evs, _, err := e.led.Query(e.ctx, ledger.Filter{ResourceID: d.ResourceID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		disclose := 0
		for _, ev := range evs {
			if ev.Event.Action == ledger.Disclose {
				disclose++
			}
		}
		if disclose != 3 || len(evs) != 7 {
			t.Fatalf("ledger: %d events, %d disclose", len(evs), disclose)
		}
	})
}

// R-CAT-1, R-CAT-5, R-SEC-1: attribute rules are refused with a reason that
// cites the rule; a rule the authority turns off no longer applies.
func TestAttributeRules(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		st := steward("gaj")
		cases := []struct {
			name string
			mod  func(*Entry)
			code string
			path string
		}{
			{"level below field", func(x *Entry) { x.Level = LevelGeneral }, "catalog.rule.level_covers_fields", "fields[0].level"},
			{"none share without basis", func(x *Entry) { x.Share = Sharing{Attr: None, Reason: "涉密"} }, "catalog.rule.none_share_needs_basis", "share.basis"},
			{"none share without reason", func(x *Entry) { x.Share = Sharing{Attr: None, Basis: "《保守国家秘密法》"} }, "catalog.rule.none_share_needs_basis", "share.reason"},
			{"none open without basis", func(x *Entry) { x.Open = Sharing{Attr: None} }, "catalog.rule.none_open_needs_basis", "open.basis"},
			{"sensitive open unconditionally", func(x *Entry) { x.Open = Sharing{Attr: Unconditional} }, "catalog.rule.sensitive_not_open_unconditional", "open.attr"},
			{"core shared unconditionally", func(x *Entry) { x.Level = LevelCore; x.Share = Sharing{Attr: Unconditional} }, "catalog.rule.core_not_shared_unconditional", "share.attr"},
			{"conditional without conditions", func(x *Entry) { x.Share = Sharing{Attr: Conditional} }, "catalog.rule.conditional_needs_conditions", "share.conditions"},
			{"unknown theme", func(x *Entry) { x.Themes = []string{"astrology"} }, "catalog.invalid", "themes[0]"},
			{"bad field type", func(x *Entry) { x.Fields[1].Type = "text" }, "catalog.invalid", "fields[1].type"},
			{"duplicate field", func(x *Entry) { x.Fields[2].Name = "id_card" }, "catalog.invalid", "fields[2].name"},
			{"service without endpoint", func(x *Entry) { x.Delivery = Delivery{Mode: ServiceAPI} }, "catalog.invalid", "delivery.endpoint"},
			{"bad frequency", func(x *Entry) { x.Frequency = "hourly" }, "catalog.invalid", "frequency"},
			{"unknown org", func(x *Entry) { x.OrgID = "nobody" }, "forbidden", "org_id"},
		}
		for _, c := range cases {
			x := sample("gaj", "规则测试")
			c.mod(&x)
			_, err := e.s.CreateDraft(e.ctx, st, x)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != c.code || ae.Field != c.path {
				t.Errorf("%s: got %v, want %s at %s", c.name, err, c.code, c.path)
				continue
			}
			if strings.HasPrefix(c.code, "catalog.rule.") && (!strings.Contains(ae.ZH, strings.TrimPrefix(c.code, "catalog.rule.")) || !strings.Contains(ae.EN, "R-")) {
				t.Errorf("%s: reason does not cite the rule: %s / %s", c.name, ae.ZH, ae.EN)
			}
		}
		// Nothing was half-saved.
		var n int
		if err := db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM catalog_resources`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d rows after refused drafts (%v)", n, err)
		}
		// Unknown org as the authority (which may edit any org).
		x := sample("nobody", "x")
		if _, err := e.s.CreateDraft(e.ctx, authority(), x); code(err) != "catalog.unknown_org" {
			t.Fatalf("unknown org: %v", err)
		}
		x = sample("ent", "x")
		if _, err := e.s.CreateDraft(e.ctx, authority(), x); code(err) != "catalog.org_kind" {
			t.Fatalf("enterprise entry: %v", err)
		}
		// The authority turns a rule off.
		if _, err := e.s.SetConfig(e.ctx, st, Config{}); code(err) != "forbidden" {
			t.Fatalf("steward set config: %v", err)
		}
		if _, err := e.s.SetConfig(e.ctx, authority(), Config{Rules: map[string]bool{"conditional_needs_conditions": false}}); err != nil {
			t.Fatal(err)
		}
		x = sample("gaj", "无条件说明的有条件共享")
		x.Share = Sharing{Attr: Conditional}
		if _, err := e.s.CreateDraft(e.ctx, st, x); err != nil {
			t.Fatalf("rule turned off still applies: %v", err)
		}
		if _, err := e.s.SetConfig(e.ctx, authority(), Config{Rules: map[string]bool{"no_such_rule": false}}); code(err) != "catalog.invalid" {
			t.Fatalf("unknown rule: %v", err)
		}
	})
}

// Duplicate codes are refused naming the entry that holds the code.
func TestDuplicateCode(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		x := sample("gaj", "甲")
		x.Code = "11350200MA2600001B-00007"
		d, err := e.s.CreateDraft(e.ctx, steward("gaj"), x)
		if err != nil {
			t.Fatal(err)
		}
		y := sample("gaj", "乙")
		y.Code = "11350200MA2600001B-00007"
		_, err = e.s.CreateDraft(e.ctx, steward("gaj"), y)
		if code(err) != "catalog.duplicate_code" || !strings.Contains(err.Error(), d.ResourceID) {
			t.Fatalf("duplicate code: %v", err)
		}
		y.Code = "11350200MA2600002C-00001"
		if _, err := e.s.CreateDraft(e.ctx, steward("gaj"), y); code(err) != "catalog.invalid" {
			t.Fatalf("code of another org: %v", err)
		}
		// The next assigned code follows the highest.
		d2, err := e.s.CreateDraft(e.ctx, steward("gaj"), sample("gaj", "丙"))
		if err != nil || d2.Code != "11350200MA2600001B-00008" {
			t.Fatalf("next code %v %v", d2, err)
		}
	})
}

// R-CAT-8: a draft whose fields another org's published, shared entry
// already provides names that entry and says how to request it.
func TestDuplicateCollection(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		theirs := e.publish(steward("gaj"), sample("gaj", "常住人口基本信息"))
		// Not-shared entries are not offered.
		hidden := sample("gaj", "涉密人口信息")
		hidden.Share = Sharing{Attr: None, Basis: "《保守国家秘密法》", Reason: "涉密"}
		e.publish(steward("gaj"), hidden)

		mine := sample("rsj", "参保人员信息")
		mine.Fields = []Field{
			{Name: "sfzh", Label: "公民身份号码", Type: "string", Level: LevelImportant},                         // same label
			{Name: "xm", Label: "参保人姓名", Type: "string", Level: LevelGeneral},                              // not a duplicate
			{Name: "xb", Label: "性别代码", Type: "string", CodeList: "GB/T 2261.1-2003", Level: LevelGeneral}, // same code list
			{Name: "full_name", Label: "人员名称", Type: "string", Level: LevelGeneral},                        // same name
			{Name: "sfzhm", Label: "公民身份号码（新）", Type: "string", Level: LevelGeneral},                       // similar label
		}
		d, err := e.s.CreateDraft(e.ctx, steward("rsj"), mine)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, dup := range d.Duplicates {
			if dup.ResourceID != theirs.ID {
				t.Fatalf("duplicate names an entry that is not shared: %+v", dup)
			}
			if !strings.Contains(dup.How, theirs.Code) || dup.OrgName != "市公安局" {
				t.Fatalf("duplicate does not say how to request: %+v", dup)
			}
			got[dup.Field] = dup.MatchedBy
		}
		want := map[string]string{"sfzh": "label", "xb": "code_list", "full_name": "name", "sfzhm": "similar"}
		for f, by := range want {
			if got[f] != by {
				t.Errorf("field %s: matched by %q, want %q (all: %v)", f, got[f], by, got)
			}
		}
		if _, ok := got["xm"]; ok {
			t.Errorf("xm flagged: %v", got)
		}
		// The org's own entries are not duplicates of themselves.
		own, err := e.s.CreateDraft(e.ctx, steward("gaj"), sample("gaj", "人口信息副本"))
		if err != nil {
			t.Fatal(err)
		}
		if len(own.Duplicates) != 0 {
			t.Fatalf("own entries flagged: %+v", own.Duplicates)
		}
	})
}

// R-CAT-3: when the authority requires review, a steward's publish files a
// catalog_review case; approval publishes in the same transaction, a
// refusal leaves the entry unpublished with a written reason.
func TestReviewBeforePublish(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		if _, err := e.s.SetConfig(e.ctx, authority(), Config{RequireReview: true}); err != nil {
			t.Fatal(err)
		}
		st := steward("water")
		x := sample("water", "供水用户信息")
		x.DataClass = ClassPublicService
		d, err := e.s.CreateDraft(e.ctx, st, x)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "首次发布"})
		if err != nil {
			t.Fatal(err)
		}
		if pr.ReviewCaseID == "" || pr.Resource.Status != StatusDraft || pr.Resource.ReviewCaseID != pr.ReviewCaseID {
			t.Fatalf("review not requested: %+v", pr)
		}
		if _, err := e.s.UpdateDraft(e.ctx, st, d.ResourceID, DraftUpdate{Entry: x}); code(err) != "catalog.review_pending" {
			t.Fatalf("edit under review: %v", err)
		}
		if _, err := e.cw.Act(e.ctx, st, pr.ReviewCaseID, "approve", casework.ActInput{}); err == nil {
			t.Fatal("the steward approved their own publication")
		}
		if _, err := e.cw.Act(e.ctx, authority(), pr.ReviewCaseID, "refuse", casework.ActInput{Reason: "联系方式不全"}); err != nil {
			t.Fatal(err)
		}
		r, _ := e.s.Get(e.ctx, st, d.ResourceID)
		if r.Status != StatusDraft || r.ReviewCaseID != "" {
			t.Fatalf("after refusal: %+v", r)
		}
		pr, err = e.s.Publish(e.ctx, st, d.ResourceID, PublishInput{Reason: "补全后再次提交"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cw.Act(e.ctx, authority(), pr.ReviewCaseID, "approve", casework.ActInput{}); err != nil {
			t.Fatal(err)
		}
		r, err = e.s.Get(e.ctx, anon, d.ResourceID)
		if err != nil || r.Version != "1.0" {
			t.Fatalf("after approval: %+v %v", r, err)
		}
		vs, _ := e.s.Versions(e.ctx, st, d.ResourceID)
		if vs[0].By != "steward-water" || vs[0].Approver != "admin" || vs[0].CaseID != pr.ReviewCaseID {
			t.Fatalf("version does not record steward and approver: %+v", vs[0])
		}
		// The authority itself publishes without review.
		d2, err := e.s.CreateDraft(e.ctx, authority(), sample("auth", "平台目录"))
		if err != nil {
			t.Fatal(err)
		}
		pr, err = e.s.Publish(e.ctx, authority(), d2.ResourceID, PublishInput{Reason: "发布"})
		if err != nil || pr.ReviewCaseID != "" || pr.Resource.Status != StatusPublished {
			t.Fatalf("authority publish: %+v %v", pr, err)
		}
	})
}

// R-CAT-9, R-CAT-2: a department's purchase request is reviewed by the
// authority; approval enters the data in the catalog as purchased.
func TestPurchaseRequest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		st := steward("rsj")
		pr := PurchaseRequest{Name: "企业招聘薪酬数据", Supplier: "某数据服务公司", Purpose: "就业形势监测", LegalBasis: "《厦门经济特区数据条例》第二十二条",
			Themes: []string{"employment"}, Frequency: Monthly, Formats: []string{"csv"}, Level: LevelGeneral,
			Fields: []Field{{Name: "position", Label: "岗位", Type: "string", Level: LevelGeneral}, {Name: "salary", Label: "薪酬", Type: "decimal", Level: LevelGeneral}}}
		bad := pr
		bad.Supplier = ""
		if _, err := e.s.RequestPurchase(e.ctx, st, bad); code(err) != "catalog.invalid" {
			t.Fatalf("no supplier: %v", err)
		}
		if _, err := e.s.RequestPurchase(e.ctx, steward("water"), pr); code(err) != "catalog.purchase_department_only" {
			t.Fatalf("public service org purchase: %v", err)
		}
		c, err := e.s.RequestPurchase(e.ctx, st, pr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cw.Act(e.ctx, authority(), c.ID, "approve", casework.ActInput{}); err != nil {
			t.Fatal(err)
		}
		res, _, err := e.s.List(e.ctx, st, ListFilter{OrgID: "rsj"}, "", 10)
		if err != nil || len(res) != 1 {
			t.Fatalf("purchased entry: %v %v", res, err)
		}
		r := res[0]
		if r.DataClass != ClassPurchased || r.Open.Attr != None || r.Status != StatusPublished || r.OrgID != "rsj" {
			t.Fatalf("purchased entry: %+v", r)
		}
		vs, _ := e.s.Versions(e.ctx, st, r.ID)
		if len(vs) != 1 || vs[0].CaseID != c.ID {
			t.Fatalf("purchase version: %+v", vs)
		}
	})
}

// R-CAT-6, R-OPN-1, R-OPN-2: the open list holds published entries that are
// open (unconditionally or on application), and is public.
func TestOpenListAndTimeliness(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		closed := e.publish(steward("gaj"), sample("gaj", "人口信息"))
		o := sample("water", "供水水质公告")
		o.DataClass = ClassPublicService
		o.Fields = []Field{{Name: "site", Label: "监测点", Type: "string", Level: LevelGeneral}, {Name: "turbidity", Label: "浊度", Type: "decimal", Level: LevelGeneral}}
		o.Level = LevelGeneral
		o.Open = Sharing{Attr: Unconditional}
		o.Share = Sharing{Attr: Unconditional}
		open := e.publish(steward("water"), o)
		c := o
		c.Name = "用水量统计"
		c.Open = Sharing{Attr: Conditional, Conditions: "须说明应用场景"}
		cond := e.publish(steward("water"), c)
		list, _, err := e.s.List(e.ctx, anon, ListFilter{Open: true}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, r := range list {
			ids[r.ID] = true
		}
		if !ids[open.ID] || !ids[cond.ID] || ids[closed.ID] {
			t.Fatalf("open list: %v", ids)
		}
		if _, _, err := e.s.List(e.ctx, anon, ListFilter{Status: StatusDraft}, "", 50); code(err) != "forbidden" {
			t.Fatalf("public listed drafts: %v", err)
		}
		// Timeliness: a daily entry updated three days ago is late.
		if open.Timeliness != "unknown" {
			t.Fatalf("never-updated entry: %s", open.Timeliness)
		}
		if err := e.s.MarkDataUpdated(e.ctx, steward("water"), open.ID, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		r, _ := e.s.Get(e.ctx, anon, open.ID)
		if r.Timeliness != "ok" {
			t.Fatalf("fresh: %s", r.Timeliness)
		}
		e.clk.Advance(72 * time.Hour)
		r, _ = e.s.Get(e.ctx, anon, open.ID)
		late, err := e.s.Late(e.ctx, "water", 10)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timeliness != "late" || len(late) != 1 || late[0].ID != open.ID {
			t.Fatalf("late: %s %v", r.Timeliness, late)
		}
	})
}

// Search: Chinese full text (terms of 1, 2 and 3+ characters, exclusion,
// phrases) with facets, on both databases.
func TestSearch(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.publish(steward("gaj"), sample("gaj", "常住人口基本信息"))
		b := sample("water", "供水水质监测数据")
		b.DataClass = ClassPublicService
		b.Themes = []string{"environment", "living"}
		b.Formats = []string{"xlsx"}
		b.Level = LevelGeneral
		b.Fields = []Field{{Name: "site", Label: "监测点名称", Type: "string", Level: LevelGeneral}}
		b.Tags = []string{"Water"}
		b.Open = Sharing{Attr: Unconditional}
		bb := e.publish(steward("water"), b)
		c := sample("gaj", "流动人口居住登记")
		d, err := e.s.CreateDraft(e.ctx, steward("gaj"), c) // a draft is never found
		if err != nil {
			t.Fatal(err)
		}
		_ = d
		search := func(q string, f map[string][]string) *SearchResult {
			t.Helper()
			r, err := e.s.Search(e.ctx, SearchInput{Q: q, Filters: f})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			return r
		}
		ids := func(r *SearchResult) string {
			var s []string
			for _, it := range r.Items {
				s = append(s, it.Name)
			}
			return strings.Join(s, ",")
		}
		for _, c := range []struct {
			q    string
			f    map[string][]string
			want string
		}{
			{"人口", nil, a.Name},
			{"人", nil, a.Name},
			{"基本信息", nil, a.Name},
			{"公民身份号码", nil, a.Name},  // a field label
			{"water", nil, bb.Name},  // a tag, case-insensitive
			{"信息 -人口", nil, ""},      // exclusion
			{`"水质监测"`, nil, bb.Name}, // phrase
			{"监测 level:general", nil, bb.Name},
			{"", map[string][]string{"theme": {"living"}}, bb.Name},
			{"", map[string][]string{"org": {"gaj"}, "format": {"csv"}}, a.Name},
			{"", map[string][]string{"open": {"none"}, "share": {"conditional"}, "frequency": {"daily"}}, a.Name},
			{"市公安局", nil, a.Name}, // the org's name
		} {
			r := search(c.q, c.f)
			if got := ids(r); got != c.want {
				t.Errorf("search %q %v: got [%s], want [%s]", c.q, c.f, got, c.want)
			}
		}
		all := search("", nil)
		if all.Total != 2 {
			t.Fatalf("browse total %d", all.Total)
		}
		counts := map[string]int{}
		for _, f := range all.Facets["theme"] {
			counts[f.Value] = f.Count
		}
		if counts["public_security"] != 1 || counts["living"] != 1 || len(all.Facets["org"]) != 2 {
			t.Fatalf("facets: %+v", all.Facets)
		}
		for _, f := range shownFacets {
			if _, ok := all.Facets[f]; !ok {
				t.Fatalf("facet %s missing", f)
			}
		}
		// Publishing changes the cached browse facets.
		x := sample("rsj", "社保参保信息")
		x.Themes = []string{"social_security"}
		e.publish(steward("rsj"), x)
		if all = search("", nil); all.Total != 3 {
			t.Fatalf("browse after publish: %d", all.Total)
		}
		if _, err := e.s.Search(e.ctx, SearchInput{Q: `"unclosed`}); code(err) != "catalog.bad_query" {
			t.Fatalf("bad query: %v", err)
		}
		if _, err := e.s.Search(e.ctx, SearchInput{Filters: map[string][]string{"colour": {"red"}}}); code(err) != "catalog.bad_query" {
			t.Fatalf("bad facet: %v", err)
		}
		// FTS syntax in a term is searched literally, never interpreted.
		if _, err := e.s.Search(e.ctx, SearchInput{Q: `a"b OR NEAR( *`}); err != nil {
			t.Fatalf("literal syntax: %v", err)
		}
	})
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery(`人口 "基本 信息" -流动 theme:public_security level：core org:"市 公安局" foo:bar`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(q)
	want := `{"Terms":["人口","基本 信息","foo:bar"],"Not":["流动"],"Filters":{"level":["core"],"org":["市 公安局"],"theme":["public_security"]}}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	for _, bad := range []string{`"open`, `theme:`, strings.Repeat("长", 501), "a b c d e f g h i j k l m"} {
		if _, err := ParseQuery(bad); code(err) != "catalog.bad_query" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"人口", `"a b" -c theme:x`, "level：core", `org:"`, "-", "---", `""`, "\xff", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("non-apperr error %v", err)
			}
			return
		}
		if len(q.Terms)+len(q.Not) > maxQueryTerms {
			t.Fatalf("too many terms accepted: %d", len(q.Terms)+len(q.Not))
		}
		for _, term := range append(q.Terms, q.Not...) {
			if term == "" || strings.TrimSpace(term) != term {
				t.Fatalf("empty or untrimmed term %q", term)
			}
		}
		for k := range q.Filters {
			if !isFacet(k) {
				t.Fatalf("unknown facet %q accepted", k)
			}
		}
	})
}

func TestDice(t *testing.T) {
	if d := dice("公民身份号码", "公民身份号码新"); d < similarThreshold {
		t.Fatalf("dice %v", d)
	}
	if d := dice("姓名", "参保人姓名"); d >= similarThreshold {
		t.Fatalf("dice %v", d)
	}
	_ = fmt.Sprint()
}
