package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
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
	Total int `json:"total"`
	// Approximate says the facet counts are estimates: more than
	// ExactFacetLimit entries match, and the counts of the newest
	// ExactFacetLimit matches are scaled to Total (which stays exact).
	Approximate bool                    `json:"approximate"`
	Items       []*Resource             `json:"items"`
	Facets      map[string][]FacetCount `json:"facets"`
}

// ExactFacetLimit is how many matches a search counts facets of exactly.
const ExactFacetLimit = 10000

// facetCounts are the counts of the seven displayed facets.
type facetCounts struct {
	total       int
	approximate bool
	counts      map[string]map[string]int
	orgs        map[string]string
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
// names, descriptions, field labels and tags (character bigrams: FTS5 on SQLite,
// tsvector on PostgreSQL; docs/decisions/0056) with facet counts.
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
	if len(q.Terms) == 0 && len(q.Not) == 0 && len(q.Filters) == 0 {
		fc, ids, err = s.browse(ctx, in.OpenOnly, in.Offset, in.Limit)
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
	return &SearchResult{Total: fc.total, Approximate: fc.approximate, Items: items, Facets: fc.render(&cfg.Taxonomy)}, nil
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

// browse is a search with no criteria: the newest entries, with the facet
// counts of the whole catalog (or of the open list) read from the counters
// that publication and withdrawal keep (catalog_facet_counts).
func (s *Service) browse(ctx context.Context, openOnly bool, offset, limit int) (*facetCounts, []string, error) {
	scope := "all"
	if openOnly {
		scope = "open"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT facet, value, label, n FROM catalog_facet_counts WHERE scope = $1 AND n <> 0`, scope)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: browse: %w", err)
	}
	fc := newFacetCounts()
	for rows.Next() {
		var facet, value, lbl string
		var n int
		if err := rows.Scan(&facet, &value, &lbl, &n); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("catalog: browse: %w", err)
		}
		switch facet {
		case "~total":
			fc.total = n
		case "org":
			fc.orgs[value] = lbl
			fc.counts[facet][value] = n
		default:
			if c, ok := fc.counts[facet]; ok {
				c[value] = n
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("catalog: browse: %w", err)
	}
	q := `SELECT rid FROM catalog_search ORDER BY rid DESC LIMIT $1 OFFSET $2`
	if openOnly {
		q = `SELECT rid FROM catalog_search WHERE open_list = 1 ORDER BY rid DESC LIMIT $1 OFFSET $2`
	}
	rids, err := int64s(ctx, s.db, q, limit, offset)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: browse: %w", err)
	}
	ids, err := s.idsOf(ctx, rids)
	if err != nil {
		return nil, nil, err
	}
	return fc, ids, nil
}

func int64s(ctx context.Context, db store.Queryer, q string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// maxTieredTerms bounds the terms whose name-match tiers are paged by
// separate full-text queries when facets are estimated; with more terms
// every match is read and ranked.
const maxTieredTerms = 4

// matchExpr is the full-text expression of a query: every term (a phrase of
// bigrams, or one character), every facet filter (its values' tokens ORed),
// none of the excluded terms, and not "open: none" for the open list.
func matchExpr(q Query, openOnly bool) *expr {
	var pos, neg []*expr
	for _, t := range q.Terms {
		pos = append(pos, phrase(termTokens(t, 0)))
	}
	facets := make([]string, 0, len(q.Filters))
	for f := range q.Filters {
		facets = append(facets, f)
	}
	sort.Strings(facets)
	for _, f := range facets {
		var alts []*expr
		for _, v := range q.Filters[f] {
			if f == "tag" {
				v = strings.ToLower(v)
			}
			alts = append(alts, phrase([]string{facetToken(f, v)}))
		}
		if len(alts) > 0 {
			pos = append(pos, or(alts...))
		}
	}
	for _, t := range q.Not {
		neg = append(neg, phrase(termTokens(t, 0)))
	}
	if openOnly {
		neg = append(neg, phrase([]string{facetToken("open", string(None))}))
	}
	if len(pos) == 0 {
		pos = append(pos, phrase([]string{allToken}))
	}
	e := and(pos...)
	if len(neg) > 0 {
		e = andNot(e, or(neg...))
	}
	return e
}

func (s *Service) render(e *expr) string {
	if s.db.Dialect == store.SQLite {
		return e.fts5()
	}
	return e.tsquery()
}

// matchRow is a match's search row: its row id and facet combination.
type matchRow struct {
	rid   int64
	c     int64
	score int
}

// matchRows reads the search rows of e's matches, newest first, at most
// limit (all when limit < 0), and how many matches there are in all, or
// -1 where that takes a query of its own (SQLite).
//
// On PostgreSQL the GIN index finds the candidates of a phrase but not
// where its tokens stand, so every candidate's tsvector is read and tested
// (about 50 ms for 12,000 of them at 100,000 entries), and sorting the
// matches needs them all: the count comes with them (count(*) OVER ()),
// where a count of its own tested every candidate again.
func (s *Service) matchRows(ctx context.Context, e *expr, limit int) ([]matchRow, int, error) {
	q := `SELECT s.rid, s.c, -1 FROM catalog_sx JOIN catalog_search s ON s.rid = catalog_sx.rowid WHERE catalog_sx MATCH $1 ORDER BY catalog_sx.rowid DESC LIMIT $2`
	if s.db.Dialect == store.Postgres {
		// "rid + 0": sorting the matches found by the GIN index beats
		// walking the primary key backwards and testing every row.
		q = `SELECT rid, c, count(*) OVER () FROM catalog_search WHERE body @@ $1::tsquery ORDER BY rid + 0 DESC LIMIT $2`
		if limit < 0 {
			q = `SELECT rid, c, count(*) OVER () FROM catalog_search WHERE body @@ $1::tsquery ORDER BY rid + 0 DESC LIMIT ALL OFFSET $2`
			limit = 0
		}
	}
	out := make([]matchRow, 0, 256)
	total := -1
	err := s.matchDB(ctx, func(db store.Queryer) error {
		rows, err := db.QueryContext(ctx, q, s.render(e), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m matchRow
			if err := rows.Scan(&m.rid, &m.c, &total); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: search: %w", err)
	}
	if len(out) == 0 && s.db.Dialect == store.Postgres {
		total = 0
	}
	return out, total, nil
}

// matchDB runs full-text match queries. On PostgreSQL they run in a
// read-only transaction with sequential scans priced out: the planner
// costs a scan of catalog_search by its narrow heap and cannot see that
// every row's tsvector lives in TOAST (some 60 times the heap), so it
// chose scans that detoasted the whole catalog (85 ms at 20,000 entries)
// over a 4 ms GIN bitmap scan. SET LOCAL ends with the transaction.
func (s *Service) matchDB(ctx context.Context, fn func(db store.Queryer) error) error {
	return s.matchDBWith(ctx, fn, `SET LOCAL enable_seqscan = off`)
}

// matchDBWith is matchDB with the planner settings given.
func (s *Service) matchDBWith(ctx context.Context, fn func(db store.Queryer) error, settings ...string) error {
	if s.db.Dialect != store.Postgres {
		return fn(s.db)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, set := range settings {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// countCombos counts the facets of rows through their combinations, read
// once per process (combinations are never changed or deleted).
func (s *Service) countCombos(ctx context.Context, rows []matchRow, fc *facetCounts) error {
	per := map[int64]int{}
	for _, m := range rows {
		per[m.c]++
	}
	s.comboMu.Lock()
	var missing []any
	for c := range per {
		if _, ok := s.combos[c]; !ok {
			missing = append(missing, c)
		}
	}
	s.comboMu.Unlock()
	if len(missing) > 0 {
		q := `SELECT id, k FROM catalog_search_combos WHERE id > $1`
		args := []any{s.comboMax}
		if len(missing) < 50 {
			ph := make([]string, len(missing))
			for i := range missing {
				ph[i] = "$" + strconv.Itoa(i+1)
			}
			q, args = `SELECT id, k FROM catalog_search_combos WHERE id IN (`+strings.Join(ph, ",")+`)`, missing
		}
		if err := s.loadCombos(ctx, q, args...); err != nil {
			return err
		}
	}
	s.comboMu.Lock()
	defer s.comboMu.Unlock()
	for c, n := range per {
		fvs, ok := s.combos[c]
		if !ok {
			// Written after the rows were read (another process); count
			// it on the next search.
			continue
		}
		for _, fv := range fvs {
			fc.counts[fv[0]][fv[1]] += n
		}
	}
	return nil
}

func (s *Service) loadCombos(ctx context.Context, q string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("catalog: facet combinations: %w", err)
	}
	defer rows.Close()
	got := map[int64][][2]string{}
	for rows.Next() {
		var id int64
		var k string
		if err := rows.Scan(&id, &k); err != nil {
			return fmt.Errorf("catalog: facet combinations: %w", err)
		}
		var fvs [][2]string
		facetsOf(k, func(f, v string) { fvs = append(fvs, [2]string{f, v}) })
		got[id] = fvs
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: facet combinations: %w", err)
	}
	s.comboMu.Lock()
	defer s.comboMu.Unlock()
	if s.combos == nil {
		s.combos = map[int64][][2]string{}
	}
	for id, fvs := range got {
		s.combos[id] = fvs
		s.comboMax = max(s.comboMax, id)
	}
	return nil
}

func (s *Service) matchCount(ctx context.Context, e *expr) (int, error) {
	q := `SELECT count(*) FROM catalog_sx WHERE catalog_sx MATCH $1`
	if s.db.Dialect == store.Postgres {
		q = `SELECT count(*) FROM catalog_search WHERE body @@ $1::tsquery`
	}
	var n int
	err := s.matchDB(ctx, func(db store.Queryer) error { return db.QueryRowContext(ctx, q, s.render(e)).Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("catalog: search count: %w", err)
	}
	return n, nil
}

// matchPage is a keyset-ordered page of e's matches' row ids, newest
// first (all of them when limit < 0). It reads the full-text index only.
func (s *Service) matchPage(ctx context.Context, e *expr, limit, offset int) ([]int64, error) {
	q := `SELECT rowid FROM catalog_sx WHERE catalog_sx MATCH $1 ORDER BY rowid DESC LIMIT $2 OFFSET $3`
	if s.db.Dialect == store.Postgres {
		q = `SELECT rid FROM catalog_search WHERE body @@ $1::tsquery ORDER BY rid + 0 DESC LIMIT $2 OFFSET $3`
		if limit < 0 {
			q = `SELECT rid FROM catalog_search WHERE body @@ $1::tsquery AND $2::int IS NOT NULL ORDER BY rid + 0 DESC OFFSET $3`
		}
	}
	var rids []int64
	err := s.matchDB(ctx, func(db store.Queryer) (err error) {
		rids, err = int64s(ctx, db, q, s.render(e), limit, offset)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: search page: %w", err)
	}
	return rids, nil
}

// walkPage is matchPage for an expression that most entries match (the
// lowest tier of a search with more than exactFacets matches): on
// PostgreSQL it walks the primary key from the newest entry and tests each
// one until the page is full, where matchPage tests every candidate the
// GIN index finds before it can sort them (see matchRows). At one entry in
// ten that is some 200 tests for a page of 20 instead of 12,000.
func (s *Service) walkPage(ctx context.Context, e *expr, limit, offset int) ([]int64, error) {
	if s.db.Dialect != store.Postgres {
		return s.matchPage(ctx, e, limit, offset)
	}
	var rids []int64
	// Neither a bitmap scan (it sorts every match) nor a sequential scan
	// (see matchDB): the primary key, backwards.
	err := s.matchDBWith(ctx, func(db store.Queryer) (err error) {
		rids, err = int64s(ctx, db, `SELECT rid FROM catalog_search WHERE body @@ $1::tsquery ORDER BY rid DESC LIMIT $2 OFFSET $3`, s.render(e), limit, offset)
		return err
	}, `SET LOCAL enable_seqscan = off`, `SET LOCAL enable_bitmapscan = off`)
	if err != nil {
		return nil, fmt.Errorf("catalog: search page: %w", err)
	}
	return rids, nil
}

// match runs a search with criteria. The matches' search rows (row id and
// facet combination) are read newest first, up to exactFacets+1: when they
// all fit, the facets are counted from them exactly. Otherwise the total is
// counted by the full-text index alone and the facets are estimated from
// the newest exactFacets matches (approximate). The page is cut from the
// rows read when no term ranks them; otherwise it is read by full-text
// queries per ranking tier (entries whose name holds k of the terms), each
// in row-id order with LIMIT/OFFSET.
func (s *Service) match(ctx context.Context, q Query, in SearchInput) (*facetCounts, []string, error) {
	e := matchExpr(q, in.OpenOnly)
	limit := s.exactFacets + 1
	if len(q.Terms) > maxTieredTerms {
		limit = -1
	}
	rows, total, err := s.matchRows(ctx, e, limit)
	if err != nil {
		return nil, nil, err
	}
	fc := newFacetCounts()
	exact := limit < 0 || len(rows) < limit
	sample := rows
	if !exact {
		sample = rows[:s.exactFacets]
	}
	if err := s.countCombos(ctx, sample, fc); err != nil {
		return nil, nil, err
	}
	fc.total = len(sample)
	if len(fc.counts["org"]) > 0 {
		if err := s.orgLabels(ctx, fc); err != nil {
			return nil, nil, err
		}
	}
	if !exact {
		if total < 0 {
			if total, err = s.matchCount(ctx, e); err != nil {
				return nil, nil, err
			}
		}
		fc.scale(total)
	}
	var rids []int64
	switch {
	case len(q.Terms) == 0 && in.Offset+in.Limit <= len(sample):
		for _, m := range rows[in.Offset : in.Offset+in.Limit] {
			rids = append(rids, m.rid)
		}
	case len(q.Terms) == 0 && exact:
		for i := in.Offset; i < len(rows); i++ {
			rids = append(rids, rows[i].rid)
		}
	case len(q.Terms) <= maxTieredTerms && (!exact || s.db.Dialect != store.Postgres):
		if rids, err = s.tieredPage(ctx, q, e, in.Offset, in.Limit); err != nil {
			return nil, nil, err
		}
	default:
		// Every match was read (many terms asked for them all, or, on
		// PostgreSQL, they fit under exactFacets): rank them by how many
		// terms each name holds, found by one full-text query per term.
		// On PostgreSQL the tiers read from the index tested every
		// candidate of the whole query again for each tier (see
		// matchRows); SQLite's FTS5 reads a tier's page from the index at
		// once, faster than this (p95 16 against 24 ms at 100,000).
		at := make(map[int64]int, len(rows))
		for i, m := range rows {
			at[m.rid] = i
		}
		for _, t := range q.Terms {
			hits, err := s.matchPage(ctx, and(e, phrase(termTokens(t, nsName))), -1, 0)
			if err != nil {
				return nil, nil, err
			}
			for _, h := range hits {
				if i, ok := at[h]; ok {
					rows[i].score++
				}
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].score > rows[j].score })
		for i := in.Offset; i < len(rows) && i < in.Offset+in.Limit; i++ {
			rids = append(rids, rows[i].rid)
		}
	}
	ids, err := s.idsOf(ctx, rids)
	if err != nil {
		return nil, nil, err
	}
	return fc, ids, nil
}

// scale turns the counts of a sample into estimates for total matches.
func (fc *facetCounts) scale(total int) {
	if fc.total > 0 {
		for _, c := range fc.counts {
			for v, n := range c {
				c[v] = max(1, int(float64(n)*float64(total)/float64(fc.total)+0.5))
			}
		}
	}
	fc.total, fc.approximate = total, true
}

// tieredPage is a page of a ranked search, read by keyset from the
// full-text index: the matches whose name holds all n terms, newest first,
// then those whose name holds n−1 of them, and so on; a tier is counted only
// to skip it whole.
func (s *Service) tieredPage(ctx context.Context, q Query, e *expr, offset, limit int) ([]int64, error) {
	if len(q.Terms) == 0 {
		return s.matchPage(ctx, e, limit, offset)
	}
	var rids []int64
	names := make([]*expr, len(q.Terms))
	for i, t := range q.Terms {
		names[i] = phrase(termTokens(t, nsName))
	}
	n := len(names)
	skip, need := offset, limit
	for k := n; k >= 0 && need > 0; k-- {
		var tier *expr
		if k == 0 {
			tier = andNot(e, or(names...))
		} else {
			var alts []*expr
			for mask := 0; mask < 1<<n; mask++ {
				if bits.OnesCount(uint(mask)) != k {
					continue
				}
				var in, out []*expr
				for i := range names {
					if mask&(1<<i) != 0 {
						in = append(in, names[i])
					} else {
						out = append(out, names[i])
					}
				}
				if len(out) == 0 {
					alts = append(alts, and(in...))
				} else {
					alts = append(alts, andNot(and(in...), or(out...)))
				}
			}
			tier = and(e, or(alts...))
		}
		if skip > 0 {
			c, err := s.matchCount(ctx, tier)
			if err != nil {
				return nil, err
			}
			if c <= skip {
				skip -= c
				continue
			}
		}
		page := s.matchPage
		if k == 0 {
			page = s.walkPage
		}
		got, err := page(ctx, tier, need, skip)
		if err != nil {
			return nil, err
		}
		skip, need = 0, need-len(got)
		rids = append(rids, got...)
	}
	return rids, nil
}

// orgLabels names the orgs counted in fc from the browse counters.
func (s *Service) orgLabels(ctx context.Context, fc *facetCounts) error {
	rows, err := s.db.QueryContext(ctx, `SELECT value, label FROM catalog_facet_counts WHERE scope = 'all' AND facet = 'org'`)
	if err != nil {
		return fmt.Errorf("catalog: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v, l string
		if err := rows.Scan(&v, &l); err != nil {
			return fmt.Errorf("catalog: search: %w", err)
		}
		if _, ok := fc.counts["org"][v]; ok {
			fc.orgs[v] = l
		}
	}
	return rows.Err()
}

// idsOf maps search row ids to entry ids, in order.
func (s *Service) idsOf(ctx context.Context, rids []int64) ([]string, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	ph := make([]string, len(rids))
	args := make([]any, len(rids))
	for i, r := range rids {
		ph[i] = "$" + strconv.Itoa(i+1)
		args[i] = r
	}
	rows, err := s.db.QueryContext(ctx, `SELECT fts_rowid, id FROM catalog_resources WHERE fts_rowid IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: search: %w", err)
	}
	defer rows.Close()
	byRid := map[int64]string{}
	for rows.Next() {
		var r int64
		var id string
		if err := rows.Scan(&r, &id); err != nil {
			return nil, err
		}
		byRid[r] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rids))
	for _, r := range rids {
		if id, ok := byRid[r]; ok {
			out = append(out, id)
		}
	}
	return out, nil
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
