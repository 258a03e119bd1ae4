package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// searchNames runs a search and returns its result with the names of its page.
func (e *env) searchNames(in SearchInput) (*SearchResult, string) {
	e.t.Helper()
	r, err := e.s.Search(e.ctx, in)
	if err != nil {
		e.t.Fatalf("search %+v: %v", in, err)
	}
	var names []string
	for _, it := range r.Items {
		names = append(names, it.Name)
	}
	return r, strings.Join(names, ",")
}

func facetCount(r *SearchResult, facet, value string) int {
	for _, f := range r.Facets[facet] {
		if f.Value == value {
			return f.Count
		}
	}
	return 0
}

// One- and two-character Chinese terms are served by the bigram index with
// substring meaning: a bigram never spans two fields' boundary text it does
// not hold, a one-character term finds any entry holding the character, and
// a longer term is the phrase of its bigrams (not merely all of them).
func TestSearchShortChineseTerms(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		mk := func(org, name, desc string, tags ...string) Entry {
			x := sample(org, name)
			x.Description = desc
			x.Tags = tags
			x.Fields = []Field{{Name: "site_code", Label: "站点编码", Type: "string", Level: LevelGeneral}}
			x.Level = LevelGeneral
			x.Open = Sharing{Attr: Unconditional}
			return x
		}
		e.publish(steward("gaj"), mk("gaj", "人口统计", "按区汇总", "统计"))
		e.publish(steward("water"), mk("water", "水质监测", "监测点位的数据"))
		e.publish(steward("rsj"), mk("rsj", "口腔医疗机构", "人员名录", "医疗"))
		e.publish(steward("rsj"), mk("rsj", "测绘成果目录", "GB/T 2260 代码"))
		for _, c := range []struct {
			q    string
			want string
		}{
			{"人口", "人口统计"},            // two characters, in the name
			{"口", "口腔医疗机构,人口统计"},      // one character anywhere; name matches first, then newest
			{"医疗", "口腔医疗机构"},          // a tag and the name
			{"监测", "水质监测"},            // name and description
			{"测", "测绘成果目录,水质监测"},      // one character, both ranked by name
			{"质监", "水质监测"},            // two characters inside a word
			{"监测点", "水质监测"},           // three: the phrase of 监测 and 测点
			{"测监", ""},                // both characters occur, never in that order
			{"人员 名录", "口腔医疗机构"},       // two terms, both required
			{"人 -口", "测绘成果目录"},        // 人 in the org's name, no 口
			{"gb/t", "测绘成果目录"},        // punctuation inside a term
			{`"gb/t 2260"`, "测绘成果目录"}, // a phrase with a space
			{`"t 226"`, "测绘成果目录"},     // substrings across the space
			{`"gb/t  2260"`, ""},      // two spaces are not one
			{"市公安局", "人口统计"},          // the org's name
			{"站点编码", "测绘成果目录,口腔医疗机构,水质监测,人口统计"}, // a field label, newest first
			{"/", "测绘成果目录"}, // one ASCII character
		} {
			r, got := e.searchNames(SearchInput{Q: c.q})
			if got != c.want {
				t.Errorf("search %q: got [%s], want [%s]", c.q, got, c.want)
			}
			if r.Total != len(r.Items) || r.Approximate {
				t.Errorf("search %q: total %d for %d items, approximate %v", c.q, r.Total, len(r.Items), r.Approximate)
			}
		}
	})
}

// Facet filters mix with each other and with terms: values of one facet are
// ORed, facets ANDed; the facet counts are those of the matches.
func TestSearchMixedFacetFilters(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		type spec struct {
			org, name, theme, format string
			open                     Attr
			level                    Level
		}
		for _, sp := range []spec{
			{"gaj", "户籍人口信息", "public_security", "csv", None, LevelImportant},
			{"gaj", "流动人口登记", "public_security", "json", None, LevelImportant},
			{"rsj", "社保参保人口", "social_security", "csv", Conditional, LevelGeneral},
			{"water", "供水户数", "living", "xlsx", Unconditional, LevelGeneral},
		} {
			x := sample(sp.org, sp.name)
			x.Themes, x.Formats, x.Level = []string{sp.theme}, []string{sp.format}, sp.level
			x.Fields = []Field{{Name: "n", Label: "数量", Type: "integer", Level: LevelGeneral}}
			switch sp.open {
			case None:
				x.Open = Sharing{Attr: None, Basis: "《个人信息保护法》", Reason: "含个人信息"}
			case Conditional:
				x.Open = Sharing{Attr: Conditional, Conditions: "申请"}
			default:
				x.Open = Sharing{Attr: Unconditional}
			}
			if sp.org == "water" {
				x.DataClass = ClassPublicService
			}
			e.publish(steward(sp.org), x)
		}
		for _, c := range []struct {
			q    string
			f    map[string][]string
			open bool
			want string
		}{
			{"人口", map[string][]string{"format": {"csv"}}, false, "社保参保人口,户籍人口信息"},
			{"人口", map[string][]string{"format": {"csv", "json"}, "org": {"gaj"}}, false, "流动人口登记,户籍人口信息"},
			{"人口 level:general", map[string][]string{"format": {"csv", "json"}}, false, "社保参保人口"},
			{"", map[string][]string{"theme": {"public_security", "living"}, "level": {"general"}}, false, "供水户数"},
			{"", map[string][]string{"class": {"public_service"}}, false, "供水户数"},
			{"户", map[string][]string{"tag": {"户籍"}}, false, "供水户数,户籍人口信息,社保参保人口,流动人口登记"},
			{"户 -供水", map[string][]string{"org": {"gaj", "rsj", "water"}}, false, "户籍人口信息,社保参保人口,流动人口登记"},
			{"人口", nil, true, "社保参保人口,供水户数"}, // the tag 人口 matches too
			{"", map[string][]string{"org": {"gaj", "rsj"}}, true, "社保参保人口"},
			{"", nil, true, "供水户数,社保参保人口"},
		} {
			r, got := e.searchNames(SearchInput{Q: c.q, Filters: c.f, OpenOnly: c.open})
			if got != c.want {
				t.Errorf("search %q %v open=%v: got [%s], want [%s]", c.q, c.f, c.open, got, c.want)
			}
			n := 0
			for _, f := range r.Facets["org"] {
				n += f.Count
			}
			if r.Total != len(r.Items) || n != r.Total {
				t.Errorf("search %q %v: total %d, %d items, org counts sum %d", c.q, c.f, r.Total, len(r.Items), n)
			}
		}
		r, _ := e.searchNames(SearchInput{Q: "人口", Filters: map[string][]string{"format": {"csv", "json"}}})
		if facetCount(r, "org", "gaj") != 2 || facetCount(r, "org", "rsj") != 1 || facetCount(r, "format", "csv") != 2 ||
			facetCount(r, "level", "important") != 2 || facetCount(r, "theme", "social_security") != 1 {
			t.Fatalf("facets: %+v", r.Facets)
		}
		for _, f := range r.Facets["org"] {
			if f.Value == "gaj" && f.Label != "市公安局" {
				t.Fatalf("org label %+v", f)
			}
		}
	})
}

// Beyond the exact limit, facet counts are estimated and flagged; the total,
// the items and their order stay what an exact search gives, on every page.
// Browse counters follow publications and withdrawals without a recount.
func TestSearchApproximateFacets(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for i := 0; i < 14; i++ {
			org := []string{"gaj", "rsj", "water"}[i%3]
			name := fmt.Sprintf("人口数据%02d", i)
			if i%4 == 1 {
				name = fmt.Sprintf("登记表%02d", i) // the terms only in the description
			}
			if i%5 == 2 {
				name = fmt.Sprintf("人口登记%02d", i)
			}
			x := sample(org, name)
			x.Description = "人口登记数据"
			if i%3 == 2 {
				x.DataClass = ClassPublicService
			}
			if i%2 == 0 {
				x.Formats = []string{"xlsx"}
			}
			e.publish(steward(org), x)
		}
		queries := []SearchInput{
			{Q: "人口"}, {Q: "人口 登记"}, {Q: "登记 人口 数据"}, {Q: "人"}, {Q: "人口 -xyz"},
			{Filters: map[string][]string{"format": {"xlsx"}}}, {Q: "数据", OpenOnly: false, Filters: map[string][]string{"org": {"gaj", "rsj"}}},
		}
		type page struct {
			total int
			names string
		}
		exact := map[string]page{}
		run := func(approx bool) {
			for _, in := range queries {
				for _, off := range []int{0, 3, 5, 9, 13} {
					in.Offset, in.Limit = off, 4
					r, names := e.searchNames(in)
					key := fmt.Sprintf("%s %v @%d", in.Q, in.Filters, off)
					if !approx {
						if r.Approximate {
							t.Fatalf("%s: approximate with the default limit", key)
						}
						exact[key] = page{r.Total, names}
						continue
					}
					if r.Total > 3 && !r.Approximate {
						t.Errorf("%s: %d matches over a limit of 3, not approximate", key, r.Total)
					}
					if got := (page{r.Total, names}); got != exact[key] {
						t.Errorf("%s: approximate search gave %+v, exact %+v", key, got, exact[key])
					}
				}
			}
		}
		run(false)
		e.s.exactFacets = 3
		run(true)
		r, _ := e.searchNames(SearchInput{Q: "人口"})
		if !r.Approximate || r.Total != 14 || facetCount(r, "org", "gaj") == 0 {
			t.Fatalf("approximate search: %+v", r)
		}
		body := jsonOf(r)
		if !strings.Contains(body, `"approximate":true`) {
			t.Fatalf("approximate flag not in JSON: %s", body)
		}
		e.s.exactFacets = ExactFacetLimit

		// Browse reads the counters, which follow publication and withdrawal.
		all, _ := e.searchNames(SearchInput{})
		if all.Total != 14 || all.Approximate || facetCount(all, "org", "gaj") != 5 || facetCount(all, "format", "xlsx") != 7 {
			t.Fatalf("browse: total %d facets %+v", all.Total, all.Facets)
		}
		id := all.Items[0].ID
		if _, err := e.s.Withdraw(e.ctx, steward(all.Items[0].OrgID), id, WithdrawInput{Reason: "停止采集"}); err != nil {
			t.Fatal(err)
		}
		after, _ := e.searchNames(SearchInput{})
		if after.Total != 13 || facetCount(after, "org", all.Items[0].OrgID) != facetCount(all, "org", all.Items[0].OrgID)-1 {
			t.Fatalf("browse after withdrawal: %d %+v", after.Total, after.Facets["org"])
		}
		if r, _ := e.searchNames(SearchInput{Q: all.Items[0].Name}); r.Total != 0 {
			t.Fatalf("withdrawn entry still found")
		}
		// A new version replaces the old one's counts.
		d, err := e.s.Get(e.ctx, steward("gaj"), all.Items[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		next := d.Entry
		next.Formats = []string{"pdf"}
		if _, err := e.s.UpdateDraft(e.ctx, steward(next.OrgID), d.ID, DraftUpdate{Entry: next}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Publish(e.ctx, steward(next.OrgID), d.ID, PublishInput{Reason: "改格式"}); err != nil {
			t.Fatal(err)
		}
		again, _ := e.searchNames(SearchInput{})
		if again.Total != 13 || facetCount(again, "format", "pdf") != 1 {
			t.Fatalf("browse after a new version: %d %+v", again.Total, again.Facets["format"])
		}
		// Rebuilding the index (as after an upgrade) gives the same counts.
		if _, err := e.db.ExecContext(e.ctx, `UPDATE catalog_settings SET value = 'old' WHERE key = 'search_index'`); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ensureSearchIndex(e.ctx); err != nil {
			t.Fatal(err)
		}
		rebuilt, _ := e.searchNames(SearchInput{})
		b1, b2 := jsonOf(again.Facets), jsonOf(rebuilt.Facets)
		if rebuilt.Total != 13 || b1 != b2 {
			t.Fatalf("rebuilt counters differ:\n%s\n%s", b1, b2)
		}
		if r, _ := e.searchNames(SearchInput{Q: "人口", Limit: 100}); r.Total != 13 {
			t.Fatalf("search after rebuild: %d", r.Total)
		}
	})
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestBigramTokens(t *testing.T) {
	if got := strings.Join(termTokens("人口", 0), " "); got != "人口" {
		t.Fatal(got)
	}
	if got := termTokens("基本信息", 0); len(got) != 3 || got[1] != "本信" {
		t.Fatal(got)
	}
	if got := termTokens(`a"b`, 0); len(got) != 2 || strings.ContainsAny(strings.Join(got, ""), `" `) {
		t.Fatalf("%q", got)
	}
	// Private-use input cannot forge a name or facet token.
	if got := termTokens(string(nsFacet)+"*", 0); got[0] == allToken {
		t.Fatal("forged token")
	}
	a, b := ridOf("018f3a1c-7b2e-7c01-8000-000000000001"), ridOf("018f3a1c-7b2e-7c02-8000-000000000000")
	if a >= b || a <= 0 {
		t.Fatalf("rid order %d %d", a, b)
	}
}
