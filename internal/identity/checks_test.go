package identity

import (
	"errors"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/apperr"
)

func code(err error) string {
	if err == nil {
		return ""
	}
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an apperr: " + err.Error()
}

// Credit codes, GB 32100-2015 (issue 2, item 3; R-MKT-2 both parties' identities verified).
func TestValidCreditCode(t *testing.T) {
	valid := []string{
		// Published codes of well-known companies, checked independently of
		// this implementation: Alibaba (China) Co., Ltd., Tencent (Shenzhen)
		// and Huawei Technologies.
		"91330100716105852F",
		"9144030071526726XG",
		"914403001922038216",
		// Check value 0 (31 - sum%31 == 31): prefix whose weighted sum is a
		// multiple of 31.
		MakeCreditCode("00000000000000000"),
		MakeCreditCode("11350200MA2600001"),
		MakeCreditCode("Y1350200MA2600040"),
	}
	if valid[3] != "000000000000000000" {
		t.Fatalf("MakeCreditCode of zeros = %q, want check character 0", valid[3])
	}
	for _, c := range valid {
		if err := ValidCreditCode(c); err != nil {
			t.Errorf("ValidCreditCode(%q) = %v, want nil", c, err)
		}
	}
	invalid := []struct{ in, code, mentions string }{
		{"", "identity.credit_code_length", "not 0"},
		{"9144030071526726X", "identity.credit_code_length", "not 17"},
		{"9144030071526726XGG", "identity.credit_code_length", "not 19"},
		{"91440300715267中6XG", "identity.credit_code_char", "character 15"},
		{"9144030071526726xG", "identity.credit_code_char", "character 17"}, // lower case is not canonical
		{"I144030071526726XG", "identity.credit_code_char", "character 1"},
		{"91440300715267O6XG", "identity.credit_code_char", "character 15"},
		{"9144030071526726ZG", "identity.credit_code_char", "character 17"},
		{"91440300715267S6XG", "identity.credit_code_char", "character 15"},
		{"9144030071526726XV", "identity.credit_code_char", "character 18"},
		{"9144030071526726XH", "identity.credit_code_checksum", "should be G"},
		{"914403001922038217", "identity.credit_code_checksum", "should be 6"},
		{"91330100716105852E", "identity.credit_code_checksum", "should be F"},
		// Two transposed characters change the check character.
		{"91330100716105582F", "identity.credit_code_checksum", "should be"},
	}
	for _, c := range invalid {
		err := ValidCreditCode(c.in)
		if code(err) != c.code {
			t.Errorf("ValidCreditCode(%q) = %v, want code %s", c.in, err, c.code)
			continue
		}
		e, _ := apperr.As(err)
		if !strings.Contains(e.EN, c.mentions) || e.ZH == "" || e.Kind != apperr.Invalid || e.Field != "credit_code" {
			t.Errorf("ValidCreditCode(%q) = %+v, want an Invalid error at credit_code mentioning %q", c.in, e, c.mentions)
		}
	}
}

func TestMakeCreditCodeRejectsBadPrefixes(t *testing.T) {
	for _, p := range []string{"", "1135020", "11350200MA26000011", "11350200MA260000I", "11350200ma2600001"} {
		if got := MakeCreditCode(p); got != "" {
			t.Errorf("MakeCreditCode(%q) = %q, want empty", p, got)
		}
	}
}

// Resident ID numbers, GB 11643-1999 (issue 2, item 3; R-SEC-3 identity authentication).
func TestValidResidentID(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	valid := []string{
		"11010519491231002X",                // the example printed in GB 11643-1999
		"440524188001010014",                // the other example in the standard (born 1880: see below)
		MakeResidentID("35020320000229123"), // 29 February in a leap year
		MakeResidentID("35020319000101001"), // earliest accepted birth date
		MakeResidentID("35020320260301001"), // born today (China time)
	}
	for i, id := range valid {
		err := validResidentIDAt(id, now)
		if i == 1 {
			// 1880 is before the 1900 floor the platform applies.
			if code(err) != "identity.id_number_birth_date" {
				t.Errorf("%s: want a birth date error for 1880, got %v", id, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("validResidentIDAt(%q) = %v, want nil", id, err)
		}
	}
	invalid := []struct{ in, code, mentions string }{
		{"", "identity.id_number_length", "not 0"},
		{"11010519491231002", "identity.id_number_length", "not 17"},
		{"110105194912310021X", "identity.id_number_length", "not 19"},
		{"110105194912310", "identity.id_number_length", "not 15"}, // first-generation 15-digit numbers are not accepted
		{"11010519491231002x", "identity.id_number_char", "character 18"},
		{"1101051949123100XX", "identity.id_number_char", "character 17"},
		{"11010519491231002Y", "identity.id_number_char", "character 18"},
		{"A1010519491231002X", "identity.id_number_char", "character 1"},
		{"１1010519491231002X", "identity.id_number_char", "character 1"}, // full-width digit
		{MakeResidentID("35020319990230123"), "identity.id_number_birth_date", "19990230"},
		{MakeResidentID("35020319991301123"), "identity.id_number_birth_date", "19991301"},
		{MakeResidentID("35020319990100123"), "identity.id_number_birth_date", "19990100"},
		{MakeResidentID("35020319000229123"), "identity.id_number_birth_date", "19000229"}, // 1900 was not a leap year
		{MakeResidentID("35020320260302001"), "identity.id_number_birth_date", "future"},
		{MakeResidentID("35020320990101001"), "identity.id_number_birth_date", "future"},
		{MakeResidentID("35020318991231001"), "identity.id_number_birth_date", "before 1900"},
		{"110105194912310021", "identity.id_number_checksum", "should be X"},
		{"440524188001010015", "identity.id_number_birth_date", "before 1900"},
		{"350203200002291231", "identity.id_number_checksum", "should be 2"},
	}
	for _, c := range invalid {
		err := validResidentIDAt(c.in, now)
		if code(err) != c.code {
			t.Errorf("validResidentIDAt(%q) = %v, want code %s", c.in, err, c.code)
			continue
		}
		e, _ := apperr.As(err)
		if !strings.Contains(e.EN, c.mentions) || e.ZH == "" || e.Field != "id_number" {
			t.Errorf("validResidentIDAt(%q) EN %q, want it to mention %q", c.in, e.EN, c.mentions)
		}
	}
	// The exported function uses the wall clock.
	if err := ValidResidentID("11010519491231002X"); err != nil {
		t.Errorf("ValidResidentID: %v", err)
	}
}

// Lower-case x: ValidResidentID wants the canonical capital X; the service
// canonicalises what people type (docs/decisions/0011).
func TestCanonicalResidentID(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	got, err := CanonicalResidentID(" 11010519491231002x ", now)
	if err != nil || got != "11010519491231002X" {
		t.Fatalf("CanonicalResidentID = %q, %v", got, err)
	}
	if _, err := CanonicalResidentID("110105194912310021", now); code(err) != "identity.id_number_checksum" {
		t.Fatalf("want checksum error, got %v", err)
	}
}

func TestMaskResidentID(t *testing.T) {
	if got := MaskResidentID("11010519491231002X"); got != "110105********002X" {
		t.Fatalf("mask = %q", got)
	}
	if got := MaskResidentID("short"); got != "*****" {
		t.Fatalf("mask short = %q", got)
	}
}

// FuzzValidCreditCode: the check never panics, an accepted code is 18
// characters of the alphabet, and MakeCreditCode's output always validates.
func FuzzValidCreditCode(f *testing.F) {
	for _, s := range []string{"91330100716105852F", "", "9144030071526726xG", "中文中文中文", "\xff\xfe", "000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := ValidCreditCode(s); err == nil {
			if len(s) != 18 || strings.Trim(s, creditCharset) != "" {
				t.Fatalf("accepted %q", s)
			}
		} else if _, ok := apperr.As(err); !ok {
			t.Fatalf("error is not an apperr: %v", err)
		}
		// Map arbitrary bytes onto the alphabet to get a well-formed prefix.
		var b strings.Builder
		for i := 0; i < 17; i++ {
			c := byte(i)
			if i < len(s) {
				c = s[i]
			}
			b.WriteByte(creditCharset[int(c)%len(creditCharset)])
		}
		made := MakeCreditCode(b.String())
		if err := ValidCreditCode(made); err != nil {
			t.Fatalf("MakeCreditCode(%q) = %q does not validate: %v", b.String(), made, err)
		}
		// Any single-character change to a valid code is caught.
		if len(s) > 0 {
			pos := int(s[0]) % 18
			alt := creditCharset[(creditValue(made[pos])+1+int(s[len(s)-1])%30)%31]
			changed := made[:pos] + string(alt) + made[pos+1:]
			if ValidCreditCode(changed) == nil {
				t.Fatalf("single change %q -> %q accepted", made, changed)
			}
		}
		// MakeCreditCode on anything else returns "" or a valid code.
		if m := MakeCreditCode(s); m != "" && ValidCreditCode(m) != nil {
			t.Fatalf("MakeCreditCode(%q) = %q invalid", s, m)
		}
	})
}

// FuzzValidResidentID: never panics; what it accepts is 17 digits, a check
// character and a date not before 1900 and not in the future.
func FuzzValidResidentID(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "11010519491231002x", "", "350203199902301234", "\x00\x00", "１1010519491231002X"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		err := validResidentIDAt(s, now)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("error is not an apperr: %v", err)
			}
			return
		}
		if len(s) != 18 || strings.Trim(s[:17], "0123456789") != "" || !strings.ContainsRune("0123456789X", rune(s[17])) {
			t.Fatalf("accepted malformed %q", s)
		}
		birth, perr := time.Parse("20060102", s[6:14])
		if perr != nil || birth.Year() < 1900 || birth.After(now.Add(24*time.Hour)) {
			t.Fatalf("accepted %q with birth date %s", s, s[6:14])
		}
		if MakeResidentID(s[:17]) != s {
			t.Fatalf("accepted %q but the check character should make %q", s, MakeResidentID(s[:17]))
		}
		_, _ = CanonicalResidentID(s, now)
		_ = MaskResidentID(s)
	})
}
