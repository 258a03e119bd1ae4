package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"shuqiao/internal/store"
)

// The search index (docs/decisions/0056): every published entry has one
// catalog_search row (rid, the facet columns packed in k, the lower-cased
// name) and one full-text document of tokens, an FTS5 row on SQLite
// (catalog_sx, tokenizer "ascii", which splits on spaces only once
// punctuation is folded away) and a tsvector on PostgreSQL. The document's
// tokens, in order:
//
//   - the overlapping character bigrams of the search text, so a term of n ≥ 2
//     characters is the phrase of its n−1 bigrams: exactly a substring match;
//   - the same bigrams of the name, prefixed with nsName (ranking);
//   - each distinct character of the search text, then of the name (prefixed),
//     so a one-character term is one token;
//   - one token per facet value, prefixed with nsFacet, and nsFacet+"*" on
//     every row, so facet filters and exclusions are part of the same match.
//
// Bigrams cannot cross from one namespace into another: name tokens are
// two or three runes starting with nsName, facet tokens start with nsFacet.
const (
	nsName  = '\uF8F0'
	nsFacet = '\uF8F1'
	// searchIndexVersion is stored in catalog_settings; when it differs at
	// start, the index is rebuilt from the published entries.
	searchIndexVersion = "bigram-1"
)

// foldRune maps a rune of lower-cased text to what the index stores: ASCII
// letters and digits as they are, other ASCII (spaces and punctuation
// included) to private-use characters the tokenizer keeps inside tokens, and
// private-use input to U+FFFD so it cannot forge a namespace.
func foldRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		return r
	case r >= 'A' && r <= 'Z':
		return r + ('a' - 'A')
	case r < 0x80:
		return 0xE000 + r
	case r >= 0xE000 && r <= 0xF8FF:
		return utf8.RuneError
	}
	return r
}

func foldText(s string) []rune {
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		rs = append(rs, foldRune(r))
	}
	return rs
}

// termTokens are the tokens a term must match in order: one character, or
// the overlapping bigrams; prefix namespaces them (0 for the search text).
func termTokens(term string, prefix rune) []string {
	rs := foldText(term)
	if len(rs) == 0 {
		return nil
	}
	if len(rs) == 1 {
		return []string{withPrefix(prefix, rs)}
	}
	out := make([]string, 0, len(rs)-1)
	for i := 0; i+1 < len(rs); i++ {
		out = append(out, withPrefix(prefix, rs[i:i+2]))
	}
	return out
}

func withPrefix(prefix rune, rs []rune) string {
	if prefix == 0 {
		return string(rs)
	}
	return string(prefix) + string(rs)
}

func facetToken(facet, value string) string {
	return string(nsFacet) + facet + string(foldRune(':')) + string(foldText(value))
}

var allToken = string(nsFacet) + "*"

// docTokens is the full-text document of an entry, in position order.
func docTokens(text, name string, facets [][2]string) []string {
	body, nm := foldText(text), foldText(strings.ToLower(name))
	out := make([]string, 0, 2*len(body)+2*len(nm)+len(facets)+1)
	for i := 0; i+1 < len(body); i++ {
		out = append(out, string(body[i:i+2]))
	}
	for i := 0; i+1 < len(nm); i++ {
		out = append(out, withPrefix(nsName, nm[i:i+2]))
	}
	for _, set := range []struct {
		rs     []rune
		prefix rune
	}{{body, 0}, {nm, nsName}} {
		seen := map[rune]bool{}
		for _, r := range set.rs {
			if !seen[r] {
				seen[r] = true
				out = append(out, withPrefix(set.prefix, []rune{r}))
			}
		}
	}
	for _, f := range facets {
		out = append(out, facetToken(f[0], f[1]))
	}
	return append(out, allToken)
}

// tsvectorLiteral renders tokens as PostgreSQL tsvector input with their
// positions (1-based; PostgreSQL keeps positions up to 16383).
func tsvectorLiteral(tokens []string) string {
	pos := map[string][]int{}
	var order []string
	for i, t := range tokens {
		if _, ok := pos[t]; !ok {
			order = append(order, t)
		}
		p := min(i+1, 16383)
		if ps := pos[t]; len(ps) == 0 || ps[len(ps)-1] != p {
			pos[t] = append(ps, p)
		}
	}
	var b strings.Builder
	for i, t := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tsQuote(t))
		b.WriteByte(':')
		for j, p := range pos[t] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}

// tsQuote quotes a lexeme for tsvector and tsquery input. Folded tokens hold
// no quotes, backslashes or spaces; they are escaped anyway.
func tsQuote(t string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(t) + "'"
}

// expr is a full-text match expression, rendered for FTS5 or tsquery.
type expr struct {
	op   string // "phrase", "and", "or", "not" (kids[0] and not kids[1])
	toks []string
	kids []*expr
}

func phrase(toks []string) *expr { return &expr{op: "phrase", toks: toks} }

func and(kids ...*expr) *expr {
	if len(kids) == 1 {
		return kids[0]
	}
	return &expr{op: "and", kids: kids}
}

func or(kids ...*expr) *expr {
	if len(kids) == 1 {
		return kids[0]
	}
	return &expr{op: "or", kids: kids}
}

func andNot(a, b *expr) *expr { return &expr{op: "not", kids: []*expr{a, b}} }

func (e *expr) fts5() string {
	switch e.op {
	case "phrase":
		return `"` + strings.Join(e.toks, " ") + `"`
	case "not":
		return "(" + e.kids[0].fts5() + " NOT " + e.kids[1].fts5() + ")"
	}
	parts := make([]string, len(e.kids))
	for i, k := range e.kids {
		parts[i] = k.fts5()
	}
	return "(" + strings.Join(parts, " "+strings.ToUpper(e.op)+" ") + ")"
}

func (e *expr) tsquery() string {
	switch e.op {
	case "phrase":
		q := make([]string, len(e.toks))
		for i, t := range e.toks {
			q[i] = tsQuote(t)
		}
		return "(" + strings.Join(q, " <-> ") + ")"
	case "not":
		return "(" + e.kids[0].tsquery() + " & !" + e.kids[1].tsquery() + ")"
	}
	sep := " & "
	if e.op == "or" {
		sep = " | "
	}
	parts := make([]string, len(e.kids))
	for i, k := range e.kids {
		parts[i] = k.tsquery()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// packFacets packs the seven shown facets of an entry into a combination
// (catalog_search_combos.k):
// org, level, share, open, frequency, themes, formats, separated by \x1f,
// themes and formats joined by |.
func packFacets(e *Entry) string {
	return strings.Join([]string{e.OrgID, string(e.Level), string(e.Share.Attr), string(e.Open.Attr), string(e.Frequency),
		strings.Join(e.Themes, "|"), strings.Join(e.Formats, "|")}, "\x1f")
}

// facetsOf unpacks k into (facet, value) pairs of the shown facets.
func facetsOf(k string, fn func(facet, value string)) {
	parts := strings.SplitN(k, "\x1f", 7)
	for i, p := range parts {
		if i >= len(packedFacets) {
			break
		}
		f := packedFacets[i]
		if f == "theme" || f == "format" {
			for _, v := range strings.Split(p, "|") {
				if v != "" {
					fn(f, v)
				}
			}
			continue
		}
		fn(f, p)
	}
}

var packedFacets = []string{"org", "level", "share", "open", "frequency", "theme", "format"}

// ridOf is an entry's search row id: the time and sequence bits of its
// UUIDv7 id, so row ids sort as ids do (newest first is rid DESC).
func ridOf(id string) int64 {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		var h uint64 = 14695981039346656037
		for i := 0; i < len(id); i++ {
			h = (h ^ uint64(id[i])) * 1099511628211
		}
		return int64(h >> 4)
	}
	ms := uint64(u[0])<<40 | uint64(u[1])<<32 | uint64(u[2])<<24 | uint64(u[3])<<16 | uint64(u[4])<<8 | uint64(u[5])
	seq := uint64(u[6]&0x0f)<<8 | uint64(u[7])
	return int64(ms<<12 | seq)
}

// facetDelta is a change to the precomputed browse counters.
type facetDelta struct {
	scope, facet, value, label string
	n                          int
}

type deltas map[[3]string]*facetDelta

func (d deltas) add(k, orgName string, sign int) {
	open := false
	facetsOf(k, func(f, v string) {
		if f == "open" && v != string(None) {
			open = true
		}
	})
	scopes := []string{"all"}
	if open {
		scopes = append(scopes, "open")
	}
	for _, sc := range scopes {
		d.one(sc, "~total", "", "", sign)
		facetsOf(k, func(f, v string) {
			l := ""
			if f == "org" {
				l = orgName
			}
			d.one(sc, f, v, l, sign)
		})
	}
}

func (d deltas) one(scope, facet, value, label string, n int) {
	key := [3]string{scope, facet, value}
	x := d[key]
	if x == nil {
		x = &facetDelta{scope: scope, facet: facet, value: value}
		d[key] = x
	}
	x.n += n
	if label != "" {
		x.label = label
	}
}

// apply writes the deltas in one statement, in key order, so concurrent
// publications lock the counters in the same order.
func (d deltas) apply(ctx context.Context, tx *store.Tx) error {
	list := make([]*facetDelta, 0, len(d))
	for _, x := range d {
		if x.n != 0 || x.label != "" {
			list = append(list, x)
		}
	}
	if len(list) == 0 {
		return nil
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.scope != b.scope {
			return a.scope < b.scope
		}
		if a.facet != b.facet {
			return a.facet < b.facet
		}
		return a.value < b.value
	})
	per := 900 / 5
	for start := 0; start < len(list); start += per {
		end := min(start+per, len(list))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO catalog_facet_counts (scope, facet, value, label, n) VALUES `)
		args := make([]any, 0, 5*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			x := list[i]
			fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d,$%d)", len(args)+1, len(args)+2, len(args)+3, len(args)+4, len(args)+5)
			args = append(args, x.scope, x.facet, x.value, x.label, x.n)
		}
		sb.WriteString(` ON CONFLICT (scope, facet, value) DO UPDATE SET n = catalog_facet_counts.n + excluded.n,
			label = CASE WHEN excluded.label <> '' THEN excluded.label ELSE catalog_facet_counts.label END`)
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("catalog: facet counters: %w", err)
		}
	}
	return nil
}

// comboID is the id of a facet combination, added when new. The write path
// always asks the database: an id cached from a transaction that rolls back
// could be handed to another combination.
func comboID(ctx context.Context, tx *store.Tx, k string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_search_combos (k) VALUES ($1) ON CONFLICT (k) DO NOTHING`, k); err != nil {
		return 0, fmt.Errorf("catalog: facet combination: %w", err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM catalog_search_combos WHERE k = $1`, k).Scan(&id); err != nil {
		return 0, fmt.Errorf("catalog: facet combination: %w", err)
	}
	return id, nil
}

// indexSearch writes the search row and document of a published entry and
// returns its rid (the caller stores it as catalog_resources.fts_rowid).
func (s *Service) indexSearch(ctx context.Context, tx *store.Tx, id, orgName, text string, e *Entry, d deltas) (int64, error) {
	rid := ridOf(id)
	for {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM catalog_search WHERE rid = $1`, rid).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("catalog: index: %w", err)
		}
		rid++ // another entry's id shares the bits (practically never)
	}
	k := packFacets(e)
	c, err := comboID(ctx, tx, k)
	if err != nil {
		return 0, err
	}
	toks := docTokens(text, e.Name, terms(e))
	openList := boolInt(e.Open.Attr != None)
	if tx.Dialect == store.SQLite {
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_sx (rowid, body) VALUES ($1, $2)`, rid, strings.Join(toks, " ")); err != nil {
			return 0, fmt.Errorf("catalog: index text: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_search (rid, c, open_list) VALUES ($1, $2, $3)`, rid, c, openList); err != nil {
			return 0, fmt.Errorf("catalog: index: %w", err)
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_search (rid, c, open_list, body) VALUES ($1, $2, $3, $4::tsvector)`,
		rid, c, openList, tsvectorLiteral(toks)); err != nil {
		return 0, fmt.Errorf("catalog: index: %w", err)
	}
	d.add(k, orgName, 1)
	return rid, nil
}

// unindexSearch removes id's search row and document, adding the counter
// changes to d. The caller resets catalog_resources.fts_rowid.
func (s *Service) unindexSearch(ctx context.Context, tx *store.Tx, id string, d deltas) error {
	var rid int64
	err := tx.QueryRowContext(ctx, `SELECT fts_rowid FROM catalog_resources WHERE id = $1`, id).Scan(&rid)
	if errors.Is(err, sql.ErrNoRows) || rid == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog: unindex: %w", err)
	}
	var k string
	err = tx.QueryRowContext(ctx, `DELETE FROM catalog_search WHERE rid = $1 RETURNING (SELECT k FROM catalog_search_combos WHERE id = c)`, rid).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog: unindex: %w", err)
	}
	if tx.Dialect == store.SQLite {
		if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_sx WHERE rowid = $1`, rid); err != nil {
			return fmt.Errorf("catalog: unindex text: %w", err)
		}
	}
	d.add(k, "", -1)
	return nil
}

// ensureSearchIndex (re)builds the search index from the published entries
// when it was built by another version (or never). The settings row is
// locked for the rebuild, so one process does it.
func (s *Service) ensureSearchIndex(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO catalog_settings (key, value, updated_at) VALUES ('search_index', '', 0) ON CONFLICT (key) DO NOTHING`); err != nil {
		return fmt.Errorf("catalog: search index setting: %w", err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM catalog_settings WHERE key = 'search_index'`).Scan(&v); err != nil {
		return fmt.Errorf("catalog: search index setting: %w", err)
	}
	if v == searchIndexVersion {
		return nil
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE catalog_settings SET value = $1 WHERE key = 'search_index' AND value <> $1`, searchIndexVersion)
		if err != nil {
			return fmt.Errorf("catalog: search index setting: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		clear := []string{`DELETE FROM catalog_search`, `DELETE FROM catalog_facet_counts`, `UPDATE catalog_resources SET fts_rowid = 0 WHERE fts_rowid <> 0`}
		if tx.Dialect == store.SQLite {
			clear = append(clear, `DELETE FROM catalog_sx`)
		}
		for _, q := range clear {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("catalog: rebuild search index: %w", err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, org_name, doc FROM catalog_resources WHERE status = $1 ORDER BY id`, StatusPublished)
		if err != nil {
			return fmt.Errorf("catalog: rebuild search index: %w", err)
		}
		type pub struct {
			id, orgName string
			e           *Entry
		}
		var all []pub
		for rows.Next() {
			var p pub
			var doc sql.NullString
			if err := rows.Scan(&p.id, &p.orgName, &doc); err != nil {
				rows.Close()
				return err
			}
			if p.e, err = decodeEntry(doc); err != nil {
				rows.Close()
				return err
			}
			if p.e != nil {
				all = append(all, p)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		d := deltas{}
		for _, p := range all {
			rid, err := s.indexSearch(ctx, tx, p.id, p.orgName, searchText(p.e, p.orgName), p.e, d)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET fts_rowid = $1 WHERE id = $2`, rid, p.id); err != nil {
				return err
			}
		}
		return d.apply(ctx, tx)
	})
}
