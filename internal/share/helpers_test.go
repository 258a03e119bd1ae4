package share

import (
	"context"
	"fmt"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

var testOrgs = map[string]catalog.Org{
	"auth":  {ID: "auth", Name: "市大数据管理局", Code: "11350200MA2600000A", Kind: identity.KindAuthority},
	"gaj":   {ID: "gaj", Name: "市公安局", Code: "11350200MA2600001B", Kind: identity.KindDepartment},
	"rsj":   {ID: "rsj", Name: "市人力资源和社会保障局", Code: "11350200MA2600002C", Kind: identity.KindDepartment},
	"water": {ID: "water", Name: "市自来水有限公司", Code: "91350200MA2600003D", Kind: identity.KindPublicService},
	"ent":   {ID: "ent", Name: "某科技公司", Code: "91350200MA2600004E", Kind: identity.KindEnterprise},
}

func testLookup(_ context.Context, id string) (catalog.Org, error) {
	o, ok := testOrgs[id]
	if !ok {
		return catalog.Org{}, apperr.ErrNotFound.At(id)
	}
	return o, nil
}

func steward(org string) identity.Principal {
	return identity.Principal{UserID: "steward-" + org, OrgID: org, OrgKind: testOrgs[org].Kind, Roles: []identity.Role{identity.RoleDataSteward}}
}

func developer(org string) identity.Principal {
	return identity.Principal{UserID: "dev-" + org, OrgID: org, OrgKind: testOrgs[org].Kind, Roles: []identity.Role{identity.RoleDeveloper}}
}

// client is an org's business application.
func client(org string) identity.Principal {
	return identity.Principal{ClientID: "app-" + org, OrgID: org, OrgKind: testOrgs[org].Kind, Roles: []identity.Role{identity.RoleDeveloper}}
}

var (
	authority = identity.Principal{UserID: "admin", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
	cityGov   = identity.Principal{UserID: "mayor", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleCityGovernment}}
	anon      = identity.Principal{}
)

type env struct {
	t        *testing.T
	ctx      context.Context
	db       *store.DB
	clk      *clock.Fake
	led      *ledger.Ledger
	cw       *casework.Engine
	cat      *catalog.Service
	gate     *gate.Service
	rows     *gate.MemorySource
	s        *Service
	open     *catalog.Resource // unconditional
	cond     *catalog.Resource // conditional
	none     *catalog.Resource // not shared
	waterRes *catalog.Resource
}

func newEnv(t *testing.T, db *store.DB, opts Options) *env {
	t.Helper()
	ctx := context.Background()
	// Tuesday 24 November 2026, 09:00 in Xiamen.
	clk := clock.NewFake(time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC))
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := casework.New(ctx, db, led, clk, casework.DefaultCalendar(), casework.Options{NoBuiltinKinds: true})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(ctx, db, led, clk, catalog.Options{Orgs: testLookup, Cases: cw})
	if err != nil {
		t.Fatal(err)
	}
	rows := gate.NewMemorySource()
	g, err := gate.New(ctx, db, led, clk, gate.CatalogResources(cat, clk, 0), rows, gate.Options{Secret: []byte("0123456789abcdef0123456789abcdef-share-test")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	if opts.Orgs == nil {
		opts.Orgs = testLookup
	}
	s, err := New(ctx, db, led, clk, cw, cat, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, clk: clk, led: led, cw: cw, cat: cat, gate: g, rows: rows, s: s}
	e.open = e.publish("gaj", "户籍人口基本信息", catalog.Sharing{Attr: catalog.Unconditional})
	e.cond = e.publish("gaj", "出入境证件信息", catalog.Sharing{Attr: catalog.Conditional, Conditions: "仅用于履行法定职责"})
	e.none = e.publish("gaj", "在逃人员信息", catalog.Sharing{Attr: catalog.None, Basis: "《中华人民共和国人民警察法》第二十条", Reason: "涉及侦查秘密"})
	e.waterRes = e.publish("water", "居民用水户信息", catalog.Sharing{Attr: catalog.Unconditional})
	for _, r := range []*catalog.Resource{e.open, e.cond, e.none, e.waterRes} {
		var keys []string
		var data []map[string]any
		for i := 0; i < 30; i++ {
			keys = append(keys, fmt.Sprintf("%04d", i))
			data = append(data, map[string]any{"id_card": fmt.Sprintf("35020319900101%03d%d", i, i%10), "full_name": "张" + fmt.Sprint(i),
				"gender": []string{"男", "女"}[i%2], "district": "思明区"})
		}
		rows.Put(r.ID, keys, data)
	}
	return e
}

func (e *env) publish(org, name string, share catalog.Sharing) *catalog.Resource {
	e.t.Helper()
	entry := catalog.Entry{
		Name: name, Description: name + "，按日更新。", OrgID: org, DataClass: catalog.ClassGovernment,
		Themes: []string{"public_security"}, Industry: "S", Library: catalog.Library{Kind: "base", Code: "population"},
		Frequency: catalog.Daily, Formats: []string{"csv", "json"}, LegalBasis: "《中华人民共和国户口登记条例》", Level: catalog.LevelImportant,
		Share:    share,
		Open:     catalog.Sharing{Attr: catalog.None, Basis: "《个人信息保护法》", Reason: "含个人信息"},
		Delivery: catalog.Delivery{Mode: catalog.Hosted}, Contact: catalog.Contact{Name: "张三", Phone: "0592-1234567", Email: "data@example.gov.cn"},
		Tags: []string{"人口"},
		Fields: []catalog.Field{
			{Name: "id_card", Label: "公民身份号码", Type: "string", Required: true, Category: "个人信息/身份信息", Level: catalog.LevelImportant, Personal: true, Sensitive: true},
			{Name: "full_name", Label: "姓名", Type: "string", Required: true, Level: catalog.LevelGeneral, Personal: true},
			{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral},
			{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
		},
	}
	d, err := e.cat.CreateDraft(e.ctx, steward(org), entry)
	if err != nil {
		e.t.Fatalf("draft %s: %v", name, err)
	}
	res, err := e.cat.Publish(e.ctx, steward(org), d.ResourceID, catalog.PublishInput{Reason: "首次发布"})
	if err != nil {
		e.t.Fatalf("publish %s: %v", name, err)
	}
	return res.Resource
}

// deliver calls the gate as p for fields of res.
func (e *env) deliver(p identity.Principal, res *catalog.Resource, fields ...string) (*gate.Delivery, error) {
	d, err := e.gate.Deliver(e.ctx, gate.Request{Principal: p, ResourceID: res.ID, Fields: fields, Format: gate.JSON})
	if d != nil {
		e.t.Cleanup(func() { d.Close() })
	}
	return d, err
}

func code(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := apperr.As(err); ok {
		return ae.Code
	}
	return "non-apperr: " + err.Error()
}

func (e *env) wantCode(err error, want string) {
	e.t.Helper()
	if got := code(err); got != want {
		e.t.Fatalf("error %q, want %s (%v)", got, want, err)
	}
}

// must returns v, or fails the test (by panicking, which the testing
// package reports with the stack) when err is set.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (e *env) request(p identity.Principal, res *catalog.Resource, fields ...string) (*casework.Case, error) {
	return e.s.RequestShare(e.ctx, p, ShareRequest{ResourceID: res.ID, RequestPayload: RequestPayload{
		Scenario: "社会保险待遇资格认证", LegalDuty: "《社会保险法》第八条 社会保险经办", Fields: fields, Days: 180, Acknowledged: true,
	}})
}

func (e *env) act(p identity.Principal, id, action, reason string) (*casework.Case, error) {
	return e.cw.Act(e.ctx, p, id, action, casework.ActInput{Reason: reason})
}

func asApp(err error) (*apperr.Error, bool) { return apperr.As(err) }
