package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/catalog"
	"shuqiao/internal/demo"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// The demo city's catalog: about a thousand published entries across its
// orgs and 24 themes, every attribute value represented (R-CAT-1, R-CAT-2,
// R-CAT-7), seeded fast.
func TestSeedCatalog(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := app.New(ctx, db, app.Config{DataDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := demo.Seed(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("demo seed with %d catalog entries: %s", demo.CatalogEntryCount, time.Since(start))
		all, err := a.Catalog.Search(ctx, catalog.SearchInput{})
		if err != nil {
			t.Fatal(err)
		}
		if all.Total != demo.CatalogEntryCount {
			t.Fatalf("%d entries, want %d", all.Total, demo.CatalogEntryCount)
		}
		want := map[string]int{"theme": 24, "level": 3, "share": 3, "open": 3, "frequency": 7, "format": 9}
		for f, n := range want {
			if got := len(all.Facets[f]); got != n {
				t.Errorf("facet %s: %d values, want %d", f, got, n)
			}
		}
		if len(all.Facets["org"]) < 30 {
			t.Errorf("only %d orgs have entries", len(all.Facets["org"]))
		}
		for facet, vals := range map[string][]string{
			"class":    {"government", "public_service", "purchased"},
			"delivery": {"hosted", "service"},
			"library":  {"base:population", "base:e_licence", "theme:city_operation"},
			"industry": {"A", "T"},
		} {
			for _, v := range vals {
				r, err := a.Catalog.Search(ctx, catalog.SearchInput{Filters: map[string][]string{facet: {v}}, Limit: 1})
				if err != nil || r.Total == 0 {
					t.Errorf("no demo entry with %s=%s (%v)", facet, v, err)
				}
			}
		}
	})
}
