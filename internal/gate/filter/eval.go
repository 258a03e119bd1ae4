package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is a field's type as the catalog names it ("string", "integer",
// "decimal", "boolean", "date", "datetime", …). Unknown types compare as
// strings.
type Type string

func (t Type) numeric() bool { return t == "integer" || t == "decimal" }

// Check verifies that every field e names is in types (the fields the caller
// may filter on: the grant's fields) and that each literal suits its field's
// type. It normalises e in place: a number compared with a text field
// becomes the string it was written as. It returns the first problem.
func Check(e *Expr, types map[string]Type) error {
	if e == nil {
		return nil
	}
	for _, k := range e.Kids {
		if err := Check(k, types); err != nil {
			return err
		}
	}
	if e.Field == "" {
		return nil
	}
	t, ok := types[e.Field]
	if !ok {
		return &FieldError{Field: e.Field}
	}
	for i, v := range e.Values {
		switch {
		case t.numeric():
			if v.Kind != Number {
				return &TypeError{Field: e.Field, Type: t, Value: v}
			}
		case t == "boolean":
			if v.Kind != Bool || (e.Op != OpEq && e.Op != OpNe && e.Op != OpIn && e.Op != OpNotIn) {
				return &TypeError{Field: e.Field, Type: t, Value: v}
			}
		default:
			switch v.Kind {
			case Number:
				e.Values[i] = Value{Kind: String, Str: v.Text}
			case Bool:
				return &TypeError{Field: e.Field, Type: t, Value: v}
			}
		}
	}
	if e.Op == OpContains && (t.numeric() || t == "boolean") {
		return &TypeError{Field: e.Field, Type: t, Value: e.Values[0]}
	}
	return nil
}

// FieldError says a filter names a field the caller may not use.
type FieldError struct{ Field string }

func (e *FieldError) Error() string { return "filter: field " + e.Field + " may not be filtered on" }

// TypeError says a literal does not suit its field.
type TypeError struct {
	Field string
	Type  Type
	Value Value
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("filter: %s is of type %s and cannot be compared with %s this way", e.Field, e.Type, e.Value)
}

// tri is SQL's three-valued truth.
type tri int8

const (
	fls tri = iota
	unk
	tru
)

func triOf(b bool) tri {
	if b {
		return tru
	}
	return fls
}

// Eval reports whether row satisfies e (a nil e selects every row). A field
// missing from row, or nil, is SQL NULL.
func Eval(e *Expr, row map[string]any) bool {
	if e == nil {
		return true
	}
	return eval(e, row) == tru
}

func eval(e *Expr, row map[string]any) tri {
	switch e.Op {
	case OpAnd:
		out := tru
		for _, k := range e.Kids {
			switch eval(k, row) {
			case fls:
				return fls
			case unk:
				out = unk
			}
		}
		return out
	case OpOr:
		out := fls
		for _, k := range e.Kids {
			switch eval(k, row) {
			case tru:
				return tru
			case unk:
				out = unk
			}
		}
		return out
	case OpNot:
		switch eval(e.Kids[0], row) {
		case tru:
			return fls
		case fls:
			return tru
		}
		return unk
	}
	v, present := row[e.Field]
	if !present || v == nil {
		switch e.Op {
		case OpIsNull:
			return tru
		case OpNotNull:
			return fls
		}
		return unk
	}
	switch e.Op {
	case OpIsNull:
		return fls
	case OpNotNull:
		return tru
	case OpIn, OpNotIn:
		hit := false
		for _, lit := range e.Values {
			if c, ok := compare(v, lit); ok && c == 0 {
				hit = true
				break
			}
		}
		if e.Op == OpNotIn {
			hit = !hit
		}
		return triOf(hit)
	case OpContains:
		return triOf(strings.Contains(Text(v), litText(e.Values[0])))
	}
	c, ok := compare(v, e.Values[0])
	if !ok {
		return fls
	}
	switch e.Op {
	case OpEq:
		return triOf(c == 0)
	case OpNe:
		return triOf(c != 0)
	case OpLt:
		return triOf(c < 0)
	case OpLe:
		return triOf(c <= 0)
	case OpGt:
		return triOf(c > 0)
	case OpGe:
		return triOf(c >= 0)
	}
	return fls
}

// compare orders a row value against a literal: numbers numerically, text
// byte-wise (as SQL's binary / "C" collation), booleans by equality.
func compare(v any, lit Value) (int, bool) {
	switch lit.Kind {
	case Number:
		f, ok := toFloat(v)
		if !ok {
			return 0, false
		}
		switch {
		case f < lit.Num:
			return -1, true
		case f > lit.Num:
			return 1, true
		}
		return 0, true
	case Bool:
		b, ok := v.(bool)
		if !ok {
			if f, isNum := toFloat(v); isNum {
				b, ok = f != 0, true
			}
		}
		if !ok {
			return 0, false
		}
		if b == lit.Bool {
			return 0, true
		}
		return 1, true
	}
	return strings.Compare(Text(v), lit.Str), true
}

func litText(v Value) string {
	if v.Kind == Number {
		return v.Text
	}
	if v.Kind == Bool {
		return strconv.FormatBool(v.Bool)
	}
	return v.Str
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x)
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// Text renders a row value as the gate writes it in CSV and XLSX and as
// filters compare it: dates as 2006-01-02 (or RFC 3339 with a time), numbers
// in their shortest form, nil as "".
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case json.Number:
		return x.String()
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
