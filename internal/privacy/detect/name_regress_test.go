package detect

import (
	"strings"
	"testing"
)

// R-PRS-6, R-DEV-7: regression for the name recognizer's panic found by
// FuzzName. The recognizer looked for context words (姓名, name, …) in a
// Unicode-lower-cased copy of the text and used the offsets it found there
// to slice the original. Lower-casing changes byte lengths for invalid UTF-8
// (each bad byte becomes the 3-byte U+FFFD), for İ (2 bytes → 3) and for the
// Kelvin sign K (3 bytes → 1), so a context word after such characters gave
// an offset past the end of the text: "slice bounds out of range". The fix
// lower-cases ASCII only (asciiLower), keeping every offset. The inputs
// below are of that class; the same inputs are in the fuzz corpus
// (testdata/fuzz/FuzzName).
func TestNameRecognizerOffsetShiftRegression(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string // the name expected, "" for none
	}{
		{"\xff\xff\xff姓名：张三", "张三"},                   // invalid UTF-8 grows 1 → 3 bytes each
		{"\xff\xff\xffname", ""},                      // the context word ends the text
		{"\xffNAME:王建国", "王建国"},                       // upper-case context word
		{"İİİİ联系人：李四", "李四"},                          // İ lower-cases to i + U+0307
		{"\u212a\u212a\u212a\u212aname 欧阳娜娜", "欧阳娜娜"}, // Kelvin signs shrink: offsets land early
		{strings.Repeat("\xc0", 40) + "姓名", ""},
		{"姓名：\xff张三", ""}, // an invalid byte where the name would start
	} {
		if len(strings.ToLower(c.in)) == len(c.in) {
			t.Fatalf("%q: not in the triggering class (lower-casing keeps its length)", c.in)
		}
		var fs []Finding
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%q: panic %v", c.in, r)
				}
			}()
			fs = NameRecognizer().Analyze(c.in)
		}()
		var got []string
		for _, f := range fs {
			if f.Start < 0 || f.End > len(c.in) || f.Start >= f.End || c.in[f.Start:f.End] != f.Text {
				t.Fatalf("%q: bad offsets %+v", c.in, f)
			}
			got = append(got, f.Text)
		}
		if c.name == "" && len(got) > 0 || c.name != "" && (len(got) != 1 || got[0] != c.name) {
			t.Errorf("%q: names %q, want %q", c.in, got, c.name)
		}
		// The whole analyzer, too.
		_ = NewAnalyzer().Analyze(c.in)
	}
}
