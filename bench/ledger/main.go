// Command ledger measures the ledger's governed paths against raw baselines
// in the same run (issue 3's performance targets):
//
//	(a) a business transaction with Append vs the same transaction without it (≤1.25x)
//	(b) integration throughput on SQLite vs moving the same rows without a tree (≥20,000 events/s)
//	(c) an inclusion proof at a large tree size vs a point read of one entry (<1 ms at 10M)
//	(d) durable appends/s (synchronous=FULL, fsync per commit) vs Tessera's published ~2,900/s
//
// go run ./bench/ledger [-integrate N] [-proof-size N] [-quick]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

type config struct {
	quick       bool
	integrateN  int // events for (b)
	proofSize   int // tree size for (c)
	durableSecs float64
	only        string // comma-separated steps to run: a,b,c,d (default all)
	out         io.Writer
}

func main() {
	var c config
	flag.BoolVar(&c.quick, "quick", false, "tiny sizes: a smoke run, not a measurement")
	flag.IntVar(&c.integrateN, "integrate", 200_000, "events to integrate for (b)")
	flag.IntVar(&c.proofSize, "proof-size", 10_000_000, "tree size for the inclusion proof benchmark (c)")
	flag.Float64Var(&c.durableSecs, "durable-seconds", 5, "seconds per durable append run (d)")
	flag.StringVar(&c.only, "only", "", "comma-separated steps to run (a,b,c,d); default all")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	c.out = os.Stdout
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/ledger:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), c); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench/ledger:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.quick {
		c.integrateN, c.proofSize, c.durableSecs = 2000, 5000, 0.3
	}
	root, err := os.MkdirTemp("", "shuqiao-bench-ledger")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	var results []harness.Result
	steps := map[string]func(context.Context, config, string) ([]harness.Result, error){"a": benchBusiness, "b": benchIntegrate, "c": benchProof, "d": benchDurable}
	for _, name := range []string{"a", "b", "c", "d"} {
		step := steps[name]
		if c.only != "" && !strings.Contains(","+c.only+",", ","+name+",") {
			continue
		}
		rs, err := step(ctx, c, root)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	fmt.Fprintln(c.out)
	harness.Print(c.out, results)
	return nil
}

func quietOptions() ledger.Options {
	return ledger.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func openSQLite(ctx context.Context, dir string) (*store.DB, error) {
	return store.Open(ctx, store.Options{DataDir: dir})
}

// openDurableSQLite opens SQLite as store.Open does but with
// synchronous=FULL: every commit fsyncs the WAL, as Tessera's POSIX figure
// fsyncs.
func openDurableSQLite(dir string) (*store.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "shuqiao.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	return &store.DB{DB: db, Dialect: store.SQLite, Where: path}, nil
}

func event(i int) ledger.Event {
	return ledger.Event{
		ActorKind: ledger.ActorClient, ActorID: fmt.Sprintf("client-%d", i%50), OrgID: fmt.Sprintf("org-%d", i%20),
		Action: ledger.Provide, ResourceID: fmt.Sprintf("res-%d", i%500), GrantID: fmt.Sprintf("grant-%d", i%100),
		Purpose: "社保资格核验", Fields: []string{"name", "id_no", "status"}, RecordCount: int64(i % 100),
		ContentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Detail:      ledger.DetailOf(map[string]any{"request": i}),
	}
}

// (a) Business transactions with and without an Append of one event, with
// the integrator running in the background as in production (so the
// governed figure includes the integrator's turns at SQLite's one write
// lock). Two transactions:
//
//   - minimal: insert one row. The cheapest write there is, so the Append
//     is as large a share of it as it can ever be: reported as the worst
//     case, not judged against the 25% target.
//   - realistic: what identity.CreateOrg does — three SELECT checks (an
//     authority already there? the parent exists? the credit code free?),
//     an INSERT of the org with a UUIDv7 key and two indexes, an INSERT of
//     its first role row, and the Append of one event with a small detail.
//     Issue 3's "at most 25% added to business transactions" is judged on
//     this line.
func benchBusiness(ctx context.Context, c config, root string) ([]harness.Result, error) {
	db, err := openSQLite(ctx, filepath.Join(root, "a"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	l, err := ledger.New(ctx, db, clock.Real{}, quietOptions())
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		`CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, org TEXT NOT NULL, amount BIGINT NOT NULL, created_at BIGINT NOT NULL)`,
		`CREATE TABLE bench_orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, credit_code TEXT NOT NULL UNIQUE, parent_id TEXT, created_at BIGINT NOT NULL)`,
		`CREATE INDEX bench_orgs_kind ON bench_orgs (kind)`,
		`CREATE TABLE bench_org_roles (org_id TEXT NOT NULL, role TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (org_id, role))`,
		`INSERT INTO bench_orgs (id, name, kind, credit_code, created_at) VALUES ('root', '数据管理局', 'authority', '11350200MB0000000X', 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = l.Run(runCtx) }()

	var i atomic.Int64
	insert := func(tx *store.Tx) error {
		n := i.Add(1)
		_, err := tx.ExecContext(ctx, `INSERT INTO bench_orders (org, amount, created_at) VALUES ($1, $2, $3)`, "org-1", n, time.Now().UnixMicro())
		return err
	}
	minRaw := func() error { return db.InTx(ctx, insert) }
	minGoverned := func() error {
		return db.InTx(ctx, func(tx *store.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			return l.Append(ctx, tx, event(int(i.Load())))
		})
	}

	var k atomic.Int64
	createOrg := func(tx *store.Tx, withEvent bool) error {
		n := k.Add(1)
		var cnt int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bench_orgs WHERE kind = $1`, "authority").Scan(&cnt); err != nil {
			return err
		}
		var parent string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM bench_orgs WHERE id = $1`, "root").Scan(&parent); err != nil {
			return err
		}
		code := fmt.Sprintf("91350200MA%08dX", n)
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bench_orgs WHERE credit_code = $1`, code).Scan(&cnt); err != nil || cnt > 0 {
			return fmt.Errorf("credit code check: %d %v", cnt, err)
		}
		id, now := store.NewID(), time.Now().UnixMicro()
		name := fmt.Sprintf("厦门市第%d委办局", n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_orgs (id, name, kind, credit_code, parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, name, "department", code, parent, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_org_roles (org_id, role, created_at) VALUES ($1, $2, $3)`, id, "member", now); err != nil {
			return err
		}
		if !withEvent {
			return nil
		}
		return l.Append(ctx, tx, ledger.Event{
			ActorKind: ledger.ActorUser, ActorID: "0193a6c2-7d1e-7c3a-9f00-000000000001", OrgID: "root",
			Action: ledger.Admin, Object: "org/" + id,
			Detail: ledger.DetailOf(map[string]any{"op": "org.create", "name": name, "kind": "department", "credit_code": code, "parent_id": parent}),
		})
	}
	realRaw := func() error { return db.InTx(ctx, func(tx *store.Tx) error { return createOrg(tx, false) }) }
	realGoverned := func() error { return db.InTx(ctx, func(tx *store.Tx) error { return createOrg(tx, true) }) }

	n, rounds := 1000, 15
	if c.quick {
		n, rounds = 50, 3
	}
	// Whatever the integrator has not done when a governed round ends is
	// done (and timed) before the round counts as finished, so its work is
	// charged to the governed side and never spills into a baseline round.
	drain := func() error { _, err := l.Integrate(ctx); return err }
	rMin, err := compareInterleaved("(a) minimal tx + Append (SQLite)", n, rounds, 0, minGoverned, minRaw, drain)
	if err != nil {
		return nil, err
	}
	rMin.Note = "(one-row insert tx, with vs without one event; integrator running; worst case, reported, not judged: target applies to the line below)"
	// Issue 3 bounds what Append adds to the business transactions' own
	// time. This line measures exactly that: the transactions run while the
	// integrator works beside them (so its hold on SQLite's write lock is
	// felt), but its remaining backlog is not added to the round; the
	// integration work itself is judged by (b).
	rTx, err := compareInterleaved("(a) CreateOrg-like tx time + Append", n, rounds, 1.25, realGoverned, realRaw, nil)
	if err != nil {
		return nil, err
	}
	rTx.Note = "(3 SELECTs + 2 INSERTs, with vs without one event; integrator running beside them; judged against issue 3's ≤1.25x)"
	rReal, err := compareInterleaved("(a) CreateOrg-like tx + Append + integration", n, rounds, 0, realGoverned, realRaw, drain)
	if err != nil {
		return nil, err
	}
	rReal.Note = "(the same, with the integrator's backlog charged to each governed round: throughput view, reported, not judged)"
	return []harness.Result{rMin, rTx, rReal}, nil
}

// compareInterleaved times rounds of n baseline and n governed operations
// alternately (baseline, governed, baseline, …), so both see the same
// machine through its noise, and reports the median round of each, per
// operation. after, if not nil, runs at the end of each governed round and
// is timed as part of it.
func compareInterleaved(name string, n, rounds int, target float64, governed, baseline, after func() error) (harness.Result, error) {
	for i := 0; i < 50; i++ {
		if err := baseline(); err != nil {
			return harness.Result{}, err
		}
		if err := governed(); err != nil {
			return harness.Result{}, err
		}
	}
	round := func(fn func() error, after func() error) (float64, error) {
		start := time.Now()
		for j := 0; j < n; j++ {
			if err := fn(); err != nil {
				return 0, err
			}
		}
		if after != nil {
			if err := after(); err != nil {
				return 0, err
			}
		}
		return float64(time.Since(start).Nanoseconds()) / 1e3 / float64(n), nil
	}
	var gs, bs []float64
	for r := 0; r < rounds; r++ {
		b, err := round(baseline, nil)
		if err != nil {
			return harness.Result{}, fmt.Errorf("%s baseline: %w", name, err)
		}
		g, err := round(governed, after)
		if err != nil {
			return harness.Result{}, fmt.Errorf("%s governed: %w", name, err)
		}
		bs, gs = append(bs, b), append(gs, g)
	}
	sort.Float64s(bs)
	sort.Float64s(gs)
	return harness.Result{Name: name, Governed: gs[len(gs)/2], Baseline: bs[len(bs)/2], Unit: "µs/op", Target: target}, nil
}

// (b) Integration throughput: events already committed to ledger_pending
// are sequenced, hashed into the tree, indexed and signed for. The baseline
// moves the same rows from a pending table into a plain sequenced table and
// deletes them, in the same batch size, with no hashing, no tree and no
// secondary indexes.
func benchIntegrate(ctx context.Context, c config, root string) ([]harness.Result, error) {
	db, err := openSQLite(ctx, filepath.Join(root, "b"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	l, err := ledger.New(ctx, db, clock.Real{}, quietOptions())
	if err != nil {
		return nil, err
	}
	if err := fillPending(ctx, db, l, c.integrateN); err != nil {
		return nil, err
	}
	start := time.Now()
	size, err := l.Integrate(ctx)
	if err != nil {
		return nil, err
	}
	governed := time.Since(start)
	if size != uint64(c.integrateN) {
		return nil, fmt.Errorf("integrated %d, want %d", size, c.integrateN)
	}

	// Baseline: the same bodies, moved without the ledger's work.
	for _, s := range []string{
		`CREATE TABLE raw_pending (id INTEGER PRIMARY KEY, body BLOB NOT NULL, created_at BIGINT NOT NULL)`,
		`CREATE TABLE raw_entries (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)`,
		`INSERT INTO raw_pending (body, created_at) SELECT body, time FROM ledger_entries`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, err
		}
	}
	start = time.Now()
	if err := rawMove(ctx, db, 4096); err != nil {
		return nil, err
	}
	baseline := time.Since(start)
	perG := float64(governed.Nanoseconds()) / 1e3 / float64(c.integrateN)
	perB := float64(baseline.Nanoseconds()) / 1e3 / float64(c.integrateN)
	rate := float64(c.integrateN) / governed.Seconds()
	mark := "meets ≥20,000/s"
	if rate < 20000 {
		mark = "BELOW 20,000/s"
	}
	return []harness.Result{{
		Name: fmt.Sprintf("(b) integrate %d events (SQLite)", c.integrateN), Governed: perG, Baseline: perB, Unit: "µs/op",
		Note: fmt.Sprintf("= %.0f events/s governed vs %.0f/s raw move; %s", rate, float64(c.integrateN)/baseline.Seconds(), mark),
	}}, nil
}

func fillPending(ctx context.Context, db *store.DB, l *ledger.Ledger, n int) error {
	// Queued straight into ledger_pending, 2,000 a transaction: (b)
	// measures integration, not the business transactions that queue.
	const perTx = 2000
	ins := store.NewRowInserter(db, `INSERT INTO ledger_pending (body, created_at) VALUES `, 2)
	defer ins.Close()
	if err := ins.Prepare(ctx); err != nil {
		return err
	}
	for i := 0; i < n; i += perTx {
		args := make([]any, 0, 2*perTx)
		for j := i; j < min(i+perTx, n); j++ {
			e, err := l.Seal(event(j))
			if err != nil {
				return err
			}
			args = append(args, e.Body(), store.Micros(time.Now()))
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return ins.Insert(ctx, tx, args) }); err != nil {
			return err
		}
	}
	return nil
}

func rawMove(ctx context.Context, db *store.DB, batch int) error {
	seq := 0
	for {
		moved := 0
		err := db.InTx(ctx, func(tx *store.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id, body FROM raw_pending ORDER BY id LIMIT $1`, batch)
			if err != nil {
				return err
			}
			type row struct {
				id   int64
				body []byte
			}
			var rs []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.body); err != nil {
					rows.Close()
					return err
				}
				rs = append(rs, r)
			}
			rows.Close()
			for _, r := range rs {
				if _, err := tx.ExecContext(ctx, `INSERT INTO raw_entries (seq, body) VALUES ($1, $2)`, seq, r.body); err != nil {
					return err
				}
				seq++
			}
			if len(rs) > 0 {
				if _, err := tx.ExecContext(ctx, `DELETE FROM raw_pending WHERE id <= $1`, rs[len(rs)-1].id); err != nil {
					return err
				}
			}
			moved = len(rs)
			return nil
		})
		if err != nil {
			return err
		}
		if moved < batch {
			return nil
		}
	}
}

// (c) Inclusion proof latency at a large size, against a point read of one
// entry by seq in the same store, and at smaller sizes on the way up to show
// how it grows (O(log n) node reads in two indexed queries).
func benchProof(ctx context.Context, c config, root string) ([]harness.Result, error) {
	db, err := openSQLite(ctx, filepath.Join(root, "c"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	opts := quietOptions()
	opts.BatchSize = 16384 // a bulk load: nobody else waits for the write lock
	l, err := ledger.New(ctx, db, clock.Real{}, opts)
	if err != nil {
		return nil, err
	}
	var out []harness.Result
	built := 0
	buildStart := time.Now()
	var buildLog []string
	for size := 10_000; ; size *= 10 {
		if size > c.proofSize {
			size = c.proofSize
		}
		t0 := time.Now()
		if err := bulkPending(ctx, db, built, size-built); err != nil {
			return nil, err
		}
		t1 := time.Now()
		if _, err := l.Integrate(ctx); err != nil {
			return nil, err
		}
		t2 := time.Now()
		built = size
		cp, err := l.SignCheckpoint(ctx)
		if err != nil {
			return nil, err
		}
		if err := checkProofs(ctx, l, cp, size, 20); err != nil {
			return nil, err
		}
		buildLog = append(buildLog, fmt.Sprintf("to %d: queued in %s, integrated in %s", size, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond)))
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		n := 2000
		if c.quick {
			n = 50
		}
		var ops int
		proofFn := func() error {
			ops++
			_, err := l.InclusionProof(ctx, uint64(rng.IntN(size)), uint64(size))
			return err
		}
		readFn := func() error {
			var b []byte
			return db.QueryRowContext(ctx, `SELECT body FROM ledger_entries WHERE seq = $1`, rng.IntN(size)).Scan(&b)
		}
		r, err := harness.Compare(fmt.Sprintf("(c) inclusion proof at %d entries", size), n, 0, proofFn, readFn)
		if err != nil {
			return nil, err
		}
		p99 := percentile(ctx, l, size, n, 0.99)
		r.Note = fmt.Sprintf("(vs one point read of an entry; p99 %.0f µs; target <1000 µs at 10M)", p99)
		out = append(out, r)
		if size >= c.proofSize {
			break
		}
	}
	// Extrapolate: the proof reads ceil(log2 n) nodes in two indexed
	// queries; from the largest size measured to 10M adds log2(10M/size)
	// nodes and at most one B-tree level. Charging the whole measured time
	// per node (as if there were no fixed cost) overestimates on purpose.
	last := out[len(out)-1]
	out[len(out)-1].Note += fmt.Sprintf("; built %d entries in %s through Integrate (%s); 20 proofs per size verified against the signed root",
		built, time.Since(buildStart).Round(time.Second), strings.Join(buildLog, "; "))
	if c.proofSize < 10_000_000 {
		extra := math.Log2(1e7 / float64(c.proofSize))
		per := last.Governed / math.Log2(float64(c.proofSize))
		out[len(out)-1].Note += fmt.Sprintf("; extrapolated to 10M (pessimistic, all cost ∝ log2 n): ~%.0f µs (+%.1f nodes × %.1f µs/node)",
			last.Governed+extra*per, extra, per)
	}
	return out, nil
}

// bulkPending queues n events numbered from start straight into
// ledger_pending with one INSERT … SELECT per million rows, bypassing Append
// (which (a) and (d) measure) so a large tree can be built in minutes; the
// tree itself is then built by the ordinary Integrate. Each body is an
// event's JSON of about the size of event(i)'s.
func bulkPending(ctx context.Context, db *store.DB, start, n int) error {
	pad := strings.Repeat("x", 240)
	for done := 0; done < n; {
		k := min(1_000_000, n-done)
		_, err := db.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
INSERT INTO ledger_pending (body, created_at)
SELECT CAST('{"time":"2026-01-01T00:00:00Z","actor_kind":"system","action":"store","object":"bench/' || (? + x) ||
  '","record_count":' || x || ',"detail":{"pad":"' || ? || '"}}' AS BLOB), 1767225600000000 FROM c`, k, start+done, pad)
		if err != nil {
			return err
		}
		done += k
	}
	return nil
}

// checkProofs verifies k inclusion proofs, at random, against the signed
// checkpoint: the tree the bulk load built is the tree the entries define.
func checkProofs(ctx context.Context, l *ledger.Ledger, cp ledger.Checkpoint, size, k int) error {
	rng := rand.New(rand.NewPCG(3, uint64(size)))
	for i := 0; i < k; i++ {
		seq := uint64(rng.IntN(size))
		if i == 0 {
			seq = uint64(size - 1)
		}
		e, err := l.Entry(ctx, seq)
		if err != nil {
			return err
		}
		p, err := l.InclusionProof(ctx, seq, cp.Size)
		if err != nil {
			return err
		}
		if err := ledger.VerifyInclusion(e.Body, p, cp.Root); err != nil {
			return fmt.Errorf("proof of %d at %d: %w", seq, size, err)
		}
	}
	return nil
}

func percentile(ctx context.Context, l *ledger.Ledger, size, n int, q float64) float64 {
	rng := rand.New(rand.NewPCG(2, uint64(size)))
	ds := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := l.InclusionProof(ctx, uint64(rng.IntN(size)), uint64(size)); err != nil {
			return math.NaN()
		}
		ds = append(ds, float64(time.Since(start).Nanoseconds())/1e3)
	}
	sort.Float64s(ds)
	return ds[int(q*float64(len(ds)-1))]
}

// (d) Durable appends per second: concurrent writers each commit one event
// per transaction (and, second, 16 per transaction) with synchronous=FULL,
// so a commit returns only after the WAL is fsynced; the integrator runs
// alongside and the run ends when everything acknowledged is in the tree.
// Baseline: the same writers inserting the same bodies into a plain table,
// equally durable. Tessera's published POSIX figure (~2,900 appends/s with
// fsync) is the bar.
func benchDurable(ctx context.Context, c config, root string) ([]harness.Result, error) {
	var out []harness.Result
	for _, perTx := range []int{1, 16} {
		db, err := openDurableSQLite(filepath.Join(root, fmt.Sprintf("d%d", perTx)))
		if err != nil {
			return nil, err
		}
		l, err := ledger.New(ctx, db, clock.Real{}, quietOptions())
		if err != nil {
			db.Close()
			return nil, err
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE raw_events (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`); err != nil {
			db.Close()
			return nil, err
		}
		governed := func(ctx context.Context, w, i int) error {
			evs := make([]ledger.Event, perTx)
			for k := range evs {
				evs[k] = event(w*1_000_000 + i*perTx + k)
			}
			return db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, evs...) })
		}
		raw := func(ctx context.Context, w, i int) error {
			return db.InTx(ctx, func(tx *store.Tx) error {
				for k := 0; k < perTx; k++ {
					body := ledger.DetailOf(event(w*1_000_000 + i*perTx + k))
					if _, err := tx.ExecContext(ctx, `INSERT INTO raw_events (body) VALUES ($1)`, []byte(body)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		runCtx, stop := context.WithCancel(ctx)
		go func() { _ = l.Run(runCtx) }()
		dur := time.Duration(c.durableSecs * float64(time.Second))
		bRate, err := writers(ctx, 8, dur, perTx, raw)
		if err != nil {
			stop()
			db.Close()
			return nil, err
		}
		start := time.Now()
		gCount, err := writersCount(ctx, 8, dur, perTx, governed)
		if err == nil {
			// Acknowledged is not enough: wait until it is all in the tree.
			_, err = l.Integrate(ctx)
		}
		elapsed := time.Since(start)
		stop()
		db.Close()
		if err != nil {
			return nil, err
		}
		gRate := float64(gCount) / elapsed.Seconds()
		mark := "beats Tessera's ~2,900/s"
		if gRate < 2900 {
			mark = "BELOW Tessera's ~2,900/s"
		}
		out = append(out, harness.Result{
			Name:     fmt.Sprintf("(d) durable appends, %d event(s)/tx, 8 writers", perTx),
			Governed: 1e6 / gRate, Baseline: 1e6 / bRate, Unit: "µs/op",
			Note: fmt.Sprintf("= %.0f appends/s integrated vs %.0f/s raw durable insert; %s", gRate, bRate, mark),
		})
	}
	return out, nil
}

func writers(ctx context.Context, n int, dur time.Duration, perTx int, fn func(context.Context, int, int) error) (float64, error) {
	start := time.Now()
	count, err := writersCount(ctx, n, dur, perTx, fn)
	return float64(count) / time.Since(start).Seconds(), err
}

func writersCount(ctx context.Context, n int, dur time.Duration, perTx int, fn func(context.Context, int, int) error) (int64, error) {
	var (
		total atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	deadline := time.Now().Add(dur)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := fn(ctx, w, i); err != nil {
					once.Do(func() { first = err })
					return
				}
				total.Add(int64(perTx))
			}
		}()
	}
	wg.Wait()
	return total.Load(), first
}
