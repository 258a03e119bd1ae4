// Command catalog measures catalog search at scale: it publishes -n entries
// (default 100,000) through the catalog service, then runs a mix of
// realistic searches (Chinese terms of two and more characters, phrases,
// exclusions, facet filters, browsing) through Service.Search, which also
// counts the seven facets of every result set, and compares their latency
// with a raw baseline measured in the same run: a plain LIKE scan of the
// same table returning one page, with no facets. The target is a p95 of at
// most 50 ms for the governed search.
//
//	go run ./bench/catalog              # SQLite, 100,000 entries
//	go run ./bench/catalog -db postgres://postgres@127.0.0.1:5432/bench -n 100000
//	go run ./bench/catalog -keep /tmp/cat100k   # publish once, search again on later runs
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/demo"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

func main() {
	n := flag.Int("n", 100000, "catalog entries to publish")
	rounds := flag.Int("rounds", 20, "times each query runs")
	dsn := flag.String("db", "", "PostgreSQL DSN (a fresh schema is used); empty: SQLite in a temporary folder")
	keep := flag.String("keep", "", "keep the catalog for later runs: a SQLite folder, or with -db a schema name; a kept catalog that already holds -n entries is searched again without publishing")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the searches to this file")
	flag.Parse()
	if err := run(*n, *rounds, *dsn, *keep, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/catalog:", err)
		os.Exit(1)
	}
}

func run(n, rounds int, dsn, keep, cpuprofile string) error {
	ctx := context.Background()
	db, cleanup, err := open(ctx, dsn, keep)
	if err != nil {
		return err
	}
	defer cleanup()
	_ = slog.New(slog.NewTextHandler(io.Discard, nil))
	led, err := ledger.New(ctx, db, clock.Real{})
	if err != nil {
		return err
	}
	orgs := make([]catalog.Org, 40)
	byID := map[string]catalog.Org{}
	for i := range orgs {
		kind := identity.KindDepartment
		if i >= 30 {
			kind = identity.KindPublicService
		}
		orgs[i] = catalog.Org{ID: fmt.Sprintf("org-%02d", i), Name: fmt.Sprintf("市第%d局", i+1), Code: identity.MakeCreditCode(fmt.Sprintf("11350200MA%07d", 2600000+i)), Kind: kind}
		byID[orgs[i].ID] = orgs[i]
	}
	lookup := func(_ context.Context, id string) (catalog.Org, error) {
		o, ok := byID[id]
		if !ok {
			return catalog.Org{}, fmt.Errorf("no org %s", id)
		}
		return o, nil
	}
	svc, err := catalog.New(ctx, db, led, clock.Real{}, catalog.Options{Orgs: lookup})
	if err != nil {
		return err
	}
	fmt.Printf("catalog search benchmark on %s (%s), %d entries\n", db.Dialect, db.Where, n)
	start := time.Now()
	entries := demo.CatalogEntries(orgs, n+rounds, 7)
	extra := entries[n:]
	entries = entries[:n]
	last := time.Now()
	var have int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM catalog_resources WHERE status = 'published'`).Scan(&have); err != nil {
		return err
	}
	if have >= n {
		fmt.Printf("kept catalog holds %d published entries; not publishing\n", have)
		extra = demo.CatalogEntries(orgs, have+rounds, 7)[have:]
	} else {
		if _, err := svc.BulkPublish(ctx, catalog.System("bench"), entries[have:], "bench", 1000, func(done, total int) {
			if time.Since(last) > 5*time.Second || done == total {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "\rpublishing %d/%d (%s)", have+done, n, time.Since(start).Round(time.Second))
			}
		}); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr)
		fmt.Printf("published %d entries in %s (%.2f ms/entry, with ledger events, versions and indexes)\n", n-have, time.Since(start).Round(time.Second), float64(time.Since(start).Microseconds())/1000/float64(n-have))
	}
	if db.Dialect == store.Postgres {
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			return err
		}
	}

	type query struct {
		class string
		q     string
		f     map[string][]string
		// raw is the baseline's LIKE term.
		raw string
	}
	queries := []query{
		{"2-char term", "人口", nil, "人口"},
		{"2-char term", "许可", nil, "许可"},
		{"2-char term", "监测", nil, "监测"},
		{"2-char term", "医疗", nil, "医疗"},
		{"3+-char term", "基本信息", nil, "基本信息"},
		{"3+-char term", "空气质量", nil, "空气质量"},
		{"3+-char term", "社会保险参保", nil, "社会保险参保"},
		{"3+-char term", "公民身份号码", nil, "公民身份号码"},
		{"3+-char term", "湖里区市场主体", nil, "湖里区市场主体"},
		{"terms+filter", "登记 theme:market", nil, "登记"},
		{"terms+filter", "许可信息 level:important", nil, "许可信息"},
		{"terms+filter", "监测数据", map[string][]string{"open": {"unconditional"}, "format": {"csv"}}, "监测数据"},
		{"terms+filter", "名录 -医疗", map[string][]string{"org": {"org-03"}}, "名录"},
		{"filters only", "", map[string][]string{"theme": {"health"}}, "医疗"},
		{"filters only", "", map[string][]string{"share": {"none"}, "frequency": {"daily"}}, "信息"},
		{"browse", "", nil, "信息"},
		// Browsing right after a publication: the facet counts must not be
		// recounted (one entry is published, untimed, before each run).
		{"browse after publish", "", nil, "信息"},
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	gov := map[string][]time.Duration{}
	raw := map[string][]time.Duration{}
	var allG, allR []time.Duration
	for r := 0; r < rounds; r++ {
		for _, q := range queries {
			if q.class == "browse after publish" {
				if _, err := svc.BulkPublish(ctx, catalog.System("bench"), extra[r:r+1], "bench", 1, nil); err != nil {
					return err
				}
			}
			t0 := time.Now()
			res, err := svc.Search(ctx, catalog.SearchInput{Q: q.q, Filters: q.f, Limit: 20})
			if err != nil {
				return fmt.Errorf("search %q: %w", q.q, err)
			}
			d := time.Since(t0)
			if r == 0 {
				approx := ""
				if res.Approximate {
					approx = " (approximate facets)"
				}
				fmt.Printf("  %-20s %-40q %6d results  %8.1f ms%s\n", q.class, q.q+facetText(q.f), res.Total, ms(d), approx)
			}
			gov[q.class] = append(gov[q.class], d)
			allG = append(allG, d)

			t0 = time.Now()
			if err := rawSearch(ctx, db, q.raw); err != nil {
				return err
			}
			d = time.Since(t0)
			raw[q.class] = append(raw[q.class], d)
			allR = append(allR, d)
		}
	}
	var results []harness.Result
	classes := []string{"2-char term", "3+-char term", "terms+filter", "filters only", "browse", "browse after publish"}
	for _, c := range classes {
		results = append(results, harness.Result{Name: "search p95, " + c, Governed: ms(pct(gov[c], 95)), Baseline: ms(pct(raw[c], 95)), Unit: "ms"})
	}
	results = append(results,
		harness.Result{Name: "search p50, all", Governed: ms(pct(allG, 50)), Baseline: ms(pct(allR, 50)), Unit: "ms"},
		harness.Result{Name: "search p95, all", Governed: ms(pct(allG, 95)), Baseline: ms(pct(allR, 95)), Unit: "ms",
			Note: fmt.Sprintf("(absolute target p95 <= 50 ms: %s)", verdict(ms(pct(allG, 95)) <= 50))})
	fmt.Println()
	fmt.Println("governed: Service.Search (full text + 7 facet counts + page of full entries); baseline: raw LIKE scan, one page of ids, no facets")
	harness.Print(os.Stdout, results)
	return nil
}

func facetText(f map[string][]string) string {
	var parts []string
	for k, v := range f {
		parts = append(parts, k+"="+strings.Join(v, ","))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "OVER"
}

// rawSearch is the baseline: a plain LIKE scan of the published entries'
// search text, newest first, one page of ids.
func rawSearch(ctx context.Context, db *store.DB, term string) error {
	rows, err := db.QueryContext(ctx, `SELECT id FROM catalog_resources WHERE status = 'published' AND search LIKE $1 ORDER BY id DESC LIMIT 20`, "%"+term+"%")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
	}
	return rows.Err()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func open(ctx context.Context, dsn, keep string) (*store.DB, func(), error) {
	if dsn == "" && keep != "" {
		db, err := store.Open(ctx, store.Options{DataDir: keep})
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	if dsn == "" {
		dir, err := os.MkdirTemp("", "shuqiao-bench-catalog")
		if err != nil {
			return nil, nil, err
		}
		db, err := store.Open(ctx, store.Options{DataDir: dir})
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close(); os.RemoveAll(dir) }, nil
	}
	admin, err := store.Open(ctx, store.Options{DSN: dsn})
	if err != nil {
		return nil, nil, err
	}
	schema := fmt.Sprintf("bench_catalog_%d", time.Now().UnixNano())
	if keep != "" {
		schema = keep
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			admin.Close()
			return nil, nil, err
		}
		db, err := store.Open(ctx, store.Options{DSN: dsn, Schema: schema})
		if err != nil {
			admin.Close()
			return nil, nil, err
		}
		return db, func() { db.Close(); admin.Close() }, nil
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return nil, nil, err
	}
	db, err := store.Open(ctx, store.Options{DSN: dsn, Schema: schema})
	if err != nil {
		admin.Close()
		return nil, nil, err
	}
	return db, func() {
		db.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}, nil
}
