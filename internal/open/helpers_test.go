package open

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
	"auth": {ID: "auth", Name: "市大数据管理局", Code: "11350200MA2600000A", Kind: identity.KindAuthority},
	"gaj":  {ID: "gaj", Name: "市公安局", Code: "11350200MA2600001B", Kind: identity.KindDepartment},
	"wjw":  {ID: "wjw", Name: "市卫生健康委员会", Code: "11350200MA2600002C", Kind: identity.KindDepartment},
	"ent":  {ID: "ent", Name: "某科技公司", Code: "91350200MA2600004E", Kind: identity.KindEnterprise},
	"ent2": {ID: "ent2", Name: "未核验公司", Code: "", Kind: identity.KindEnterprise},
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

var authority = identity.Principal{UserID: "admin", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}

// testVerify: enterprises with a credit code are verified; "person-*" users carry a checked ID.
func testVerify(_ context.Context, p identity.Principal) (Applicant, error) {
	if o := testOrgs[p.OrgID]; o.Code != "" && o.Kind == identity.KindEnterprise {
		return Applicant{Type: "enterprise", Name: o.Name, Credential: o.Code}, nil
	}
	return Applicant{}, ErrNotVerified
}

type env struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	clk  *clock.Fake
	led  *ledger.Ledger
	cw   *casework.Engine
	cat  *catalog.Service
	gate *gate.Service
	rows *gate.MemorySource
	s    *Service

	pub  *catalog.Resource // unconditional
	cond *catalog.Resource // conditional
	cam  *catalog.Resource // unconditional on paper, but public-camera data (purpose-locked)
}

func newEnv(t *testing.T, db *store.DB, opts Options) *env {
	t.Helper()
	ctx := context.Background()
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
	g, err := gate.New(ctx, db, led, clk, gate.CatalogResources(cat, clk, 0), rows, gate.Options{Secret: []byte("0123456789abcdef0123456789abcdef-open-test")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	opts.Secret = []byte("0123456789abcdef0123456789abcdef-open-secret")
	if opts.Verify == nil {
		opts.Verify = testVerify
	}
	if opts.AuthorityOrgID == "" {
		opts.AuthorityOrgID = "auth"
	}
	s, err := New(ctx, db, led, clk, cw, cat, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, clk: clk, led: led, cw: cw, cat: cat, gate: g, rows: rows, s: s}
	fields := []catalog.Field{
		{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
		{Name: "year", Label: "年份", Type: "integer", Level: catalog.LevelGeneral},
		{Name: "count", Label: "数量", Type: "integer", Level: catalog.LevelGeneral},
	}
	e.pub = e.publish("wjw", "医疗机构数量", catalog.Sharing{Attr: catalog.Unconditional}, nil, fields)
	e.cond = e.publish("wjw", "门诊就诊人次", catalog.Sharing{Attr: catalog.Conditional, Conditions: "仅用于科研"}, nil, fields)
	e.cam = e.publish("gaj", "公共场所视频点位人流统计", catalog.Sharing{Attr: catalog.Unconditional}, []string{"public_camera"}, fields)
	for _, r := range []*catalog.Resource{e.pub, e.cond, e.cam} {
		var keys []string
		var data []map[string]any
		for i := 0; i < 30; i++ {
			keys = append(keys, fmt.Sprintf("%04d", i))
			data = append(data, map[string]any{"district": []string{"思明区", "湖里区", "集美区"}[i%3], "year": int64(2020 + i%5), "count": int64(i * 7)})
		}
		rows.Put(r.ID, keys, data)
		e.loaded(r)
	}
	return e
}

func (e *env) publish(org, name string, open catalog.Sharing, tags []string, fields []catalog.Field) *catalog.Resource {
	e.t.Helper()
	if tags == nil {
		tags = []string{"卫生"}
	}
	entry := catalog.Entry{
		Name: name, Description: name + "，按月更新。", OrgID: org, DataClass: catalog.ClassGovernment,
		Themes: []string{"health"}, Industry: "Q", Library: catalog.Library{Kind: "base", Code: "population"},
		Frequency: catalog.Monthly, Formats: []string{"csv", "json"}, LegalBasis: "《统计法》", Level: catalog.LevelGeneral,
		Share: catalog.Sharing{Attr: catalog.Unconditional}, Open: open,
		Delivery: catalog.Delivery{Mode: catalog.Hosted}, Contact: catalog.Contact{Name: "李四", Phone: "0592-1234567", Email: "data@example.gov.cn"},
		Tags: tags, Fields: fields,
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

func (e *env) act(p identity.Principal, id, action, reason string) (*casework.Case, error) {
	return e.cw.Act(e.ctx, p, id, action, casework.ActInput{Reason: reason})
}

func (e *env) apply(p identity.Principal, res *catalog.Resource, c Commitments) (*casework.Case, error) {
	return e.s.Apply(e.ctx, p, Application{ResourceID: res.ID, ApplicationPayload: ApplicationPayload{
		Scenario: "城市医疗资源分布研究", Fields: []string{"district", "count"}, Days: 90, Commitments: c}})
}

var allCommitments = Commitments{Authenticity: true, Compliance: true, Security: true, NoThirdParty: true}

// ledgerEvents returns every ledger event with action a.
func (e *env) ledgerEvents(a ledger.Action) []ledger.Entry {
	e.t.Helper()
	if _, err := e.led.Integrate(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	var out []ledger.Entry
	cursor := ""
	for {
		es, next, err := e.led.Query(e.ctx, ledger.Filter{Action: a, After: cursor, Limit: 500})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, es...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// loaded marks r's data as updated now, as ingest does on each load.
func (e *env) loaded(r *catalog.Resource) {
	e.t.Helper()
	if err := e.cat.MarkDataUpdated(e.ctx, catalog.System(r.OrgID), r.ID, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}
