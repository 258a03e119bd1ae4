// Package harness measures a governed path against its raw baseline in the
// same run and prints both with their ratio. Absolute times on shared
// machines are noise; the ratio is what a target is set on.
package harness

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// Result is one comparison.
type Result struct {
	Name string
	// Governed and Baseline are per-operation figures in Unit.
	Governed, Baseline float64
	Unit               string
	// Target is the largest acceptable Governed/Baseline ratio (0: none).
	Target float64
	Note   string
}

// Ratio is Governed / Baseline.
func (r Result) Ratio() float64 {
	if r.Baseline == 0 {
		return 0
	}
	return r.Governed / r.Baseline
}

// Time runs fn n times and returns the median per-operation time of five
// rounds, so one slow round (a GC, a neighbour) does not decide the figure.
func Time(n int, fn func() error) (time.Duration, error) {
	rounds := make([]time.Duration, 5)
	for i := range rounds {
		start := time.Now()
		for j := 0; j < n; j++ {
			if err := fn(); err != nil {
				return 0, err
			}
		}
		rounds[i] = time.Since(start) / time.Duration(n)
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i] < rounds[j] })
	return rounds[len(rounds)/2], nil
}

// Compare times governed and baseline, interleaved so both see the same
// machine, and returns the result in microseconds per operation.
func Compare(name string, n int, target float64, governed, baseline func() error) (Result, error) {
	if err := warm(governed, baseline); err != nil {
		return Result{}, err
	}
	b, err := Time(n, baseline)
	if err != nil {
		return Result{}, fmt.Errorf("%s baseline: %w", name, err)
	}
	g, err := Time(n, governed)
	if err != nil {
		return Result{}, fmt.Errorf("%s governed: %w", name, err)
	}
	return Result{Name: name, Governed: float64(g.Nanoseconds()) / 1e3, Baseline: float64(b.Nanoseconds()) / 1e3, Unit: "µs/op", Target: target}, nil
}

func warm(fns ...func() error) error {
	for _, fn := range fns {
		for i := 0; i < 50; i++ {
			if err := fn(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Print writes results as a table; a ratio over its target is marked.
func Print(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-44s %14s %14s %8s %8s  %s\n", "benchmark", "governed", "baseline", "ratio", "target", "")
	for _, r := range results {
		mark := ""
		target := "-"
		if r.Target > 0 {
			target = fmt.Sprintf("%.2fx", r.Target)
			mark = "ok"
			if r.Ratio() > r.Target {
				mark = "OVER TARGET"
			}
		}
		fmt.Fprintf(w, "%-44s %10.1f %-3s %10.1f %-3s %7.2fx %8s  %s %s\n", r.Name, r.Governed, unitShort(r.Unit), r.Baseline, unitShort(r.Unit), r.Ratio(), target, mark, r.Note)
	}
}

func unitShort(u string) string {
	if u == "µs/op" {
		return "µs"
	}
	return u
}
