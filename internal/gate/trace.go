package gate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/xuri/excelize/v2"
)

// TraceResult names who received a leaked file (R-SHR-5).
type TraceResult struct {
	// Exact lists deliveries whose bytes are exactly the file's.
	Exact []*Delivered `json:"exact"`
	// Matches are grants whose fingerprint tags the file's pseudonyms carry,
	// best first.
	Matches []TraceMatch `json:"matches"`
	// Tokens is how many pseudonym-shaped cells were examined.
	Tokens int `json:"tokens"`
}

// TraceMatch is one grant a file is traced to.
type TraceMatch struct {
	Grant *Grant `json:"grant"`
	// Tagged is how many of the file's pseudonyms carry this grant's tag.
	// One is already strong evidence: a random cell matches a given grant
	// with probability 2^-32.
	Tagged int `json:"tagged"`
	// Deliveries are this grant's deliveries (newest first, at most 20).
	Deliveries []*Delivered `json:"deliveries"`
}

// maxTraceTokens bounds the work of one trace.
const maxTraceTokens = 5000

// Trace finds the grant and recipient a file came from: by its exact
// content hash, and by the fingerprint tags of its pseudonymised cells,
// whatever the file's format (CSV, XLSX, JSON, NDJSON or any text), row
// and column order, or how many rows were kept.
func (s *Service) Trace(ctx context.Context, file []byte) (*TraceResult, error) {
	out := &TraceResult{}
	sum := sha256.Sum256(file)
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM gate_deliveries WHERE content_hash = $1 ORDER BY created_at`, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		d, err := s.Delivery(ctx, id)
		if err != nil {
			return nil, err
		}
		out.Exact = append(out.Exact, d)
	}
	tokens := pseudonymCells(file)
	out.Tokens = len(tokens)
	if len(tokens) == 0 {
		return out, nil
	}
	grants, err := s.queryGrants(ctx, `SELECT `+grantCols+` FROM gate_grants`)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		n := 0
		b := tagCipher(s.traceKey, s.opts.MaskAlgorithm, g.ID)
		for _, t := range tokens {
			if tagMatches(b, t) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		m := TraceMatch{Grant: g, Tagged: n}
		drows, err := s.db.QueryContext(ctx, `SELECT id FROM gate_deliveries WHERE grant_id = $1 ORDER BY created_at DESC LIMIT 20`, g.ID)
		if err != nil {
			return nil, err
		}
		var dids []string
		for drows.Next() {
			var id string
			if err := drows.Scan(&id); err == nil {
				dids = append(dids, id)
			}
		}
		drows.Close()
		for _, id := range dids {
			if d, err := s.Delivery(ctx, id); err == nil {
				m.Deliveries = append(m.Deliveries, d)
			}
		}
		out.Matches = append(out.Matches, m)
	}
	sort.Slice(out.Matches, func(i, j int) bool { return out.Matches[i].Tagged > out.Matches[j].Tagged })
	return out, nil
}

// pseudonymCells extracts the distinct pseudonym-shaped values of a file:
// cells of an XLSX workbook, or 32-hex-digit words of any text (CSV, JSON,
// NDJSON), so the format and layout do not matter.
func pseudonymCells(file []byte) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if isPseudonymToken(v) && !seen[v] && len(out) < maxTraceTokens {
			seen[v] = true
			out = append(out, v)
		}
	}
	if bytes.HasPrefix(file, []byte("PK")) {
		if f, err := excelize.OpenReader(bytes.NewReader(file)); err == nil {
			defer f.Close()
			for _, sh := range f.GetSheetList() {
				rows, err := f.Rows(sh)
				if err != nil {
					continue
				}
				for rows.Next() {
					cols, _ := rows.Columns()
					for _, c := range cols {
						add(c)
					}
				}
				rows.Close()
			}
			return out
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	sc.Split(splitWords)
	for sc.Scan() {
		add(sc.Text())
	}
	return out
}

// splitWords splits text at anything that is not a hex digit.
func splitWords(data []byte, atEOF bool) (int, []byte, error) {
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	start := 0
	for start < len(data) && !isHex(data[start]) {
		start++
	}
	for i := start; i < len(data); i++ {
		if !isHex(data[i]) {
			return i + 1, data[start:i], nil
		}
	}
	if atEOF && len(data) > start {
		return len(data), data[start:], nil
	}
	return start, nil, nil
}
