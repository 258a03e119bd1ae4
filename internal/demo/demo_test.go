package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/demo"
	"shuqiao/internal/identity"
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
}
