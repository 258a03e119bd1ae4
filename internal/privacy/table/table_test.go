package table

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// R-SEC-3: files people bring are read in UTF-8, GBK and XLSX; errors name
// file, row and column.
func TestParseCSVEncodings(t *testing.T) {
	utf := "姓名;手机\n张三;13800138000\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("姓名,手机\n张三,13800138000\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, enc string
		delim   rune
	}{{utf, "utf-8", ';'}, {"\xef\xbb\xbf" + utf, "utf-8", ';'}, {gbk, "gb18030", ','}} {
		tb, err := ParseCSV("f.csv", []byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if tb.Encoding != c.enc || tb.Delimiter != c.delim || tb.Header[0] != "姓名" || tb.Rows[0][0] != "张三" {
			t.Fatalf("%+v", tb)
		}
	}
	_, err = ParseCSV("f.csv", []byte("a,b\n1,2\n3\n"))
	if err == nil || !strings.Contains(err.Error(), "f.csv:3:") {
		t.Fatalf("want row error, got %v", err)
	}
	_, err = ParseCSV("f.csv", []byte("a,b\n\"1,2\n"))
	if err == nil || !strings.Contains(err.Error(), "f.csv:") {
		t.Fatalf("want parse error, got %v", err)
	}
}

func TestReadXLSX(t *testing.T) {
	f := excelize.NewFile()
	_ = f.SetSheetRow("Sheet1", "A1", &[]any{"姓名", "身份证号", "备注"})
	_ = f.SetSheetRow("Sheet1", "A2", &[]any{"张三", "11010519491231002X"})
	path := filepath.Join(t.TempDir(), "p.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	tb, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Encoding != "xlsx" || len(tb.Rows) != 1 || len(tb.Rows[0]) != 3 || tb.Rows[0][1] != "11010519491231002X" {
		t.Fatalf("%+v", tb)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("a;b\n1;2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := ParseCSV("f.csv", b)
		if err != nil {
			return
		}
		for _, r := range tb.Rows {
			if len(r) != len(tb.Header) {
				t.Fatalf("ragged row %q", r)
			}
		}
	})
}
