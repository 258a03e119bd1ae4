package catalog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// workbook builds a spreadsheet in the import layout from entries, then
// lets edit change cells.
func workbook(t testing.TB, entries []Entry, edit func(f *excelize.File)) []byte {
	t.Helper()
	items := make([]*Resource, len(entries))
	for i := range entries {
		items[i] = &Resource{Entry: entries[i]}
	}
	tx := DefaultTaxonomy()
	var buf bytes.Buffer
	if err := writeXLSX(&buf, items, &tx, false); err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return buf.Bytes()
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	var out bytes.Buffer
	if _, err := f.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// XLSX import: the layout orgs fill in, all or nothing, and errors that
// name the sheet, row and column (R-CAT-3).
func TestXLSXImport(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		st := steward("gaj")
		a, b := sample("gaj", "常住人口基本信息"), sample("gaj", "流动人口登记信息")
		a.OrgID, b.OrgID = "", "" // default: the importer's org
		res, err := e.s.ImportXLSX(e.ctx, st, bytes.NewReader(workbook(t, []Entry{a, b}, nil)), ImportOptions{Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Published != 2 {
			t.Fatalf("import: %+v", res)
		}
		got, err := e.s.Get(e.ctx, anon, res.Drafts[1].ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != b.Name || len(got.Fields) != 3 || !got.Fields[0].Sensitive || got.Share.Attr != Conditional || got.Library.Code != "population" || got.Themes[0] != "public_security" {
			t.Fatalf("imported entry: %+v", got)
		}

		// Export, edit, import again: the same codes update drafts.
		list, _, _ := e.s.List(e.ctx, anon, ListFilter{OrgID: "gaj"}, "", 10)
		var buf bytes.Buffer
		if err := e.s.ExportXLSX(e.ctx, &buf, list); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		_ = f.SetCellValue(SheetEntries, "C2", "常住人口基本信息（修订）")
		var edited bytes.Buffer
		_, _ = f.WriteTo(&edited)
		res, err = e.s.ImportXLSX(e.ctx, st, &edited, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Updated != 2 || res.Created != 0 {
			t.Fatalf("re-import: %+v", res)
		}
		d, err := e.s.GetDraft(e.ctx, st, list[0].ID)
		if err != nil || !strings.Contains(d.Name, "修订") && !strings.Contains(d.Name, "流动") {
			t.Fatalf("re-imported draft: %+v %v", d, err)
		}

		var before int
		_ = db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM catalog_resources`).Scan(&before)
		c := sample("gaj", "新条目甲")
		c2 := sample("gaj", "新条目乙")
		for _, tc := range []struct {
			name string
			data []byte
			code string
			cell string
			text string
		}{
			{"unknown theme", workbook(t, []Entry{c, c2}, func(f *excelize.File) { _ = f.SetCellValue(SheetEntries, "G3", "占星") }), "catalog.invalid", "目录!G3", "主题分类"},
			{"bad field type", workbook(t, []Entry{c, c2}, func(f *excelize.File) { _ = f.SetCellValue(SheetFields, "D6", "文本") }), "catalog.invalid", "数据项!D6", "类型"},
			{"rule violation", workbook(t, []Entry{c, c2}, func(f *excelize.File) { _ = f.SetCellValue(SheetEntries, "S3", "无条件") }), "catalog.rule.sensitive_not_open_unconditional", "目录!S3", "开放属性"},
			{"bad yes/no", workbook(t, []Entry{c, c2}, func(f *excelize.File) { _ = f.SetCellValue(SheetFields, "F2", "也许") }), "catalog.xlsx", "数据项!F2", "必填"},
			{"unknown row key", workbook(t, []Entry{c, c2}, func(f *excelize.File) { _ = f.SetCellValue(SheetFields, "A4", "9") }), "catalog.xlsx", "数据项!A4", "序号"},
			{"wrong header", workbook(t, []Entry{c}, func(f *excelize.File) { _ = f.SetCellValue(SheetEntries, "C1", "名称") }), "catalog.xlsx", "目录!C1", "资源名称"},
			{"missing sheet", workbook(t, []Entry{c}, func(f *excelize.File) { _ = f.DeleteSheet(SheetFields) }), "catalog.xlsx", SheetFields, "数据项"},
			{"duplicate code", workbook(t, []Entry{c, c2}, func(f *excelize.File) {
				_ = f.SetCellValue(SheetEntries, "B2", "11350200MA2600001B-00090")
				_ = f.SetCellValue(SheetEntries, "B3", "11350200MA2600001B-00090")
			}), "catalog.duplicate_code", "目录!B3", "11350200MA2600001B-00090"},
			{"code of another org", workbook(t, []Entry{c}, func(f *excelize.File) {
				_ = f.SetCellValue(SheetEntries, "B2", "11350200MA2600002C-00001")
			}), "catalog.invalid", "目录!B2", "目录代码"},
			{"not a spreadsheet", []byte("PK\x03\x04 definitely not a zip"), "catalog.xlsx", "file", "XLSX"},
		} {
			_, err := e.s.ImportXLSX(e.ctx, st, bytes.NewReader(tc.data), ImportOptions{Publish: true})
			ae, ok := apperr.As(err)
			if !ok || ae.Code != tc.code || ae.Field != tc.cell || !strings.Contains(ae.ZH+ae.EN, tc.text) {
				t.Errorf("%s: got %v (field %q), want %s at %s mentioning %s", tc.name, err, fieldOf(err), tc.code, tc.cell, tc.text)
			}
		}
		var after int
		_ = db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM catalog_resources`).Scan(&after)
		if after != before {
			t.Fatalf("a failed import saved %d entries", after-before)
		}
	})
}

func fieldOf(err error) string {
	if ae, ok := apperr.As(err); ok {
		return ae.Field
	}
	return ""
}

// The downloadable template parses, and its example is a valid entry.
func TestXLSXTemplate(t *testing.T) {
	db := storetest.OpenTestSQLite(t)
	e := newEnv(t, db)
	var buf bytes.Buffer
	if err := e.s.Template(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	tx := DefaultTaxonomy()
	items, err := ParseXLSX(bytes.NewReader(buf.Bytes()), &tx, "gaj")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || len(items[0].Fields) != 1 {
		t.Fatalf("template: %+v", items)
	}
	cfg := DefaultConfig()
	if err := validate(&items[0].Entry, &cfg); err != nil {
		t.Fatalf("the template's example is invalid: %v", err)
	}
}

func FuzzParseXLSX(f *testing.F) {
	tx := DefaultTaxonomy()
	f.Add(workbook(f, []Entry{sample("gaj", "甲"), sample("gaj", "乙")}, nil))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseXLSX(bytes.NewReader(data), &tx, "org")
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("non-apperr error: %v", err)
			}
			return
		}
		if len(items) == 0 || len(items) > MaxImportEntries {
			t.Fatalf("%d items accepted", len(items))
		}
		for _, it := range items {
			if len(it.FieldRows) != len(it.Fields) || it.Row < 2 {
				t.Fatalf("bad provenance: %+v", it)
			}
		}
	})
}
