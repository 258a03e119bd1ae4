package anon

import (
	"errors"
	"math"
	"testing"

	"shuqiao/internal/apperr"
	"shuqiao/internal/privacy/table"
)

// handTable has two classes over q: A with sensitive values {v1, v1, v2}
// and B with {v2, v3, v3, v3}; the whole table has v1:2, v2:2, v3:3.
func handTable(v1, v2, v3 string) *table.Table {
	return &table.Table{Name: "hand", Header: []string{"q", "s"}, Rows: [][]string{
		{"A", v1}, {"A", v1}, {"A", v2},
		{"B", v2}, {"B", v3}, {"B", v3}, {"B", v3},
	}}
}

// R-PRS-6, R-OPN-4: the l-diversity checker on hand-computed classes.
func TestCheckLDiversity(t *testing.T) {
	tb := handTable("x", "y", "z")
	q := []string{"q"}
	for _, c := range []struct {
		l       int
		variant Diversity
		c       float64
		ok      bool
	}{
		{2, DistinctL, 0, true},
		{3, DistinctL, 0, false},  // each class has 2 values
		{2, "", 0, true},          // distinct by default
		{2, RecursiveL, 3, false}, // B: r1 = 3, c·r2 = 3: not strictly less
		{2, RecursiveL, 3.01, true},
		{1, RecursiveL, 0.5, false}, // l = 1: r1 < c·(r1+…) needs c > r1/n
		{1, RecursiveL, 1.01, true},
		{3, RecursiveL, 10, false},
	} {
		err := CheckLDiversity(tb, q, "s", c.l, c.variant, c.c)
		if (err == nil) != c.ok {
			t.Errorf("l=%d %s c=%g: err %v, want ok=%v", c.l, c.variant, c.c, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrViolation) {
			t.Errorf("l=%d %s c=%g: %v is not a violation", c.l, c.variant, c.c, err)
		}
	}
	for _, bad := range []func() error{
		func() error { return CheckLDiversity(tb, q, "s", 0, DistinctL, 0) },
		func() error { return CheckLDiversity(tb, q, "s", 2, RecursiveL, 0) },
		func() error { return CheckLDiversity(tb, q, "s", 2, "entropy", 0) },
		func() error { return CheckLDiversity(tb, q, "nope", 2, DistinctL, 0) },
	} {
		if err := bad(); err == nil || errors.Is(err, ErrViolation) || !isInvalid(err) {
			t.Errorf("want a parameter error, got %v", err)
		}
	}
	if err := CheckLDiversity(&table.Table{Header: []string{"q", "s"}}, q, "s", 5, DistinctL, 0); err != nil {
		t.Errorf("an empty table has no failing class: %v", err)
	}
}

// R-PRS-6, R-OPN-4: the t-closeness checker's earth mover's distances,
// worked by hand. Global distribution (2/7, 2/7, 3/7).
//
//	equal distance: A = (2/3, 1/3, 0): (8/21 + 1/21 + 9/21)/2 = 3/7
//	                B = (0, 1/4, 3/4): (2/7 + 1/28 + 9/28)/2 = 9/28
//	ordered:        A: cumulative 8/21, 9/21 → (17/21)/2 = 17/42
//	                B: cumulative -8/28, -9/28 → (17/28)/2 = 17/56
func TestCheckTCloseness(t *testing.T) {
	q := []string{"q"}
	for _, c := range []struct {
		name    string
		tb      *table.Table
		maxDist float64
	}{
		{"labels", handTable("x", "y", "z"), 3.0 / 7},
		{"numbers", handTable("1", "2", "3"), 17.0 / 42},
		// Numbers are ordered by value, not as strings ("10" > "9").
		{"numeric order", handTable("9", "10", "11"), 17.0 / 42},
		{"reversed numbers", handTable("3", "2", "1"), 17.0 / 42},
		// A label among numbers: equal distance.
		{"mixed", handTable("1", "2", "n/a"), 3.0 / 7},
	} {
		d, err := CheckTCloseness(c.tb, q, "s", 1)
		if err != nil || math.Abs(d-c.maxDist) > 1e-12 {
			t.Errorf("%s: max distance %.6f (%v), want %.6f", c.name, d, err, c.maxDist)
		}
		if _, err := CheckTCloseness(c.tb, q, "s", c.maxDist); err != nil {
			t.Errorf("%s: t = max distance should pass: %v", c.name, err)
		}
		if _, err := CheckTCloseness(c.tb, q, "s", c.maxDist-0.01); !errors.Is(err, ErrViolation) {
			t.Errorf("%s: t below the max distance should fail, got %v", c.name, err)
		}
	}
	// "9" vs "10": by string "10" < "9", which would change the distance.
	tb := &table.Table{Header: []string{"q", "s"}, Rows: [][]string{{"A", "9"}, {"A", "9"}, {"B", "10"}, {"B", "100"}}}
	// global 9:1/2, 10:1/4, 100:1/4; A = (1,0,0): cumulative 1/2, 1/4 → 3/4 /2 = 3/8.
	if d, _ := CheckTCloseness(tb, q, "s", 1); math.Abs(d-3.0/8) > 1e-12 {
		t.Errorf("numeric order: %.6f, want 0.375", d)
	}
	if _, err := CheckTCloseness(tb, q, "s", -1); err == nil || errors.Is(err, ErrViolation) {
		t.Errorf("negative t: want a parameter error, got %v", err)
	}
}

// R-PRS-6: the checkers catch what the engine must prevent: a table that is
// k-anonymous but not l-diverse, and one whose classes are far from the
// whole.
func TestCheckersRejectBadOutputs(t *testing.T) {
	tb := &table.Table{Header: []string{"q", "s"}, Rows: [][]string{
		{"A", "sick"}, {"A", "sick"}, {"A", "sick"}, {"B", "well"}, {"B", "well"}, {"B", "sick"},
	}}
	if mc, _ := CheckKAnonymous(tb, []string{"q"}); mc != 3 {
		t.Fatalf("min class %d", mc)
	}
	if err := CheckLDiversity(tb, []string{"q"}, "s", 2, DistinctL, 0); !errors.Is(err, ErrViolation) {
		t.Fatalf("homogeneous class A passed: %v", err)
	}
	if _, err := CheckTCloseness(tb, []string{"q"}, "s", 0.3); !errors.Is(err, ErrViolation) {
		t.Fatalf("A is 1/3 from the whole (2/3 sick), t = 0.3 passed: %v", err)
	}
}

func isInvalid(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.Invalid
}
