package gate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/ledger"
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
	// Deliveries are found through their ledger events, indexed by content
	// hash and grant (decision 0109); on PostgreSQL the newest are still
	// queued for the integrator, so integrate them first.
	if _, err := s.led.Integrate(ctx); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(file)
	ids, err := s.deliveryIDs(ctx, ledger.Filter{ContentHash: hex.EncodeToString(sum[:])}, 0)
	if err != nil {
		return nil, err
	}
	slices.Reverse(ids) // oldest first
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
		dids, err := s.deliveryIDs(ctx, ledger.Filter{GrantID: g.ID}, traceDeliveries)
		if err != nil {
			return nil, err
		}
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

// traceDeliveries is how many of a matched grant's deliveries a trace
// lists, newest first.
const traceDeliveries = 20

// deliveryIDs returns the ids of the deliveries (provide and transmit
// events with a delivery id) among the ledger entries f selects, newest
// first: at most max, or all when max is 0.
func (s *Service) deliveryIDs(ctx context.Context, f ledger.Filter, max int) ([]string, error) {
	type found struct {
		seq uint64
		id  string
	}
	var all []found
	for _, action := range []ledger.Action{ledger.Provide, ledger.Transmit} {
		f := f
		f.Action, f.Limit = action, 1000
		if max > 0 {
			f.Limit = max
		}
		for {
			es, next, err := s.led.Query(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				var d struct {
					DeliveryID string `json:"delivery_id"`
				}
				if json.Unmarshal(e.Detail, &d) == nil && d.DeliveryID != "" {
					all = append(all, found{e.Seq, d.DeliveryID})
				}
			}
			if next == "" || max > 0 {
				break
			}
			f.After = next
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq > all[j].seq })
	if max > 0 && len(all) > max {
		all = all[:max]
	}
	ids := make([]string, len(all))
	for i, x := range all {
		ids[i] = x.id
	}
	return ids, nil
}
