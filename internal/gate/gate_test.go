package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

type page struct {
	ResourceID string           `json:"resource_id"`
	GrantID    string           `json:"grant_id"`
	DeliveryID string           `json:"delivery_id"`
	Fields     []string         `json:"fields"`
	Rows       []map[string]any `json:"rows"`
	Count      int              `json:"count"`
	Next       string           `json:"next_cursor"`
}

// TestDeliverMasksProjectsAndPages: R-SHR-4 (only granted fields), R-SEC-3
// (masking by level), paging that returns every row exactly once.
func TestDeliverMasksProjectsAndPages(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		g := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"id_card", "name", "age", "district", "income", "health", "secret"},
			Purpose: "低保资格核查", Kind: KindConditional, RowLimit: 500})
		b, d, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Fields: []string{"id_card", "name", "age", "income", "health", "secret"}, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var p page
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if p.GrantID != g.ID || p.Count != 3 || len(p.Rows) != 3 || p.Next == "" || p.DeliveryID != d.ID {
			t.Fatalf("page: %+v", p)
		}
		r := p.Rows[0]
		if len(r) != 6 || r["district"] != nil {
			t.Fatalf("projection: %v", r)
		}
		if id := r["id_card"].(string); !strings.HasPrefix(id, "350203") || !strings.Contains(id, "********") {
			t.Errorf("id_card not partially masked: %q", id)
		}
		if n := r["name"].(string); !strings.HasSuffix(n, "*") {
			t.Errorf("name not masked: %q", n)
		}
		if r["age"].(float64) != 18 {
			t.Errorf("age changed: %v", r["age"])
		}
		if inc := r["income"].(string); !isPseudonymToken(inc) || !tagMatches(tagCipher(f.gate.traceKey, f.gate.opts.MaskAlgorithm, g.ID), inc) {
			t.Errorf("important income not a tagged pseudonym: %q", inc)
		}
		if h := r["health"].(string); !isPseudonymToken(h) {
			t.Errorf("sensitive health not pseudonymised: %q", h)
		}
		if r["secret"] != "*" {
			t.Errorf("core data not suppressed: %v", r["secret"])
		}
		sum := sha256.Sum256(b)
		if d.ContentHash != hex.EncodeToString(sum[:]) {
			t.Error("content hash is not the hash of the bytes")
		}
		// Page through everything: 250 rows, each once.
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		for {
			b, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Fields: []string{"id_card", "age"}, Cursor: cursor, Limit: 40})
			if err != nil {
				t.Fatal(err)
			}
			var p page
			_ = json.Unmarshal(b, &p)
			for _, r := range p.Rows {
				id := r["id_card"].(string) + "/" + string(rune(int(r["age"].(float64))))
				_ = id
				seen[r["id_card"].(string)] = true
			}
			pages++
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if pages != 7 {
			t.Errorf("pages = %d, want 7", pages)
		}
		// Filter on granted fields.
		b, _, err = f.deliver(Request{Principal: deptA, ResourceID: "res-people", Fields: []string{"district", "age"}, Filter: `district in ("思明区","湖里区") and age >= 70`, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(b, &p)
		if p.Count == 0 {
			t.Fatal("filter selected nothing")
		}
		for _, r := range p.Rows {
			if (r["district"] != "思明区" && r["district"] != "湖里区") || r["age"].(float64) < 70 {
				t.Fatalf("row outside filter: %v", r)
			}
		}
	})
}

// TestFormats: NDJSON, CSV and XLSX carry the same masked rows as JSON.
func TestFormats(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"id_card", "name", "age", "income"}, Purpose: "统计分析", Kind: KindUnconditional, RowLimit: 100})
		fields := []string{"id_card", "name", "age", "income"}
		jb, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var p page
		_ = json.Unmarshal(jb, &p)
		want := [][]string{}
		for _, r := range p.Rows {
			row := []string{}
			for _, fl := range fields {
				switch v := r[fl].(type) {
				case float64:
					row = append(row, strings.TrimSuffix(strings.TrimRight(strings.TrimRight(jsonNum(v), "0"), "."), "."))
				case string:
					row = append(row, v)
				}
			}
			want = append(want, row)
		}
		// NDJSON
		nb, d, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: NDJSON})
		if err != nil {
			t.Fatal(err)
		}
		if d.ContentType() != "application/x-ndjson" || bytes.Count(nb, []byte("\n")) != 100 {
			t.Fatalf("ndjson: %d lines", bytes.Count(nb, []byte("\n")))
		}
		// CSV
		cb, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: CSV})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(cb, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != strings.Join(fields, ",") || len(recs) != 101 {
			t.Fatalf("csv header %v, %d records", recs[0], len(recs))
		}
		for i := range want {
			if strings.Join(recs[i+1], "|") != strings.Join(want[i], "|") {
				t.Fatalf("csv row %d = %v, json %v", i, recs[i+1], want[i])
			}
		}
		// XLSX
		xb, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: XLSX})
		if err != nil {
			t.Fatal(err)
		}
		x, err := excelize.OpenReader(bytes.NewReader(xb))
		if err != nil {
			t.Fatal(err)
		}
		xr, _ := x.GetRows("Sheet1")
		if len(xr) != 101 || strings.Join(xr[1], "|") != strings.Join(recs[1], "|") {
			t.Fatalf("xlsx rows %d, first %v vs csv %v", len(xr), xr[1], recs[1])
		}
		if _, err := f.gate.Deliver(context.Background(), Request{Principal: deptA, ResourceID: "res-people", Format: "pdf"}); codeOf(err) != "gate.bad_format" {
			t.Fatalf("pdf: %v", err)
		}
	})
}

func jsonNum(v float64) string {
	b, _ := json.Marshal(v)
	return string(b) + "."
}

// TestGrantLifecycle: R-SHR-10 suspension then termination; expiry; every
// change and every refusal is in the ledger with its reason.
func TestGrantLifecycle(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		g := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age", "district"}, Purpose: "教育规划", Kind: KindConditional,
			ExpiresAt: f.clock.Now().Add(48 * time.Hour), CaseID: "case-1"})
		if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people"}); err != nil {
			t.Fatal(err)
		}
		f.change(f.gate.SuspendGrant, g.ID, "超范围使用，暂停核查")
		_, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people"})
		ae, _ := err.(interface{ Message(string) string })
		if codeOf(err) != "gate.grant_suspended" || !strings.Contains(ae.Message("zh"), "超范围使用") {
			t.Fatalf("suspended: %v", err)
		}
		// A suspended grant cannot be suspended again.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := f.gate.SuspendGrant(ctx, tx, authority, g.ID, "again")
			return err
		}); codeOf(err) != "gate.grant_state" {
			t.Fatalf("double suspend: %v", err)
		}
		f.change(f.gate.ReinstateGrant, g.ID, "整改完成")
		if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(49 * time.Hour)
		if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people"}); codeOf(err) != "gate.grant_expired" {
			t.Fatalf("expired: %v", err)
		}
		f.change(f.gate.TerminateGrant, g.ID, "多次违规")
		if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people"}); codeOf(err) != "gate.grant_terminated" {
			t.Fatalf("terminated: %v", err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := f.gate.ReinstateGrant(ctx, tx, authority, g.ID, "x")
			return err
		}); codeOf(err) != "gate.grant_state" {
			t.Fatalf("reinstate terminated: %v", err)
		}
		// A change rolled back with the caller's transaction leaves nothing.
		g2 := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-b", Fields: []string{"age"}, Purpose: "p", Kind: KindUnconditional})
		_ = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := f.gate.SuspendGrant(ctx, tx, authority, g2.ID, "rolled back"); err != nil {
				t.Fatal(err)
			}
			return context.Canceled
		})
		if got, _ := f.gate.Grant(ctx, g2.ID); got.State != Active {
			t.Fatalf("rolled back suspension took effect: %s", got.State)
		}
		f.integrate()
		entries, _, err := f.led.Query(ctx, ledger.Filter{GrantID: g.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var whats []string
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			var det map[string]any
			_ = json.Unmarshal(e.Detail, &det)
			switch {
			case det["event"] != nil:
				whats = append(whats, det["event"].(string))
			case det["outcome"] == "deny":
				whats = append(whats, "deny:"+det["code"].(string))
			default:
				whats = append(whats, string(e.Action))
			}
		}
		want := "gate.grant.create provide gate.grant.suspend deny:gate.grant_suspended gate.grant.reinstate provide deny:gate.grant_expired gate.grant.terminate deny:gate.grant_terminated"
		if strings.Join(whats, " ") != want {
			t.Fatalf("ledger:\n got %s\nwant %s", strings.Join(whats, " "), want)
		}
	})
}

func TestCreateGrantValidates(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		bad := []GrantSpec{
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"nope"}, Purpose: "p", Kind: KindConditional},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: nil, Purpose: "p", Kind: KindConditional},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age"}, Purpose: " ", Kind: KindConditional},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age"}, Purpose: "p", Kind: "whatever"},
			{ResourceID: "res-people", GranteeOrgID: "", Fields: []string{"age"}, Purpose: "p", Kind: KindConditional},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age", "age"}, Purpose: "p", Kind: KindConditional},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age"}, Purpose: "p", Kind: KindConditional, RowFilter: "age >"},
			{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age"}, Purpose: "p", Kind: KindConditional, ExpiresAt: f.clock.Now().Add(-time.Hour)},
		}
		for i, spec := range bad {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := f.gate.CreateGrant(ctx, tx, provider, spec)
				return err
			})
			if codeOf(err) != "gate.bad_grant" {
				t.Errorf("%d: %v", i, err)
			}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := f.gate.CreateGrant(ctx, tx, provider, GrantSpec{ResourceID: "missing", GranteeOrgID: "org-a", Fields: []string{"age"}, Purpose: "p", Kind: KindConditional})
			return err
		})
		if codeOf(err) != "catalog.not_found" {
			t.Errorf("missing resource: %v", err)
		}
	})
}

// TestPurposeLockAtDecide: R-PRS-7. A grant made before its entry was
// marked as public-place camera data stops working the moment the mark is
// set, through every format; a public-security grant goes on working.
func TestPurposeLockAtDecide(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age", "district"}, Purpose: "养老服务", Kind: KindConditional})
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-b", Fields: []string{"age", "district"}, Purpose: "公共安全：重大活动安保", Kind: KindConditional})
		if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: JSON}); err != nil {
			t.Fatalf("before the mark: %v", err)
		}
		f.cat.mu.Lock()
		f.cat.res["res-people"].Tags = append(f.cat.res["res-people"].Tags, PurposeLockTags[0])
		f.cat.mu.Unlock()
		for _, format := range []Format{JSON, NDJSON, CSV, XLSX} {
			if _, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: format}); codeOf(err) != "gate.purpose_locked" {
				t.Fatalf("%s after the mark: %v", format, err)
			}
		}
		if _, _, err := f.deliver(Request{Principal: deptB, ResourceID: "res-people", Format: CSV}); err != nil {
			t.Fatalf("public-security grant after the mark: %v", err)
		}
	})
}

// TestGrantBoundToPerson: R-OPN-2. A grant made on a person's application
// serves that person only: a colleague of the same org, or the org's API
// client, is refused; a grant bound to a person names their org.
func TestGrantBoundToPerson(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		applicant := identity.Principal{UserID: "user-x", OrgID: "org-a", OrgKind: identity.KindEnterprise, Roles: []identity.Role{identity.RoleDeveloper}}
		colleague := applicant
		colleague.UserID = "user-y"
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", GranteeUserID: "user-x", Fields: []string{"age", "district"}, Purpose: "学术研究", Kind: KindOpen})
		if _, _, err := f.deliver(Request{Principal: applicant, ResourceID: "res-people", Format: CSV}); err != nil {
			t.Fatalf("applicant: %v", err)
		}
		for name, p := range map[string]identity.Principal{"colleague": colleague, "org client": deptA} {
			if _, _, err := f.deliver(Request{Principal: p, ResourceID: "res-people", Format: CSV}); codeOf(err) != "gate.user_not_granted" {
				t.Fatalf("%s: %v", name, err)
			}
		}
		err := f.db.InTx(context.Background(), func(tx *store.Tx) error {
			_, err := f.gate.CreateGrant(context.Background(), tx, authority, GrantSpec{ResourceID: "res-people", GranteeUserID: "user-x", Fields: []string{"age"}, Purpose: "学术研究", Kind: KindOpen})
			return err
		})
		if codeOf(err) == "" {
			t.Fatal("a public grant bound to a person was made")
		}
	})
}
