// Package detect finds personal identifiers in text. It follows Microsoft
// Presidio's shape: a recognizer has patterns (a regular expression with a base
// score), an optional validator (a checksum, a real date) that confirms or
// rejects a match, and context words that raise the score when they appear
// near the match. Findings carry byte offsets into the analysed text.
//
// Presidio has no mainland China recognizers; the ones here are ours:
// resident identity numbers (GB 11643, MOD 11-2), unified social credit codes
// (GB 32100), mobile numbers, bank cards (Luhn), vehicle plates, passports and
// Hong Kong/Macao/Taiwan permits, and heuristic Chinese names and addresses,
// besides email and IP addresses.
package detect

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Entity names a kind of personal or organisational identifier.
type Entity string

const (
	ResidentID    Entity = "CN_RESIDENT_ID"     // 居民身份证号 (18 digits, or legacy 15)
	CreditCode    Entity = "CN_CREDIT_CODE"     // 统一社会信用代码
	Mobile        Entity = "CN_MOBILE"          // 手机号
	BankCard      Entity = "BANK_CARD"          // 银行卡号
	Email         Entity = "EMAIL"              // 电子邮箱
	IPAddress     Entity = "IP_ADDRESS"         // IPv4 / IPv6
	VehiclePlate  Entity = "CN_VEHICLE_PLATE"   // 机动车号牌
	Passport      Entity = "CN_PASSPORT"        // 护照
	HKMacaoPermit Entity = "CN_HK_MACAO_PERMIT" // 往来港澳通行证 / 港澳居民来往内地通行证
	TaiwanPermit  Entity = "CN_TAIWAN_PERMIT"   // 往来台湾通行证 / 台湾居民来往大陆通行证
	PersonName    Entity = "CN_PERSON_NAME"     // 姓名
	Address       Entity = "CN_ADDRESS"         // 地址
)

// Finding is one detected identifier. Start and End are byte offsets into
// the analysed text: text[Start:End] == Text.
type Finding struct {
	Entity     Entity  `json:"entity"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Text       string  `json:"text"`
	Score      float64 `json:"score"`
	Recognizer string  `json:"recognizer"`
	// Validated is true when a validator (checksum, date) confirmed the match.
	Validated bool `json:"validated,omitempty"`
	// Context is the context word that raised the score, if any.
	Context string `json:"context,omitempty"`
}

// Recognizer finds one kind of entity in text.
type Recognizer interface {
	Name() string
	Entity() Entity
	Analyze(text string) []Finding
}

// Pattern is a regular expression with the score a bare match gets.
type Pattern struct {
	Name  string
	Regex *regexp.Regexp
	Score float64
}

// PatternRecognizer is the Presidio-shaped recognizer: patterns, a
// validator, context words.
type PatternRecognizer struct {
	RecognizerName string
	EntityType     Entity
	Patterns       []Pattern
	// Validate, when set, decides a match: false drops it, true marks it
	// validated and raises its score to at least ValidScore.
	Validate   func(match string) bool
	ValidScore float64
	// Context words (lower case) raise the score by ContextBoost (default
	// 0.35) when one appears within ContextWindow runes (default 16) before
	// or after the match. A boosted score is at least MinContextScore (0.4).
	Context       []string
	ContextBoost  float64
	ContextWindow int
	// Boundary reports whether a byte may not touch a match on either side;
	// default: ASCII letters and digits.
	Boundary func(b byte) bool
}

// Name returns the recognizer's name.
func (r *PatternRecognizer) Name() string { return r.RecognizerName }

// Entity returns the entity the recognizer finds.
func (r *PatternRecognizer) Entity() Entity { return r.EntityType }

func isASCIIAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// Analyze returns the findings of r in text.
func (r *PatternRecognizer) Analyze(text string) []Finding {
	var out []Finding
	boundary := r.Boundary
	if boundary == nil {
		boundary = isASCIIAlnum
	}
	seen := map[[2]int]bool{}
	for _, p := range r.Patterns {
		for _, loc := range p.Regex.FindAllStringIndex(text, -1) {
			s, e := loc[0], loc[1]
			if s == e || seen[[2]int{s, e}] {
				continue
			}
			if s > 0 && boundary(text[s-1]) || e < len(text) && boundary(text[e]) {
				continue
			}
			m := text[s:e]
			f := Finding{Entity: r.EntityType, Start: s, End: e, Text: m, Score: p.Score, Recognizer: r.RecognizerName}
			if r.Validate != nil {
				if !r.Validate(m) {
					continue
				}
				f.Validated = true
				f.Score = max(f.Score, r.ValidScore)
			}
			if w := findContext(text, s, e, r.Context, r.ContextWindow); w != "" {
				boost := r.ContextBoost
				if boost == 0 {
					boost = 0.35
				}
				f.Context = w
				f.Score = min(1, max(f.Score+boost, 0.4))
			}
			seen[[2]int{s, e}] = true
			out = append(out, f)
		}
	}
	return out
}

// findContext returns the first context word found within window runes
// before start or after end.
func findContext(text string, start, end int, words []string, window int) string {
	if len(words) == 0 {
		return ""
	}
	if window <= 0 {
		window = 16
	}
	lo := start
	for i := 0; i < window && lo > 0; i++ {
		_, n := utf8.DecodeLastRuneInString(text[:lo])
		lo -= n
	}
	hi := end
	for i := 0; i < window && hi < len(text); i++ {
		_, n := utf8.DecodeRuneInString(text[hi:])
		hi += n
	}
	before := strings.ToLower(text[lo:start])
	after := strings.ToLower(text[end:hi])
	for _, w := range words {
		if strings.Contains(before, w) || strings.Contains(after, w) {
			return w
		}
	}
	return ""
}

// Analyzer runs a set of recognizers over text and resolves overlaps.
type Analyzer struct {
	Recognizers []Recognizer
	// MinScore drops findings scoring below it (default 0.4 via NewAnalyzer).
	MinScore float64
}

// NewAnalyzer returns an Analyzer with every built-in recognizer.
func NewAnalyzer() *Analyzer {
	return &Analyzer{Recognizers: Builtin(), MinScore: 0.4}
}

// Builtin returns a fresh list of every built-in recognizer.
func Builtin() []Recognizer {
	return []Recognizer{
		ResidentIDRecognizer(), LegacyResidentIDRecognizer(), CreditCodeRecognizer(), MobileRecognizer(),
		BankCardRecognizer(), EmailRecognizer(), IPv4Recognizer(), IPv6Recognizer(), VehiclePlateRecognizer(),
		PassportRecognizer(), HKMacaoPermitRecognizer(), TaiwanPermitRecognizer(), NameRecognizer(), AddressRecognizer(),
	}
}

// Analyze returns the findings in text, sorted by start offset. When
// findings overlap, the higher score wins (then the longer, then the
// earlier recognizer), so an 18-digit ID that also passes Luhn is reported
// once, as an ID.
func (a *Analyzer) Analyze(text string) []Finding {
	var all []Finding
	rank := map[string]int{}
	for i, r := range a.Recognizers {
		rank[r.Name()] = i
		for _, f := range r.Analyze(text) {
			if f.Score >= a.MinScore {
				all = append(all, f)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		x, y := all[i], all[j]
		if x.Score != y.Score {
			return x.Score > y.Score
		}
		if lx, ly := x.End-x.Start, y.End-y.Start; lx != ly {
			return lx > ly
		}
		return rank[x.Recognizer] < rank[y.Recognizer]
	})
	var kept []Finding
	for _, f := range all {
		overlap := false
		for _, k := range kept {
			if f.Start < k.End && k.Start < f.End {
				overlap = true
				break
			}
		}
		if !overlap {
			kept = append(kept, f)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Start < kept[j].Start })
	return kept
}
