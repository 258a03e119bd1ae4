package mask

import (
	"strings"
	"testing"
)

var testKeys = &KeyRing{Algorithm: HMACSHA256, Keys: map[string][]byte{"k": []byte("0123456789abcdef")}}

// R-SEC-3, R-PRS-6: each transform on known vectors.
func TestTransforms(t *testing.T) {
	cases := []struct {
		spec Spec
		in   string
		want string
	}{
		{Spec{Op: OpPartial, KeepPrefix: 6, KeepSuffix: 4}, "11010519491231002X", "110105********002X"},
		{Spec{Op: OpPartial, KeepPrefix: 3, KeepSuffix: 4}, "13800138000", "138****8000"},
		{Spec{Op: OpPartial, KeepPrefix: 1}, "欧阳娜娜", "欧***"},
		{Spec{Op: OpPartial, KeepPrefix: 6, KeepSuffix: 4}, "abc", "a**"},
		{Spec{Op: OpPartial, KeepPrefix: 1, MaskChar: "×"}, "张三", "张×"},
		{Spec{Op: OpPartial, KeepPrefix: 2, KeepSuffix: 2}, "厦门A1思明区", "厦门***明区"},
		{Spec{Op: OpPartial, KeepPrefix: 1, KeepSuffix: 1, MaskChar: "○"}, "ab张c", "a○○c"},
		{Spec{Op: OpPseudonym, Key: "k", Length: 64}, "11010519491231002X", "dd6a5ba2eed683e7925b20f655c01434a93591983089686662b75f63b85a9c1b"},
		{Spec{Op: OpGeneralize, To: GenMonth}, "1990-03-07", "1990-03"},
		{Spec{Op: OpGeneralize, To: GenMonth}, "1990年3月7日", "1990-03"},
		{Spec{Op: OpGeneralize, To: GenYear}, "19900307", "1990"},
		{Spec{Op: OpGeneralize, To: GenMonth}, "11010519491231002X", "1949-12"},
		{Spec{Op: OpGeneralize, To: GenMonth}, "not a date", "*"},
		{Spec{Op: OpGeneralize, To: GenAgeRange}, "37", "30-39"},
		{Spec{Op: OpGeneralize, To: GenAgeRange, Width: 5}, "37岁", "35-39"},
		{Spec{Op: OpGeneralize, To: GenAgeRange}, "-3", "*"},
		{Spec{Op: OpGeneralize, To: GenDistrict}, "福建省厦门市思明区湖滨南路123号3单元402室", "福建省厦门市思明区"},
		{Spec{Op: OpGeneralize, To: GenDistrict}, "北京市朝阳区建国路88号", "北京市朝阳区"},
		{Spec{Op: OpGeneralize, To: GenDistrict}, "某地", "*"},
		{Spec{Op: OpSuppress}, "anything", "*"},
		{Spec{Op: OpKeep}, "x", "x"},
	}
	for _, c := range cases {
		tf, err := Compile(c.spec, testKeys)
		if err != nil {
			t.Fatalf("%+v: %v", c.spec, err)
		}
		if got := tf.Apply(c.in); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", tf.Name(), c.in, got, c.want)
		}
	}
}

func TestPseudonymSM3AndKeys(t *testing.T) {
	sm := &KeyRing{Algorithm: HMACSM3, Keys: testKeys.Keys}
	a, _ := Compile(Spec{Op: OpPseudonym, Key: "k"}, sm)
	b, _ := Compile(Spec{Op: OpPseudonym, Key: "k"}, testKeys)
	x, y := a.Apply("13800138000"), b.Apply("13800138000")
	if x == y || len(x) != 32 || x != a.Apply("13800138000") {
		t.Fatalf("sm3 %q sha256 %q", x, y)
	}
	if _, err := Compile(Spec{Op: OpPseudonym, Key: "missing"}, testKeys); err == nil {
		t.Fatal("missing key must fail")
	}
	if _, err := Compile(Spec{Op: "rot13"}, nil); err == nil {
		t.Fatal("unknown op must fail")
	}
}

// R-SEC-1, R-SEC-3: the default policy picks a transform by level, entity and flags.
func TestDefaultPolicy(t *testing.T) {
	c, err := DefaultPolicy("k").Compile(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		f    Field
		rule string
		in   string
		want string
	}{
		{Field{Level: Core, Entity: "CN_RESIDENT_ID"}, "core-suppress", "11010519491231002X", "*"},
		{Field{Level: General, Personal: true, Entity: "CN_RESIDENT_ID"}, "id-partial", "11010519491231002X", "110105********002X"},
		{Field{Level: General, Personal: true, Entity: "CN_MOBILE"}, "mobile-partial", "13800138000", "138****8000"},
		{Field{Level: General, Personal: true, Category: "personal.birth_date"}, "birth-month", "1990-03-07", "1990-03"},
		{Field{Level: General, Personal: true, Sensitive: true, Category: "personal.health"}, "sensitive-pseudonym", "糖尿病", ""},
		{Field{Level: General}, "", "公开", "公开"},
	}
	for _, cs := range cases {
		tf, rule := c.For(cs.f)
		if rule != cs.rule {
			t.Errorf("%+v: rule %q, want %q", cs.f, rule, cs.rule)
		}
		if got := tf.Apply(cs.in); cs.want != "" && got != cs.want {
			t.Errorf("%+v: %q → %q, want %q", cs.f, cs.in, got, cs.want)
		}
	}
	row := []string{"11010519491231002X", "公开"}
	ApplyRow(c.Plan([]Field{{Entity: "CN_RESIDENT_ID"}, {}}), row)
	if row[0] != "110105********002X" || row[1] != "公开" {
		t.Fatal(row)
	}
}

func TestEvidence(t *testing.T) {
	for in, want := range map[string]string{
		"CN_RESIDENT_ID|11010519491231002X": "110105********002X",
		"EMAIL|zhang@example.com":           "z****@example.com",
		"|secret":                           "s****t",
	} {
		p := strings.SplitN(in, "|", 2)
		if got := Evidence(p[0], p[1]); got != want {
			t.Errorf("Evidence(%s) = %q, want %q", in, got, want)
		}
	}
}

func FuzzTransforms(f *testing.F) {
	f.Add("福建省厦门市思明区湖滨南路123号")
	f.Add("1990年13月7日")
	specs := []Spec{{Op: OpPartial, KeepPrefix: 3, KeepSuffix: 4}, {Op: OpGeneralize, To: GenMonth}, {Op: OpGeneralize, To: GenAgeRange}, {Op: OpGeneralize, To: GenDistrict}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, sp := range specs {
			tf, _ := Compile(sp, nil)
			_ = tf.Apply(s)
		}
	})
}

// TestPartialMatchesRuneByRune checks the byte-slicing Partial against
// masking rune by rune, on mixed scripts (R-SEC-3).
func TestPartialMatchesRuneByRune(t *testing.T) {
	runes := []rune("a1Z张三丰欧阳娜·-𠀋")
	for i := 0; i < 2000; i++ {
		n := i % 13
		var v []rune
		for j := 0; j < n; j++ {
			v = append(v, runes[(i*7+j*3)%len(runes)])
		}
		for _, p := range []Partial{{KeepPrefix: 1}, {KeepPrefix: 3, KeepSuffix: 4}, {KeepPrefix: 6, KeepSuffix: 4, Char: '×'}, {KeepSuffix: 2}} {
			pre, suf := p.KeepPrefix, p.KeepSuffix
			if pre+suf >= n {
				pre, suf = min(1, n-1), 0
			}
			c := p.Char
			if c == 0 {
				c = '*'
			}
			want := make([]rune, n)
			for j, r := range v {
				if j >= pre && j < n-suf {
					r = c
				}
				want[j] = r
			}
			if got := p.Apply(string(v)); got != string(want) {
				t.Fatalf("%+v of %q = %q, want %q", p, string(v), got, string(want))
			}
		}
	}
}
