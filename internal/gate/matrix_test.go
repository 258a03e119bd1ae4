package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// principals: every role of the grantee org, of another org, of the
// providing org, every platform role, API clients, and the anonymous public.
func principals() map[string]identity.Principal {
	out := map[string]identity.Principal{"anonymous": {}}
	for _, org := range []string{"org-a", "org-b", "org-p"} {
		for _, r := range identity.OrgRoles {
			out[org+"/"+string(r)] = identity.Principal{UserID: "u-" + org + "-" + string(r), OrgID: org, OrgKind: identity.KindDepartment, Roles: []identity.Role{r}}
		}
	}
	for _, r := range identity.PlatformRoles {
		out["authority/"+string(r)] = identity.Principal{UserID: "u-auth-" + string(r), OrgID: "org-auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{r, identity.RoleAdmin}}
	}
	out["org-a/client-a"] = deptA
	out["org-a/client-other"] = identity.Principal{ClientID: "client-a2", OrgID: "org-a", Roles: []identity.Role{identity.RoleDeveloper}}
	out["org-b/client"] = deptB
	return out
}

type gatePath struct {
	name string
	call func(f *fixture, p identity.Principal, grantID string, fields []string, filterText string) (rows []map[string]any, err error)
}

func paths(upstream string) []gatePath {
	hosted := func(format Format, cursor bool) func(*fixture, identity.Principal, string, []string, string) ([]map[string]any, error) {
		return func(f *fixture, p identity.Principal, grantID string, fields []string, flt string) ([]map[string]any, error) {
			req := Request{Principal: p, ResourceID: "res-people", GrantID: grantID, Fields: fields, Filter: flt, Format: format}
			if cursor {
				req.Cursor = encodeCursor("000100")
			}
			b, _, err := f.deliver(req)
			if err != nil {
				return nil, err
			}
			return decodeAny(f.t, format, b), nil
		}
	}
	return []gatePath{
		{"json", hosted(JSON, false)},
		{"json+cursor", hosted(JSON, true)},
		{"ndjson", hosted(NDJSON, false)},
		{"csv", hosted(CSV, false)},
		{"xlsx", hosted(XLSX, false)},
		{"proxy", func(f *fixture, p identity.Principal, grantID string, fields []string, flt string) ([]map[string]any, error) {
			d, err := f.gate.Proxy(context.Background(), ProxyRequest{Request: Request{Principal: p, ResourceID: "res-people-svc", GrantID: grantID, Fields: fields, Filter: flt}})
			if err != nil {
				return nil, err
			}
			defer d.Close()
			b, _ := d.Bytes()
			return decodeAny(f.t, JSON, b), nil
		}},
	}
}

func decodeAny(t *testing.T, format Format, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	switch format {
	case JSON:
		var p page
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		return p.Rows
	case NDJSON:
		for _, line := range splitLines(b) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	var rows [][]string
	if format == CSV {
		rows = csvRows(t, b)
	} else {
		rows = xlsxRows(t, b)
	}
	for _, r := range rows[1:] {
		m := map[string]any{}
		for i, h := range rows[0] {
			if i < len(r) {
				m[h] = r[i]
			}
		}
		out = append(out, m)
	}
	return out
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return out
}

// TestPermissionMatrix: R-SEC-3, R-SHR-4, R-SHR-5, R-SHR-10. Every
// principal against every gate path: no access without a grant, no field
// outside the grant, no access after expiry, suspension or termination, and
// no way around the gate through filters, paging or formats.
func TestPermissionMatrix(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `[{"id_card":"350203199001011234","name":"张伟","age":40,"district":"思明区","income":1,"health":"良好","secret":"机密"},
				{"id_card":"350203199101011234","name":"李娜","age":30,"district":"湖里区","income":2,"health":"良好","secret":"机密"}]`)
		}))
		defer up.Close()
		f := newFixture(t, db)
		svc := *f.people
		svc.ID = "res-people-svc"
		svc.Delivery.Mode, svc.Delivery.Endpoint = "service", up.URL
		f.cat.mu.Lock()
		f.cat.res[svc.ID] = &svc
		f.cat.mu.Unlock()
		who := principals()
		ps := paths(up.URL)

		// 1. No grant: nobody gets anything, on any path.
		for name, p := range who {
			for _, path := range ps {
				if _, err := path.call(f, p, "", nil, ""); err == nil {
					t.Errorf("no grant: %s via %s got data", name, path.name)
				}
			}
		}
		// 2. Grants to org-a: the hosted one bound to client-a for API
		// clients would be too strict for people, so bind none and test the
		// client binding on a second grant below.
		granted := []string{"name", "age", "district"}
		rowScope := `district in ("思明区", "湖里区")`
		gh := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: granted, Purpose: "社区服务", Kind: KindConditional, RowFilter: rowScope, RowLimit: 60, RatePerMinute: 100000})
		gs := f.grant(GrantSpec{ResourceID: "res-people-svc", GranteeOrgID: "org-a", Fields: granted, Purpose: "社区服务", Kind: KindConditional, RowFilter: rowScope, RatePerMinute: 100000})
		// Bind to client-a: a second client of org-a is refused, people too
		// (they are not that client).
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE gate_grants SET grantee_client_id = '' WHERE id IN ($1, $2)`, gh.ID, gs.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.gate.forget("res-people")
		f.gate.forget("res-people-svc")
		for name, p := range who {
			for _, path := range ps {
				rows, err := path.call(f, p, "", nil, "")
				wantOK := p.OrgID == "org-a"
				if (err == nil) != wantOK {
					t.Errorf("granted: %s via %s: err %v, want allowed=%v", name, path.name, err, wantOK)
					continue
				}
				if err != nil {
					continue
				}
				if len(rows) == 0 {
					t.Errorf("%s via %s: no rows", name, path.name)
				}
				if len(rows) > 60 {
					t.Errorf("%s via %s: %d rows over the row limit", name, path.name, len(rows))
				}
				for _, r := range rows {
					for k := range r {
						if k != "name" && k != "age" && k != "district" {
							t.Fatalf("%s via %s: field %s outside the grant", name, path.name, k)
						}
					}
					// The grant's row scope holds on every path and page.
					if d := r["district"]; d != "思明区" && d != "湖里区" {
						t.Fatalf("%s via %s: row outside the grant's scope: %v", name, path.name, r)
					}
				}
				// Fields outside the grant, asked for directly or through a filter.
				for _, bad := range [][]string{{"id_card"}, {"name", "income"}, {"secret"}} {
					if _, err := path.call(f, p, "", bad, ""); codeOf(err) != "gate.field_not_granted" {
						t.Errorf("%s via %s fields %v: %v", name, path.name, bad, err)
					}
				}
				for _, flt := range []string{`id_card = "350203199001011234"`, `age > 1 or health ~ "糖"`, `not (income is null)`, `secret is not null`} {
					if _, err := path.call(f, p, "", nil, flt); codeOf(err) != "gate.filter_field_not_granted" {
						t.Errorf("%s via %s filter %s: %v", name, path.name, flt, err)
					}
				}
				// A user filter cannot widen the grant's row scope.
				rows, err = path.call(f, p, "", nil, `district = "集美区" or age >= 0`)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if d := r["district"]; d != "思明区" && d != "湖里区" {
						t.Fatalf("%s via %s: filter widened the scope: %v", name, path.name, r)
					}
				}
			}
		}
		// Another org naming org-a's grant gets nothing.
		for _, path := range ps {
			if _, err := path.call(f, deptB, gh.ID, nil, ""); codeOf(err) != "gate.no_grant" {
				t.Errorf("org-b with org-a's grant via %s: %v", path.name, err)
			}
		}
		// 3. Client binding.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE gate_grants SET grantee_client_id = 'client-a' WHERE id IN ($1, $2)`, gh.ID, gs.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.gate.forget("res-people")
		f.gate.forget("res-people-svc")
		for name, p := range who {
			for _, path := range ps {
				_, err := path.call(f, p, "", nil, "")
				if (err == nil) != (name == "org-a/client-a") {
					t.Errorf("client-bound: %s via %s: %v", name, path.name, err)
				}
			}
		}
		// 4. Suspension, termination, expiry: refused everywhere.
		f.change(f.gate.SuspendGrant, gh.ID, "暂停")
		f.change(f.gate.SuspendGrant, gs.ID, "暂停")
		for _, path := range ps {
			if _, err := path.call(f, deptA, "", nil, ""); codeOf(err) != "gate.grant_suspended" {
				t.Errorf("suspended via %s: %v", path.name, err)
			}
		}
		f.change(f.gate.ReinstateGrant, gh.ID, "恢复")
		f.change(f.gate.TerminateGrant, gs.ID, "终止")
		if _, err := ps[5].call(f, deptA, "", nil, ""); codeOf(err) != "gate.grant_terminated" {
			t.Errorf("terminated proxy: %v", err)
		}
		ge := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-b", Fields: granted, Purpose: "短期核查", Kind: KindConditional, ExpiresAt: f.clock.Now().Add(time.Hour), RatePerMinute: 100000})
		if _, err := ps[0].call(f, deptB, ge.ID, nil, ""); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
		for _, path := range ps[:5] {
			if _, err := path.call(f, deptB, "", nil, ""); codeOf(err) != "gate.grant_expired" {
				t.Errorf("expired via %s: %v", path.name, err)
			}
		}
		// A draft (unpublished) resource is not deliverable even with a grant row.
		if _, err := f.gate.Deliver(ctx, Request{Principal: deptA, ResourceID: "res-draft"}); codeOf(err) != "gate.resource_unavailable" {
			t.Errorf("draft: %v", err)
		}
		// A purpose other than the grant's is refused (R-SHR-5).
		if _, err := f.gate.Deliver(ctx, Request{Principal: deptA, ResourceID: "res-people", Purpose: "商业营销"}); codeOf(err) != "gate.purpose_mismatch" {
			t.Errorf("other purpose: %v", err)
		}
		// Rate limit.
		f.change(f.gate.TerminateGrant, gh.ID, "清理")
		gr := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: granted, Purpose: "限频", Kind: KindConditional, RatePerMinute: 20})
		var limited bool
		for i := 0; i < 30; i++ {
			if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", GrantID: gr.ID}); codeOf(err) == "gate.rate_limited" {
				limited = true
				break
			}
		}
		if !limited {
			t.Error("rate limit never applied")
		}
	})
}
