// Command privacy benchmarks the privacy toolkit against raw baselines in
// the same run:
//
//   - kanon: the full optimal k-anonymity search on UCI Adult (8 QIs, k=5,
//     no suppression, then 5% suppression) against one pass that only
//     groups the records by their raw QIs; the absolute time is also
//     compared with the 100 ms target of issue 7;
//   - mask: masking a 10,000-row personal-data table with the default
//     policy (partial masks, HMAC-SHA256 pseudonyms, generalisation)
//     against copying it raw.
//
// Run from the repository root: go run ./bench/privacy [-data DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/privacy/anon"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/privacy/table"
)

func main() {
	data := flag.String("data", "../shared/datasets/adult", "folder with adult.csv and its ARX hierarchies")
	flag.Parse()
	if err := run(*data); err != nil {
		fmt.Fprintln(os.Stderr, "bench/privacy:", err)
		os.Exit(1)
	}
}

var qis = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"}

func run(dir string) error {
	ctx := context.Background()
	tb, err := table.ReadFile(filepath.Join(dir, "adult.csv"))
	if err != nil {
		return err
	}
	hs, err := anon.LoadHierarchies(dir)
	if err != nil {
		return err
	}
	cols, err := tb.Cols(qis)
	if err != nil {
		return err
	}
	// Baseline: one pass grouping the records by their raw QIs.
	var groups int
	baseline := func() error {
		m := make(map[string]int32, len(tb.Rows))
		var sb strings.Builder
		for _, r := range tb.Rows {
			sb.Reset()
			for _, c := range cols {
				sb.WriteString(r[c])
				sb.WriteByte(0x1f)
			}
			m[sb.String()]++
		}
		groups = len(m)
		return nil
	}
	var results []harness.Result
	for _, supp := range []float64{0, 0.05} {
		var last *anon.Result
		governed := func() error {
			res, err := anon.Anonymize(ctx, tb, anon.Config{K: 5, QIs: qis, Hierarchies: hs, MaxSuppression: supp})
			last = res
			return err
		}
		// Cold: the first run in this process, as the CLI sees it.
		start := time.Now()
		if err := governed(); err != nil {
			return err
		}
		cold := time.Since(start)
		r, err := harness.Compare(fmt.Sprintf("kanon Adult k=5 8 QIs supp=%.0f%%", supp*100), 3, 0, governed, baseline)
		if err != nil {
			return err
		}
		mc, err := anon.CheckKAnonymous(last.Output, qis)
		if err != nil {
			return err
		}
		verdict := "within"
		if r.Governed/1000 > 100 {
			verdict = "OVER"
		}
		r.Note = fmt.Sprintf("%.1f ms warm, %.1f ms cold (%s the 100 ms target); %s; %d/%d nodes; min class %d; suppressed %d; raw groups %d",
			r.Governed/1000, float64(cold.Microseconds())/1000, verdict, last.Transformation(), last.NodesChecked, last.NodesTotal, mc, last.Suppressed, groups)
		results = append(results, r)
	}

	// Masking throughput.
	people := syntheticPeople(10000)
	keys := &mask.KeyRing{Algorithm: mask.HMACSHA256, Keys: map[string][]byte{"platform": []byte("bench-key-0123456789abcdef")}}
	pol, err := mask.DefaultPolicy("platform").Compile(keys)
	if err != nil {
		return err
	}
	fields := []mask.Field{
		{Name: "姓名", Personal: true, Entity: "CN_PERSON_NAME"},
		{Name: "身份证号", Personal: true, Sensitive: true, Entity: "CN_RESIDENT_ID"},
		{Name: "手机", Personal: true, Entity: "CN_MOBILE"},
		{Name: "住址", Personal: true, Entity: "CN_ADDRESS"},
		{Name: "出生日期", Personal: true, Category: "personal.birth_date"},
		{Name: "病情", Personal: true, Sensitive: true, Category: "personal.health"},
	}
	plan := pol.Plan(fields)
	out := make([][]string, len(people))
	maskAll := func() error {
		for i, r := range people {
			row := slices.Clone(r)
			mask.ApplyRow(plan, row)
			out[i] = row
		}
		return nil
	}
	copyAll := func() error {
		for i, r := range people {
			out[i] = slices.Clone(r)
		}
		return nil
	}
	r, err := harness.Compare("mask 10k rows x 6 fields (default policy)", 5, 0, maskAll, copyAll)
	if err != nil {
		return err
	}
	r.Note = fmt.Sprintf("%.0f rows/s masked", 10000/(r.Governed/1e6))
	results = append(results, r)
	harness.Print(os.Stdout, results)
	return nil
}

func syntheticPeople(n int) [][]string {
	names := []string{"张三", "李四", "王建国", "欧阳娜娜", "陈静"}
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = []string{
			names[i%len(names)],
			fmt.Sprintf("3502031990%02d%02d%03dX", i%12+1, i%28+1, i%1000),
			fmt.Sprintf("138%08d", i),
			fmt.Sprintf("福建省厦门市思明区湖滨南路%d号%d室", i%500, i%30),
			fmt.Sprintf("1990-%02d-%02d", i%12+1, i%28+1),
			"高血压",
		}
	}
	return rows
}
