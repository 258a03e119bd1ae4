package detect

import (
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// now is the reference for "birth date not in the future"; tests may pin it.
var now = time.Now

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// ResidentIDCheck returns the GB 11643 MOD 11-2 check character of the first
// 17 digits of an 18-digit resident identity number.
func ResidentIDCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// ValidResidentID reports whether s is an 18-digit resident identity number
// with a plausible region (first digit 1-8), a real birth date not in the
// future and not before 1850, and a correct MOD 11-2 check character.
func ValidResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if s[0] < '1' || s[0] > '8' {
		return false
	}
	if !validDate(s[6:14], 1850) {
		return false
	}
	c := s[17]
	if c == 'x' {
		c = 'X'
	}
	return c == ResidentIDCheck(s[:17])
}

// ValidLegacyResidentID reports whether s is a 15-digit resident identity
// number (issued before 1999): region, YYMMDD birth date in the 1900s, and
// a three-digit sequence. It has no check digit.
func ValidLegacyResidentID(s string) bool {
	if len(s) != 15 || !allDigits(s) || s[0] < '1' || s[0] > '8' {
		return false
	}
	return validDate("19"+s[6:12], 1900)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// validDate reports whether yyyymmdd is a real calendar date, not before
// minYear and not in the future.
func validDate(yyyymmdd string, minYear int) bool {
	if len(yyyymmdd) != 8 || !allDigits(yyyymmdd) {
		return false
	}
	t, err := time.Parse("20060102", yyyymmdd)
	if err != nil {
		return false
	}
	return t.Year() >= minYear && !t.After(now())
}

const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheck returns the GB 32100 check character of the first 17
// characters of a unified social credit code, or 0 if one is outside the
// code's character set.
func CreditCodeCheck(first17 string) byte {
	if len(first17) < 17 {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCharset, first17[i])
		if v < 0 {
			return 0
		}
		sum += v * creditWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return creditCharset[c]
}

// ValidCreditCode reports whether s is an 18-character unified social credit
// code (GB 32100-2015): charset 0-9 and A-Y without I O S V Z, a six-digit
// region code in positions 3-8, and a correct check character.
func ValidCreditCode(s string) bool {
	if len(s) != 18 || !allDigits(s[2:8]) {
		return false
	}
	c := CreditCodeCheck(s[:17])
	return c != 0 && s[17] == c
}

// Luhn reports whether the digits of s (spaces and hyphens ignored) pass the
// Luhn check.
func Luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == ' ' || c == '-' {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
		double = !double
	}
	return n > 0 && sum%10 == 0
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ValidBankCard reports whether s (digits, optionally grouped by spaces or
// hyphens) has 16 to 19 digits, a plausible issuer (first digit 3-6, 62 for
// UnionPay) and passes Luhn.
func ValidBankCard(s string) bool {
	d := digitsOnly(s)
	if len(d) < 16 || len(d) > 19 || d[0] < '3' || d[0] > '6' {
		return false
	}
	return Luhn(d)
}

var mobilePrefixes = map[string]bool{}

func init() {
	// Mainland mobile number segments (MIIT numbering plan), three digits.
	for _, p := range strings.Fields(`130 131 132 133 134 135 136 137 138 139 140 141 144 145 146 147 148 149
		150 151 152 153 155 156 157 158 159 162 165 166 167 170 171 172 173 174 175 176 177 178
		180 181 182 183 184 185 186 187 188 189 190 191 192 193 195 196 197 198 199`) {
		mobilePrefixes[p] = true
	}
}

// ValidMobile reports whether s is a mainland mobile number: optional +86 or
// 86, then 11 digits in an allocated segment (separators ignored).
func ValidMobile(s string) bool {
	d := digitsOnly(s)
	if len(d) == 13 && strings.HasPrefix(d, "86") {
		d = d[2:]
	}
	return len(d) == 11 && mobilePrefixes[d[:3]]
}

var (
	reID18      = regexp.MustCompile(`[1-8]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]`)
	reID15      = regexp.MustCompile(`[1-8]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}`)
	reCredit    = regexp.MustCompile(`[0-9A-HJ-NPQRTUW-Y]{2}\d{6}[0-9A-HJ-NPQRTUW-Y]{10}`)
	reMobile    = regexp.MustCompile(`(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}`)
	reBankCard  = regexp.MustCompile(`[3-6]\d{15,18}|[3-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?`)
	reEmail     = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}`)
	reIPv4      = regexp.MustCompile(`\d{1,3}(?:\.\d{1,3}){3}`)
	reIPv6      = regexp.MustCompile(`(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|:|\d{1,3}(?:\.\d{1,3}){3})?`)
	rePlate     = regexp.MustCompile(`[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·•\- ]?(?:[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF]|[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳])`)
	rePassport  = regexp.MustCompile(`E[A-HJ-NP-Z0-9]\d{7}|G\d{8}|[DSP]E?\d{7}`)
	reHKMacao   = regexp.MustCompile(`C[A-HJ-NP-Z0-9]\d{7}|[HM]\d{8}(?:\d{2})?`)
	reTaiwan    = regexp.MustCompile(`[TL]\d{8}`)
	reTaiwan8   = regexp.MustCompile(`\d{8}`)
	emailBorder = func(b byte) bool { return isASCIIAlnum(b) || b == '.' || b == '_' || b == '-' || b == '@' || b == '+' }
	ipBorder    = func(b byte) bool { return isASCIIAlnum(b) || b == '.' || b == ':' }
)

// ResidentIDRecognizer finds 18-digit resident identity numbers.
func ResidentIDRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_resident_id", EntityType: ResidentID,
		Patterns:   []Pattern{{Name: "id18", Regex: reID18, Score: 0.5}},
		Validate:   ValidResidentID,
		ValidScore: 0.95,
		Context:    []string{"身份证", "证件号", "公民身份号码", "身份号码", "id card", "id no", "identity"},
	}
}

// LegacyResidentIDRecognizer finds 15-digit resident identity numbers. They
// have no check digit, so a bare match scores low and needs context.
func LegacyResidentIDRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_resident_id15", EntityType: ResidentID,
		Patterns: []Pattern{{Name: "id15", Regex: reID15, Score: 0.3}},
		Validate: ValidLegacyResidentID,
		Context:  []string{"身份证", "证件号", "身份号码", "id card", "identity"},
	}
}

// CreditCodeRecognizer finds unified social credit codes.
func CreditCodeRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_credit_code", EntityType: CreditCode,
		Patterns:   []Pattern{{Name: "uscc", Regex: reCredit, Score: 0.3}},
		Validate:   ValidCreditCode,
		ValidScore: 0.9,
		Context:    []string{"信用代码", "社会信用", "统一代码", "uscc", "credit code", "企业", "单位"},
	}
}

// MobileRecognizer finds mainland mobile numbers.
func MobileRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_mobile", EntityType: Mobile,
		Patterns:   []Pattern{{Name: "mobile", Regex: reMobile, Score: 0.4}},
		Validate:   ValidMobile,
		ValidScore: 0.6,
		Context:    []string{"手机", "电话", "联系方式", "tel", "phone", "mobile", "致电"},
		Boundary:   func(b byte) bool { return isASCIIAlnum(b) || b == '+' },
	}
}

// BankCardRecognizer finds bank card numbers (16-19 digits, Luhn).
func BankCardRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "bank_card", EntityType: BankCard,
		Patterns:   []Pattern{{Name: "card", Regex: reBankCard, Score: 0.2}},
		Validate:   ValidBankCard,
		ValidScore: 0.5,
		Context:    []string{"银行卡", "卡号", "账号", "账户", "储蓄卡", "信用卡", "card", "account", "开户"},
	}
}

// EmailRecognizer finds email addresses.
func EmailRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "email", EntityType: Email,
		Patterns: []Pattern{{Name: "email", Regex: reEmail, Score: 0.85}},
		Validate: func(s string) bool {
			at := strings.LastIndexByte(s, '@')
			return at > 0 && !strings.Contains(s, "..") && s[at-1] != '.' && s[0] != '.'
		},
		ValidScore: 0.85,
		Context:    []string{"邮箱", "邮件", "email", "e-mail", "mail"},
		Boundary:   emailBorder,
	}
}

// IPv4Recognizer finds IPv4 addresses.
func IPv4Recognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "ipv4", EntityType: IPAddress,
		Patterns: []Pattern{{Name: "ipv4", Regex: reIPv4, Score: 0.6}},
		Validate: func(s string) bool {
			a, err := netip.ParseAddr(s)
			return err == nil && a.Is4()
		},
		ValidScore: 0.6,
		Context:    []string{"ip", "地址", "登录", "访问", "address"},
		Boundary:   ipBorder,
	}
}

// IPv6Recognizer finds IPv6 addresses.
func IPv6Recognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "ipv6", EntityType: IPAddress,
		Patterns: []Pattern{{Name: "ipv6", Regex: reIPv6, Score: 0.6}},
		Validate: func(s string) bool {
			a, err := netip.ParseAddr(s)
			return err == nil && a.Is6() && strings.Count(s, ":") >= 2 && s != "::"
		},
		ValidScore: 0.7,
		Context:    []string{"ip", "ipv6", "地址", "address"},
		Boundary:   ipBorder,
	}
}

// VehiclePlateRecognizer finds mainland vehicle plates: ordinary (京A12345,
// 粤B1234学) and new-energy (京AD12345 small cars, 沪A12345D large vehicles).
func VehiclePlateRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_vehicle_plate", EntityType: VehiclePlate,
		Patterns: []Pattern{{Name: "plate", Regex: rePlate, Score: 0.75}},
		Validate: func(s string) bool {
			// A plate's serial has at most two letters besides a trailing
			// special character (GA 36-2018), which rules out most words.
			letters := 0
			rest := []rune(s)[2:]
			for _, r := range rest {
				if r >= 'A' && r <= 'Z' {
					letters++
				}
			}
			return letters <= 3
		},
		ValidScore: 0.75,
		Context:    []string{"车牌", "号牌", "车辆", "plate", "vehicle"},
	}
}

// PassportRecognizer finds Chinese passport numbers. They are short
// letter-digit strings, so a bare match scores low and context decides.
func PassportRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_passport", EntityType: Passport,
		Patterns: []Pattern{{Name: "passport", Regex: rePassport, Score: 0.35}},
		Context:  []string{"护照", "passport", "证件"},
	}
}

// HKMacaoPermitRecognizer finds permits for travel between the mainland and
// Hong Kong/Macao: 往来港澳通行证 (C…) and 港澳居民来往内地通行证 (H…, M…).
func HKMacaoPermitRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_hk_macao_permit", EntityType: HKMacaoPermit,
		Patterns: []Pattern{{Name: "hkmo", Regex: reHKMacao, Score: 0.35}},
		Context:  []string{"港澳", "通行证", "回乡证", "permit", "证件"},
	}
}

// TaiwanPermitRecognizer finds 往来台湾通行证 (T/L + 8 digits) and, only near
// context words, 台湾居民来往大陆通行证 (台胞证, 8 digits).
func TaiwanPermitRecognizer() *PatternRecognizer {
	return &PatternRecognizer{
		RecognizerName: "cn_taiwan_permit", EntityType: TaiwanPermit,
		Patterns: []Pattern{
			{Name: "tw", Regex: reTaiwan, Score: 0.35},
			{Name: "mtp", Regex: reTaiwan8, Score: 0.05},
		},
		Context: []string{"台湾", "台胞", "通行证", "入台", "permit"},
	}
}
