package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"shuqiao/internal/apperr"
)

// Facets are the filterable facets, in display order.
var Facets = []string{"org", "theme", "level", "share", "open", "format", "frequency", "class", "delivery", "industry", "library", "tag"}

// Query is a parsed search.
type Query struct {
	// Terms must all occur (AND); Not must not occur.
	Terms []string
	Not   []string
	// Filters hold facet → accepted values (OR within a facet, AND across).
	Filters map[string][]string
}

// Limits of a query, so a crafted one cannot make the database work hard.
const (
	maxQueryLen   = 500
	maxQueryTerms = 12
	maxTermLen    = 64
	maxFilterVals = 50
)

var errQuery = apperr.New(apperr.Invalid, "catalog.bad_query", "", "")

func queryError(zh, en string) error {
	e := errQuery.At("q")
	e.ZH, e.EN = "检索式有误："+zh, "bad search query: "+en
	return e
}

func isFacet(s string) bool {
	for _, f := range Facets {
		if f == s {
			return true
		}
	}
	return false
}

// ParseQuery parses a search box's text: words and "quoted phrases" that
// must all occur, -word to exclude, and facet:value filters (facet:"a b" for
// values with spaces). Words are matched as substrings, so Chinese needs no
// segmentation. Unknown facet names are searched as words.
func ParseQuery(s string) (Query, error) {
	q := Query{Filters: map[string][]string{}}
	if !utf8.ValidString(s) {
		return q, queryError("不是有效的 UTF-8 文本", "not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxQueryLen {
		return q, queryError("超过 500 个字符", "longer than 500 characters")
	}
	rs := []rune(s)
	i := 0
	readValue := func() (string, error) {
		if i < len(rs) && rs[i] == '"' {
			i++
			start := i
			for i < len(rs) && rs[i] != '"' {
				i++
			}
			if i >= len(rs) {
				return "", queryError("引号未闭合", "unclosed quote")
			}
			v := string(rs[start:i])
			i++
			return v, nil
		}
		start := i
		for i < len(rs) && !unicode.IsSpace(rs[i]) && rs[i] != '\u3000' {
			i++
		}
		return string(rs[start:i]), nil
	}
	for {
		for i < len(rs) && (unicode.IsSpace(rs[i]) || rs[i] == '\u3000') {
			i++
		}
		if i >= len(rs) {
			break
		}
		neg := false
		if rs[i] == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			neg = true
			i++
		}
		// facet:value?
		if !neg && rs[i] != '"' {
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) && rs[j] < 128) {
				j++
			}
			if j < len(rs) && j > i && (rs[j] == ':' || rs[j] == '：') && isFacet(strings.ToLower(string(rs[i:j]))) {
				facet := strings.ToLower(string(rs[i:j]))
				i = j + 1
				v, err := readValue()
				if err != nil {
					return q, err
				}
				v = strings.TrimSpace(v)
				if v == "" {
					return q, queryError(facet+" 的取值为空", "empty value for "+facet)
				}
				if utf8.RuneCountInString(v) > 200 {
					return q, queryError("筛选值过长", "filter value too long")
				}
				if len(q.Filters[facet]) >= maxFilterVals {
					return q, queryError("筛选值过多", "too many filter values")
				}
				q.Filters[facet] = appendUnique(q.Filters[facet], v)
				continue
			}
		}
		v, err := readValue()
		if err != nil {
			return q, err
		}
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" {
			continue
		}
		if utf8.RuneCountInString(v) > maxTermLen {
			return q, queryError("检索词超过 64 个字符", "a term is longer than 64 characters")
		}
		if neg {
			q.Not = appendUnique(q.Not, v)
		} else {
			q.Terms = appendUnique(q.Terms, v)
		}
		if len(q.Terms)+len(q.Not) > maxQueryTerms {
			return q, queryError("检索词超过 12 个", "more than 12 terms")
		}
	}
	return q, nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
