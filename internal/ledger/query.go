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
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from := `ledger_entries e`
	if f.Subject != "" {
		if !IsSubjectHash(f.Subject) {
			return nil, "", apperr.Invalidf("ledger.bad_subject", "subject", "数据主体须以其标识哈希查询", "query a data subject by its subject hash")
		}
		from += ` JOIN ledger_entry_subjects s ON s.seq = e.seq AND s.subject = ` + arg(f.Subject)
	}
	for _, c := range []struct{ col, v string }{
		{"resource_id", f.ResourceID}, {"org_id", f.OrgID}, {"grant_id", f.GrantID}, {"actor_id", f.ActorID}, {"action", string(f.Action)},
	} {
		if c.v != "" {
			where = append(where, "e."+c.col+" = "+arg(c.v))
		}
	}
	if f.Action != "" && !f.Action.Valid() {
		return nil, "", apperr.Invalidf("ledger.bad_action", "action", "未知的处理行为 %s", "unknown action %s", f.Action)
	}
	if !f.Since.IsZero() {
		where = append(where, "e.time >= "+arg(store.Micros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "e.time < "+arg(store.Micros(f.Until)))
	}
	if f.After != "" {
		c, err := strconv.ParseUint(f.After, 10, 63)
		if err != nil {
			return nil, "", errBadCursor.At("cursor")
		}
		where = append(where, "e.seq < "+arg(int64(c)))
	}
	q := `SELECT e.seq, e.leaf_hash, e.body FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY e.seq DESC LIMIT ` + arg(limit+1)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("ledger: query: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			seq        int64
			leaf, body []byte
		)
		if err := rows.Scan(&seq, &leaf, &body); err != nil {
			return nil, "", fmt.Errorf("ledger: query: %w", err)
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, "", err
		}
		e.LeafHash = leaf
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("ledger: query: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatUint(out[limit-1].Seq, 10)
	}
	return out, next, nil
}
