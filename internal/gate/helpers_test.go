package gate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// fakeCatalog is a Resources over entries held in memory.
type fakeCatalog struct {
	mu  sync.Mutex
	res map[string]*catalog.Resource
}

func (c *fakeCatalog) Resource(_ context.Context, id string) (*catalog.Resource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.res[id]
	if !ok {
		return nil, catalog.ErrNotFound.At(id)
	}
	cp := *r
	return &cp, nil
}

type fixture struct {
	t      *testing.T
	db     *store.DB
	clock  *clock.Fake
	led    *ledger.Ledger
	cat    *fakeCatalog
	rows   *MemorySource
	gate   *Service
	people *catalog.Resource // hosted, personal data
	svc    *catalog.Resource // service interface
}

var (
	deptA     = identity.Principal{ClientID: "client-a", OrgID: "org-a", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleDeveloper}}
	deptB     = identity.Principal{ClientID: "client-b", OrgID: "org-b", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleDeveloper}}
	provider  = identity.Principal{UserID: "user-p", OrgID: "org-p", OrgKind: identity.KindDepartment, Roles: []identity.Role{identity.RoleDataSteward}}
	authority = identity.Principal{UserID: "user-auth", OrgID: "org-auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
)

var districts = []string{"思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatal(err)
	}
	people := &catalog.Resource{ID: "res-people", Status: catalog.StatusPublished, Entry: catalog.Entry{
		Code: "XM-POP-00001", Name: "户籍人口基本信息", OrgID: "org-p", Level: catalog.LevelImportant,
		Delivery: catalog.Delivery{Mode: catalog.Hosted},
		Fields: []catalog.Field{
			{Name: "id_card", Label: "公民身份号码", Type: "string", Level: catalog.LevelGeneral, Personal: true, Sensitive: true},
			{Name: "name", Label: "姓名", Type: "string", Level: catalog.LevelGeneral, Personal: true},
			{Name: "age", Label: "年龄", Type: "integer", Level: catalog.LevelGeneral},
			{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
			{Name: "income", Label: "年收入", Type: "decimal", Level: catalog.LevelImportant},
			{Name: "health", Label: "健康状况", Type: "string", Level: catalog.LevelGeneral, Personal: true, Sensitive: true},
			{Name: "secret", Label: "核心字段", Type: "string", Level: catalog.LevelCore},
		},
	}}
	svc := &catalog.Resource{ID: "res-svc", Status: catalog.StatusPublished, Entry: catalog.Entry{
		Code: "XM-SVC-00001", Name: "企业信用核验接口", OrgID: "org-p", Level: catalog.LevelGeneral,
		Delivery: catalog.Delivery{Mode: catalog.ServiceAPI, Endpoint: "http://127.0.0.1:1/unused"},
		Fields: []catalog.Field{
			{Name: "uscc", Label: "统一社会信用代码", Type: "string", Level: catalog.LevelGeneral},
			{Name: "name", Label: "企业名称", Type: "string", Level: catalog.LevelGeneral},
			{Name: "legal_id", Label: "法定代表人身份证", Type: "string", Level: catalog.LevelGeneral, Personal: true, Sensitive: true},
			{Name: "score", Label: "信用分", Type: "integer", Level: catalog.LevelGeneral},
		},
	}}
	cat := &fakeCatalog{res: map[string]*catalog.Resource{people.ID: people, svc.ID: svc,
		"res-draft": {ID: "res-draft", Status: catalog.StatusDraft, Entry: catalog.Entry{Name: "draft", Fields: people.Fields}}}}
	rows := NewMemorySource()
	var keys []string
	var data []map[string]any
	for i := 0; i < 250; i++ {
		keys = append(keys, fmt.Sprintf("%06d", i))
		data = append(data, map[string]any{
			"id_card":  fmt.Sprintf("3502031990%02d%02d%03d%d", 1+i%12, 1+i%28, i, i%10),
			"name":     []string{"张", "李", "王", "陈", "林"}[i%5] + []string{"伟", "芳", "娜", "敏", "静", "强"}[i%6],
			"age":      int64(18 + i%60),
			"district": districts[i%len(districts)],
			"income":   float64(50000 + 1000*(i%40)),
			"health":   []string{"良好", "高血压", "糖尿病"}[i%3],
			"secret":   "机密",
		})
	}
	rows.Put(people.ID, keys, data)
	g, err := New(ctx, db, led, clk, cat, rows, Options{Secret: []byte("0123456789abcdef0123456789abcdef-test")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return &fixture{t: t, db: db, clock: clk, led: led, cat: cat, rows: rows, gate: g, people: people, svc: svc}
}

func (f *fixture) grant(spec GrantSpec) *Grant {
	f.t.Helper()
	var g *Grant
	err := f.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		g, err = f.gate.CreateGrant(context.Background(), tx, provider, spec)
		return err
	})
	if err != nil {
		f.t.Fatalf("create grant: %v", err)
	}
	return g
}

func (f *fixture) change(fn func(ctx context.Context, tx *store.Tx, by identity.Principal, id, reason string) (*Grant, error), id, reason string) *Grant {
	f.t.Helper()
	var g *Grant
	err := f.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		g, err = fn(context.Background(), tx, authority, id, reason)
		return err
	})
	if err != nil {
		f.t.Fatalf("change grant: %v", err)
	}
	return g
}

func (f *fixture) deliver(req Request) ([]byte, *Delivery, error) {
	f.t.Helper()
	d, err := f.gate.Deliver(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	b, err := d.Bytes()
	if err != nil {
		f.t.Fatal(err)
	}
	return b, d, nil
}

func codeOf(err error) string {
	if ae, ok := apperr.As(err); ok {
		return ae.Code
	}
	if err == nil {
		return ""
	}
	return "non-apperr: " + err.Error()
}

func (f *fixture) integrate() {
	f.t.Helper()
	if _, err := f.led.Integrate(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.led.SignCheckpoint(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}
