package catalog

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"shuqiao/internal/store"
)

// SearchInput is a search of the published catalog.
type SearchInput struct {
	// Q is the search box text (see ParseQuery).
	Q string
	// Filters add facet filters to those in Q (e.g. from URL parameters).
	Filters map[string][]string
	// OpenOnly restricts to the open list (open attribute not "none").
	OpenOnly bool
	Offset   int
	Limit    int
}

// FacetCount is one value of a facet with how many results have it.
type FacetCount struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Count int    `json:"count"`
}

// SearchResult is a page of results with the facet counts of all results.
type SearchResult struct {
	Total  int                     `json:"total"`
	Items  []*Resource             `json:"items"`
	Facets map[string][]FacetCount `json:"facets"`
}

// facetCounts are the counts of the seven displayed facets.
type facetCounts struct {
	total  int
	counts map[string]map[string]int
	orgs   map[string]string
}

// shownFacets are the facets counted in results.
var shownFacets = []string{"org", "theme", "level", "share", "open", "format", "frequency"}

// MaxSearchOffset bounds deep paging; narrow the search instead.
const MaxSearchOffset = 10000

var enumLabels = map[string]string{
	"general": "一般", "important": "重要", "core": "核心",
	"unconditional": "无条件", "conditional": "有条件", "none": "不予",
	"realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月", "quarterly": "每季度", "yearly": "每年", "irregular": "不定期",
}

// Search runs a search of the published catalog: Chinese full-text over
// names, descriptions, field labels and tags (FTS5 trigram on SQLite,
// pg_trgm on PostgreSQL) with facet counts.
func (s *Service) Search(ctx context.Context, in SearchInput) (*SearchResult, error) {
	q, err := ParseQuery(in.Q)
	if err != nil {
		return nil, err
	}
	for k, vs := range in.Filters {
		if !isFacet(k) {
			return nil, queryError("未知的筛选项 "+k, "unknown facet "+k)
		}
		for _, v := range vs {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if utf8.RuneCountInString(v) > 200 || len(q.Filters[k]) >= maxFilterVals {
				return nil, queryError("筛选值过长或过多", "filter value too long or too many")
			}
			q.Filters[k] = appendUnique(q.Filters[k], v)
		}
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 20
	}
	if in.Offset < 0 || in.Offset > MaxSearchOffset {
		return nil, queryError("翻页过深，请缩小检索范围", "page too deep; narrow the search")
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	var fc *facetCounts
	var ids []string
	if len(q.Terms) == 0 && len(q.Not) == 0 && len(q.Filters) == 0 && !in.OpenOnly {
		fc, ids, err = s.browse(ctx, in.Offset, in.Limit)
	} else {
		fc, ids, err = s.match(ctx, q, in)
	}
	if err != nil {
		return nil, err
	}
	items, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &SearchResult{Total: fc.total, Items: items, Facets: fc.render(&cfg.Taxonomy)}, nil
}

func (fc *facetCounts) add(org, orgName, level, share, open, freq, themes, formats string) {
	fc.total++
	fc.counts["org"][org]++
	fc.orgs[org] = orgName
	fc.counts["level"][level]++
	fc.counts["share"][share]++
	fc.counts["open"][open]++
	fc.counts["frequency"][freq]++
	for _, t := range strings.Split(strings.Trim(themes, "|"), "|") {
		if t != "" {
			fc.counts["theme"][t]++
		}
	}
	for _, t := range strings.Split(strings.Trim(formats, "|"), "|") {
		if t != "" {
			fc.counts["format"][t]++
		}
	}
}

func newFacetCounts() *facetCounts {
	fc := &facetCounts{counts: map[string]map[string]int{}, orgs: map[string]string{}}
	for _, f := range shownFacets {
		fc.counts[f] = map[string]int{}
	}
	return fc
}

func (fc *facetCounts) render(tx *Taxonomy) map[string][]FacetCount {
	out := map[string][]FacetCount{}
	for _, f := range shownFacets {
		list := []FacetCount{}
		for v, n := range fc.counts[f] {
			l := v
			switch f {
			case "org":
				l = fc.orgs[v]
			case "theme":
				l = label(tx.Themes, v)
			case "format":
				l = label(tx.Formats, v)
			default:
				if x, ok := enumLabels[v]; ok {
					l = x
				}
			}
			list = append(list, FacetCount{Value: v, Label: l, Count: n})
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Count != list[j].Count {
				return list[i].Count > list[j].Count
			}
			return list[i].Value < list[j].Value
		})
		out[f] = list
	}
	return out
}

// browse is a search with no criteria: the newest entries, with the whole
// catalog's facet counts, cached until the catalog's generation changes.
func (s *Service) browse(ctx context.Context, offset, limit int) (*facetCounts, []string, error) {
	var genText string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM catalog_settings WHERE key = 'generation'`).Scan(&genText); err != nil {
		return nil, nil, fmt.Errorf("catalog: generation: %w", err)
	}
	gen, _ := strconv.ParseInt(genText, 10, 64)
	s.facetMu.Lock()
	fc := s.facetCache
	if s.facetGen != gen {
		fc = nil
	}
	s.facetMu.Unlock()
	if fc == nil {
		var err error
		if fc, _, err = s.match(ctx, Query{Filters: map[string][]string{}}, SearchInput{Limit: 1}); err != nil {
			return nil, nil, err
		}
		s.facetMu.Lock()
		s.facetGen, s.facetCache = gen, fc
		s.facetMu.Unlock()
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM catalog_resources WHERE status = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, StatusPublished, limit, offset)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: browse: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
	}
	return fc, ids, rows.Err()
}

// ftsPhrase quotes a term for an FTS5 MATCH expression.
func ftsPhrase(t string) string {
	return `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
}

// likeEscape escapes a term for LIKE … ESCAPE '\'.
func likeEscape(t string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(t) + "%"
}

// match runs a search with criteria: one query returns the facet columns
// of every match, which are counted here; the page is cut from them.
func (s *Service) match(ctx context.Context, q Query, in SearchInput) (*facetCounts, []string, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where = append(where, "r.status = "+arg(StatusPublished))
	if in.OpenOnly {
		where = append(where, "r.open_attr <> "+arg(string(None)))
	}
	// Full-text matches are materialised first (a CTE each), so the
	// planner never re-runs an FTS query per candidate row.
	var ctes []string
	if s.db.Dialect == store.SQLite {
		var long, longNot []string
		for _, t := range q.Terms {
			if utf8.RuneCountInString(t) >= 3 {
				long = append(long, ftsPhrase(t))
			} else {
				// Too short for trigrams: scan the narrow full-text table.
				name := fmt.Sprintf("f%d", len(ctes))
				ctes = append(ctes, name+" AS MATERIALIZED (SELECT rowid AS rid FROM catalog_fts WHERE instr(body, "+arg(t)+") > 0)")
				where = append(where, "r.fts_rowid IN (SELECT rid FROM "+name+")")
			}
		}
		for _, t := range q.Not {
			if utf8.RuneCountInString(t) >= 3 {
				longNot = append(longNot, ftsPhrase(t))
			} else {
				where = append(where, "instr(r.search, "+arg(t)+") = 0")
			}
		}
		if len(long) > 0 {
			name := fmt.Sprintf("f%d", len(ctes))
			ctes = append(ctes, name+" AS MATERIALIZED (SELECT rowid AS rid FROM catalog_fts WHERE catalog_fts MATCH "+arg(strings.Join(long, " AND "))+")")
			where = append(where, "r.fts_rowid IN (SELECT rid FROM "+name+")")
		}
		if len(longNot) > 0 {
			name := fmt.Sprintf("f%d", len(ctes))
			ctes = append(ctes, name+" AS MATERIALIZED (SELECT rowid AS rid FROM catalog_fts WHERE catalog_fts MATCH "+arg(strings.Join(longNot, " OR "))+")")
			where = append(where, "r.fts_rowid NOT IN (SELECT rid FROM "+name+")")
		}
	} else {
		for _, t := range q.Terms {
			where = append(where, "r.search LIKE "+arg(likeEscape(t))+` ESCAPE '\'`)
		}
		for _, t := range q.Not {
			where = append(where, "r.search NOT LIKE "+arg(likeEscape(t))+` ESCAPE '\'`)
		}
	}
	facets := make([]string, 0, len(q.Filters))
	for f := range q.Filters {
		facets = append(facets, f)
	}
	sort.Strings(facets)
	for _, f := range facets {
		vals := q.Filters[f]
		ph := make([]string, len(vals))
		for i, v := range vals {
			if f == "tag" {
				v = strings.ToLower(v)
			}
			ph[i] = arg(v)
		}
		if len(q.Terms) > 0 {
			// The text match narrows first; probe each candidate's terms.
			where = append(where, "EXISTS (SELECT 1 FROM catalog_terms t WHERE t.facet = "+arg(f)+" AND t.value IN ("+strings.Join(ph, ",")+") AND t.resource_id = r.id)")
		} else {
			where = append(where, "r.id IN (SELECT resource_id FROM catalog_terms WHERE facet = "+arg(f)+" AND value IN ("+strings.Join(ph, ",")+"))")
		}
	}
	// One statement: the matches are materialised once, the seven facets
	// are grouped in the database (a few hundred rows at most come back,
	// whatever the number of matches), and the page is cut there too.
	// Entries whose name holds the terms come first, then the newest.
	score := "0"
	for _, t := range q.Terms {
		score += " + CASE WHEN lower(r.name) LIKE " + arg(likeEscape(t)) + ` ESCAPE '\' THEN 1 ELSE 0 END`
	}
	limit, offset := arg(in.Limit), arg(in.Offset)
	ctes = append(ctes, "")
	query := `WITH ` + strings.Join(ctes[:len(ctes)-1], ", ") + sepIf(len(ctes) > 1) + `m AS MATERIALIZED (SELECT r.id, r.org_id, r.org_name, r.level, r.share_attr, r.open_attr, r.frequency, r.themes, r.formats, ` + score + ` AS score
		FROM catalog_resources r WHERE ` + strings.Join(where, " AND ") + `)
		SELECT 'org', org_id, MAX(org_name), COUNT(*) FROM m GROUP BY org_id
		UNION ALL SELECT 'level', level, '', COUNT(*) FROM m GROUP BY level
		UNION ALL SELECT 'share', share_attr, '', COUNT(*) FROM m GROUP BY share_attr
		UNION ALL SELECT 'open', open_attr, '', COUNT(*) FROM m GROUP BY open_attr
		UNION ALL SELECT 'frequency', frequency, '', COUNT(*) FROM m GROUP BY frequency
		UNION ALL SELECT 'themes', themes, '', COUNT(*) FROM m GROUP BY themes
		UNION ALL SELECT 'formats', formats, '', COUNT(*) FROM m GROUP BY formats
		UNION ALL SELECT '~page', id, '', score FROM (SELECT id, score FROM m ORDER BY score DESC, id DESC LIMIT ` + limit + ` OFFSET ` + offset + `) p`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: search: %w", err)
	}
	defer rows.Close()
	type hit struct {
		id    string
		score int64
	}
	var hits []hit
	fc := newFacetCounts()
	for rows.Next() {
		var facet, value, lbl string
		var n int64
		if err := rows.Scan(&facet, &value, &lbl, &n); err != nil {
			return nil, nil, fmt.Errorf("catalog: search: %w", err)
		}
		switch facet {
		case "~page":
			hits = append(hits, hit{value, n})
		case "themes", "formats":
			for _, t := range strings.Split(strings.Trim(value, "|"), "|") {
				if t != "" {
					fc.counts[strings.TrimSuffix(facet, "s")][t] += int(n)
				}
			}
		case "org":
			fc.counts["org"][value] += int(n)
			fc.orgs[value] = lbl
		default:
			fc.counts[facet][value] += int(n)
			if facet == "level" {
				fc.total += int(n)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("catalog: search: %w", err)
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].id > hits[j].id
	})
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	return fc, ids, nil
}

// loadMany loads entries by id, in the order given.
func (s *Service) loadMany(ctx context.Context, ids []string) ([]*Resource, error) {
	out := []*Resource{}
	if len(ids) == 0 {
		return out, nil
	}
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i] = "$" + strconv.Itoa(i+1)
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+resourceCols+` FROM catalog_resources WHERE id IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: load: %w", err)
	}
	defer rows.Close()
	byID := map[string]*Resource{}
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: load: %w", err)
		}
		v, err := s.view(r)
		if err != nil {
			return nil, err
		}
		byID[v.ID] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if v, ok := byID[id]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func sepIf(b bool) string {
	if b {
		return ", "
	}
	return ""
}
