// Package filter is the gate's small row filter language (docs/gate.md):
//
//	age >= 18 and district in ("思明区", "湖里区") and name ~ "张"
//	not (status = "closed" or closed_at is not null)
//
// A filter is parsed into an AST, checked against the fields a grant allows,
// and then either evaluated in Go (Eval) or compiled to a parameterised SQL
// WHERE clause (SQL). Values never become SQL text: every literal is a bind
// parameter and every field name is mapped through the caller's column list,
// so there is no way to reach a column, a table or a function that the caller
// did not name.
//
// Grammar (keywords are case-insensitive):
//
//	expr    = or
//	or      = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | compare
//	compare = field op literal
//	        | field ["not"] "in" "(" literal { "," literal } ")"
//	        | field "is" ["not"] "null"
//	op      = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "~"   (~: contains)
//	literal = string | number | "true" | "false"
//	string  = '"' chars '"' | "'" chars "'"   (backslash escapes \" \' \\ \n \t \uXXXX)
//	number  = ["-"] digits ["." digits] [("e"|"E") ["+"|"-"] digits]
//	field   = letter { letter | digit | "_" }   (ASCII letters, as catalog field names)
//
// Comparisons follow SQL's three-valued logic: a comparison with a missing
// (null) value is unknown, "not unknown" is unknown, and a row is kept only
// when the whole filter is true, so Eval and SQL select the same rows.
package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits bound what a filter may cost to parse and run.
const (
	MaxLength = 4096 // bytes of filter text
	MaxDepth  = 32   // nesting of and/or/not/parentheses
	MaxNodes  = 256  // comparisons and connectives
	MaxList   = 1000 // values in one in-list
)

// Op is a node's operator.
type Op string

const (
	OpAnd      Op = "and"
	OpOr       Op = "or"
	OpNot      Op = "not"
	OpEq       Op = "="
	OpNe       Op = "!="
	OpLt       Op = "<"
	OpLe       Op = "<="
	OpGt       Op = ">"
	OpGe       Op = ">="
	OpContains Op = "~"
	OpIn       Op = "in"
	OpNotIn    Op = "not in"
	OpIsNull   Op = "is null"
	OpNotNull  Op = "is not null"
)

// Kind is a literal's type.
type Kind int

const (
	String Kind = iota
	Number
	Bool
)

// Value is a literal.
type Value struct {
	Kind Kind
	Str  string  // String
	Num  float64 // Number
	Bool bool    // Bool
	// Text is the number as written, so integers keep their exact digits.
	Text string
}

func (v Value) String() string {
	switch v.Kind {
	case Number:
		return v.Text
	case Bool:
		return strconv.FormatBool(v.Bool)
	}
	return strconv.Quote(v.Str)
}

// Expr is a node of the AST: a connective (and, or, not) with Kids, or a
// comparison of Field with Values.
type Expr struct {
	Op     Op
	Kids   []*Expr
	Field  string
	Values []Value
}

// String prints e in the filter language, fully parenthesised.
func (e *Expr) String() string {
	switch e.Op {
	case OpAnd, OpOr:
		parts := make([]string, len(e.Kids))
		for i, k := range e.Kids {
			parts[i] = k.String()
		}
		return "(" + strings.Join(parts, " "+string(e.Op)+" ") + ")"
	case OpNot:
		return "not " + e.Kids[0].String()
	case OpIn, OpNotIn:
		parts := make([]string, len(e.Values))
		for i, v := range e.Values {
			parts[i] = v.String()
		}
		return e.Field + " " + string(e.Op) + " (" + strings.Join(parts, ", ") + ")"
	case OpIsNull, OpNotNull:
		return e.Field + " " + string(e.Op)
	}
	return e.Field + " " + string(e.Op) + " " + e.Values[0].String()
}

// Fields returns the fields e refers to, each once, in order of appearance.
func (e *Expr) Fields() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*Expr)
	walk = func(x *Expr) {
		if x == nil {
			return
		}
		if x.Field != "" && !seen[x.Field] {
			seen[x.Field] = true
			out = append(out, x.Field)
		}
		for _, k := range x.Kids {
			walk(k)
		}
	}
	walk(e)
	return out
}

// Error is a parse error at a byte offset of the filter text.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("filter: at %d: %s", e.Pos, e.Msg) }

// Parse parses filter text. An empty (or all-space) text is a nil filter,
// which selects every row.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, &Error{Pos: MaxLength, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	if !utf8.ValidString(src) {
		return nil, &Error{Pos: 0, Msg: "not valid UTF-8"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 { // only EOF
		return nil, nil
	}
	p := &parser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("unexpected %q", t.text)}
	}
	return e, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // identifier (lower-cased keyword check done by parser), operator, or decoded string
	raw  string // identifier as written
	pos  int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		// Full-width space, common in Chinese input.
		if strings.HasPrefix(s[i:], "\u3000") {
			i += len("\u3000")
			continue
		}
		if i >= len(s) {
			out = append(out, token{kind: tEOF, pos: i})
			return out, nil
		}
		if len(out) > 4*MaxNodes+MaxList {
			return nil, &Error{Pos: i, Msg: "too many tokens"}
		}
		c := s[i]
		start := i
		switch {
		case isLetter(c):
			for i < len(s) && (isLetter(s[i]) || isDigit(s[i]) || s[i] == '_') {
				i++
			}
			out = append(out, token{kind: tIdent, text: strings.ToLower(s[start:i]), raw: s[start:i], pos: start})
		case c == '_':
			return nil, &Error{Pos: i, Msg: "a field name starts with a letter"}
		case isDigit(c) || c == '-' || c == '.':
			n, ok := scanNumber(s[i:])
			if !ok {
				return nil, &Error{Pos: i, Msg: "bad number"}
			}
			i += n
			out = append(out, token{kind: tNumber, text: s[start:i], pos: start})
		case c == '"' || c == '\'':
			str, n, err := scanString(s[i:])
			if err != nil {
				return nil, &Error{Pos: i, Msg: err.Error()}
			}
			i += n
			out = append(out, token{kind: tString, text: str, pos: start})
		case c == '(':
			i++
			out = append(out, token{kind: tLParen, text: "(", pos: start})
		case c == ')':
			i++
			out = append(out, token{kind: tRParen, text: ")", pos: start})
		case c == ',':
			i++
			out = append(out, token{kind: tComma, text: ",", pos: start})
		case c == '=':
			i++
			if i < len(s) && s[i] == '=' {
				i++
			}
			out = append(out, token{kind: tOp, text: "=", pos: start})
		case c == '!' || c == '<' || c == '>':
			i++
			op := string(c)
			if i < len(s) && (s[i] == '=' || (c == '<' && s[i] == '>')) {
				op += string(s[i])
				i++
			}
			if op == "!" {
				return nil, &Error{Pos: start, Msg: `"!" must be followed by "="`}
			}
			if op == "<>" {
				op = "!="
			}
			out = append(out, token{kind: tOp, text: op, pos: start})
		case c == '~':
			i++
			out = append(out, token{kind: tOp, text: "~", pos: start})
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, &Error{Pos: i, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
}

func scanNumber(s string) (int, bool) {
	i, digits := 0, 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			e++
		}
		if e == 0 {
			return 0, false
		}
	}
	if i < len(s) && (isLetter(s[i]) || s[i] == '_' || s[i] == '.') {
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return i, true
}

func scanString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			i++
			switch s[i] {
			case '"', '\'', '\\':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+4 >= len(s) {
					return "", 0, fmt.Errorf(`bad \u escape`)
				}
				n, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
				if err != nil || !utf8.ValidRune(rune(n)) {
					return "", 0, fmt.Errorf(`bad \u escape`)
				}
				b.WriteRune(rune(n))
				i += 4
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", s[i])
			}
			i++
		case c < 0x20:
			return "", 0, fmt.Errorf("control character in string")
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

type parser struct {
	toks  []token
	i     int
	nodes int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(t token, kw string) bool { return t.kind == tIdent && t.text == kw }

func (p *parser) node() error {
	p.nodes++
	if p.nodes > MaxNodes {
		return &Error{Pos: p.peek().pos, Msg: fmt.Sprintf("more than %d conditions", MaxNodes)}
	}
	return nil
}

func (p *parser) or(depth int) (*Expr, error) {
	if depth > MaxDepth {
		return nil, &Error{Pos: p.peek().pos, Msg: fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	l, err := p.and(depth + 1)
	if err != nil {
		return nil, err
	}
	kids := []*Expr{l}
	for p.isKeyword(p.peek(), "or") {
		p.next()
		r, err := p.and(depth + 1)
		if err != nil {
			return nil, err
		}
		kids = append(kids, r)
	}
	if len(kids) == 1 {
		return l, nil
	}
	if err := p.node(); err != nil {
		return nil, err
	}
	return &Expr{Op: OpOr, Kids: kids}, nil
}

func (p *parser) and(depth int) (*Expr, error) {
	l, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	kids := []*Expr{l}
	for p.isKeyword(p.peek(), "and") {
		p.next()
		r, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		kids = append(kids, r)
	}
	if len(kids) == 1 {
		return l, nil
	}
	if err := p.node(); err != nil {
		return nil, err
	}
	return &Expr{Op: OpAnd, Kids: kids}, nil
}

var keywords = map[string]bool{"and": true, "or": true, "not": true, "in": true, "is": true, "null": true, "true": true, "false": true}

func (p *parser) unary(depth int) (*Expr, error) {
	if depth > MaxDepth {
		return nil, &Error{Pos: p.peek().pos, Msg: fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	t := p.peek()
	switch {
	case p.isKeyword(t, "not"):
		p.next()
		k, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.node(); err != nil {
			return nil, err
		}
		return &Expr{Op: OpNot, Kids: []*Expr{k}}, nil
	case t.kind == tLParen:
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &Error{Pos: c.pos, Msg: `expected ")"`}
		}
		return e, nil
	case t.kind == tIdent && !keywords[t.text]:
		return p.compare()
	}
	return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected a field name, got %q", tokText(t))}
}

func tokText(t token) string {
	if t.kind == tEOF {
		return "end of filter"
	}
	if t.raw != "" {
		return t.raw
	}
	return t.text
}

func (p *parser) compare() (*Expr, error) {
	if err := p.node(); err != nil {
		return nil, err
	}
	f := p.next()
	field := f.raw
	t := p.next()
	switch {
	case t.kind == tOp:
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		return &Expr{Op: Op(t.text), Field: field, Values: []Value{v}}, nil
	case p.isKeyword(t, "is"):
		op := OpIsNull
		if p.isKeyword(p.peek(), "not") {
			p.next()
			op = OpNotNull
		}
		if n := p.next(); !p.isKeyword(n, "null") {
			return nil, &Error{Pos: n.pos, Msg: `expected "null"`}
		}
		return &Expr{Op: op, Field: field}, nil
	case p.isKeyword(t, "in"), p.isKeyword(t, "not"):
		op := OpIn
		if t.text == "not" {
			op = OpNotIn
			if n := p.next(); !p.isKeyword(n, "in") {
				return nil, &Error{Pos: n.pos, Msg: `expected "in"`}
			}
		}
		if n := p.next(); n.kind != tLParen {
			return nil, &Error{Pos: n.pos, Msg: `expected "("`}
		}
		var vals []Value
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if len(vals) > MaxList {
				return nil, &Error{Pos: p.peek().pos, Msg: fmt.Sprintf("more than %d values in a list", MaxList)}
			}
			n := p.next()
			if n.kind == tRParen {
				break
			}
			if n.kind != tComma {
				return nil, &Error{Pos: n.pos, Msg: `expected "," or ")"`}
			}
		}
		return &Expr{Op: op, Field: field, Values: vals}, nil
	}
	return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected an operator after %s, got %q", field, tokText(t))}
}

func (p *parser) literal() (Value, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return Value{Kind: String, Str: t.text}, nil
	case t.kind == tNumber:
		f, _ := strconv.ParseFloat(t.text, 64)
		return Value{Kind: Number, Num: f, Text: t.text}, nil
	case p.isKeyword(t, "true"):
		return Value{Kind: Bool, Bool: true}, nil
	case p.isKeyword(t, "false"):
		return Value{Kind: Bool, Bool: false}, nil
	}
	return Value{}, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected a value, got %q", tokText(t))}
}
