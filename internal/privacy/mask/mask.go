// Package mask holds the masking transforms the gate applies to fields by
// classification (R-SEC-3, R-PRS-6): partial masking, keyed pseudonymisation
// (HMAC-SHA256, or HMAC-SM3 when configured), generalisation (dates to month
// or year, ages to ranges, addresses to district) and suppression, and the
// rules that pick a transform for a field.
package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"shuqiao/internal/apperr"
)

// Transform turns one field value into its masked form.
type Transform interface {
	Apply(v string) string
	// Name describes the transform, e.g. "partial(6,4)".
	Name() string
}

// Op names a transform in a Spec.
type Op string

const (
	OpKeep       Op = "keep"
	OpPartial    Op = "partial"
	OpPseudonym  Op = "pseudonym"
	OpGeneralize Op = "generalize"
	OpSuppress   Op = "suppress"
)

// Generalisations.
const (
	GenMonth    = "month"    // 2024-03-15 → 2024-03
	GenYear     = "year"     // 2024-03-15 → 2024
	GenAgeRange = "age"      // 37 → 30-39 (Width, default 10)
	GenDistrict = "district" // 福建省厦门市思明区湖滨南路1号 → 福建省厦门市思明区
)

// Spec describes a transform as data, so rules can be stored and sent as
// JSON.
type Spec struct {
	Op Op `json:"op"`
	// partial: keep this many leading and trailing characters (runes).
	KeepPrefix int    `json:"keep_prefix,omitempty"`
	KeepSuffix int    `json:"keep_suffix,omitempty"`
	MaskChar   string `json:"mask_char,omitempty"`
	// pseudonym: the key's name in the KeyRing, and how many hex characters
	// to keep (default 32).
	Key    string `json:"key,omitempty"`
	Length int    `json:"length,omitempty"`
	// generalize: one of month, year, age, district; Width for age.
	To    string `json:"to,omitempty"`
	Width int    `json:"width,omitempty"`
	// suppress: the replacement (default "*").
	With string `json:"with,omitempty"`
}

// Algorithm is the pseudonymisation MAC.
type Algorithm string

const (
	HMACSHA256 Algorithm = "hmac-sha256"
	HMACSM3    Algorithm = "hmac-sm3"
)

// KeyRing holds pseudonymisation keys by name and the MAC to use.
type KeyRing struct {
	Algorithm Algorithm
	Keys      map[string][]byte
}

var (
	errSpec = apperr.New(apperr.Invalid, "privacy.mask_spec", "脱敏规则无效", "invalid masking rule")
	errKey  = apperr.New(apperr.Invalid, "privacy.mask_key", "假名化密钥未配置或过短（至少 16 字节）", "pseudonymisation key missing or shorter than 16 bytes")
)

// Compile builds the transform a Spec describes.
func Compile(s Spec, keys *KeyRing) (Transform, error) {
	switch s.Op {
	case OpKeep, "":
		return keep{}, nil
	case OpPartial:
		mc := '*'
		if s.MaskChar != "" {
			mc, _ = utf8.DecodeRuneInString(s.MaskChar)
		}
		if s.KeepPrefix < 0 || s.KeepSuffix < 0 {
			return nil, errSpec.At("keep_prefix")
		}
		return Partial{KeepPrefix: s.KeepPrefix, KeepSuffix: s.KeepSuffix, Char: mc}, nil
	case OpPseudonym:
		if keys == nil || len(keys.Keys[s.Key]) < 16 {
			return nil, errKey.At(s.Key)
		}
		alg := keys.Algorithm
		if alg == "" {
			alg = HMACSHA256
		}
		if alg != HMACSHA256 && alg != HMACSM3 {
			return nil, errSpec.At("algorithm")
		}
		n := s.Length
		if n <= 0 || n > 64 {
			n = 32
		}
		return &Pseudonym{Alg: alg, Key: keys.Keys[s.Key], Length: n}, nil
	case OpGeneralize:
		switch s.To {
		case GenMonth, GenYear:
			return DateTo{Unit: s.To}, nil
		case GenAgeRange:
			w := s.Width
			if w <= 0 {
				w = 10
			}
			return AgeRange{Width: w}, nil
		case GenDistrict:
			return ToDistrict{}, nil
		}
		return nil, errSpec.At("to")
	case OpSuppress:
		w := s.With
		if w == "" {
			w = "*"
		}
		return Suppress{With: w}, nil
	}
	return nil, errSpec.At("op")
}

type keep struct{}

func (keep) Apply(v string) string { return v }
func (keep) Name() string          { return "keep" }

// Partial keeps KeepPrefix leading and KeepSuffix trailing runes and
// replaces the rest with Char: Partial{6, 4, '*'} turns 11010519491231002X
// into 110105********002X. A value too short to keep both ends is masked
// whole but for its first rune.
type Partial struct {
	KeepPrefix, KeepSuffix int
	Char                   rune
}

func (p Partial) Name() string { return fmt.Sprintf("partial(%d,%d)", p.KeepPrefix, p.KeepSuffix) }

func (p Partial) Apply(v string) string {
	n := utf8.RuneCountInString(v)
	if n == 0 {
		return v
	}
	pre, suf := p.KeepPrefix, p.KeepSuffix
	if pre+suf >= n {
		pre, suf = min(1, n-1), 0
	}
	c := p.Char
	if c == 0 {
		c = '*'
	}
	// Built in one allocation, kept parts copied whole: this runs for every
	// masked cell of every delivery.
	start, end := pre, n-suf
	if len(v) != n { // not ASCII: rune counts to byte offsets
		start = runeOffset(v, 0, pre)
		end = runeOffset(v, start, n-suf-pre)
	}
	var b strings.Builder
	b.Grow(start + (n-pre-suf)*utf8.RuneLen(c) + len(v) - end)
	b.WriteString(v[:start])
	for i := pre; i < n-suf; i++ {
		if c < utf8.RuneSelf {
			b.WriteByte(byte(c))
		} else {
			b.WriteRune(c)
		}
	}
	b.WriteString(v[end:])
	return b.String()
}

// runeOffset is the byte offset in v of the rune k runes after byte offset
// from.
func runeOffset(v string, from, k int) int {
	i := from
	for ; k > 0 && i < len(v); k-- {
		_, size := utf8.DecodeRuneInString(v[i:])
		i += size
	}
	return i
}

// Pseudonym replaces a value with a keyed hash: the same value and key give
// the same pseudonym, so records still join; without the key it cannot be
// reversed or recomputed from a guess.
type Pseudonym struct {
	Alg    Algorithm
	Key    []byte
	Length int
}

func (p *Pseudonym) Name() string { return "pseudonym(" + string(p.Alg) + ")" }

func (p *Pseudonym) Apply(v string) string {
	var h func() hash.Hash = sha256.New
	if p.Alg == HMACSM3 {
		h = sm3.New
	}
	m := hmac.New(h, p.Key)
	m.Write([]byte(v))
	s := hex.EncodeToString(m.Sum(nil))
	if p.Length > 0 && p.Length < len(s) {
		s = s[:p.Length]
	}
	return s
}

// DateTo generalises a date to its month ("2006-01") or year ("2006"). It
// reads 2006-01-02, 2006/1/2, 20060102, 2006年1月2日 and RFC 3339; an 18-digit
// resident ID gives its birth date. Anything else is suppressed ("*").
type DateTo struct{ Unit string }

func (d DateTo) Name() string { return "generalize(" + d.Unit + ")" }

var reDate = regexp.MustCompile(`^(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?`)

func (d DateTo) Apply(v string) string {
	v = strings.TrimSpace(v)
	y, m := 0, 0
	if mm := reDate.FindStringSubmatch(v); mm != nil {
		y, _ = strconv.Atoi(mm[1])
		m, _ = strconv.Atoi(mm[2])
	} else if len(v) == 8 && allDigits(v) {
		if t, err := time.Parse("20060102", v); err == nil {
			y, m = t.Year(), int(t.Month())
		}
	} else if len(v) == 18 && allDigits(v[:17]) {
		if t, err := time.Parse("20060102", v[6:14]); err == nil {
			y, m = t.Year(), int(t.Month())
		}
	}
	if y == 0 || m < 1 || m > 12 {
		return "*"
	}
	if d.Unit == GenYear {
		return strconv.Itoa(y)
	}
	return fmt.Sprintf("%04d-%02d", y, m)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// AgeRange generalises an age to a range of Width years: 37 → "30-39".
type AgeRange struct{ Width int }

func (a AgeRange) Name() string { return fmt.Sprintf("generalize(age/%d)", a.Width) }

func (a AgeRange) Apply(v string) string {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "岁"))
	if err != nil || n < 0 || n > 150 {
		return "*"
	}
	lo := n / a.Width * a.Width
	return fmt.Sprintf("%d-%d", lo, lo+a.Width-1)
}

// ToDistrict cuts an address after its county-level unit (区, 县, 旗, or a
// county-level 市 after a prefecture): 福建省厦门市思明区湖滨南路1号 →
// 福建省厦门市思明区. An address without one keeps its city (市) or is
// suppressed.
type ToDistrict struct{}

func (ToDistrict) Name() string { return "generalize(district)" }

var reDistrict = regexp.MustCompile(`^(?:\p{Han}{2,8}?(?:省|自治区))?(?:\p{Han}{2,9}?(?:市|自治州|地区|盟))?\p{Han}{1,8}?(?:区|县|旗|市)`)
var reCity = regexp.MustCompile(`^(?:\p{Han}{2,8}?(?:省|自治区))?\p{Han}{2,9}?(?:市|自治州|地区|盟)`)

func (ToDistrict) Apply(v string) string {
	v = strings.TrimSpace(v)
	if m := reDistrict.FindString(v); m != "" {
		return m
	}
	if m := reCity.FindString(v); m != "" {
		return m
	}
	return "*"
}

// Suppress replaces every value with With.
type Suppress struct{ With string }

func (s Suppress) Name() string          { return "suppress" }
func (s Suppress) Apply(v string) string { return s.With }

// Evidence masks a value for display as evidence of a classification, so a
// scan report never shows a whole identifier: the entity's default partial
// mask, or the first and last rune of anything else.
func Evidence(entity, v string) string {
	switch entity {
	case "CN_RESIDENT_ID":
		return Partial{KeepPrefix: 6, KeepSuffix: 4}.Apply(v)
	case "CN_MOBILE", "BANK_CARD":
		return Partial{KeepPrefix: 3, KeepSuffix: 4}.Apply(v)
	case "CN_PERSON_NAME":
		return Partial{KeepPrefix: 1}.Apply(v)
	case "CN_ADDRESS":
		return ToDistrict{}.Apply(v) + "***"
	case "EMAIL":
		if at := strings.LastIndexByte(v, '@'); at > 0 {
			return Partial{KeepPrefix: 1}.Apply(v[:at]) + v[at:]
		}
	}
	if utf8.RuneCountInString(v) <= 2 {
		return Partial{KeepPrefix: 1}.Apply(v)
	}
	return Partial{KeepPrefix: 1, KeepSuffix: 1}.Apply(v)
}
