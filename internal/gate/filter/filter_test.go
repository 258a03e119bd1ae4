package filter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-SEC-3, R-SHR-4: the filter language is parsed, never pasted into SQL.

var types = map[string]Type{"age": "integer", "score": "decimal", "district": "string", "name": "string", "adult": "boolean", "born": "date"}

func TestParse(t *testing.T) {
	cases := []struct{ in, want string }{
		{`age >= 18`, `age >= 18`},
		{`age >= 18 and district in ("思明区","湖里区") and name ~ "张"`, `(age >= 18 and district in ("思明区", "湖里区") and name ~ "张")`},
		{`not (a = 1 or b != 'x')`, `not (a = 1 or b != "x")`},
		{`a <> 1`, `a != 1`},
		{`a == 1`, `a = 1`},
		{`x is null or y IS NOT NULL`, `(x is null or y is not null)`},
		{`x not in (1, 2.5, -3e2)`, `x not in (1, 2.5, -3e2)`},
		{`a = true AND b = FALSE`, `(a = true and b = false)`},
		{"a = \"\\u5f20\\\"\"", `a = "张\""`},
		{"a\u3000=\u30001", `a = 1`},
		{`a = 1 or b = 2 and c = 3`, `(a = 1 or (b = 2 and c = 3))`},
	}
	for _, c := range cases {
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("Parse(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if e, err := Parse("   "); err != nil || e != nil {
		t.Fatalf("empty filter: %v %v", e, err)
	}
}

func TestParseErrors(t *testing.T) {
	bad := []string{
		`age >=`, `age 18`, `(age = 1`, `age = 1)`, `= 1`, `age = "x`, `age in ()`, `age in (1,`,
		`age = 1; DROP TABLE x`, `age = 1 -- x`, `_x = 1`, `age = 01x`, `and = 1`, `age ! 1`,
		`age = "a\q"`, "age = \"\x01\"", `age = 1e`, `a = .`, `a = 1.2.3`, `a is nul`, `a not = 1`,
		strings.Repeat("(", 40) + "a=1" + strings.Repeat(")", 40),
		strings.Repeat("a=1 or ", 300) + "a=1",
		"a in (" + strings.Repeat("1,", 1001) + "1)",
		strings.Repeat("x", MaxLength+1),
		"a = \xff",
	}
	for _, s := range bad {
		if e, err := Parse(s); err == nil {
			t.Errorf("Parse(%.60q) = %v, want an error", s, e)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := []string{`age > 1`, `district = 350203`, `adult = true`, `born >= "2000-01-01"`, `name ~ "张"`}
	for _, s := range ok {
		e, _ := Parse(s)
		if err := Check(e, types); err != nil {
			t.Errorf("Check(%s): %v", s, err)
		}
	}
	e, _ := Parse(`district = 350203`)
	_ = Check(e, types)
	if e.Values[0].Kind != String || e.Values[0].Str != "350203" {
		t.Errorf("number for a text field is not normalised: %+v", e.Values[0])
	}
	for _, s := range []string{`age = "x"`, `adult < true`, `adult = 1`, `age ~ "1"`, `name = true`} {
		e, _ := Parse(s)
		var te *TypeError
		if err := Check(e, types); err == nil || !asType(err, &te) {
			t.Errorf("Check(%s) = %v, want a type error", s, err)
		}
	}
	// R-SEC-3: a field outside the allowed set is refused, wherever it hides.
	for _, s := range []string{`secret = 1`, `age > 1 and (name = "x" or not secret is null)`} {
		e, _ := Parse(s)
		err := Check(e, types)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != "secret" {
			t.Errorf("Check(%s) = %v, want a field error for secret", s, err)
		}
	}
}

func asType(err error, te **TypeError) bool {
	x, ok := err.(*TypeError)
	*te = x
	return ok
}

func TestEvalThreeValued(t *testing.T) {
	row := map[string]any{"age": int64(30), "name": "张三", "district": "思明区", "adult": true}
	cases := map[string]bool{
		`age >= 18`:                     true,
		`age < 18`:                      false,
		`name ~ "张"`:                    true,
		`district in ("思明区", "湖里区")`:    true,
		`district not in ("湖里区")`:       true,
		`score > 1`:                     false, // null
		`not score > 1`:                 false, // not unknown is unknown
		`score is null`:                 true,
		`not (score > 1) or age = 30`:   true,
		`adult = true`:                  true,
		`age = 30 and not (score = 1)`:  false,
		`score != 1`:                    false,
		`age >= 18 and district ~ "明"`:  true,
		`born is not null`:              false,
		`age > 29.5 and age < 30.5`:     true,
		`not (age > 100 or name = "李")`: true,
	}
	for s, want := range cases {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(s, err)
		}
		if got := Eval(e, row); got != want {
			t.Errorf("Eval(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestEvalMatchesSQL runs random filters both ways, in Go and as compiled
// SQL on each database, and requires the same rows. R-SEC-3.
func TestEvalMatchesSQL(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE f (id INTEGER PRIMARY KEY, age BIGINT, score DOUBLE PRECISION, district TEXT, name TEXT, adult BOOLEAN, born TEXT)`); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		districts := []string{"思明区", "湖里区", "集美区", "海沧区", "Zeta", "alpha", ""}
		names := []string{"张三", "李四", "王五", "张伟", "O'Brien", `a"b`, "100%_x"}
		var rows []map[string]any
		for i := 0; i < 120; i++ {
			row := map[string]any{"id": int64(i)}
			vals := []any{int64(i)}
			add := func(k string, v any) {
				if rng.IntN(8) == 0 {
					v = nil
				}
				if v != nil {
					row[k] = v
				}
				vals = append(vals, v)
			}
			add("age", int64(rng.IntN(90)))
			add("score", float64(rng.IntN(1000))/10)
			add("district", districts[rng.IntN(len(districts))])
			add("name", names[rng.IntN(len(names))])
			add("adult", rng.IntN(2) == 0)
			add("born", fmt.Sprintf("19%02d-%02d-01", rng.IntN(100), 1+rng.IntN(12)))
			if _, err := db.ExecContext(ctx, `INSERT INTO f VALUES ($1,$2,$3,$4,$5,$6,$7)`, vals...); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
		}
		cols := map[string]Column{}
		for k, ty := range types {
			cols[k] = Column{Expr: `"` + k + `"`, Type: ty}
		}
		for i := 0; i < 400; i++ {
			src := randomFilter(rng, 3)
			e, err := Parse(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if err := Check(e, types); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			where, args, err := SQL(e, cols, Dialect(db.Dialect), 1)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int64]bool{}
			rs, err := db.QueryContext(ctx, `SELECT id FROM f WHERE `+where, args...)
			if err != nil {
				t.Fatalf("%s → %s: %v", src, where, err)
			}
			for rs.Next() {
				var id int64
				_ = rs.Scan(&id)
				got[id] = true
			}
			rs.Close()
			want := map[int64]bool{}
			for _, r := range rows {
				if Eval(e, r) {
					want[r["id"].(int64)] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s\nSQL %s %v\nSQL selects %d rows, Eval %d", src, where, args, len(got), len(want))
			}
		}
	})
}

func randomFilter(rng *rand.Rand, depth int) string {
	if depth > 0 && rng.IntN(3) == 0 {
		switch rng.IntN(3) {
		case 0:
			return "(" + randomFilter(rng, depth-1) + " and " + randomFilter(rng, depth-1) + ")"
		case 1:
			return "(" + randomFilter(rng, depth-1) + " or " + randomFilter(rng, depth-1) + ")"
		default:
			return "not " + randomFilter(rng, depth-1)
		}
	}
	ops := []string{"=", "!=", "<", "<=", ">", ">="}
	op := ops[rng.IntN(len(ops))]
	switch rng.IntN(9) {
	case 0:
		return fmt.Sprintf("age %s %d", op, rng.IntN(90))
	case 1:
		return fmt.Sprintf("score %s %d.%d", op, rng.IntN(100), rng.IntN(10))
	case 2:
		return fmt.Sprintf(`district %s "%s"`, op, []string{"思明区", "湖里区", "Zeta", "alpha", "", "集"}[rng.IntN(6)])
	case 3:
		return fmt.Sprintf(`name ~ "%s"`, []string{"张", "O'", `a\"`, "%", "_", "三"}[rng.IntN(6)])
	case 4:
		return `district in ("思明区", "alpha", "")`
	case 5:
		return `age not in (1, 2, 30, 45)`
	case 6:
		return []string{"adult = true", "adult != false", "adult in (true)"}[rng.IntN(3)]
	case 7:
		return []string{"born is null", "name is not null", "score is null"}[rng.IntN(3)]
	}
	return fmt.Sprintf(`born %s "19%02d-06-15"`, op, rng.IntN(100))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`age >= 18 and district in ("思明区","湖里区") and name ~ "张"`, `not (a is null)`, `a = "\u0041"`, `x not in (1,-2.5e3)`, `((a=1))`, `a <> 'b'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil || e == nil {
			return
		}
		// What parses prints to a filter that parses to the same tree.
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() {
			t.Fatalf("round trip: %q → %q", e.String(), again.String())
		}
		// Compiling never puts filter text into SQL: every value is a parameter.
		cols := map[string]Column{}
		for _, fld := range e.Fields() {
			cols[fld] = Column{Expr: `"c"`, Type: "string"}
		}
		where, args, err := SQL(e, cols, "sqlite", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"'", "\"", ";", "--"} {
			if strings.Contains(strings.ReplaceAll(where, `"c"`, ""), v) && v != "\"" {
				t.Fatalf("SQL %q carries %q", where, v)
			}
		}
		_ = args
		Eval(e, map[string]any{"a": "x"})
	})
}
