// Package anon de-identifies tables by full-domain generalisation and
// suppression (k-anonymity, distinct and recursive (c,l)-diversity,
// t-closeness) over generalisation hierarchies in ARX's CSV format, and
// measures re-identification risk (prosecutor, journalist, marketer, share of
// unique records) as GB/T 42460-2023 describes.
package anon

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

	"golang.org/x/text/encoding/simplifiedchinese"

	"shuqiao/internal/apperr"
)

// Hierarchy is a generalisation hierarchy for one attribute, as ARX writes
// it: each row is a value followed by its generalisations from finest to
// coarsest, usually ending in "*". Level 0 is the value itself.
type Hierarchy struct {
	Attr string
	// Height is the number of levels, including level 0.
	Height int
	// Values lists the leaf values in file order; Gen[v][h] is value v's
	// generalisation at level h (Gen[v][0] == v).
	Values []string
	Gen    map[string][]string
}

var (
	errHierarchy     = apperr.New(apperr.Invalid, "privacy.bad_hierarchy", "泛化层次文件格式错误", "malformed generalisation hierarchy")
	errHierarchyRows = apperr.New(apperr.Invalid, "privacy.hierarchy_width", "泛化层次各行的层数必须相同", "every row of a hierarchy must have the same number of levels")
	errHierarchyDup  = apperr.New(apperr.Invalid, "privacy.hierarchy_duplicate", "泛化层次中的值重复", "a value appears twice in the hierarchy")
	errHierarchyFunc = apperr.New(apperr.Invalid, "privacy.hierarchy_not_tree", "泛化层次不是树：同一泛化值在上一层对应了不同的值", "the hierarchy is not a tree: one generalised value maps to two different values a level up")
)

// ParseHierarchy reads an ARX hierarchy (';'-separated; ',' or tab if the
// first line has no ';'). name is used in errors ("file:row:col").
func ParseHierarchy(attr, name string, r io.Reader) (*Hierarchy, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		if d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b); err == nil {
			b = d
		}
	}
	cr := csv.NewReader(bytes.NewReader(b))
	first := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		first = b[:i]
	}
	cr.Comma = ';'
	if !bytes.Contains(first, []byte{';'}) {
		if bytes.Contains(first, []byte{'\t'}) {
			cr.Comma = '\t'
		} else if bytes.Contains(first, []byte{','}) {
			cr.Comma = ','
		}
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	h := &Hierarchy{Attr: attr, Gen: map[string][]string{}}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, errHierarchy.At(fmt.Sprintf("%s:%d:%d", name, pe.Line, pe.Column)).Wrap(pe.Err)
			}
			return nil, errHierarchy.At(name).Wrap(err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if h.Height == 0 {
			h.Height = len(rec)
		} else if len(rec) != h.Height {
			return nil, errHierarchyRows.At(fmt.Sprintf("%s:%d:%d", name, row, min(len(rec), h.Height)+1))
		}
		if _, dup := h.Gen[rec[0]]; dup {
			return nil, errHierarchyDup.At(fmt.Sprintf("%s:%d:1", name, row))
		}
		h.Values = append(h.Values, rec[0])
		h.Gen[rec[0]] = rec
	}
	if h.Height == 0 {
		return nil, errHierarchy.At(name).Wrap(errors.New("no rows"))
	}
	// A hierarchy must be a tree: equal values at level a generalise to
	// equal values at every level above.
	for lvl := 1; lvl < h.Height-1; lvl++ {
		up := map[string]string{}
		for row, v := range h.Values {
			g := h.Gen[v]
			if prev, ok := up[g[lvl]]; ok && prev != g[lvl+1] {
				return nil, errHierarchyFunc.At(fmt.Sprintf("%s:%d:%d", name, row+1, lvl+2))
			}
			up[g[lvl]] = g[lvl+1]
		}
	}
	return h, nil
}

// AttrFromFile returns the attribute a hierarchy file is for: ARX names them
// <dataset>_hierarchy_<attr>.csv; any other file is <attr>.csv.
func AttrFromFile(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if i := strings.LastIndex(base, "_hierarchy_"); i >= 0 {
		return base[i+len("_hierarchy_"):]
	}
	return base
}

// LoadHierarchies reads the hierarchies in dir, keyed by attribute: the
// files named *_hierarchy_<attr>.csv if there are any, else every <attr>.csv.
func LoadHierarchies(dir string) (map[string]*Hierarchy, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return nil, err
	}
	// When the folder holds ARX-named files (x_hierarchy_attr.csv), only
	// those are hierarchies; the data file may sit beside them.
	var arx []string
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "_hierarchy_") {
			arx = append(arx, f)
		}
	}
	if len(arx) > 0 {
		files = arx
	}
	out := map[string]*Hierarchy{}
	for _, f := range files {
		attr := AttrFromFile(f)
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		h, err := ParseHierarchy(attr, filepath.Base(f), fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
		out[attr] = h
	}
	return out, nil
}
