package httpapi

import (
	"net/http"

	"golang.org/x/text/language"
)

// Chinese first: a request that names no language, or one we lack, gets zh-CN.
var langMatcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// langOf returns "zh" or "en" for the request's Accept-Language.
func langOf(r *http.Request) string {
	al := r.Header.Get("Accept-Language")
	if al == "" {
		return "zh"
	}
	tags, _, err := language.ParseAcceptLanguage(al)
	if err != nil || len(tags) == 0 {
		return "zh"
	}
	_, idx, conf := langMatcher.Match(tags...)
	if conf == language.No {
		return "zh"
	}
	if idx == 1 {
		return "en"
	}
	return "zh"
}
