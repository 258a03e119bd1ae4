package gate

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/gate/filter"
)

// Format is a delivery format.
type Format string

const (
	JSON   Format = "json"   // one page: {"fields":[…],"rows":[{…}],"count":n,"next_cursor":"…"}
	NDJSON Format = "ndjson" // one JSON object per line
	CSV    Format = "csv"    // UTF-8 with BOM, header row of field names
	XLSX   Format = "xlsx"   // one sheet, header row of field names
)

// ParseFormat reads a format name; "" is JSON.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", JSON:
		return JSON, nil
	case NDJSON, CSV, XLSX:
		return Format(s), nil
	}
	return "", ErrBadFormat.At("format")
}

// ContentType is the format's media type.
func (f Format) ContentType() string {
	switch f {
	case NDJSON:
		return "application/x-ndjson"
	case CSV:
		return "text/csv; charset=utf-8"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/json"
}

// Ext is the file extension.
func (f Format) Ext() string { return string(f) }

type encoder interface {
	begin(fields []string) error
	row(vals []any) error
	end(count int, next string) error
}

func newEncoder(f Format, w io.Writer, meta pageMeta) encoder {
	switch f {
	case NDJSON:
		return &ndjsonEnc{w: w, buf: getBuf()}
	case CSV:
		return &csvEnc{w: w}
	case XLSX:
		return &xlsxEnc{w: w}
	}
	return &jsonEnc{w: w, meta: meta, buf: getBuf()}
}

// Encoding buffers are reused across deliveries: each grows to jsonFlush
// and more, and allocating (and clearing) them anew showed in profiles.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, jsonFlush+4096); return &b }}

func getBuf() []byte { return (*(bufPool.Get().(*[]byte)))[:0] }

func putBuf(b []byte) {
	if cap(b) <= 4*jsonFlush {
		b = b[:0]
		bufPool.Put(&b)
	}
}

type pageMeta struct {
	ResourceID string
	GrantID    string
	DeliveryID string
}

// appendJSONValue writes v as JSON: numbers and booleans as they are, the rest as strings.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case string:
		return appendJSONString(b, x)
	case json.Number:
		if _, err := x.Float64(); err == nil {
			return append(b, x...)
		}
	}
	return appendJSONString(b, filter.Text(v))
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it. Plain strings (the common case, Chinese text included) are
// copied after one pass; anything needing an escape goes to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshalled(b, s)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
			return appendMarshalled(b, s)
		}
		i += n
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshalled(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// objectKeys encodes each field's member prefix once per delivery:
// `{"a":`, `,"b":`, …
func objectKeys(fields []string) [][]byte {
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		k := appendJSONString([]byte{sep}, f)
		keys[i] = append(k, ':')
	}
	return keys
}

func appendObject(b []byte, keys [][]byte, vals []any) []byte {
	if len(keys) == 0 {
		return append(b, "{}"...)
	}
	for i, k := range keys {
		b = append(b, k...)
		b = appendJSONValue(b, vals[i])
	}
	return append(b, '}')
}

type jsonEnc struct {
	w      io.Writer
	meta   pageMeta
	fields [][]byte
	buf    []byte
	n      int
}

func (e *jsonEnc) begin(fields []string) error {
	e.fields = objectKeys(fields)
	b := append(e.buf[:0], `{"resource_id":`...)
	b = appendJSONString(b, e.meta.ResourceID)
	b = append(b, `,"grant_id":`...)
	b = appendJSONString(b, e.meta.GrantID)
	b = append(b, `,"delivery_id":`...)
	b = appendJSONString(b, e.meta.DeliveryID)
	b = append(b, `,"fields":`...)
	fj, _ := json.Marshal(fields)
	b = append(b, fj...)
	b = append(b, `,"rows":[`...)
	e.buf = b
	return nil
}

// jsonFlush is how much encoded text the JSON encoders gather before
// writing it on: the spool hashes what it is given, and larger writes hash
// and copy faster than one per row.
const jsonFlush = 16 << 10

func (e *jsonEnc) row(vals []any) error {
	b := e.buf
	if e.n > 0 {
		b = append(b, ',')
	}
	e.n++
	b = appendObject(b, e.fields, vals)
	e.buf = b
	if len(b) < jsonFlush {
		return nil
	}
	_, err := e.w.Write(b)
	e.buf = b[:0]
	return err
}

func (e *jsonEnc) end(count int, next string) error {
	b := append(e.buf, `],"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"next_cursor":`...)
	b = appendJSONString(b, next)
	b = append(b, "}\n"...)
	_, err := e.w.Write(b)
	putBuf(b)
	e.buf = nil
	return err
}

type ndjsonEnc struct {
	w      io.Writer
	fields [][]byte
	buf    []byte
}

func (e *ndjsonEnc) begin(fields []string) error { e.fields = objectKeys(fields); return nil }
func (e *ndjsonEnc) row(vals []any) error {
	b := appendObject(e.buf, e.fields, vals)
	b = append(b, '\n')
	e.buf = b
	if len(b) < jsonFlush {
		return nil
	}
	_, err := e.w.Write(b)
	e.buf = b[:0]
	return err
}
func (e *ndjsonEnc) end(int, string) error {
	_, err := e.w.Write(e.buf)
	putBuf(e.buf)
	e.buf = nil
	return err
}

type csvEnc struct {
	w   io.Writer
	cw  *csv.Writer
	rec []string
}

func (e *csvEnc) begin(fields []string) error {
	if _, err := e.w.Write([]byte("\uFEFF")); err != nil {
		return err
	}
	e.cw = csv.NewWriter(e.w)
	e.rec = make([]string, len(fields))
	return e.cw.Write(fields)
}

func (e *csvEnc) row(vals []any) error {
	for i, v := range vals {
		e.rec[i] = filter.Text(v)
	}
	return e.cw.Write(e.rec)
}

func (e *csvEnc) end(int, string) error {
	e.cw.Flush()
	return e.cw.Error()
}

type xlsxEnc struct {
	w    io.Writer
	f    *excelize.File
	sw   *excelize.StreamWriter
	line int
	cell []any
}

func (e *xlsxEnc) begin(fields []string) error {
	e.f = excelize.NewFile()
	sw, err := e.f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	e.sw = sw
	e.cell = make([]any, len(fields))
	for i, f := range fields {
		e.cell[i] = f
	}
	e.line = 1
	return e.sw.SetRow("A1", e.cell)
}

func (e *xlsxEnc) row(vals []any) error {
	e.line++
	for i, v := range vals {
		switch x := v.(type) {
		case int64, int, float64, bool:
			e.cell[i] = x
		case json.Number:
			if f, err := x.Float64(); err == nil {
				e.cell[i] = f
			} else {
				e.cell[i] = x.String()
			}
		case nil:
			e.cell[i] = nil
		default:
			e.cell[i] = filter.Text(v)
		}
	}
	ref, err := excelize.CoordinatesToCellName(1, e.line)
	if err != nil {
		return err
	}
	return e.sw.SetRow(ref, e.cell)
}

func (e *xlsxEnc) end(int, string) error {
	if err := e.sw.Flush(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := e.f.WriteTo(&buf); err != nil {
		return err
	}
	_ = e.f.Close()
	_, err := e.w.Write(buf.Bytes())
	return err
}
