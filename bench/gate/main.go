// Command gate measures the governed data path against a bare handler in one
// run, on loopback (issue 8's performance targets):
//
//	a governed JSON call returning 100 rows of a hosted dataset — decide,
//	projection, masking by level, fingerprinted pseudonyms, a ledger provide
//	event committed before the answer, a signed receipt — against a bare
//	handler that reads the same 100 rows with the same SQL and writes JSON.
//
// Targets: governed throughput ≥ 0.5 of bare; ≥ 5,000 governed calls/s on
// SQLite; p99 < 20 ms at half of the governed maximum. The ledger's
// integrator runs in the background as in production. Load comes from
// bounded loops (fixed duration, fixed workers) against 127.0.0.1 only.
//
// go run ./bench/gate [-seconds 3] [-workers 64] [-rows 20000] [-quick]
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/app"
	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

type config struct {
	rate     float64
	seconds  float64
	workers  int
	rows     int
	quick    bool
	noInteg  bool
	idle     int
	timeline bool
	profGov  string
}

func main() {
	var c config
	flag.Float64Var(&c.seconds, "seconds", 3, "seconds per load run")
	flag.IntVar(&c.workers, "workers", 64, "concurrent client connections for the maximum-throughput runs (enough that calls waiting in a group commit leave both cores busy)")
	flag.IntVar(&c.rows, "rows", 20000, "rows in the hosted dataset")
	flag.BoolVar(&c.quick, "quick", false, "tiny run: a smoke test, not a measurement")
	flag.BoolVar(&c.noInteg, "no-integrator", false, "do not run the ledger integrator during the load (diagnosis only)")
	flag.IntVar(&c.idle, "idle-conns", 0, "database/sql idle connections kept (0: the store's default); diagnosis of connection churn")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.StringVar(&c.profGov, "profile-governed", "", "only run the governed closed loop, with a CPU profile written to this file, and print the calls made (diagnosis: profile seconds / calls = cost per call)")
	flag.Float64Var(&c.rate, "rate", 0, "only run the open loop, offering this many governed calls a second (diagnosis of latency)")
	flag.BoolVar(&c.timeline, "timeline", false, "print the half-load run's worst latency per 250 ms (diagnosis of stalls)")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if c.quick {
		c.seconds, c.rows, c.workers = 0.3, 1000, 8
	}
	// The runtime as `shuqiao serve` sets it (both handlers share it).
	if p, ok := app.TuneGC(os.Getenv); ok {
		fmt.Printf("GOGC %d, as shuqiao serve sets it\n", p)
	}
	if n, ok := app.TuneProcs(os.Getenv); ok {
		fmt.Printf("GOMAXPROCS %d, as shuqiao serve sets it\n", n)
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/gate:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

var fields = []catalog.Field{
	{Name: "record_no", Label: "记录编号", Type: "string", Required: true, Level: catalog.LevelGeneral},
	{Name: "id_card", Label: "公民身份号码", Type: "string", Level: catalog.LevelGeneral, Personal: true, Sensitive: true},
	{Name: "name", Label: "姓名", Type: "string", Level: catalog.LevelGeneral, Personal: true},
	{Name: "age", Label: "年龄", Type: "integer", Level: catalog.LevelGeneral},
	{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
	{Name: "income", Label: "年收入", Type: "decimal", Level: catalog.LevelImportant},
}

func run(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "shuqiao-bench-gate")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		return err
	}
	defer db.Close()
	if c.idle > 0 {
		db.SetMaxIdleConns(c.idle)
	}
	led, err := ledger.New(ctx, db, clock.Real{}, ledger.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if !c.noInteg {
		go led.Run(runCtx)
	}

	// The dataset is hosted as the platform hosts one: a published catalog
	// entry, its table created and loaded by ingest (keyed, WITHOUT ROWID
	// on SQLite), and the gate wired as app.go wires it (catalog lookups
	// through the gate's cache, rows through ingest's source).
	res, table, cat, ing, err := host(ctx, db, led, c.rows)
	if err != nil {
		return err
	}
	g, err := gate.New(ctx, db, led, clock.Real{}, gate.CatalogResources(cat, clock.Real{}, 0), ing.RowSource(),
		gate.Options{Secret: []byte("bench-secret-bench-secret-bench-secret")})
	if err != nil {
		return err
	}
	defer g.Close()
	p := identity.Principal{ClientID: "bench-client", OrgID: "org-bench", Roles: []identity.Role{identity.RoleDeveloper}}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := g.CreateGrant(ctx, tx, p, gate.GrantSpec{ResourceID: res.ID, GranteeOrgID: p.OrgID, Fields: []string{"id_card", "name", "age", "district", "income"},
			Purpose: "benchmark", Kind: gate.KindConditional, RowLimit: 100, RatePerMinute: 1 << 30})
		return err
	}); err != nil {
		return err
	}

	mux := http.NewServeMux()
	var served handlerTimes
	mux.HandleFunc("GET /governed", func(w http.ResponseWriter, r *http.Request) {
		defer served.since(time.Now())
		d, err := g.Deliver(r.Context(), gate.Request{Principal: p, ResourceID: res.ID, Cursor: r.URL.Query().Get("cursor"), Limit: 100})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer d.Close()
		w.Header().Set("Content-Type", d.ContentType())
		w.Header().Set("Content-Length", strconv.FormatInt(d.Size, 10))
		w.Header().Set("Shuqiao-Receipt", base64.StdEncoding.EncodeToString([]byte(d.Receipt.Note)))
		_, _ = d.WriteTo(w)
	})
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.QueryContext(r.Context(), `SELECT record_no, id_card, name, age, district, income FROM `+table+` WHERE record_no > $1 ORDER BY record_no LIMIT 100`, r.URL.Query().Get("after"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer rows.Close()
		type row struct {
			IDCard   string      `json:"id_card"`
			Name     string      `json:"name"`
			Age      int64       `json:"age"`
			District string      `json:"district"`
			Income   json.Number `json:"income"`
		}
		var out []row
		for rows.Next() {
			var k string
			var x row
			if err := rows.Scan(&k, &x.IDCard, &x.Name, &x.Age, &x.District, &x.Income); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			out = append(out, x)
		}
		b, err := json.Marshal(map[string]any{"rows": out})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

	// Sanity: the governed answer has 100 masked rows.
	if err := check(client, base); err != nil {
		return err
	}
	// load runs a closed loop (workers > 0) or an open loop (rate > 0) on
	// path and returns what it measured, with the server's CPU time.
	load := func(path string, workers int, rate, seconds float64) (loadResult, time.Duration, error) {
		c0 := cpuTime()
		res, err := doLoad(loadSpec{Addr: ln.Addr().String(), Path: path, Rows: c.rows, Seconds: seconds, Workers: workers, Rate: rate})
		return res, cpuTime() - c0, err
	}
	perCall := func(d time.Duration, n int64) float64 { return float64(d.Microseconds()) / float64(max(n, 1)) }
	// Interleave to share the machine's state: bare, governed, bare, governed.
	// CPU time per call (the whole process: server, load generator,
	// ledger) is printed beside
	// throughput: on a busy machine it moves much less than calls per
	// second do, so it shows what a change did.
	if c.profGov != "" {
		f, err := os.Create(c.profGov)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		res, cpu, err := load("governed", c.workers, 0, c.seconds)
		pprof.StopCPUProfile()
		if err != nil {
			return err
		}
		fmt.Printf("governed only: %d calls, %.0f calls/s, CPU %.0f µs a call\n", res.Calls, res.PerSec, perCall(cpu, res.Calls))
		return nil
	}
	if c.rate > 0 {
		t0 := time.Now()
		served.start()
		res, cpu, err := load("governed", 0, c.rate, c.seconds)
		if err != nil {
			return err
		}
		fmt.Printf("CPU %.0f µs a call, %.0f%% of the two cores\n", perCall(cpu, res.Calls), 100*cpu.Seconds()/time.Since(t0).Seconds()/2)
		if c.timeline {
			printTimeline(res.Latency, c.rate)
		}
		lat := res.Latency
		fmt.Printf("%.0f calls/s offered, %.0f achieved: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			c.rate, res.PerSec, ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
		fmt.Println(latencyParts(served.stop(), res.Lag))
		return nil
	}
	var bareRates, govRates []float64
	var bareCPU, govCPU []float64
	for i := 0; i < 2; i++ {
		b, bcpu, err := load("bare", c.workers, 0, c.seconds)
		if err != nil {
			return err
		}
		gv, gcpu, err := load("governed", c.workers, 0, c.seconds)
		if err != nil {
			return err
		}
		bareRates, govRates = append(bareRates, b.PerSec), append(govRates, gv.PerSec)
		bareCPU, govCPU = append(bareCPU, perCall(bcpu, b.Calls)), append(govCPU, perCall(gcpu, gv.Calls))
	}
	bare, gov := maxOf(bareRates), maxOf(govRates)
	half := gov / 2
	served.start()
	hl, _, err := load("governed", 0, half, 2*c.seconds)
	if err != nil {
		return err
	}
	lat, achieved := hl.Latency, hl.PerSec
	p50, p99 := pct(lat, 0.50), pct(lat, 0.99)
	if c.timeline {
		printTimeline(lat, half)
	}
	results := []harness.Result{{
		Name: "governed JSON 100 rows vs bare handler", Governed: 1e6 / gov, Baseline: 1e6 / bare, Unit: "µs/op", Target: 2.0,
		Note: fmt.Sprintf("throughput %.0f vs %.0f calls/s (%.2f of bare; target ≥0.50)", gov, bare, gov/bare),
	}}
	harness.Print(os.Stdout, results)
	fmt.Printf("CPU per call (process user+system): governed %.0f µs, bare %.0f µs (%.2f of bare's calls per CPU second)\n",
		minOf(govCPU), minOf(bareCPU), minOf(bareCPU)/minOf(govCPU))
	fmt.Printf("governed max throughput: %.0f calls/s (target ≥ 5000) %s\n", gov, okMark(gov >= 5000))
	fmt.Printf("at half load (%.0f calls/s offered, %.0f achieved): p50 %.2f ms, p99 %.2f ms (target p99 < 20 ms) %s\n",
		half, achieved, ms(p50), ms(p99), okMark(p99 < 20*time.Millisecond))
	fmt.Println("  " + latencyParts(served.stop(), hl.Lag))
	fmt.Printf("vs X-Road's published ~110 calls/s on 32 cores: %.0fx (target 40x)\n", gov/110)
	// Every governed call is in the ledger.
	if _, err := led.Integrate(ctx); err != nil {
		return err
	}
	size, _ := led.TreeSize(ctx)
	fmt.Printf("ledger entries after the run: %d\n", size)
	return nil
}

func okMark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// host publishes the benchmark's catalog entry and loads n rows into its
// hosted table through ingest, and returns the resource and the table.
func host(ctx context.Context, db *store.DB, led *ledger.Ledger, n int) (*catalog.Resource, string, *catalog.Service, *ingest.Service, error) {
	clk := clock.Real{}
	org := catalog.Org{ID: "org-provider", Name: "市公安局", Code: identity.MakeCreditCode("11350200MA2600005"), Kind: identity.KindDepartment}
	cat, err := catalog.New(ctx, db, led, clk, catalog.Options{Orgs: func(_ context.Context, id string) (catalog.Org, error) {
		if id != org.ID {
			return catalog.Org{}, apperr.ErrNotFound
		}
		return org, nil
	}})
	if err != nil {
		return nil, "", nil, nil, err
	}
	ing, err := ingest.New(ctx, db, led, clk, ingest.Options{Catalog: cat, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, "", nil, nil, err
	}
	p := ingest.System(org.ID)
	d, err := cat.CreateDraft(ctx, p, catalog.Entry{
		Name: "人口基础信息", Description: "基准测试数据集", OrgID: org.ID, DataClass: catalog.ClassGovernment,
		Themes: []string{"social_security"}, Frequency: catalog.Daily, Formats: []string{"csv"}, Level: catalog.LevelImportant,
		Share:    catalog.Sharing{Attr: catalog.Conditional, Conditions: "仅用于政务服务"},
		Open:     catalog.Sharing{Attr: catalog.None, Basis: "《中华人民共和国个人信息保护法》", Reason: "涉及个人信息"},
		Delivery: catalog.Delivery{Mode: catalog.Hosted}, Contact: catalog.Contact{Name: "测试", Email: "bench@example.gov.cn"}, Fields: fields,
	})
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("catalog entry: %w", err)
	}
	pub, err := cat.Publish(ctx, p, d.ResourceID, catalog.PublishInput{Reason: "benchmark"})
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("publish: %w", err)
	}
	if _, err := ing.CreateDataset(ctx, p, pub.Resource.ID, ingest.DatasetInput{Key: []string{"record_no"}}); err != nil {
		return nil, "", nil, nil, fmt.Errorf("dataset: %w", err)
	}
	var csv bytes.Buffer
	csv.WriteString("record_no,id_card,name,age,district,income\n")
	ds := []string{"思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "%08d,350203%08d%04d,%s,%d,%s,%d\n", i, 19500101+i%500000, i%10000,
			[]string{"张伟", "李娜", "王芳", "陈静"}[i%4], 18+i%60, ds[i%6], 40000+i%50000)
	}
	b, err := ing.Load(ctx, p, pub.Resource.ID, &csv, ingest.LoadInput{Mode: ingest.Replace, Format: ingest.CSV, Source: "bench.csv"})
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("load: %w", err)
	}
	if b.Status != ingest.BatchApplied || b.RowsTotal != int64(n) {
		return nil, "", nil, nil, fmt.Errorf("load: batch %s, %d of %d rows", b.Status, b.RowsTotal, n)
	}
	var table string
	if err := db.QueryRowContext(ctx, `SELECT table_name FROM ingest_datasets WHERE resource_id = $1`, pub.Resource.ID).Scan(&table); err != nil {
		return nil, "", nil, nil, err
	}
	return pub.Resource, `"` + table + `"`, cat, ing, nil
}

func check(client *http.Client, base string) error {
	res, err := client.Get(base + "/governed")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var p struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || len(p.Rows) != 100 {
		return fmt.Errorf("governed sanity check: %d rows, %v", len(p.Rows), err)
	}
	if n, _ := p.Rows[0]["name"].(string); n != "张*" {
		return fmt.Errorf("governed sanity check: name %q not masked", n)
	}
	return nil
}

// handlerTimes collects the governed handler's own durations while on: the
// server's part of a call's latency, without the network and the load
// generator.
type handlerTimes struct {
	mu sync.Mutex
	on bool
	ds []time.Duration
}

func (h *handlerTimes) start() {
	h.mu.Lock()
	h.on, h.ds = true, h.ds[:0]
	h.mu.Unlock()
}

func (h *handlerTimes) stop() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	return h.ds
}

func (h *handlerTimes) since(t time.Time) {
	d := time.Since(t)
	h.mu.Lock()
	if h.on {
		h.ds = append(h.ds, d)
	}
	h.mu.Unlock()
}

// latencyParts says how much of an open loop's latency was the server's
// handler and how much the load generator's lateness in sending.
func latencyParts(handler, lag []time.Duration) string {
	return fmt.Sprintf("of which the handler: p50 %.2f ms, p99 %.2f ms; the load generator's lateness: p50 %.2f ms, p99 %.2f ms",
		ms(pct(handler, 0.5)), ms(pct(handler, 0.99)), ms(pct(lag, 0.5)), ms(pct(lag, 0.99)))
}

func pct(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// printTimeline prints the worst latency of each 250 ms of the open-loop
// run (calls by scheduled time), so a stall shows where it began.
func printTimeline(lat []time.Duration, rate float64) {
	per := max(int(rate/4), 1)
	for i := 0; i < len(lat); i += per {
		worst := time.Duration(0)
		for _, d := range lat[i:min(i+per, len(lat))] {
			worst = max(worst, d)
		}
		fmt.Printf("  t=%5.2fs worst %8.2f ms\n", float64(i)/rate, ms(worst))
	}
}
