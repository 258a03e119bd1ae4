// Command ingest measures a governed full-volume CSV load against a raw bulk
// insert of the same rows in the same run (issue 6's performance targets):
//
//   - a 1,000,000-row, 12-column CSV loaded through ingest.Load on SQLite:
//     ≥200,000 rows/s, and at least 0.5 of the raw insert's rate (the
//     governed time per row at most 2x the raw one);
//   - memory stays flat: the peak heap of a load of N/5 rows and of N rows
//     are printed side by side.
//
// The governed path is everything a real load does: encoding and delimiter
// detection, header mapping, type and code-list validation, lineage
// columns, SHA-256 of the input, staging in chunked transactions with a
// unique key, duplicate detection, the atomic swap, the quality profile,
// PII sampling and the ledger events. The raw baseline reads the same file
// with encoding/csv, converts the typed columns with strconv and inserts
// them with the same multi-row prepared INSERTs into a table with the same
// columns and primary key, in one transaction.
//
// go run ./bench/ingest [-rows N] [-quick]
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

type config struct {
	rows  int
	quick bool
	out   io.Writer
	// cpuprofile, when set, profiles the governed load.
	cpuprofile string
}

func main() {
	var c config
	flag.IntVar(&c.rows, "rows", 1_000_000, "rows in the CSV")
	flag.BoolVar(&c.quick, "quick", false, "tiny sizes: a smoke run, not a measurement")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the governed load to this file")
	flag.Parse()
	c.out = os.Stdout
	c.cpuprofile = *prof
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ingest:", err)
		os.Exit(1)
	}
}

var fields = []catalog.Field{
	{Name: "id", Label: "记录编号", Type: "integer", Required: true, Level: catalog.LevelGeneral},
	{Name: "name", Label: "名称", Type: "string", Required: true, Level: catalog.LevelGeneral},
	{Name: "district", Label: "行政区划", Type: "string", CodeList: "GB/T 2260-2007", Level: catalog.LevelGeneral},
	{Name: "address", Label: "地址", Type: "string", Level: catalog.LevelGeneral},
	{Name: "category", Label: "类别", Type: "string", Level: catalog.LevelGeneral},
	{Name: "amount", Label: "金额", Type: "decimal", Level: catalog.LevelGeneral},
	{Name: "quantity", Label: "数量", Type: "integer", Level: catalog.LevelGeneral},
	{Name: "active", Label: "是否有效", Type: "boolean", Level: catalog.LevelGeneral},
	{Name: "opened_on", Label: "开业日期", Type: "date", Level: catalog.LevelGeneral},
	{Name: "updated_at", Label: "更新时间", Type: "datetime", Level: catalog.LevelGeneral},
	{Name: "score", Label: "评分", Type: "decimal", Level: catalog.LevelGeneral},
	{Name: "note", Label: "备注", Type: "string", Level: catalog.LevelGeneral},
}

var districts = []string{"350203", "350205", "350206", "350211", "350212", "350213"}

// writeCSV writes n rows of 12 columns.
func writeCSV(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	w.WriteString(strings.Join(names, ",") + "\n")
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		d := base.AddDate(0, 0, i%2000)
		fmt.Fprintf(w, "%d,商户%d,%s,思明区湖滨南路%d号,类别%d,%d.%02d,%d,%t,%s,%s 08:%02d:%02d,%d.%d,备注%d\n",
			i+1, i, districts[i%len(districts)], i%900+1, i%20, i%100000, i%100, i%1000, i%3 != 0, d.Format("2006-01-02"),
			d.Format("2006-01-02"), i%60, (i/60)%60, i%5, i%10, i%7)
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, _ := f.Stat()
	return st.Size(), f.Close()
}

// peak samples the heap while fn runs and returns the largest HeapInuse.
func peak(fn func() error) (uint64, error) {
	runtime.GC()
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := fn()
	close(stop)
	wg.Wait()
	return max.Load(), err
}

type platform struct {
	db  *store.DB
	s   *ingest.Service
	res *catalog.Resource
}

func open(ctx context.Context, dir string) (*platform, error) {
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		return nil, err
	}
	clk := clock.Real{}
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		return nil, err
	}
	org := catalog.Org{ID: "org-1", Name: "市市场监督管理局", Code: identity.MakeCreditCode("11350200MA2600005"), Kind: identity.KindDepartment}
	cat, err := catalog.New(ctx, db, led, clk, catalog.Options{Orgs: func(_ context.Context, id string) (catalog.Org, error) {
		if id != org.ID {
			return catalog.Org{}, apperr.ErrNotFound
		}
		return org, nil
	}})
	if err != nil {
		return nil, err
	}
	s, err := ingest.New(ctx, db, led, clk, ingest.Options{Catalog: cat, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	p := ingest.System(org.ID)
	d, err := cat.CreateDraft(ctx, p, catalog.Entry{
		Name: "市场主体经营信息", Description: "基准测试数据集", OrgID: org.ID, DataClass: catalog.ClassGovernment,
		Themes: []string{"market"}, Frequency: catalog.Daily, Formats: []string{"csv"}, Level: catalog.LevelGeneral,
		Share: catalog.Sharing{Attr: catalog.Unconditional}, Open: catalog.Sharing{Attr: catalog.Unconditional},
		Delivery: catalog.Delivery{Mode: catalog.Hosted}, Contact: catalog.Contact{Name: "测试", Email: "bench@example.gov.cn"}, Fields: fields,
	})
	if err != nil {
		return nil, err
	}
	pub, err := cat.Publish(ctx, p, d.ResourceID, catalog.PublishInput{Reason: "benchmark"})
	if err != nil {
		return nil, err
	}
	if _, err := s.CreateDataset(ctx, p, pub.Resource.ID, ingest.DatasetInput{Key: []string{"id"}}); err != nil {
		return nil, err
	}
	return &platform{db: db, s: s, res: pub.Resource}, nil
}

func (pl *platform) governed(ctx context.Context, path string) (*ingest.Batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in := ingest.LoadInput{Mode: ingest.Replace, Format: ingest.CSV, Source: filepath.Base(path)}
	if os.Getenv("BENCH_TRACE") != "" {
		start := time.Now()
		in.Progress = func(p ingest.Progress) {
			fmt.Fprintf(os.Stderr, "%8d rows %v\n", p.Rows, time.Since(start).Round(time.Millisecond))
		}
	}
	return pl.s.Load(ctx, ingest.System(pl.res.OrgID), pl.res.ID, f, in)
}

// raw reads the CSV and bulk-inserts it with no governance at all.
func raw(ctx context.Context, db *store.DB, path string, table string) (int, error) {
	cols := make([]string, len(fields))
	defs := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = f.Name
		typ := "TEXT"
		if f.Type == "integer" || f.Type == "boolean" {
			typ = "INTEGER"
		}
		defs[i] = f.Name + " " + typ
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (`+strings.Join(defs, ", ")+`, PRIMARY KEY (id))`); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
		return 0, err
	}
	defer conn.ExecContext(ctx, `PRAGMA cache_size = -2000`)
	per := 32000 / len(fields)
	per = min(per, 1000)
	stmtSQL := func(n int) string {
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(fields)), ",") + ")"
		return `INSERT INTO ` + table + ` (` + strings.Join(cols, ",") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, stmtSQL(per))
	if err != nil {
		return 0, err
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 256<<10))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return 0, err
	}
	args := make([]any, 0, per*len(fields))
	n := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		for i, v := range rec {
			switch fields[i].Type {
			case "integer":
				x, _ := strconv.ParseInt(v, 10, 64)
				args = append(args, x)
			case "boolean":
				args = append(args, map[bool]int64{true: 1}[v == "true"])
			default:
				args = append(args, strings.Clone(v))
			}
		}
		n++
		if len(args) == cap(args) {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return 0, err
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		if _, err := tx.ExecContext(ctx, stmtSQL(len(args)/len(fields)), args...); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

func run(ctx context.Context, c config) error {
	if c.quick {
		c.rows = 2000
	}
	root, err := os.MkdirTemp("", "shuqiao-bench-ingest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	big := filepath.Join(root, "big.csv")
	small := filepath.Join(root, "small.csv")
	size, err := writeCSV(big, c.rows)
	if err != nil {
		return err
	}
	if _, err := writeCSV(small, c.rows/5); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "CSV: %d rows x %d columns, %.1f MB\n", c.rows, len(fields), float64(size)/1e6)

	pl, err := open(ctx, filepath.Join(root, "governed"))
	if err != nil {
		return err
	}
	defer pl.db.Close()
	rawDB, err := store.Open(ctx, store.Options{DataDir: filepath.Join(root, "raw")})
	if err != nil {
		return err
	}
	defer rawDB.Close()

	// Warm both paths (page cache, code) on the small file.
	if _, err := pl.governed(ctx, small); err != nil {
		return err
	}
	if _, err := raw(ctx, rawDB, small, "warm"); err != nil {
		return err
	}

	start := time.Now()
	n, err := raw(ctx, rawDB, big, "raw")
	if err != nil {
		return err
	}
	rawDur := time.Since(start)
	if n != c.rows {
		return fmt.Errorf("raw inserted %d rows, want %d", n, c.rows)
	}

	var b *ingest.Batch
	if c.cpuprofile != "" {
		pf, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	peakBig, err := peak(func() error {
		var err error
		b, err = pl.governed(ctx, big)
		return err
	})
	if err != nil {
		return err
	}
	govDur := time.Since(start)
	if c.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if b.Status != ingest.BatchApplied || b.RowsStaged != int64(c.rows) || b.RowsTotal != int64(c.rows) {
		return fmt.Errorf("governed load: %+v", b)
	}
	peakSmall, err := peak(func() error {
		_, err := pl.governed(ctx, small)
		return err
	})
	if err != nil {
		return err
	}

	govRate := float64(c.rows) / govDur.Seconds()
	rawRate := float64(c.rows) / rawDur.Seconds()
	res := harness.Result{
		Name:     fmt.Sprintf("CSV replace load, %d rows x 12 cols", c.rows),
		Governed: float64(govDur.Nanoseconds()) / 1e3 / float64(c.rows),
		Baseline: float64(rawDur.Nanoseconds()) / 1e3 / float64(c.rows),
		Unit:     "µs/op", Target: 2.0,
		Note: fmt.Sprintf("(µs/row; governed/raw time ≤2x ⇔ rate ≥0.5 of raw)"),
	}
	harness.Print(c.out, []harness.Result{res})
	mark := "ok"
	if govRate < 200_000 {
		mark = "BELOW TARGET"
	}
	fmt.Fprintf(c.out, "governed: %.0f rows/s (%v)   target ≥200,000 rows/s: %s\n", govRate, govDur.Round(time.Millisecond), mark)
	fmt.Fprintf(c.out, "raw bulk insert: %.0f rows/s (%v)\n", rawRate, rawDur.Round(time.Millisecond))
	fmt.Fprintf(c.out, "rate ratio governed/raw: %.2f (target ≥0.50)\n", govRate/rawRate)
	fmt.Fprintf(c.out, "peak heap in use: %.1f MB loading %d rows, %.1f MB loading %d rows (flat: streams in chunks)\n",
		float64(peakBig)/1e6, c.rows, float64(peakSmall)/1e6, c.rows/5)
	fmt.Fprintf(c.out, "quality score %.1f, content hash %s…\n", b.Profile.Score, b.ContentHash[:16])
	return nil
}
