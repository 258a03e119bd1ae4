package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"shuqiao/internal/apperr"
)

// A source yields the records of an input file: for tabular formats a
// header and rows of cells; for JSON formats each object laid out on the
// header the reader was given. Row numbers are what people see: the
// spreadsheet row (the header is row 1), the NDJSON line, the JSON array
// element.
type source interface {
	header() []string
	// next returns the next record. A *rowError is a problem with that
	// record alone; any other error ends the input.
	next() (row int64, rec []string, err error)
	// sheet reports whether cells come from a spreadsheet (serial dates).
	sheet() bool
}

// rowError is a record the reader could not read.
type rowError struct {
	row int64
	cellError
}

func (e *rowError) Error() string { return fmt.Sprintf("row %d: %s", e.row, e.en) }

func fileError(code, name string, row int64, col int, zh, en string, args ...any) *apperr.Error {
	where := name
	if row > 0 {
		where += ":" + strconv.FormatInt(row, 10)
		if col > 0 {
			where += ":" + strconv.Itoa(col)
		}
	}
	return apperr.Invalidf(code, where, zh, en, args...)
}

// Encodings of CSV input.
const (
	EncUTF8    = "utf-8"
	EncGBK     = "gbk"
	EncGB18030 = "gb18030"
)

// DetectEncoding names the encoding of a CSV sample: UTF-8 (with or without
// a byte-order mark) when the bytes are valid UTF-8, otherwise GB18030 when
// its four-byte sequences appear and GBK when they do not. GBK text is
// decoded with the GB18030 decoder, its superset.
func DetectEncoding(sample []byte, truncated bool) (enc string, bom bool) {
	if bytes.HasPrefix(sample, []byte{0xEF, 0xBB, 0xBF}) {
		return EncUTF8, true
	}
	check := sample
	if truncated {
		// The sample may end inside a character.
		for i := 0; i < 3 && len(check) > 0 && !utf8.Valid(check); i++ {
			check = check[:len(check)-1]
		}
	}
	if utf8.Valid(check) {
		return EncUTF8, false
	}
	for i := 0; i+1 < len(sample); i++ {
		c := sample[i]
		if c < 0x80 {
			continue
		}
		if c >= 0x81 && c <= 0xFE {
			if n := sample[i+1]; n >= 0x30 && n <= 0x39 {
				return EncGB18030, false
			}
			i++
		}
	}
	return EncGBK, false
}

// DetectDelimiter picks the delimiter of a CSV sample: of comma, tab,
// semicolon and vertical bar, the one that splits the first lines into the
// same, largest number of fields. Quoted text is skipped.
func DetectDelimiter(sample string) rune {
	lines := strings.SplitN(sample, "\n", 6)
	if len(lines) > 1 && len(lines) == 6 {
		lines = lines[:5] // the last may be cut off
	}
	best, bestScore := ',', 0
	for _, d := range []rune{',', '\t', ';', '|'} {
		first := -1
		score := 0
		for i, l := range lines {
			n := countOutsideQuotes(l, d)
			if i == 0 {
				first = n
				score = n * 2
				continue
			}
			if strings.TrimSpace(l) == "" {
				continue
			}
			if n == first {
				score++
			} else {
				score--
			}
		}
		if first > 0 && score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}

// csvSource reads CSV in UTF-8, GBK or GB18030 with any common delimiter.
type csvSource struct {
	name string
	r    *csv.Reader
	head []string
	row  int64
	// Encoding and Delimiter as detected or given.
	encoding string
	delim    rune
}

const sampleSize = 64 << 10

func newCSVSource(r io.Reader, name, encoding, delimiter string) (*csvSource, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	// A read error here surfaces again when the rows reach it, after the
	// rows before it.
	sample, _ := br.Peek(sampleSize)
	enc, bom := DetectEncoding(sample, len(sample) == sampleSize)
	switch strings.ToLower(encoding) {
	case "", "auto":
	case "utf-8", "utf8":
		enc = EncUTF8
	case "gbk", "cp936":
		enc = EncGBK
	case "gb18030":
		enc = EncGB18030
	default:
		return nil, apperr.Invalidf("ingest.bad_encoding", "encoding", "编码 %q 不受支持（utf-8、gbk、gb18030）", "encoding %q is not supported (utf-8, gbk, gb18030)", encoding)
	}
	var text io.Reader = br
	if bom {
		_, _ = br.Discard(3)
	}
	if enc != EncUTF8 {
		text = bufio.NewReaderSize(transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), 256<<10)
	}
	tb, ok := text.(*bufio.Reader)
	if !ok {
		tb = br
	}
	var delim rune
	switch delimiter {
	case "", "auto":
		peek, _ := tb.Peek(16 << 10)
		delim = DetectDelimiter(string(peek))
	case "tab", `\t`:
		delim = '\t'
	default:
		d, size := utf8.DecodeRuneInString(delimiter)
		if size != len(delimiter) || d == '"' || d == '\n' || d == '\r' || d == utf8.RuneError {
			return nil, apperr.Invalidf("ingest.bad_delimiter", "delimiter", "分隔符 %q 无效", "delimiter %q is not valid", delimiter)
		}
		delim = d
	}
	cr := csv.NewReader(tb)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	s := &csvSource{name: name, r: cr, encoding: enc, delim: delim}
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fileError("ingest.empty_file", name, 0, 0, "文件为空，缺少表头", "the file is empty: no header row")
	}
	if err != nil {
		return nil, s.parseError(err)
	}
	s.row = 1
	s.head = make([]string, len(head))
	for i, h := range head {
		s.head[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	return s, nil
}

func (s *csvSource) parseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fileError("ingest.bad_csv", s.name, int64(pe.StartLine), pe.Column, "CSV 格式错误：%v", "malformed CSV: %v", pe.Err)
	}
	return fmt.Errorf("ingest: read %s: %w", s.name, err)
}

func (s *csvSource) header() []string { return s.head }
func (s *csvSource) sheet() bool      { return false }

func (s *csvSource) next() (int64, []string, error) {
	for {
		rec, err := s.r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, nil, io.EOF
			}
			return 0, nil, s.parseError(err)
		}
		s.row++
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		return s.row, rec, nil
	}
}

// xlsxSource reads the rows of one sheet of a workbook.
type xlsxSource struct {
	name string
	f    *excelize.File
	rows *excelize.Rows
	head []string
	row  int64
}

// maxXLSX bounds what the XLSX reader unzips.
const maxXLSX = 2 << 30

func newXLSXSource(r io.Reader, name, sheet string) (*xlsxSource, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: maxXLSX})
	if err != nil {
		return nil, fileError("ingest.bad_xlsx", name, 0, 0, "无法读取 XLSX 文件：%v", "cannot read the XLSX file: %v", err)
	}
	if sheet == "" {
		sheets := f.GetSheetList()
		if len(sheets) == 0 {
			f.Close()
			return nil, fileError("ingest.bad_xlsx", name, 0, 0, "工作簿没有工作表", "the workbook has no sheet")
		}
		sheet = sheets[f.GetActiveSheetIndex()%len(sheets)]
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		f.Close()
		return nil, fileError("ingest.bad_xlsx", name+"!"+sheet, 0, 0, "无法读取工作表：%v", "cannot read the sheet: %v", err)
	}
	s := &xlsxSource{name: name + "!" + sheet, f: f, rows: rows}
	for {
		_, rec, err := s.read()
		if err == io.EOF {
			s.close()
			return nil, fileError("ingest.empty_file", s.name, 0, 0, "工作表为空，缺少表头", "the sheet is empty: no header row")
		}
		if err != nil {
			s.close()
			return nil, err
		}
		if !blankRow(rec) {
			s.head = make([]string, len(rec))
			for i, h := range rec {
				s.head[i] = strings.TrimSpace(h)
			}
			return s, nil
		}
	}
}

func (s *xlsxSource) read() (int64, []string, error) {
	if !s.rows.Next() {
		if err := s.rows.Error(); err != nil {
			return 0, nil, fileError("ingest.bad_xlsx", s.name, s.row+1, 0, "无法读取行：%v", "cannot read the row: %v", err)
		}
		return 0, nil, io.EOF
	}
	s.row++
	rec, err := s.rows.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		return 0, nil, fileError("ingest.bad_xlsx", s.name, s.row, 0, "无法读取行：%v", "cannot read the row: %v", err)
	}
	return s.row, rec, nil
}

func blankRow(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func (s *xlsxSource) header() []string { return s.head }
func (s *xlsxSource) sheet() bool      { return true }

func (s *xlsxSource) next() (int64, []string, error) {
	for {
		row, rec, err := s.read()
		if err != nil {
			return 0, nil, err
		}
		if !blankRow(rec) {
			return row, rec, nil
		}
	}
}

func (s *xlsxSource) close() {
	if s.rows != nil {
		_ = s.rows.Close()
	}
	_ = s.f.Close()
}

// objectSource lays JSON objects out on a header of field names. Keys match
// a field's name or its Chinese label.
type objectSource struct {
	name   string
	head   []string
	lookup func(string) int
	row    int64
	// ndjson reads one object per line; otherwise a JSON array, bare or as
	// {"records": [...]}.
	nd  *bufio.Reader
	dec *json.Decoder
	// wrapped: the array sits in {"records": [...]}.
	wrapped bool
	done    bool
	rec     []string
}

// maxLine bounds one NDJSON line.
const maxLine = 16 << 20

func newObjectSource(r io.Reader, name string, ndjson bool, head []string, lookup func(string) int) (*objectSource, error) {
	s := &objectSource{name: name, head: head, lookup: lookup, rec: make([]string, len(head))}
	if ndjson {
		s.nd = bufio.NewReaderSize(r, 256<<10)
		return s, nil
	}
	s.dec = json.NewDecoder(r)
	s.dec.UseNumber()
	tok, err := s.dec.Token()
	if err != nil {
		return nil, fileError("ingest.bad_json", name, 0, 0, "JSON 须为对象数组或 {\"records\": [...]}", `the JSON must be an array of objects or {"records": [...]}`)
	}
	if d, ok := tok.(json.Delim); ok && d == '{' {
		key, err := s.dec.Token()
		if k, ok := key.(string); err != nil || !ok || k != "records" {
			return nil, fileError("ingest.bad_json", name, 0, 0, "JSON 对象须只含 records 数组", `a JSON object body must hold only a "records" array`)
		}
		s.wrapped = true
		tok, err = s.dec.Token()
		if err != nil {
			return nil, fileError("ingest.bad_json", name, 0, 0, "records 须为数组", `"records" must be an array`)
		}
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fileError("ingest.bad_json", name, 0, 0, "JSON 须为对象数组或 {\"records\": [...]}", `the JSON must be an array of objects or {"records": [...]}`)
	}
	return s, nil
}

func (s *objectSource) header() []string { return s.head }
func (s *objectSource) sheet() bool      { return false }

func (s *objectSource) next() (int64, []string, error) {
	if s.done {
		return 0, nil, io.EOF
	}
	if s.nd != nil {
		return s.nextLine()
	}
	if !s.dec.More() {
		s.done = true
		if _, err := s.dec.Token(); err != nil { // ]
			return 0, nil, fileError("ingest.bad_json", s.name, s.row+1, 0, "JSON 数组未正确结束", "the JSON array does not end properly")
		}
		if s.wrapped {
			if tok, err := s.dec.Token(); err != nil || tok != json.Delim('}') {
				return 0, nil, fileError("ingest.bad_json", s.name, 0, 0, "JSON 对象须只含 records 数组", `a JSON object body must hold only a "records" array`)
			}
		}
		if _, err := s.dec.Token(); err != io.EOF {
			return 0, nil, fileError("ingest.bad_json", s.name, 0, 0, "JSON 之后还有多余内容", "there is data after the JSON")
		}
		return 0, nil, io.EOF
	}
	s.row++
	var obj map[string]any
	if err := s.dec.Decode(&obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The element is well-formed JSON but not an object.
			return s.row, nil, &rowError{row: s.row, cellError: *cellErr("ingest.not_object", "记录须为 JSON 对象", "a record must be a JSON object")}
		}
		return 0, nil, fileError("ingest.bad_json", s.name, s.row, 0, "JSON 格式错误：%v", "malformed JSON: %v", err)
	}
	return s.layout(obj)
}

func (s *objectSource) nextLine() (int64, []string, error) {
	for {
		line, err := s.nd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Long line: gather it, up to maxLine.
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(buf) <= maxLine {
				line, err = s.nd.ReadSlice('\n')
				buf = append(buf, line...)
			}
			if len(buf) > maxLine {
				return 0, nil, fileError("ingest.line_too_long", s.name, s.row+1, 0, "行过长（最多 %d 字节）", "the line is too long (at most %d bytes)", maxLine)
			}
			line = buf
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			s.done = true
			return 0, nil, io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, nil, fmt.Errorf("ingest: read %s: %w", s.name, err)
		}
		s.row++
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			if errors.Is(err, io.EOF) {
				s.done = true
				return 0, nil, io.EOF
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			s.done = true
		}
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var obj map[string]any
		if derr := dec.Decode(&obj); derr != nil || dec.More() || obj == nil {
			return s.row, nil, &rowError{row: s.row, cellError: *cellErr("ingest.bad_json_line", "该行不是一个 JSON 对象", "the line is not one JSON object")}
		}
		return s.layout(obj)
	}
}

func (s *objectSource) layout(obj map[string]any) (int64, []string, error) {
	for i := range s.rec {
		s.rec[i] = ""
	}
	if obj == nil {
		return s.row, nil, &rowError{row: s.row, cellError: *cellErr("ingest.not_object", "记录须为 JSON 对象", "a record must be a JSON object")}
	}
	for k, v := range obj {
		i := s.lookup(k)
		if i < 0 {
			return s.row, nil, &rowError{row: s.row, cellError: *cellErr("ingest.unknown_field", "未知数据项 %q", "unknown field %q", clip(k, 40))}
		}
		switch x := v.(type) {
		case nil:
		case string:
			s.rec[i] = x
		case json.Number:
			s.rec[i] = x.String()
		case bool:
			s.rec[i] = strconv.FormatBool(x)
		default:
			// Objects and arrays: GeoJSON geometries, or an error later.
			b, _ := json.Marshal(x)
			s.rec[i] = string(b)
		}
	}
	return s.row, s.rec, nil
}
