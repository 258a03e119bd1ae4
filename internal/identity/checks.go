package identity

import (
	"strings"
	"time"

	"shuqiao/internal/apperr"
)

// Unified social credit codes (统一社会信用代码), GB 32100-2015.

// creditCharset lists the 31 characters a credit code may use, in the order
// of their values 0..30: no I, O, Z, S or V.
const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

func creditValue(c byte) int {
	return strings.IndexByte(creditCharset, c)
}

// creditCheck returns the check character for a 17-character prefix whose
// characters are all in creditCharset.
func creditCheck(prefix string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += creditValue(prefix[i]) * creditWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return creditCharset[c]
}

// ValidCreditCode checks a unified social credit code against GB 32100-2015:
// 18 characters from 0-9 and the capital letters other than I, O, Z, S and V,
// the last being the check character. Lower case is not the canonical form
// and is rejected; services upper-case what people type before checking. The
// error says which rule failed: identity.credit_code_length,
// identity.credit_code_char (with the 1-based position) or
// identity.credit_code_checksum (with the expected character).
func ValidCreditCode(s string) error {
	rs := []rune(s)
	if len(rs) != 18 {
		return apperr.Invalidf("identity.credit_code_length", "credit_code",
			"统一社会信用代码须为 18 位，实际为 %d 位", "a unified social credit code has 18 characters, not %d", len(rs))
	}
	for i, r := range rs {
		if r >= 0x80 || creditValue(byte(r)) < 0 {
			return apperr.Invalidf("identity.credit_code_char", "credit_code",
				"统一社会信用代码第 %d 位字符 %q 不合法（只允许数字和除 I、O、Z、S、V 以外的大写字母）",
				"character %d of the unified social credit code, %q, is not allowed (digits and capital letters other than I, O, Z, S, V)",
				i+1, string(r))
		}
	}
	if want := creditCheck(s[:17]); s[17] != want {
		return apperr.Invalidf("identity.credit_code_checksum", "credit_code",
			"统一社会信用代码校验位错误：应为 %s，实为 %s", "the unified social credit code's check character should be %s, not %s",
			string(want), string(s[17]))
	}
	return nil
}

// MakeCreditCode appends the GB 32100 check character to a 17-character
// prefix. It returns "" if prefix is not 17 characters of the credit-code
// alphabet, so its output, when not empty, always passes ValidCreditCode.
func MakeCreditCode(prefix17 string) string {
	if len(prefix17) != 17 {
		return ""
	}
	for i := 0; i < 17; i++ {
		if creditValue(prefix17[i]) < 0 {
			return ""
		}
	}
	return prefix17 + string(creditCheck(prefix17))
}

// Resident identity card numbers (公民身份号码), GB 11643-1999.

var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentCheckChars = "10X98765432"

// ValidResidentID checks an 18-character resident ID number against GB 11643:
// 17 digits and a check character (a digit or a capital X), a birth date
// (characters 7 to 14, YYYYMMDD) that is a real calendar date from 1900-01-01
// up to today, and the ISO 7064 MOD 11-2 check character. A lower-case x is
// rejected here because it is not the canonical form that keyed hashes are
// computed on; CanonicalResidentID accepts it. The error says which rule
// failed: identity.id_number_length, identity.id_number_char,
// identity.id_number_birth_date or identity.id_number_checksum.
func ValidResidentID(s string) error {
	return validResidentIDAt(s, time.Now())
}

// CanonicalResidentID trims spaces, upper-cases a trailing x and checks the
// result with ValidResidentID as of now, returning the canonical form.
func CanonicalResidentID(s string, now time.Time) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if err := validResidentIDAt(c, now); err != nil {
		return "", err
	}
	return c, nil
}

func validResidentIDAt(s string, now time.Time) error {
	rs := []rune(s)
	if len(rs) != 18 {
		return apperr.Invalidf("identity.id_number_length", "id_number",
			"公民身份号码须为 18 位，实际为 %d 位", "a resident ID number has 18 characters, not %d", len(rs))
	}
	sum := 0
	for i, c := range rs[:17] {
		if c < '0' || c > '9' {
			return apperr.Invalidf("identity.id_number_char", "id_number",
				"公民身份号码第 %d 位须为数字，实为 %q", "character %d of a resident ID number must be a digit, not %q", i+1, string(c))
		}
		sum += int(c-'0') * residentWeights[i]
	}
	if c := rs[17]; (c < '0' || c > '9') && c != 'X' {
		return apperr.Invalidf("identity.id_number_char", "id_number",
			"公民身份号码第 18 位须为数字或大写 X，实为 %q", "character 18 of a resident ID number must be a digit or a capital X, not %q", string(c))
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return apperr.Invalidf("identity.id_number_birth_date", "id_number",
			"公民身份号码中的出生日期 %s 不是有效日期", "the birth date in the resident ID number, %s, is not a calendar date", s[6:14])
	}
	y, m, d := now.In(chinaTime).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if birth.After(today) {
		return apperr.Invalidf("identity.id_number_birth_date", "id_number",
			"公民身份号码中的出生日期 %s 晚于今天", "the birth date in the resident ID number, %s, is in the future", s[6:14])
	}
	if birth.Year() < 1900 {
		return apperr.Invalidf("identity.id_number_birth_date", "id_number",
			"公民身份号码中的出生日期 %s 早于 1900 年", "the birth date in the resident ID number, %s, is before 1900", s[6:14])
	}
	if want := residentCheckChars[sum%11]; s[17] != want {
		return apperr.Invalidf("identity.id_number_checksum", "id_number",
			"公民身份号码校验位错误：应为 %s，实为 %s", "the resident ID number's check character should be %s, not %s",
			string(want), string(s[17]))
	}
	return nil
}

// chinaTime is UTC+8, where birth dates on ID cards are reckoned.
var chinaTime = time.FixedZone("CST", 8*3600)

// MakeResidentID appends the GB 11643 check character to 17 digits; it
// returns "" if prefix17 is not 17 digits. Tests and demo data use it.
func MakeResidentID(prefix17 string) string {
	if len(prefix17) != 17 {
		return ""
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := prefix17[i]
		if c < '0' || c > '9' {
			return ""
		}
		sum += int(c-'0') * residentWeights[i]
	}
	return prefix17 + string(residentCheckChars[sum%11])
}

// MaskResidentID shows the first 6 and last 4 characters of an ID number and
// hides the rest: 350203********123X.
func MaskResidentID(s string) string {
	if len(s) <= 10 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
}
