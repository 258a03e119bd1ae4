package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// similarThreshold is the least Dice coefficient of two labels' character
// bigrams for them to count as the same data item.
const similarThreshold = 0.7

// Duplicates finds published entries of other orgs that already provide
// fields: the same machine name, the same label (ignoring spacing and
// punctuation), the same code list, or a closely similar label (R-CAT-8,
// SZ11, XM19, FJ11). Entries that are not shared at all are not offered.
// excludeID is the entry being drafted.
func (s *Service) Duplicates(ctx context.Context, orgID, excludeID string, fields []Field) ([]Duplicate, error) {
	out := []Duplicate{}
	if len(fields) == 0 {
		return out, nil
	}
	var names, keys, lists []any
	var prefixes []string
	for _, f := range fields {
		names = append(names, f.Name)
		k := labelKey(f.Label)
		keys = append(keys, k)
		if f.CodeList != "" {
			lists = append(lists, f.CodeList)
		}
		if utf8.RuneCountInString(k) >= 2 {
			rs := []rune(k)
			prefixes = append(prefixes, string(rs[:2]))
		}
	}
	var args []any
	in := func(vals []any) string {
		ph := make([]string, len(vals))
		for i, v := range vals {
			args = append(args, v)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		return strings.Join(ph, ",")
	}
	conds := []string{"f.name IN (" + in(names) + ")", "f.label_key IN (" + in(keys) + ")"}
	if len(lists) > 0 {
		conds = append(conds, "f.code_list IN ("+in(lists)+")")
	}
	// Candidates for similarity share the label's first two characters:
	// an index range scan on label_key.
	for _, p := range prefixes {
		args = append(args, p, p+"\U0010FFFF")
		conds = append(conds, fmt.Sprintf("(f.label_key >= $%d AND f.label_key < $%d)", len(args)-1, len(args)))
	}
	args = append(args, orgID, excludeID, StatusPublished, string(None))
	n := len(args)
	q := fmt.Sprintf(`SELECT f.name, f.label, f.label_key, f.code_list, r.id, r.code, r.name, r.org_id, r.org_name, r.share_attr
		FROM catalog_fields f JOIN catalog_resources r ON r.id = f.resource_id
		WHERE (%s) AND f.org_id <> $%d AND r.id <> $%d AND r.status = $%d AND r.share_attr <> $%d
		ORDER BY r.id, f.pos LIMIT 2000`, strings.Join(conds, " OR "), n-3, n-2, n-1, n)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: duplicate check: %w", err)
	}
	defer rows.Close()
	type cand struct {
		name, label, key, list, rid, code, rname, org, orgName, share string
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.name, &c.label, &c.key, &c.list, &c.rid, &c.code, &c.rname, &c.org, &c.orgName, &c.share); err != nil {
			return nil, fmt.Errorf("catalog: duplicate check: %w", err)
		}
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: duplicate check: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k := labelKey(f.Label)
		for _, c := range cands {
			by := ""
			switch {
			case c.name == f.Name:
				by = "name"
			case c.key == k:
				by = "label"
			case f.CodeList != "" && c.list == f.CodeList:
				by = "code_list"
			case dice(c.key, k) >= similarThreshold:
				by = "similar"
			default:
				continue
			}
			key := f.Name + "\x00" + c.rid
			if seen[key] {
				continue
			}
			seen[key] = true
			how := fmt.Sprintf("可通过共享获取，无需重复采集：向 %s 申请共享目录 %s（%s）的数据项 %s", c.orgName, c.code, c.rname, c.name)
			if Attr(c.share) == Conditional {
				how += "（有条件共享，须提交共享申请）"
			} else {
				how += "（无条件共享，可直接获取）"
			}
			out = append(out, Duplicate{Field: f.Name, MatchedBy: by, ResourceID: c.rid, ResourceCode: c.code, ResourceName: c.rname,
				OrgID: c.org, OrgName: c.orgName, TheirField: c.name, TheirLabel: c.label, Share: Attr(c.share), How: how})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}

// dice is the Dice coefficient of two strings' character bigrams.
func dice(a, b string) float64 {
	ba, bb := bigrams(a), bigrams(b)
	if len(ba) == 0 || len(bb) == 0 {
		return 0
	}
	common := 0
	for g, n := range ba {
		common += min(n, bb[g])
	}
	total := 0
	for _, n := range ba {
		total += n
	}
	for _, n := range bb {
		total += n
	}
	return 2 * float64(common) / float64(total)
}

func bigrams(s string) map[string]int {
	rs := []rune(s)
	m := map[string]int{}
	for i := 0; i+1 < len(rs); i++ {
		m[string(rs[i:i+2])]++
	}
	return m
}
