package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// Filter selects entries. Every non-empty field must match. Results come
// newest first (descending seq).
type Filter struct {
	ResourceID string
	OrgID      string
	GrantID    string
	ActorID    string
	// ContentHash is the hex SHA-256 of what an event delivered or stored.
	ContentHash string
	// Subject is a subject hash (SubjectHash or LookupSubject), never an
	// identifier in clear.
	Subject string
	Action  Action
	// Since (inclusive) and Until (exclusive) bound the event time.
	Since, Until time.Time
	// After is the cursor a previous page returned.
	After string
	// Limit is the page size: default 50, at most 1000.
	Limit int
}

var errBadCursor = apperr.New(apperr.Invalid, "ledger.bad_cursor", "分页游标无效", "invalid cursor")

// Query returns one page of the entries f selects and the cursor of the next
// page ("" when this is the last).
func (l *Ledger) Query(ctx context.Context, f Filter) ([]Entry, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	if f.Subject != "" && !IsSubjectHash(f.Subject) {
		return nil, "", apperr.Invalidf("ledger.bad_subject", "subject", "数据主体须以其标识哈希查询", "query a data subject by its subject hash")
	}
	if f.ContentHash != "" && !isHex64(f.ContentHash) {
		return nil, "", apperr.Invalidf("ledger.bad_content_hash", "content_hash", "内容哈希须为 64 位十六进制 SHA-256", "a content hash is a SHA-256 in 64 lowercase hex digits")
	}
	if f.Action != "" && !f.Action.Valid() {
		return nil, "", apperr.Invalidf("ledger.bad_action", "action", "未知的处理行为 %s", "unknown action %s", f.Action)
	}
	before := int64(-1)
	if f.After != "" {
		c, err := strconv.ParseUint(f.After, 10, 63)
		if err != nil {
			return nil, "", errBadCursor.At("cursor")
		}
		before = int64(c)
	}
	indexed := f.ResourceID != "" || f.OrgID != "" || f.GrantID != "" || f.ActorID != "" || f.Action != "" || f.ContentHash != "" ||
		!f.Since.IsZero() || !f.Until.IsZero()
	if !indexed {
		// By seq alone (and subject, indexed at append): no split.
		out, err := l.queryPart(ctx, "e", f, -1, before, limit+1)
		return page(out, limit, err)
	}
	// The unindexed tail first (its entries are the newest), then the
	// indexed entries below it, read through ledger_entry_index. upto is
	// read once: entries below it stay indexed, so the two reads neither
	// miss nor repeat an entry whatever commits in between.
	upto, err := indexedUpTo(ctx, l.db)
	if err != nil {
		return nil, "", err
	}
	out, err := l.queryPart(ctx, "e", f, upto, before, limit+1)
	if err != nil || len(out) > limit {
		return page(out, limit, err)
	}
	rest, err := l.queryPart(ctx, "i", f, upto, before, limit+1-len(out))
	return page(append(out, rest...), limit, err)
}

// queryPart reads, newest first, at most n entries that f selects: on "e",
// from ledger_entries with seq >= upto (all of them when upto < 0); on "i",
// through ledger_entry_index, with seq < upto. before > 0 keeps seq below
// it (the page cursor).
func (l *Ledger) queryPart(ctx context.Context, on string, f Filter, upto, before int64, n int) ([]Entry, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from := `ledger_entries e`
	if on == "i" {
		from = `ledger_entry_index i JOIN ledger_entries e ON e.seq = i.seq`
	}
	if f.Subject != "" {
		from += ` JOIN ledger_entry_subjects s ON s.seq = ` + on + `.seq AND s.subject = ` + arg(f.Subject)
	}
	for _, c := range []struct{ col, v string }{
		{"resource_id", f.ResourceID}, {"org_id", f.OrgID}, {"grant_id", f.GrantID}, {"actor_id", f.ActorID}, {"action", string(f.Action)},
		{"content_hash", f.ContentHash},
	} {
		if c.v != "" {
			where = append(where, on+"."+c.col+" = "+arg(c.v))
		}
	}
	if !f.Since.IsZero() {
		where = append(where, on+".time >= "+arg(store.Micros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, on+".time < "+arg(store.Micros(f.Until)))
	}
	switch {
	case on == "i":
		where = append(where, "i.seq < "+arg(upto))
	case upto >= 0:
		where = append(where, "e.seq >= "+arg(upto))
	}
	if before >= 0 {
		where = append(where, on+".seq < "+arg(before))
	}
	q := `SELECT e.seq, e.leaf_hash, e.body FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + on + `.seq DESC LIMIT ` + arg(n)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: query: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			seq        int64
			leaf, body []byte
		)
		if err := rows.Scan(&seq, &leaf, &body); err != nil {
			return nil, fmt.Errorf("ledger: query: %w", err)
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, err
		}
		e.LeafHash = leaf
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: query: %w", err)
	}
	return out, nil
}

// page cuts out to limit entries and returns the next page's cursor.
func page(out []Entry, limit int, err error) ([]Entry, string, error) {
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatUint(out[limit-1].Seq, 10)
	}
	return out, next, nil
}
