package anon

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"shuqiao/internal/privacy/table"
)

const adultDir = "../../../../shared/datasets/adult"

var adultQIs = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"}

func loadAdult(t testing.TB) (*table.Table, map[string]*Hierarchy) {
	t.Helper()
	tb, err := table.ReadFile(filepath.Join(adultDir, "adult.csv"))
	if err != nil {
		t.Fatalf("Adult data set (../shared/datasets/adult) is required: %v", err)
	}
	hs, err := LoadHierarchies(adultDir)
	if err != nil {
		t.Fatal(err)
	}
	return tb, hs
}

// R-OPN-4, R-DEV-7, R-PRS-6: Adult with the eight QIs and k = 5 gives a
// verifiably 5-anonymous table, checked independently of the engine.
func TestAdultK5(t *testing.T) {
	tb, hs := loadAdult(t)
	if len(tb.Rows) != 30162 {
		t.Fatalf("Adult has %d rows, want 30162", len(tb.Rows))
	}
	for _, supp := range []float64{0, 0.05} {
		res, err := Anonymize(context.Background(), tb, Config{K: 5, QIs: adultQIs, Hierarchies: hs, MaxSuppression: supp})
		if err != nil {
			t.Fatal(err)
		}
		minClass, err := CheckKAnonymous(res.Output, adultQIs)
		if err != nil {
			t.Fatal(err)
		}
		if minClass < 5 {
			t.Fatalf("supp %.2f: output has a class of %d < 5", supp, minClass)
		}
		if res.Suppressed > int(supp*float64(len(tb.Rows))) {
			t.Fatalf("suppressed %d over limit", res.Suppressed)
		}
		if len(res.Output.Rows)+res.Suppressed != len(tb.Rows) {
			t.Fatalf("rows %d + suppressed %d != %d", len(res.Output.Rows), res.Suppressed, len(tb.Rows))
		}
		t.Logf("supp %.2f: %s suppressed %d loss %.4f checked %d/%d in %v", supp, res.Transformation(), res.Suppressed, res.Loss, res.NodesChecked, res.NodesTotal, res.Elapsed)
	}
}

// The pruned search finds the same optimum as checking every node, on Adult,
// for k-anonymity with and without suppression, l-diversity and t-closeness.
func TestAdultMatchesExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive lattice walk")
	}
	tb, hs := loadAdult(t)
	qis := adultQIs[:6]
	for _, cfg := range []Config{
		{K: 5, MaxSuppression: 0},
		{K: 10, MaxSuppression: 0.02},
		{K: 3, Sensitive: "salary-class", L: 2, MaxSuppression: 0.01},
		{K: 2, Sensitive: "salary-class", T: 0.2, MaxSuppression: 0.01},
	} {
		cfg.QIs, cfg.Hierarchies = qis, hs
		fast, err := Anonymize(context.Background(), tb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Exhaustive = true
		full, err := Anonymize(context.Background(), tb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(fast.Loss-full.Loss) > 1e-9 {
			t.Fatalf("%+v: pruned %s loss %.6f, exhaustive %s loss %.6f", cfg, fast.Transformation(), fast.Loss, full.Transformation(), full.Loss)
		}
	}
}

// R-PRS-6, R-OPN-4, R-DEV-7: Adult with salary-class as the sensitive
// attribute: distinct and recursive (c,l)-diversity and t-closeness, each
// output re-verified by the independent checkers.
func TestAdultDiversityAndCloseness(t *testing.T) {
	tb, hs := loadAdult(t)
	for _, cfg := range []Config{
		{K: 5, Sensitive: "salary-class", L: 2, MaxSuppression: 0.05},
		{K: 5, Sensitive: "salary-class", L: 2, Diversity: RecursiveL, C: 4, MaxSuppression: 0.05},
		{K: 5, Sensitive: "salary-class", L: 2, Diversity: RecursiveL, C: 3.5},
		{K: 5, Sensitive: "salary-class", T: 0.2},
		{K: 5, Sensitive: "salary-class", T: 0.15, MaxSuppression: 0.05},
	} {
		cfg.QIs, cfg.Hierarchies = adultQIs, hs
		res, err := Anonymize(context.Background(), tb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkOutput(t, res.Output, cfg)
		t.Logf("l=%d %s c=%g t=%.2f supp=%.2f: %s suppressed %d checked %d in %v", cfg.L, cfg.Diversity, cfg.C, cfg.T, cfg.MaxSuppression, res.Transformation(), res.Suppressed, res.NodesChecked, res.Elapsed)
	}
}

// checkOutput verifies an output table against cfg with the independent
// checkers (no engine code).
func checkOutput(t testing.TB, out *table.Table, cfg Config) {
	t.Helper()
	if err := checkModels(out, cfg); err != nil {
		t.Fatal(err)
	}
}

func checkModels(out *table.Table, cfg Config) error {
	if len(out.Rows) == 0 {
		return nil
	}
	mc, err := CheckKAnonymous(out, cfg.QIs)
	if err != nil {
		return err
	}
	if mc < cfg.K {
		return fmt.Errorf("smallest class %d < k=%d", mc, cfg.K)
	}
	if cfg.L > 0 {
		if err := CheckLDiversity(out, cfg.QIs, cfg.Sensitive, cfg.L, cfg.Diversity, cfg.C); err != nil {
			return err
		}
	}
	if cfg.T > 0 {
		if _, err := CheckTCloseness(out, cfg.QIs, cfg.Sensitive, cfg.T); err != nil {
			return err
		}
	}
	return nil
}

// randomTable builds a small random table with two or three QIs over
// interval hierarchies and a sensitive column.
func randomTable(r *rand.Rand) (*table.Table, map[string]*Hierarchy, []string) {
	nq := 2 + r.IntN(2)
	hs := map[string]*Hierarchy{}
	var qis []string
	for q := 0; q < nq; q++ {
		name := fmt.Sprintf("q%d", q)
		qis = append(qis, name)
		dom := 2 + r.IntN(10)
		var b bytes.Buffer
		for v := 0; v < dom; v++ {
			fmt.Fprintf(&b, "%d;%d-%d;%d-%d;*\n", v, v/2*2, v/2*2+1, v/4*4, v/4*4+3)
		}
		h, err := ParseHierarchy(name, name, &b)
		if err != nil {
			panic(err)
		}
		hs[name] = h
	}
	// Sensitive values: numbers (ordered distance), labels, or a mix.
	sdom := [][]string{{"0", "1", "2"}, {"10", "2.5", "7", "100"}, {"a", "b", "c"}, {"1", "x", "2"}}[r.IntN(4)]
	n := 1 + r.IntN(60)
	tb := &table.Table{Name: "rand", Header: append(append([]string{}, qis...), "s")}
	for i := 0; i < n; i++ {
		var row []string
		for _, q := range qis {
			row = append(row, hs[q].Values[r.IntN(len(hs[q].Values))])
		}
		row = append(row, sdom[r.IntN(len(sdom))])
		tb.Rows = append(tb.Rows, row)
	}
	return tb, hs, qis
}

// R-PRS-6, R-OPN-4, R-DEV-7: property: on random tables the output passes
// the independent checkers (k-anonymity, distinct or recursive (c,l)-
// diversity, t-closeness with equal or ordered distance), suppression stays
// within the limit, and the pruned search's loss equals the exhaustive
// optimum.
func TestPropertyKAnonymity(t *testing.T) {
	prop := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		tb, hs, qis := randomTable(r)
		cfg := Config{K: 1 + r.IntN(5), QIs: qis, Hierarchies: hs, MaxSuppression: []float64{0, 0.1, 0.3}[r.IntN(3)], Sensitive: "s"}
		switch r.IntN(5) {
		case 1:
			cfg.L = 2 + r.IntN(2)
		case 2:
			cfg.L, cfg.Diversity, cfg.C = 2+r.IntN(2), RecursiveL, []float64{1.5, 2, 3}[r.IntN(3)]
		case 3:
			cfg.T = []float64{0.1, 0.2, 0.3, 0.5}[r.IntN(4)]
		case 4:
			cfg.L, cfg.T = 2, 0.3
		}
		res, err := Anonymize(context.Background(), tb, cfg)
		cfg.Exhaustive = true
		full, ferr := Anonymize(context.Background(), tb, cfg)
		if err != nil || ferr != nil {
			if err != nil && ferr != nil {
				return true // no solution, and exhaustive agrees
			}
			t.Logf("seed %d: err %v, exhaustive err %v", seed, err, ferr)
			return false
		}
		if res.Suppressed > int(math.Floor(cfg.MaxSuppression*float64(len(tb.Rows))+1e-9)) {
			t.Logf("seed %d: suppressed %d over limit", seed, res.Suppressed)
			return false
		}
		if mc, _ := CheckKAnonymous(res.Output, qis); len(res.Output.Rows) > 0 && mc < cfg.K {
			t.Logf("seed %d: min class %d < %d", seed, mc, cfg.K)
			return false
		}
		if math.Abs(res.Loss-full.Loss) > 1e-9 {
			t.Logf("seed %d cfg %+v: loss %.6f (%v) != exhaustive %.6f (%v)", seed, cfg, res.Loss, res.Levels, full.Loss, full.Levels)
			return false
		}
		if err := checkModels(res.Output, cfg); err != nil {
			t.Logf("seed %d cfg %+v: output fails the checkers: %v", seed, cfg, err)
			return false
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 1500}); err != nil {
		t.Fatal(err)
	}
}

func TestHierarchyErrors(t *testing.T) {
	for _, in := range []string{
		"a;x;*\nb;*\n",       // ragged
		"a;x;*\na;y;*\n",     // duplicate
		"a;x;p;*\nb;x;q;*\n", // not a tree
		"",                   // empty
		"a;\"x;*\n",          // lazy quote still parses one field; fine either way
	} {
		_, err := ParseHierarchy("q", "h.csv", strings.NewReader(in))
		if err == nil && in != "a;\"x;*\n" {
			t.Errorf("%q: want error", in)
		}
	}
	_, err := ParseHierarchy("q", "h.csv", strings.NewReader("a;x;*\nb;*\n"))
	if err == nil || !strings.Contains(err.Error(), "h.csv:2:") {
		t.Fatalf("error should name file and row: %v", err)
	}
}

func FuzzParseHierarchy(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join(adultDir, "adult_hierarchy_age.csv"))
	f.Add(string(b))
	f.Add("a;x;*\nb;x;*\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHierarchy("q", "f.csv", strings.NewReader(s))
		if err != nil {
			return
		}
		for _, v := range h.Values {
			if len(h.Gen[v]) != h.Height || h.Gen[v][0] != v {
				t.Fatalf("bad row %q", h.Gen[v])
			}
		}
	})
}

// R-OPN-6: the risk report's figures on a hand-checked table.
func TestRisk(t *testing.T) {
	tb := &table.Table{Header: []string{"a", "b"}, Rows: [][]string{
		{"1", "x"}, {"1", "x"}, {"1", "x"}, {"2", "y"}, {"3", "z"},
	}}
	r, err := Risk(tb, []string{"a", "b"}, nil, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 5 || r.Classes != 3 || r.Uniques != 2 || r.UniqueShare != 0.4 || r.ProsecutorMax != 1 ||
		r.ProsecutorAvg != 0.6 || r.Marketer != 0.6 || r.ProsecutorAtRisk != 0.4 || r.MinClass != 1 {
		t.Fatalf("%+v", r)
	}
	pop := &table.Table{Header: []string{"a", "b"}, Rows: [][]string{
		{"1", "x"}, {"1", "x"}, {"1", "x"}, {"1", "x"}, {"2", "y"}, {"2", "y"}, {"3", "z"}, {"3", "z"}, {"3", "z"}, {"3", "z"},
	}}
	r, err = Risk(tb, []string{"a", "b"}, pop, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	// journalist: classes F = 4, 2, 4 → max 0.5, avg (3/4 + 1/2 + 1/4)/5 = 0.3
	if r.JournalistMax != 0.5 || math.Abs(r.JournalistAvg-0.3) > 1e-12 || r.JournalistAtRisk != 0.2 {
		t.Fatalf("journalist %+v", r)
	}
}

func TestAdultTiming(t *testing.T) {
	tb, hs := loadAdult(t)
	cfg := Config{K: 5, QIs: adultQIs, Hierarchies: hs}
	best := time.Hour
	for i := 0; i < 3; i++ {
		res, err := Anonymize(context.Background(), tb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		best = min(best, res.Elapsed)
	}
	t.Logf("Adult k=5, 8 QIs: best of 3 %v (target 100ms)", best)
}

func BenchmarkAdultK5(b *testing.B) {
	tb, hs := loadAdult(b)
	for _, supp := range []float64{0, 0.05} {
		b.Run(fmt.Sprintf("supp=%.2f", supp), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Anonymize(context.Background(), tb, Config{K: 5, QIs: adultQIs, Hierarchies: hs, MaxSuppression: supp}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// R-OPN-4: with KeepSuppressed every record is written; the suppressed ones
// carry "*" in every QI and the others pass the checkers on their own.
func TestKeepSuppressed(t *testing.T) {
	tb, hs := loadAdult(t)
	cfg := Config{K: 5, QIs: adultQIs, Hierarchies: hs, MaxSuppression: 0.05, Sensitive: "salary-class", L: 2, KeepSuppressed: true}
	res, err := Anonymize(context.Background(), tb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output.Rows) != len(tb.Rows) || res.Suppressed == 0 {
		t.Fatalf("rows %d of %d, suppressed %d", len(res.Output.Rows), len(tb.Rows), res.Suppressed)
	}
	cols, _ := res.Output.Cols(adultQIs)
	kept := &table.Table{Header: res.Output.Header}
	stars := 0
	for _, r := range res.Output.Rows {
		if r[cols[0]] == "*" && r[cols[1]] == "*" {
			for _, c := range cols {
				if r[c] != "*" {
					t.Fatalf("suppressed row with a QI value: %q", r)
				}
			}
			stars++
			continue
		}
		kept.Rows = append(kept.Rows, r)
	}
	if stars != res.Suppressed {
		t.Fatalf("%d '*' rows, %d suppressed", stars, res.Suppressed)
	}
	checkOutput(t, kept, cfg)
}
