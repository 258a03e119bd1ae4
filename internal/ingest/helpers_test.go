package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

type env struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	clk *clock.Fake
	led *ledger.Ledger
	cw  *casework.Engine
	cat *catalog.Service
	s   *Service
}

var testOrgs = map[string]catalog.Org{
	"auth": {ID: "auth", Name: "市大数据管理局", Code: identity.MakeCreditCode("11350200MA2600000"), Kind: identity.KindAuthority},
	"gaj":  {ID: "gaj", Name: "市公安局", Code: identity.MakeCreditCode("11350200MA2600001"), Kind: identity.KindDepartment},
	"bus":  {ID: "bus", Name: "市公交集团有限公司", Code: identity.MakeCreditCode("91350200MA2600002"), Kind: identity.KindPublicService},
}

func testLookup(_ context.Context, id string) (catalog.Org, error) {
	o, ok := testOrgs[id]
	if !ok {
		return catalog.Org{}, apperr.ErrNotFound.At(id)
	}
	return o, nil
}

func newEnv(t *testing.T, db *store.DB, opts ...func(*Options)) *env {
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
	cat, err := catalog.New(ctx, db, led, clk, catalog.Options{Orgs: testLookup, Cases: cw})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Catalog: cat, Cases: cw, Secret: []byte(strings.Repeat("k", 32)), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(ctx, db, led, clk, o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, db: db, clk: clk, led: led, cw: cw, cat: cat, s: s}
}

func steward(org string) identity.Principal {
	return identity.Principal{UserID: "steward-" + org, OrgID: org, OrgKind: testOrgs[org].Kind, Roles: []identity.Role{identity.RoleDataSteward}}
}

func authority() identity.Principal {
	return identity.Principal{UserID: "admin", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
}

func citizen() identity.Principal {
	return identity.Principal{UserID: "citizen-1", OrgID: "", Roles: nil}
}

func residentFields() []catalog.Field {
	return []catalog.Field{
		{Name: "id_card", Label: "公民身份号码", Type: "string", Required: true, CodeList: "GB 11643-1999", Category: "个人信息/身份信息", Level: catalog.LevelImportant, Personal: true, Sensitive: true},
		{Name: "full_name", Label: "姓名", Type: "string", Required: true, Category: "个人信息/基本信息", Level: catalog.LevelGeneral, Personal: true},
		{Name: "gender", Label: "性别", Type: "string", CodeList: "GB/T 2261.1-2003", Level: catalog.LevelGeneral},
		{Name: "birth_date", Label: "出生日期", Type: "date", Level: catalog.LevelGeneral, Personal: true},
		{Name: "household_size", Label: "户内人数", Type: "integer", Level: catalog.LevelGeneral},
		{Name: "contact", Label: "联系方式", Type: "string", Level: catalog.LevelGeneral},
	}
}

func entry(org, name string, fields []catalog.Field) catalog.Entry {
	return catalog.Entry{
		Name: name, Description: name + "，按日更新。", OrgID: org, DataClass: catalog.ClassGovernment,
		Themes: []string{"public_security"}, Industry: "S", Library: catalog.Library{Kind: "base", Code: "population"},
		Frequency: catalog.Daily, Formats: []string{"csv", "json"}, LegalBasis: "《中华人民共和国户口登记条例》", Level: catalog.LevelImportant,
		Share:    catalog.Sharing{Attr: catalog.Conditional, Conditions: "用于履职"},
		Open:     catalog.Sharing{Attr: catalog.None, Basis: "《个人信息保护法》", Reason: "含个人信息"},
		Delivery: catalog.Delivery{Mode: catalog.Hosted}, Contact: catalog.Contact{Name: "张三", Phone: "0592-1234567", Email: "data@example.gov.cn"},
		Tags: []string{"户籍"}, Fields: fields,
	}
}

func (e *env) publish(p identity.Principal, en catalog.Entry) *catalog.Resource {
	e.t.Helper()
	d, err := e.cat.CreateDraft(e.ctx, p, en)
	if err != nil {
		e.t.Fatalf("create draft: %v", err)
	}
	res, err := e.cat.Publish(e.ctx, p, d.ResourceID, catalog.PublishInput{Reason: "首次发布"})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return res.Resource
}

// republish publishes a new version of r with fields.
func (e *env) republish(p identity.Principal, r *catalog.Resource, fields []catalog.Field) *catalog.Resource {
	e.t.Helper()
	en := r.Entry
	en.Fields = fields
	if _, err := e.cat.UpdateDraft(e.ctx, p, r.ID, catalog.DraftUpdate{Entry: en}); err != nil {
		e.t.Fatalf("update draft: %v", err)
	}
	res, err := e.cat.Publish(e.ctx, p, r.ID, catalog.PublishInput{Reason: "调整数据项", AcknowledgeBreaking: true})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return res.Resource
}

// residents publishes the resident entry of gaj and gives it a dataset.
func (e *env) residents() *catalog.Resource {
	e.t.Helper()
	r := e.publish(steward("gaj"), entry("gaj", "户籍人口基本信息", residentFields()))
	if _, err := e.s.CreateDataset(e.ctx, steward("gaj"), r.ID, DatasetInput{Key: []string{"id_card"}}); err != nil {
		e.t.Fatalf("create dataset: %v", err)
	}
	return r
}

func (e *env) load(p identity.Principal, res string, body string, in LoadInput) *Batch {
	e.t.Helper()
	b, err := e.s.Load(e.ctx, p, res, strings.NewReader(body), in)
	if err != nil {
		e.t.Fatalf("load: %v", err)
	}
	return b
}

// rows reads a dataset through Scan, keyed by its first key field.
func (e *env) rows(res string) map[string]map[string]string {
	e.t.Helper()
	out := map[string]map[string]string{}
	ds, err := e.s.loadDataset(e.ctx, e.db, e.db.Dialect, res, false)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.s.Scan(e.ctx, res, nil, func(r Record) error {
		out[r.Values[ds.Key[0]]] = r.Values
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
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

// events returns the ledger's events about a resource, oldest first.
func (e *env) events(resourceID string) []ledger.Event {
	e.t.Helper()
	if _, err := e.led.Integrate(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	var out []ledger.Event
	after := ""
	for {
		page, next, err := e.led.Query(e.ctx, ledger.Filter{ResourceID: resourceID, After: after, Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, en := range page {
			out = append(out, en.Event)
		}
		if next == "" {
			break
		}
		after = next
	}
	slices.Reverse(out)
	return out
}

// ids makes n valid resident ID numbers.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%15000)
		out[i] = identity.MakeResidentID(fmt.Sprintf("350203%s%03d", birth.Format("20060102"), i%1000))
	}
	return out
}
