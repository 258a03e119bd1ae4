package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// Column maps a filter field to SQL: Expr is a trusted column expression the
// caller writes (a quoted column name, never anything from the filter text);
// Type is the field's type. For text-like types Expr must be of a text type.
type Column struct {
	Expr string
	Type Type
}

// Dialect is "sqlite" or "postgres".
type Dialect string

// SQL compiles e into a WHERE condition with bind parameters numbered from
// $firstArg, for the dialect. Every literal becomes an argument; every field
// goes through cols, and a field not in cols is an error. A nil e compiles
// to "TRUE" (1 on SQLite). Run Check first so literals suit their columns.
func SQL(e *Expr, cols map[string]Column, d Dialect, firstArg int) (string, []any, error) {
	c := &compiler{cols: cols, d: d, next: firstArg}
	if e == nil {
		if d == "postgres" {
			return "TRUE", nil, nil
		}
		return "1", nil, nil
	}
	var sb strings.Builder
	if err := c.expr(&sb, e); err != nil {
		return "", nil, err
	}
	return sb.String(), c.args, nil
}

type compiler struct {
	cols map[string]Column
	d    Dialect
	next int
	args []any
}

func (c *compiler) param(col Column, v Value) string {
	p := "$" + strconv.Itoa(c.next)
	c.next++
	switch v.Kind {
	case Number:
		if n, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
			c.args = append(c.args, n)
			return p
		}
		c.args = append(c.args, v.Num)
		if c.d == "postgres" {
			return "CAST(" + p + " AS DOUBLE PRECISION)"
		}
		return p
	case Bool:
		c.args = append(c.args, v.Bool)
		return p
	}
	c.args = append(c.args, v.Str)
	return p
}

func (c *compiler) expr(sb *strings.Builder, e *Expr) error {
	switch e.Op {
	case OpAnd, OpOr:
		sb.WriteByte('(')
		for i, k := range e.Kids {
			if i > 0 {
				sb.WriteString(" " + strings.ToUpper(string(e.Op)) + " ")
			}
			if err := c.expr(sb, k); err != nil {
				return err
			}
		}
		sb.WriteByte(')')
		return nil
	case OpNot:
		sb.WriteString("(NOT ")
		if err := c.expr(sb, e.Kids[0]); err != nil {
			return err
		}
		sb.WriteByte(')')
		return nil
	}
	col, ok := c.cols[e.Field]
	if !ok {
		return &FieldError{Field: e.Field}
	}
	lhs := col.Expr
	text := !col.Type.numeric() && col.Type != "boolean"
	if text && c.d == "postgres" && e.Op != OpContains && e.Op != OpIsNull && e.Op != OpNotNull {
		// Byte order, as Eval and SQLite's BINARY collation compare.
		lhs += ` COLLATE "C"`
	}
	switch e.Op {
	case OpIsNull:
		fmt.Fprintf(sb, "(%s IS NULL)", lhs)
	case OpNotNull:
		fmt.Fprintf(sb, "(%s IS NOT NULL)", lhs)
	case OpContains:
		fn := "instr"
		if c.d == "postgres" {
			fn = "strpos"
		}
		fmt.Fprintf(sb, "(%s(%s, %s) > 0)", fn, lhs, c.param(col, e.Values[0]))
	case OpIn, OpNotIn:
		kw := "IN"
		if e.Op == OpNotIn {
			kw = "NOT IN"
		}
		fmt.Fprintf(sb, "(%s %s (", lhs, kw)
		for i, v := range e.Values {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(c.param(col, v))
		}
		sb.WriteString("))")
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		op := string(e.Op)
		if e.Op == OpNe {
			op = "<>"
		}
		fmt.Fprintf(sb, "(%s %s %s)", lhs, op, c.param(col, e.Values[0]))
	default:
		return fmt.Errorf("filter: unknown operator %q", e.Op)
	}
	return nil
}
