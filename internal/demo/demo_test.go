package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/demo"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/open"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// The demo city seeds on both stores: the authority, about forty orgs of every
// kind with valid credit codes, and staff who can sign in.
func TestSeed(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := app.New(ctx, db, app.Config{DataDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var last int
		logins, err := demo.Seed(ctx, a, func(done, total int) { last = done })
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			t.Fatal("no progress reported")
		}
		orgs, _, err := a.Identity.ListOrgs(ctx, identity.OrgFilter{}, "", 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) < 40 {
			t.Fatalf("want about 40 orgs, got %d", len(orgs))
		}
		kinds := map[identity.OrgKind]bool{}
		for _, o := range orgs {
			kinds[o.Kind] = true
			if err := identity.ValidCreditCode(o.CreditCode); err != nil {
				t.Fatalf("%s: %v", o.Name, err)
			}
		}
		for _, k := range identity.OrgKinds {
			if !kinds[k] {
				t.Fatalf("no demo org of kind %s", k)
			}
		}
		for _, l := range []demo.Login{logins[0], logins[len(logins)-1]} {
			if _, err := a.Identity.Authenticate(ctx, l.Username, demo.Password, "test"); err != nil {
				t.Fatalf("demo login %s: %v", l.Username, err)
			}
		}
		checkOpenDemo(t, ctx, a)
	})
}

// checkOpenDemo: the catalog keeps exactly CatalogEntryCount entries; the
// open catalog lists the bus lines as downloadable, and anyone downloads
// them anonymously through the app's HTTP handler (R-OPN-1); the
// enterprise's conditional application is approved (R-OPN-2); a public
// "please open this" request is counted (R-OPN-5).
func checkOpenDemo(t *testing.T, ctx context.Context, a *app.App) {
	t.Helper()
	n, cursor := 0, ""
	for {
		page, next, err := a.Catalog.List(ctx, catalog.System(""), catalog.ListFilter{}, cursor, 500)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	if n != demo.CatalogEntryCount {
		t.Fatalf("catalog has %d entries, want exactly %d", n, demo.CatalogEntryCount)
	}
	h := a.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		req.Header.Set("User-Agent", "demo-test")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get("/api/v1/open/catalog?format=json")
	if rec.Code != http.StatusOK {
		t.Fatalf("open catalog: %d %s", rec.Code, rec.Body.Bytes())
	}
	var cat struct {
		Items []struct {
			ID        string            `json:"id"`
			Open      string            `json:"open"`
			Fields    []string          `json:"fields"`
			Downloads map[string]string `json:"downloads"`
		} `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &cat); err != nil {
		t.Fatal(err)
	}
	dl, unconditional := "", 0
	for _, it := range cat.Items {
		if it.Open == string(catalog.Unconditional) && it.Downloads["json"] != "" {
			unconditional++
		}
		if slices.Contains(it.Fields, "line_no") {
			dl = it.Downloads["json"]
		}
	}
	if dl == "" || unconditional < 3 {
		t.Fatalf("the bus lines are not downloadable in the open catalog (%d downloadable entries)", unconditional)
	}
	u, err := url.Parse(dl)
	if err != nil {
		t.Fatal(err)
	}
	rec = get(u.RequestURI())
	if rec.Code != http.StatusOK {
		t.Fatalf("anonymous download %s: %d %s", u.RequestURI(), rec.Code, rec.Body.Bytes())
	}
	var page struct {
		Rows  []map[string]any `json:"rows"`
		Count int              `json:"count"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) == 0 || page.Rows[0]["line_no"] == nil {
		t.Fatalf("anonymous download returned no bus lines: %s", rec.Body.Bytes())
	}
	fin, err := a.Identity.Authenticate(ctx, "fintech.admin", demo.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	cases, _, err := a.Cases.List(ctx, fin, casework.Query{View: casework.ViewFiled, Kind: "open_application"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].State != "approved" {
		t.Fatalf("want one approved open application, got %+v", cases)
	}
	ranking, err := a.Open.Ranking(ctx, time.Now().AddDate(-1, 0, 0), true, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ranking, func(d open.Demand) bool { return d.Requests > 0 }) {
		t.Fatalf("no \"please open this\" request on the open-priority list: %+v", ranking)
	}
	checkOpenConversionDemo(t, ctx, a, get)
}

// checkOpenConversionDemo: R-OPN-4 in the demo. Two open_conversion cases
// approved by the authority, one with an anonymised derivative of the
// residents' register and its risk report, one on the right holder's
// consent, each with the ledger trail (the derivation's process event, the
// decisions' decide events); both entries are open and anyone downloads
// them; the derivative carries its row_no key and no personal data.
func checkOpenConversionDemo(t *testing.T, ctx context.Context, a *app.App, get func(string) *httptest.ResponseRecorder) {
	t.Helper()
	admin, err := a.Identity.Authenticate(ctx, "admin", demo.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	cases, _, err := a.Cases.List(ctx, admin, casework.Query{Kind: open.KindConversion, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("want two open_conversion cases, got %d", len(cases))
	}
	if _, err := a.Ledger.Integrate(ctx); err != nil {
		t.Fatal(err)
	}
	objects := map[string]bool{}
	for _, act := range []ledger.Action{ledger.Process, ledger.Decide} {
		cursor := ""
		for {
			es, next, err := a.Ledger.Query(ctx, ledger.Filter{Action: act, After: cursor, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				objects[e.Object] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	paths := map[string]bool{}
	for _, c := range cases {
		full, err := a.Cases.Get(ctx, admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var pl open.OpeningPayload
		if err := json.Unmarshal(full.Payload, &pl); err != nil {
			t.Fatal(err)
		}
		if full.State != "approved" || !objects["open/conversion/"+c.ID] {
			t.Fatalf("conversion case %s: state %s, ledger decide event %v", c.ID, full.State, objects["open/conversion/"+c.ID])
		}
		paths[pl.Path] = true
		res, err := a.Catalog.Get(ctx, catalog.System(""), c.Target.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Open.Attr != catalog.Unconditional {
			t.Fatalf("%s was approved for opening but is %s", res.Name, res.Open.Attr)
		}
		ops, err := a.Open.Openings(ctx, res.ID)
		if err != nil || len(ops) != 1 || ops[0].Path != pl.Path {
			t.Fatalf("openings of %s: %+v %v", res.Name, ops, err)
		}
		rec := get("/api/v1/open/data/" + res.ID + "?format=csv")
		if rec.Code != http.StatusOK || rec.Header().Get("Shuqiao-Records") == "0" {
			t.Fatalf("anonymous download of %s: %d %s", res.Name, rec.Code, rec.Body.Bytes())
		}
		switch pl.Path {
		case open.PathDerivative:
			dv := pl.Derivation
			if dv == nil || dv.Result.MinClass < 10 || dv.Report.ProsecutorAtRisk > 0.05 || !objects["open/derivation/"+dv.ID] || res.Name != demo.OpenDerivativeName {
				t.Fatalf("derivation %+v (ledger %v) for %s", dv, dv != nil && objects["open/derivation/"+dv.ID], res.Name)
			}
			body := strings.TrimPrefix(rec.Body.String(), "\ufeff")
			// The first page (the public grant's row limit), in row_no order.
			want := fmt.Sprint(min(dv.Report.Records, 1000))
			if !strings.HasPrefix(body, "row_no,gender,ethnicity,birth_date,district\n0001,") || strings.Contains(body, "1985-") ||
				rec.Header().Get("Shuqiao-Records") != want || dv.Report.Records < 1500 {
				t.Fatalf("derivative download (%s records):\n%.300s", rec.Header().Get("Shuqiao-Records"), body)
			}
		case open.PathConsent:
			if pl.Consent == nil || pl.Consent.Holder != demo.OpenConsentHolder || pl.Consent.Evidence == "" {
				t.Fatalf("consent %+v", pl.Consent)
			}
		}
	}
	if !paths[open.PathDerivative] || !paths[open.PathConsent] {
		t.Fatalf("conversion paths %v", paths)
	}
	// R-OPN-6: the risk scan runs over the demo's open data (entries without
	// data are skipped); the 10-anonymous derivative is not flagged.
	scans, err := a.Open.ScanRisk(ctx)
	if err != nil {
		t.Fatalf("risk scan of the demo's open data: %v", err)
	}
	scanned := false
	for _, sc := range scans {
		res, err := a.Catalog.Get(ctx, catalog.System(""), sc.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("risk scan: %s: %d records, %.0f%% at risk, flagged %v", res.Name, sc.Report.Records, 100*sc.Report.ProsecutorAtRisk, sc.Flagged)
		if res.Name == demo.OpenDerivativeName {
			scanned = true
			if sc.Flagged {
				t.Fatalf("the 10-anonymous derivative was flagged: %+v", sc.Report)
			}
		}
	}
	if !scanned {
		t.Fatal("the risk scan skipped the opened derivative")
	}
}
