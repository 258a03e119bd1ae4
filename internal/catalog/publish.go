package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// flatten turns a JSON value into path → leaf value.
func flatten(prefix string, v any, out map[string]any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
	default:
		out[prefix] = v
	}
}

func entryMap(e *Entry) map[string]any {
	c := *e
	c.Fields = nil
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "fields")
	out := map[string]any{}
	flatten("", m, out)
	return out
}

func fieldMap(f Field) map[string]any {
	b, _ := json.Marshal(f)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// diff lists the changes from prev (nil for a first version) to next.
// Removing or retyping a field breaks consumers of prev.
func diff(prev, next *Entry) []Change {
	out := []Change{}
	if prev == nil {
		return out
	}
	a, b := entryMap(prev), entryMap(next)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, inA := a[k]
		y, inB := b[k]
		switch {
		case inA && !inB:
			out = append(out, Change{Path: k, Op: "remove", From: x})
		case !inA && inB:
			out = append(out, Change{Path: k, Op: "add", To: y})
		case !reflect.DeepEqual(x, y):
			out = append(out, Change{Path: k, Op: "change", From: x, To: y})
		}
	}
	old := map[string]Field{}
	for _, f := range prev.Fields {
		old[f.Name] = f
	}
	seen := map[string]bool{}
	for _, f := range next.Fields {
		seen[f.Name] = true
		o, ok := old[f.Name]
		if !ok {
			out = append(out, Change{Path: "fields." + f.Name, Op: "add", To: f.Label})
			continue
		}
		om, nm := fieldMap(o), fieldMap(f)
		attrs := make([]string, 0, len(nm))
		for k := range nm {
			attrs = append(attrs, k)
		}
		for k := range om {
			if _, ok := nm[k]; !ok {
				attrs = append(attrs, k)
			}
		}
		sort.Strings(attrs)
		for _, k := range attrs {
			if !reflect.DeepEqual(om[k], nm[k]) {
				out = append(out, Change{Path: "fields." + f.Name + "." + k, Op: "change", From: om[k], To: nm[k], Breaking: k == "type"})
			}
		}
	}
	for _, f := range prev.Fields {
		if !seen[f.Name] {
			out = append(out, Change{Path: "fields." + f.Name, Op: "remove", From: f.Label, Breaking: true})
		}
	}
	return out
}

func breakingOf(changes []Change) []Change {
	out := []Change{}
	for _, c := range changes {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

// PublishInput says why a draft is published.
type PublishInput struct {
	Reason string `json:"reason"`
	// AcknowledgeBreaking confirms publishing a draft that removes or
	// retypes fields of the published version: it becomes a new major version.
	AcknowledgeBreaking bool `json:"acknowledge_breaking"`
	// Rev, when set, must be the draft revision being published.
	Rev int `json:"rev"`
}

// PublishResult is a publication, or the review case it waits on.
type PublishResult struct {
	Resource *Resource `json:"resource"`
	// ReviewCaseID is set when the authority must review first (R-CAT-3);
	// the entry is published when the case is approved.
	ReviewCaseID string `json:"review_case_id,omitempty"`
}

var errBreaking = apperr.New(apperr.Conflict, "catalog.breaking_change", "", "")

func breakingError(changes []Change) error {
	paths := make([]string, len(changes))
	for i, c := range changes {
		paths[i] = c.Path + " (" + c.Op + ")"
	}
	e := errBreaking.At(strings.Join(paths, ", "))
	e.ZH = "草稿删除或更改了已发布版本中数据项的类型，会影响现有使用者：" + strings.Join(paths, "，") + "。确认发布新的主版本请设置 acknowledge_breaking"
	e.EN = "the draft removes or retypes fields of the published version, which breaks its consumers: " + strings.Join(paths, ", ") + "; set acknowledge_breaking to publish a new major version"
	return e
}

// Publish publishes an entry's draft. When the authority requires review
// and p is not the authority, it files a catalog_review case instead, and
// the entry is published when that case is approved.
func (s *Service) Publish(ctx context.Context, p identity.Principal, id string, in PublishInput) (*PublishResult, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if err := textOK("reason", in.Reason, 1000, true); err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.RequireReview && !isAuthority(p) {
		return s.requestReview(ctx, p, id, in)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.publishTx(ctx, tx, p, nil, id, in, "")
	})
	if err != nil {
		return nil, err
	}
	res, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return &PublishResult{Resource: res}, nil
}

// publishTx publishes the draft of id inside tx. by is the publisher;
// approver and caseID are set when the authority approved it on a case,
// and the ledger then records the approver as the one who disclosed it.
func (s *Service) publishTx(ctx context.Context, tx *store.Tx, by identity.Principal, approverP *identity.Principal, id string, in PublishInput, caseID string) error {
	approver := ""
	actor := by
	if approverP != nil {
		_, approver = actorOf(*approverP)
		actor = *approverP
	}
	r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
	if err != nil {
		return err
	}
	if r.RemoteSource != "" {
		return ErrRemote
	}
	if caseID == "" {
		if _, err := s.checkOrg(ctx, by, r.OrgID); err != nil {
			return err
		}
		if r.ReviewCaseID != "" {
			return ErrReviewPending.At(r.ReviewCaseID)
		}
	}
	next, err := decodeEntry(r.Draft)
	if err != nil {
		return err
	}
	if next == nil {
		return ErrNoDraft.At(id)
	}
	if in.Rev != 0 && in.Rev != r.DraftRev {
		return ErrStaleDraft.At("rev")
	}
	next.Code, next.OrgID = r.Code, r.OrgID
	// The rules may have changed since the draft was saved.
	cfg, err := s.config(ctx, tx)
	if err != nil {
		return err
	}
	if err := validate(next, &cfg); err != nil {
		return err
	}
	prev, err := decodeEntry(r.Doc)
	if err != nil {
		return err
	}
	changes := diff(prev, next)
	breaking := breakingOf(changes)
	if len(breaking) > 0 && !in.AcknowledgeBreaking {
		return breakingError(breaking)
	}
	major, minor := r.Major, r.Minor+1
	if major == 0 || len(breaking) > 0 {
		major, minor = major+1, 0
	}
	now := s.clock.Now()
	if err := s.index(ctx, tx, r, next, major, minor, now); err != nil {
		return err
	}
	byKind, byID := actorOf(by)
	if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_versions (id, resource_id, major, minor, action, doc, diff, breaking, reason, actor_kind, actor_id, approver, case_id, at)
		VALUES ($1, $2, $3, $4, 'publish', $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		store.NewID(), id, major, minor, encodeEntry(next), mustJSON(changes), boolInt(len(breaking) > 0), in.Reason, byKind, byID, approver, caseID, store.Micros(now)); err != nil {
		return fmt.Errorf("catalog: record version: %w", err)
	}
	if err := bumpGeneration(ctx, tx); err != nil {
		return err
	}
	ev := s.event(actor, ledger.Disclose, id, "catalog.publish", map[string]any{
		"code": r.Code, "version": versionString(major, minor), "reason": in.Reason, "breaking": len(breaking) > 0,
		"changes": len(changes), "approver": approver, "case_id": caseID,
	})
	ev.Fields = fieldNames(next.Fields)
	return s.led.Append(ctx, tx, ev)
}

func fieldNames(fs []Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func bumpGeneration(ctx context.Context, tx *store.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE catalog_settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'generation'`)
	if err != nil {
		return fmt.Errorf("catalog: bump generation: %w", err)
	}
	return nil
}

// searchText is what full-text search reads: name, description, tags,
// field names and labels and the org's name, lower-cased.
func searchText(e *Entry, orgName string) string {
	var b strings.Builder
	b.WriteString(e.Name)
	b.WriteString(" \x1f ")
	b.WriteString(e.Description)
	b.WriteString(" \x1f ")
	b.WriteString(strings.Join(e.Tags, " "))
	b.WriteString(" \x1f ")
	for _, f := range e.Fields {
		b.WriteString(f.Label)
		b.WriteByte(' ')
		b.WriteString(f.Name)
		b.WriteByte(' ')
	}
	b.WriteString(" \x1f ")
	b.WriteString(orgName)
	return strings.ToLower(b.String())
}

// terms are the facet values of an entry.
func terms(e *Entry) [][2]string {
	t := [][2]string{
		{"org", e.OrgID}, {"level", string(e.Level)}, {"share", string(e.Share.Attr)}, {"open", string(e.Open.Attr)},
		{"frequency", string(e.Frequency)}, {"class", string(e.DataClass)}, {"delivery", string(e.Delivery.Mode)},
	}
	if e.Industry != "" {
		t = append(t, [2]string{"industry", e.Industry})
	}
	if e.Library.Kind != "" {
		t = append(t, [2]string{"library", e.Library.Kind + ":" + e.Library.Code})
	}
	for _, x := range e.Themes {
		t = append(t, [2]string{"theme", x})
	}
	for _, x := range e.Formats {
		t = append(t, [2]string{"format", x})
	}
	seen := map[string]bool{}
	for _, x := range e.Tags {
		k := strings.ToLower(x)
		if !seen[k] {
			seen[k] = true
			t = append(t, [2]string{"tag", k})
		}
	}
	return t
}

func labelKey(label string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(label) {
		switch r {
		case ' ', '\t', '（', '）', '(', ')', '_', '-', '·', '：', ':', '/', '、':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// index writes next as the published content of r: the row's columns, its
// facet terms, its fields and its full-text row.
func (s *Service) index(ctx context.Context, tx *store.Tx, r *row, next *Entry, major, minor int, now time.Time) error {
	d := deltas{}
	if err := s.unindexInto(ctx, tx, r.ID, d); err != nil {
		return err
	}
	text := searchText(next, r.OrgName)
	ftsRowid, err := s.indexSearch(ctx, tx, r.ID, r.OrgName, text, next, d)
	if err != nil {
		return err
	}
	pubAt := r.PublishedAt
	if r.Status != StatusPublished || pubAt == 0 {
		pubAt = now.UnixMicro()
	}
	_, err = tx.ExecContext(ctx, `UPDATE catalog_resources SET status = $1, draft = NULL, review_case_id = '', doc = $2, major = $3, minor = $4,
		name = $5, data_class = $6, level = $7, share_attr = $8, open_attr = $9, frequency = $10, themes = $11, formats = $12,
		search = $13, fts_rowid = $14, published_at = $15, updated_at = $16 WHERE id = $17`,
		StatusPublished, encodeEntry(next), major, minor, next.Name, string(next.DataClass), string(next.Level), string(next.Share.Attr),
		string(next.Open.Attr), string(next.Frequency), "|"+strings.Join(next.Themes, "|")+"|", "|"+strings.Join(next.Formats, "|")+"|",
		text, ftsRowid, pubAt, now.UnixMicro(), r.ID)
	if err != nil {
		return fmt.Errorf("catalog: publish: %w", err)
	}
	ts := terms(next)
	if err := insertMany(ctx, tx, `INSERT INTO catalog_terms (facet, value, resource_id) VALUES `, 3, len(ts), func(i int) []any {
		return []any{ts[i][0], ts[i][1], r.ID}
	}); err != nil {
		return fmt.Errorf("catalog: index terms: %w", err)
	}
	fs := next.Fields
	if err := insertMany(ctx, tx, `INSERT INTO catalog_fields (resource_id, pos, org_id, name, label, label_key, code_list) VALUES `, 7, len(fs), func(i int) []any {
		return []any{r.ID, i, r.OrgID, fs[i].Name, fs[i].Label, labelKey(fs[i].Label), fs[i].CodeList}
	}); err != nil {
		return fmt.Errorf("catalog: index fields: %w", err)
	}
	return d.apply(ctx, tx)
}

// insertMany inserts n rows of width columns in as few statements as the
// drivers' parameter limits allow.
func insertMany(ctx context.Context, tx *store.Tx, prefix string, width, n int, row func(i int) []any) error {
	per := 900 / width
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		var sb strings.Builder
		sb.WriteString(prefix)
		args := make([]any, 0, (end-start)*width)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for j := 0; j < width; j++ {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "$%d", len(args)+j+1)
			}
			sb.WriteByte(')')
			args = append(args, row(i)...)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// unindex removes an entry from search, facets, the browse counters and the
// duplicate check.
func (s *Service) unindex(ctx context.Context, tx *store.Tx, id string) error {
	d := deltas{}
	if err := s.unindexInto(ctx, tx, id, d); err != nil {
		return err
	}
	return d.apply(ctx, tx)
}

// unindexInto is unindex with the counter changes left in d.
func (s *Service) unindexInto(ctx context.Context, tx *store.Tx, id string, d deltas) error {
	if err := s.unindexSearch(ctx, tx, id, d); err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM catalog_terms WHERE resource_id = $1`, `DELETE FROM catalog_fields WHERE resource_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("catalog: unindex: %w", err)
		}
	}
	return nil
}

// WithdrawInput says why an entry is withdrawn.
type WithdrawInput struct {
	Reason string `json:"reason"`
}

// Withdraw takes a published entry out of the public catalog. Its versions
// stay; it can be published again from a new draft.
func (s *Service) Withdraw(ctx context.Context, p identity.Principal, id string, in WithdrawInput) (*Resource, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if err := textOK("reason", in.Reason, 1000, true); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
		if err != nil {
			return err
		}
		if r.RemoteSource != "" {
			return ErrRemote
		}
		if _, err := s.checkOrg(ctx, p, r.OrgID); err != nil {
			return err
		}
		if r.Status != StatusPublished {
			return apperr.New(apperr.Conflict, "catalog.not_published", "只能撤回已发布的条目", "only a published entry can be withdrawn").At(id)
		}
		if err := s.unindex(ctx, tx, id); err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET status = $1, updated_at = $2, fts_rowid = 0 WHERE id = $3`, StatusWithdrawn, store.Micros(now), id); err != nil {
			return fmt.Errorf("catalog: withdraw: %w", err)
		}
		kind, actor := actorOf(p)
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_versions (id, resource_id, major, minor, action, doc, diff, reason, actor_kind, actor_id, at)
			VALUES ($1, $2, $3, $4, 'withdraw', NULL, '[]', $5, $6, $7, $8)`, store.NewID(), id, r.Major, r.Minor, in.Reason, kind, actor, store.Micros(now)); err != nil {
			return fmt.Errorf("catalog: record withdrawal: %w", err)
		}
		if err := bumpGeneration(ctx, tx); err != nil {
			return err
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, id, "catalog.withdraw", map[string]any{"code": r.Code, "version": versionString(r.Major, r.Minor), "reason": in.Reason}))
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, p, id)
}
