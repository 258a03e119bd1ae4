// Package table reads the tabular files people bring to the privacy tools:
// CSV in UTF-8 or GBK/GB18030 (detected), with a comma, semicolon or tab
// delimiter (detected), and XLSX (first sheet). Errors name the file, row and
// column.
package table

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"shuqiao/internal/apperr"
)

// Table is a header and rows of strings. Every row has len(Header) cells.
type Table struct {
	Name   string
	Header []string
	Rows   [][]string
	// Encoding is "utf-8", "gb18030" or "xlsx"; Delimiter the CSV delimiter.
	Encoding  string
	Delimiter rune
}

// Col returns the index of the column named name, or -1.
func (t *Table) Col(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// Cols returns the indexes of names, or an error naming the first missing one.
func (t *Table) Cols(names []string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		c := t.Col(n)
		if c < 0 {
			return nil, apperr.Invalidf("privacy.unknown_column", n, "文件 %s 中没有列 %q（现有列：%s）",
				"file %s has no column %q (columns: %s)", t.Name, n, strings.Join(t.Header, ", "))
		}
		out[i] = c
	}
	return out, nil
}

var (
	errEmpty = apperr.New(apperr.Invalid, "privacy.empty_file", "文件为空或没有表头", "the file is empty or has no header row")
	errCSV   = apperr.New(apperr.Invalid, "privacy.bad_csv", "CSV 格式错误", "malformed CSV")
	errXLSX  = apperr.New(apperr.Invalid, "privacy.bad_xlsx", "XLSX 文件无法读取", "cannot read the XLSX file")
	errWidth = apperr.New(apperr.Invalid, "privacy.row_width", "行的列数与表头不一致", "row has a different number of columns than the header")
)

// ReadFile reads a CSV or XLSX file (by extension; .xlsx is XLSX).
func ReadFile(path string) (*Table, error) {
	if strings.EqualFold(filepath.Ext(path), ".xlsx") {
		return readXLSX(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCSV(filepath.Base(path), b)
}

// ParseCSV parses CSV bytes. Text that is not valid UTF-8 is decoded as
// GB18030 (a superset of GBK and GB2312); a UTF-8 byte-order mark is dropped.
// The delimiter is the one of ',', ';', '\t' most frequent in the first line.
func ParseCSV(name string, b []byte) (*Table, error) {
	enc := "utf-8"
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
		if err != nil {
			return nil, errCSV.At(name).Wrap(err)
		}
		b, enc = d, "gb18030"
	}
	first := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		first = b[:i]
	}
	delim, best := ',', -1
	for _, d := range []rune{',', ';', '\t'} {
		if c := bytes.Count(first, []byte(string(d))); c > best {
			delim, best = d, c
		}
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	t := &Table{Name: name, Encoding: enc, Delimiter: delim}
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, errCSV.At(fmt.Sprintf("%s:%d:%d", name, pe.Line, pe.Column)).Wrap(pe.Err)
			}
			return nil, errCSV.At(name).Wrap(err)
		}
		if t.Header == nil {
			for i := range rec {
				rec[i] = strings.TrimSpace(rec[i])
			}
			t.Header = rec
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		if len(rec) != len(t.Header) {
			return nil, errWidth.At(fmt.Sprintf("%s:%d:%d", name, row, min(len(rec), len(t.Header))+1))
		}
		t.Rows = append(t.Rows, rec)
	}
	if len(t.Header) == 0 {
		return nil, errEmpty.At(name)
	}
	return t, nil
}

func readXLSX(path string) (*Table, error) {
	name := filepath.Base(path)
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, errXLSX.At(name).Wrap(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, errEmpty.At(name)
	}
	rows, err := f.GetRows(sheets[0])
	if err != nil {
		return nil, errXLSX.At(name + ":" + sheets[0]).Wrap(err)
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, errEmpty.At(name)
	}
	t := &Table{Name: name, Encoding: "xlsx"}
	for i := range rows[0] {
		rows[0][i] = strings.TrimSpace(rows[0][i])
	}
	t.Header = rows[0]
	for i, r := range rows[1:] {
		if len(r) > len(t.Header) {
			return nil, errWidth.At(fmt.Sprintf("%s:%d:%d", name, i+2, len(t.Header)+1))
		}
		empty := true
		for _, c := range r {
			if c != "" {
				empty = false
			}
		}
		if empty {
			continue
		}
		// GetRows trims trailing empty cells; pad to the header's width.
		for len(r) < len(t.Header) {
			r = append(r, "")
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// WriteCSV writes t as UTF-8 CSV with delim (',' when zero).
func WriteCSV(w io.Writer, t *Table, delim rune) error {
	cw := csv.NewWriter(w)
	if delim != 0 {
		cw.Comma = delim
	}
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
