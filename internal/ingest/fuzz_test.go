package ingest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/store"
)

// drain reads a source to its end (or 5000 records); a reader may fail with
// an apperr error naming where, never panic or loop.
func drain(t *testing.T, src source, err error) {
	if err != nil {
		if _, ok := apperr.As(err); !ok {
			t.Fatalf("open failed without a platform error: %v", err)
		}
		return
	}
	head := src.header()
	for i := 0; i < 5000; i++ {
		_, rec, err := src.next()
		if errors.Is(err, io.EOF) {
			return
		}
		var re *rowError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("read failed without a platform error: %v", err)
			}
			return
		}
		_ = rec
		_ = head
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{
		"id_card,full_name\n1,甲\n", "\xEF\xBB\xBFa;b\n1;2\n", "a\tb\n\"x\ty\"\t2\n", "a,b\n\"unterminated\n",
		"\xd6\xd0\xce\xc4,b\n1,2\n", "a|b|c\n1|2\n\n3|4|5|6\n", "", "\x81\x30\x81\x30,x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newCSVSource(bytes.NewReader(data), "fuzz.csv", "", "")
		if err != nil {
			drain(t, nil, err)
			return
		}
		drain(t, src, nil)
	})
}

var fuzzFields = []catalog.Field{{Name: "id", Label: "编号", Type: "integer"}, {Name: "name", Label: "名称", Type: "string"}, {Name: "geom", Label: "范围", Type: "geometry"}}

func FuzzNDJSONReader(f *testing.F) {
	for _, s := range []string{
		"{\"id\":1,\"name\":\"甲\"}\n{\"编号\":2}\n", "\n\n{}\n", "[1,2]\n{\"x\":1}\n", "{\"geom\":{\"type\":\"Point\",\"coordinates\":[1,2]}}",
		"{\"id\":1}{\"id\":2}\n", "{\"id\":", "null\n",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte("["+s+"]"), false)
	}
	f.Add([]byte(`{"records":[{"id":1}]}`), false)
	f.Fuzz(func(t *testing.T, data []byte, nd bool) {
		src, err := newObjectSource(bytes.NewReader(data), "fuzz.json", nd, fieldNames(fuzzFields), fieldLookup(fuzzFields))
		if err != nil {
			drain(t, nil, err)
			return
		}
		drain(t, src, nil)
	})
}

func FuzzXLSXReader(f *testing.F) {
	x := excelize.NewFile()
	_ = x.SetSheetRow("Sheet1", "A1", &[]any{"编号", "名称"})
	_ = x.SetSheetRow("Sheet1", "A2", &[]any{1, "甲"})
	_ = x.SetSheetRow("Sheet1", "A4", &[]any{45000.5, true})
	var buf bytes.Buffer
	_ = x.Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04not really a zip"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newXLSXSource(bytes.NewReader(data), "fuzz.xlsx", "")
		if err != nil {
			drain(t, nil, err)
			return
		}
		defer src.close()
		drain(t, src, nil)
	})
}

// FuzzParseValue: every field type's parser accepts or rejects any text
// without panicking, and what it accepts it accepts again as text.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"1", "-1.50", "1e3", "2024-02-29", "2024/2/3", "2024-01-02T03:04:05+08:00", "是", "POINT(1 2)", "aGVsbG8=", "45000.25", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, typ := range catalog.FieldTypes {
			c := &column{f: catalog.Field{Name: "x", Type: typ}}
			got, ce := c.parse(v, store.SQLite, true)
			if ce != nil || got == nil {
				continue
			}
			again, ce := c.parse(textOf(typ, got), store.SQLite, false)
			if ce != nil {
				t.Fatalf("%s: %q parsed to %v, whose text %q does not parse: %s", typ, v, got, textOf(typ, got), ce.en)
			}
			if textOf(typ, again) != textOf(typ, got) {
				t.Fatalf("%s: %q → %q → %q", typ, v, textOf(typ, got), textOf(typ, again))
			}
		}
	})
}
