package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// RuleKind is a kind of quality rule.
type RuleKind string

const (
	// RuleRange bounds a value: Min and/or Max, inclusive.
	RuleRange RuleKind = "range"
	// RulePattern requires the value's text to match a regular expression (RE2).
	RulePattern RuleKind = "pattern"
	// RuleCross compares a field with another field of the same record.
	RuleCross RuleKind = "cross"
)

// Severity says what a rule's violation does.
type Severity string

const (
	// SeverityError rejects the row.
	SeverityError Severity = "error"
	// SeverityWarning keeps the row and lowers the load's validity.
	SeverityWarning Severity = "warning"
)

// Rule is a quality rule on one dataset, added by the providing org or by
// the authority.
type Rule struct {
	ID         string   `json:"id"`
	ResourceID string   `json:"resource_id"`
	Kind       RuleKind `json:"kind"`
	Field      string   `json:"field"`
	Min        string   `json:"min,omitempty"`
	Max        string   `json:"max,omitempty"`
	Pattern    string   `json:"pattern,omitempty"`
	// Op is <, <=, =, !=, >= or > and Other the field compared with.
	Op       string   `json:"op,omitempty"`
	Other    string   `json:"other,omitempty"`
	Severity Severity `json:"severity"`
	// Message explains the rule to people whose rows break it.
	Message string `json:"message,omitempty"`
	// Authority marks a rule the authority set; the org cannot remove it.
	Authority bool      `json:"authority"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type ruleSpec struct {
	Min     string `json:"min,omitempty"`
	Max     string `json:"max,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	Op      string `json:"op,omitempty"`
	Other   string `json:"other,omitempty"`
}

var ops = []string{"<", "<=", "=", "!=", ">=", ">"}

func ruleInvalid(field, zh, en string, args ...any) error {
	return apperr.Invalidf("ingest.bad_rule", field, zh, en, args...)
}

// compiledRule is a rule ready to check rows.
type compiledRule struct {
	kind      RuleKind
	field     int
	fieldName string
	other     int
	op        string
	min, max  any
	re        *regexp.Regexp
	severity  Severity
	message   string
}

func compile(r Rule, fields []catalog.Field, d store.Dialect) (*compiledRule, error) {
	fi := slices.IndexFunc(fields, func(f catalog.Field) bool { return f.Name == r.Field })
	if fi < 0 {
		return nil, ruleInvalid("field", "数据项 %q 不存在", "field %q does not exist", r.Field)
	}
	c := &compiledRule{kind: r.Kind, field: fi, fieldName: r.Field, severity: r.Severity, message: r.Message, other: -1}
	col := &column{f: fields[fi]}
	col.f.Required = false
	switch r.Kind {
	case RuleRange:
		if !comparable(fields[fi].Type) {
			return nil, ruleInvalid("field", "类型为 %s 的数据项不能设范围", "a field of type %s has no range", fields[fi].Type)
		}
		if r.Min == "" && r.Max == "" {
			return nil, ruleInvalid("min", "范围规则须有 min 或 max", "a range rule needs min or max")
		}
		var ce *cellError
		if r.Min != "" {
			if c.min, ce = col.parse(r.Min, d, false); ce != nil {
				return nil, ruleInvalid("min", "min：%s", "min: %s", ce.zh)
			}
		}
		if r.Max != "" {
			if c.max, ce = col.parse(r.Max, d, false); ce != nil {
				return nil, ruleInvalid("max", "max：%s", "max: %s", ce.zh)
			}
		}
		if c.min != nil && c.max != nil && compare(c.min, c.max, fields[fi].Type) > 0 {
			return nil, ruleInvalid("max", "max 小于 min", "max is below min")
		}
	case RulePattern:
		if r.Pattern == "" || len(r.Pattern) > 500 {
			return nil, ruleInvalid("pattern", "须给出不超过 500 字节的正则表达式", "give a regular expression of at most 500 bytes")
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, ruleInvalid("pattern", "正则表达式无效：%v", "invalid regular expression: %v", err)
		}
		c.re = re
	case RuleCross:
		oi := slices.IndexFunc(fields, func(f catalog.Field) bool { return f.Name == r.Other })
		if oi < 0 || oi == fi {
			return nil, ruleInvalid("other", "比较的数据项 %q 不存在", "the other field %q does not exist", r.Other)
		}
		if !slices.Contains(ops, r.Op) {
			return nil, ruleInvalid("op", "比较符须为 %s 之一", "op must be one of %s", strings.Join(ops, " "))
		}
		if family(fields[fi].Type) != family(fields[oi].Type) {
			return nil, ruleInvalid("other", "%s 与 %s 类型不可比较", "%s and %s do not compare", r.Field, r.Other)
		}
		c.other, c.op = oi, r.Op
	default:
		return nil, ruleInvalid("kind", "规则类型须为 range、pattern 或 cross", "kind must be range, pattern or cross")
	}
	return c, nil
}

func comparable(t catalog.FieldType) bool {
	switch t {
	case "integer", "decimal", "date", "datetime", "string":
		return true
	}
	return false
}

func family(t catalog.FieldType) string {
	switch t {
	case "integer", "decimal":
		return "number"
	case "date", "datetime":
		return "time"
	}
	return string(t)
}

// compare orders two stored values of type t.
func compare(a, b any, t catalog.FieldType) int {
	switch family(t) {
	case "number":
		ra, oka := new(big.Rat).SetString(textOf(t, a))
		rb, okb := new(big.Rat).SetString(textOf(t, b))
		if oka && okb {
			return ra.Cmp(rb)
		}
	case "time":
		ta, oka := parseDateTime(textOf(t, a), false)
		tb, okb := parseDateTime(textOf(t, b), false)
		if oka && okb {
			return ta.Compare(tb)
		}
	}
	return strings.Compare(textOf(t, a), textOf(t, b))
}

// check returns why row breaks the rule, or nil. Empty values pass: that
// is completeness, measured on its own.
func (c *compiledRule) check(row []any, cols []*column) *cellError {
	v := row[c.field]
	if v == nil {
		return nil
	}
	t := cols[c.field].f.Type
	msg := func(zh, en string, args ...any) *cellError {
		ce := cellErr("ingest.rule."+string(c.kind), zh, en, args...)
		if c.message != "" {
			ce.zh += "（" + c.message + "）"
			ce.en += " (" + c.message + ")"
		}
		return ce
	}
	switch c.kind {
	case RuleRange:
		if c.min != nil && compare(v, c.min, t) < 0 {
			return msg("%s 小于下限 %s", "%s is below the minimum %s", textOf(t, v), textOf(t, c.min))
		}
		if c.max != nil && compare(v, c.max, t) > 0 {
			return msg("%s 大于上限 %s", "%s is above the maximum %s", textOf(t, v), textOf(t, c.max))
		}
	case RulePattern:
		if s := textOf(t, v); !c.re.MatchString(s) {
			return msg("%q 不符合格式 %s", "%q does not match %s", clip(s, 40), c.re.String())
		}
	case RuleCross:
		o := row[c.other]
		if o == nil {
			return nil
		}
		n := compare(v, o, t)
		ok := map[string]bool{"<": n < 0, "<=": n <= 0, "=": n == 0, "!=": n != 0, ">=": n >= 0, ">": n > 0}[c.op]
		if !ok {
			other := cols[c.other].f
			return msg("%s（%s）须 %s %s（%s）", "%s (%s) must be %s %s (%s)", c.fieldName, textOf(t, v), c.op, other.Name, textOf(other.Type, o))
		}
	}
	return nil
}

// AddRule adds a quality rule to a dataset. The org's stewards add rules
// to their datasets; the authority adds rules to any, which the org cannot
// remove.
func (s *Service) AddRule(ctx context.Context, p identity.Principal, resource string, r Rule) (*Rule, error) {
	res, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, res.OrgID) {
		return nil, apperr.ErrForbidden
	}
	ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, res.ID, false)
	if err != nil {
		return nil, err
	}
	if r.Severity == "" {
		r.Severity = SeverityError
	}
	if r.Severity != SeverityError && r.Severity != SeverityWarning {
		return nil, ruleInvalid("severity", "severity 须为 error 或 warning", "severity must be error or warning")
	}
	r.Message = strings.TrimSpace(r.Message)
	if utf8.RuneCountInString(r.Message) > 200 {
		return nil, ruleInvalid("message", "说明过长（最多 200 字）", "the message is too long (at most 200 characters)")
	}
	if _, err := compile(r, ds.Fields, s.db.Dialect); err != nil {
		return nil, err
	}
	_, actor := actorOf(p)
	r.ID, r.ResourceID, r.CreatedBy, r.CreatedAt = store.NewID(), res.ID, actor, s.now()
	r.Authority = isAuthority(p) && p.OrgID != res.OrgID
	spec := ruleSpec{Min: r.Min, Max: r.Max, Pattern: r.Pattern, Op: r.Op, Other: r.Other}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ingest_rules (id, resource_id, kind, field, spec, severity, message, authority, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, r.ID, r.ResourceID, r.Kind, r.Field, mustJSON(spec), r.Severity, r.Message,
			boolInt(r.Authority), r.CreatedBy, store.Micros(r.CreatedAt)); err != nil {
			return fmt.Errorf("ingest: add rule: %w", err)
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, res.ID, map[string]any{"what": "ingest.rule.add", "rule": r}))
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) rules(ctx context.Context, q store.Queryer, resourceID string) ([]Rule, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, resource_id, kind, field, spec, severity, message, authority, created_by, created_at FROM ingest_rules WHERE resource_id = $1 ORDER BY id`, resourceID)
	if err != nil {
		return nil, fmt.Errorf("ingest: rules: %w", err)
	}
	defer rows.Close()
	out := []Rule{}
	for rows.Next() {
		var r Rule
		var spec string
		var auth int
		var at int64
		if err := rows.Scan(&r.ID, &r.ResourceID, &r.Kind, &r.Field, &spec, &r.Severity, &r.Message, &auth, &r.CreatedBy, &at); err != nil {
			return nil, err
		}
		var sp ruleSpec
		_ = json.Unmarshal([]byte(spec), &sp)
		r.Min, r.Max, r.Pattern, r.Op, r.Other = sp.Min, sp.Max, sp.Pattern, sp.Op, sp.Other
		r.Authority, r.CreatedAt = auth != 0, store.FromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Rules lists a dataset's rules.
func (s *Service) Rules(ctx context.Context, p identity.Principal, resource string) ([]Rule, error) {
	res, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canSee(p, res.OrgID) {
		return nil, apperr.ErrForbidden
	}
	return s.rules(ctx, s.db, res.ID)
}

// DeleteRule removes a rule; an authority rule only the authority removes.
func (s *Service) DeleteRule(ctx context.Context, p identity.Principal, id string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var resourceID string
		var auth int
		err := tx.QueryRowContext(ctx, `SELECT resource_id, authority FROM ingest_rules WHERE id = $1`, id).Scan(&resourceID, &auth)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.ErrNotFound.At(id)
		}
		if err != nil {
			return err
		}
		ds, err := s.loadDataset(ctx, tx, tx.Dialect, resourceID, false)
		if err != nil {
			return err
		}
		if !canManage(p, ds.OrgID) || (auth != 0 && !isAuthority(p)) {
			return apperr.ErrForbidden
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ingest_rules WHERE id = $1`, id); err != nil {
			return err
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, resourceID, map[string]any{"what": "ingest.rule.delete", "rule": id}))
	})
}

func (s *Service) compiledRules(ctx context.Context, ds *Dataset) ([]*compiledRule, error) {
	rs, err := s.rules(ctx, s.db, ds.ResourceID)
	if err != nil {
		return nil, err
	}
	var out []*compiledRule
	for _, r := range rs {
		c, err := compile(r, ds.Fields, s.db.Dialect)
		if err != nil {
			// A rule on a field a later version removed no longer applies.
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// FieldProfile is one field's completeness in a load.
type FieldProfile struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Present int64  `json:"present"`
	// Completeness is the share of the load's valid rows with a value.
	Completeness float64 `json:"completeness"`
}

// Profile is the quality profile of one load (R-QLT-1, R-AGG-4): how
// complete each field is, how many rows were valid, whether keys were
// unique, and whether the load came on time for the declared frequency.
type Profile struct {
	BatchID    string         `json:"batch_id"`
	ResourceID string         `json:"resource_id"`
	OrgID      string         `json:"org_id"`
	At         time.Time      `json:"at"`
	Mode       Mode           `json:"mode"`
	Rows       int64          `json:"rows"`
	Valid      int64          `json:"valid"`
	Fields     []FieldProfile `json:"fields"`
	// Completeness is the mean of the fields' completeness.
	Completeness float64 `json:"completeness"`
	// Validity is the share of rows that passed every check, warnings too.
	Validity float64 `json:"validity"`
	// Uniqueness is the share of valid rows whose key no earlier row had.
	Uniqueness float64 `json:"uniqueness"`
	// Timeliness is 1 when the load came within the frequency's period of
	// the one before, and falls as period/elapsed when it came late.
	Timeliness float64 `json:"timeliness"`
	// SinceLastHours is the time since the previous load (0 for the first).
	SinceLastHours float64          `json:"since_last_hours"`
	Frequency      string           `json:"frequency"`
	RuleWarnings   int64            `json:"rule_warnings"`
	Errors         map[string]int64 `json:"errors"`
	// Score is 100 × (0.3 completeness + 0.3 validity + 0.2 uniqueness + 0.2 timeliness).
	Score float64 `json:"score"`
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func (l *loader) profile(ds *Dataset, now time.Time) *Profile {
	b := l.b
	p := &Profile{BatchID: b.ID, ResourceID: b.ResourceID, OrgID: b.OrgID, At: now, Mode: b.Mode, Rows: b.RowsRead, Valid: b.RowsStaged,
		Frequency: ds.Frequency, RuleWarnings: b.counters.Warnings, Errors: b.counters.Codes, Fields: []FieldProfile{}}
	sum := 0.0
	for i, c := range l.cols {
		fp := FieldProfile{Name: c.f.Name, Label: c.f.Label, Present: b.counters.Present[i], Completeness: round(ratio(b.counters.Present[i], b.RowsStaged), 4)}
		if b.Mode == Delete {
			fp.Completeness = 1
		}
		p.Fields = append(p.Fields, fp)
		sum += fp.Completeness
	}
	p.Completeness = 1
	if len(l.cols) > 0 {
		p.Completeness = round(sum/float64(len(l.cols)), 4)
	}
	p.Validity = round(ratio(b.RowsRead-b.RowsRejected-b.RowsDuplicate-b.counters.Warnings, b.RowsRead), 4)
	p.Uniqueness = round(1-ratio(b.RowsDuplicate, b.RowsStaged+b.RowsDuplicate)+boolF(b.RowsStaged+b.RowsDuplicate == 0), 4)
	p.Timeliness = 1
	if ds.LastLoadAt != nil {
		elapsed := now.Sub(*ds.LastLoadAt)
		p.SinceLastHours = round(elapsed.Hours(), 2)
		if period := catalog.Frequency(ds.Frequency).Period(); period > 0 && elapsed > period {
			p.Timeliness = round(float64(period)/float64(elapsed), 4)
		}
	}
	p.Score = round(100*(0.3*p.Completeness+0.3*p.Validity+0.2*p.Uniqueness+0.2*p.Timeliness), 1)
	return p
}

func boolF(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *Service) saveProfile(ctx context.Context, tx *store.Tx, b *Batch, p *Profile) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ingest_profiles (batch_id, resource_id, org_id, at, score, completeness, validity, uniqueness, timeliness, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, b.ID, b.ResourceID, b.OrgID, store.Micros(p.At), p.Score, p.Completeness, p.Validity,
		p.Uniqueness, p.Timeliness, mustJSON(p))
	if err != nil {
		return fmt.Errorf("ingest: save profile: %w", err)
	}
	return nil
}

func (s *Service) profileOf(ctx context.Context, batchID string) (*Profile, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM ingest_profiles WHERE batch_id = $1`, batchID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Profile
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ScoreQuery selects quality scores: of one resource, or of one org's
// datasets, in a time range (default the last 90 days).
type ScoreQuery struct {
	ResourceID string
	OrgID      string
	From, To   time.Time
}

// ScorePoint is the mean quality of the loads of one day (Beijing time).
type ScorePoint struct {
	Day          string  `json:"day"`
	Loads        int     `json:"loads"`
	Score        float64 `json:"score"`
	Completeness float64 `json:"completeness"`
	Validity     float64 `json:"validity"`
	Uniqueness   float64 `json:"uniqueness"`
	Timeliness   float64 `json:"timeliness"`
}

// Scores returns quality over time, a point per day with loads (R-QLT-1:
// evaluated continuously, per org and per entry).
func (s *Service) Scores(ctx context.Context, p identity.Principal, q ScoreQuery) ([]ScorePoint, error) {
	col, id := "org_id", q.OrgID
	if q.ResourceID != "" {
		r, err := s.resource(ctx, q.ResourceID)
		if err != nil {
			return nil, err
		}
		col, id, q.OrgID = "resource_id", r.ID, r.OrgID
	}
	if q.OrgID == "" {
		return nil, apperr.Invalidf("ingest.bad_query", "org", "须指定机构或目录条目", "give an org or a resource")
	}
	if !canSee(p, q.OrgID) {
		return nil, apperr.ErrForbidden
	}
	if q.To.IsZero() {
		q.To = s.now()
	}
	if q.From.IsZero() {
		q.From = q.To.AddDate(0, 0, -90)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, score, completeness, validity, uniqueness, timeliness FROM ingest_profiles
		WHERE `+col+` = $1 AND at >= $2 AND at <= $3 ORDER BY at LIMIT 100000`, id, store.Micros(q.From), store.Micros(q.To))
	if err != nil {
		return nil, fmt.Errorf("ingest: scores: %w", err)
	}
	defer rows.Close()
	out := []ScorePoint{}
	for rows.Next() {
		var at int64
		var sc, c, v, u, t float64
		if err := rows.Scan(&at, &sc, &c, &v, &u, &t); err != nil {
			return nil, err
		}
		day := store.FromMicros(at).In(shanghai).Format(time.DateOnly)
		if len(out) == 0 || out[len(out)-1].Day != day {
			out = append(out, ScorePoint{Day: day})
		}
		pt := &out[len(out)-1]
		pt.Loads++
		pt.Score += sc
		pt.Completeness += c
		pt.Validity += v
		pt.Uniqueness += u
		pt.Timeliness += t
	}
	for i := range out {
		n := float64(out[i].Loads)
		out[i].Score = round(out[i].Score/n, 1)
		out[i].Completeness = round(out[i].Completeness/n, 4)
		out[i].Validity = round(out[i].Validity/n, 4)
		out[i].Uniqueness = round(out[i].Uniqueness/n, 4)
		out[i].Timeliness = round(out[i].Timeliness/n, 4)
	}
	return out, rows.Err()
}

// OrgQuality is an org's aggregation standing.
type OrgQuality struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name,omitempty"`
	// Entries counts its published hosted entries; Datasets those with a
	// dataset; Loaded those loaded at least once; Late those overdue.
	Entries  int `json:"entries"`
	Datasets int `json:"datasets"`
	Loaded   int `json:"loaded"`
	Late     int `json:"late"`
	// Score is the mean of its datasets' latest load scores (0 if none).
	Score float64 `json:"score"`
}

// Laggard is an entry that falls behind.
type Laggard struct {
	ResourceID   string `json:"resource_id"`
	ResourceCode string `json:"resource_code"`
	ResourceName string `json:"resource_name"`
	OrgID        string `json:"org_id"`
	OrgName      string `json:"org_name,omitempty"`
	// Reason: no_dataset, never_loaded, late, schema_refused or low_score.
	Reason     string     `json:"reason"`
	Frequency  string     `json:"frequency"`
	LastLoadAt *time.Time `json:"last_load_at,omitempty"`
	DueAt      *time.Time `json:"due_at,omitempty"`
	Score      *float64   `json:"score,omitempty"`
}

// LaggardReport is the authority's view of who falls behind.
type LaggardReport struct {
	At      time.Time    `json:"at"`
	Orgs    []OrgQuality `json:"orgs"`
	Entries []Laggard    `json:"entries"`
}

// LowScore is the score below which an entry counts as falling behind.
const LowScore = 60

// Laggards reports the orgs and entries that fall behind: published hosted
// entries with no dataset or never loaded, datasets overdue for their
// declared frequency or refused a schema migration, and low quality
// scores. The authority sees every org; an org's people see their own.
func (s *Service) Laggards(ctx context.Context, p identity.Principal) (*LaggardReport, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	only := ""
	if !canSee(p, "") {
		only = p.OrgID
	}
	now := s.now()
	resources := map[string]*catalog.Resource{}
	cursor := ""
	for {
		page, next, err := s.catalog.List(ctx, System(""), catalog.ListFilter{OrgID: only}, cursor, 500)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if r.Delivery.Mode == catalog.Hosted && r.Remote == nil {
				resources[r.ID] = r
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	q := `SELECT d.resource_id, d.org_id, d.status, d.frequency, d.last_load_at, p.score FROM ingest_datasets d LEFT JOIN ingest_profiles p ON p.batch_id = d.active_batch`
	var args []any
	if only != "" {
		q += ` WHERE d.org_id = $1`
		args = append(args, only)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ingest: laggards: %w", err)
	}
	defer rows.Close()
	orgs := map[string]*OrgQuality{}
	org := func(id, name string) *OrgQuality {
		o, ok := orgs[id]
		if !ok {
			o = &OrgQuality{OrgID: id}
			orgs[id] = o
		}
		if o.OrgName == "" {
			o.OrgName = name
		}
		return o
	}
	rep := &LaggardReport{At: now, Entries: []Laggard{}}
	scored := map[string][]float64{}
	seen := map[string]bool{}
	for rows.Next() {
		var id, orgID, status, freq string
		var last int64
		var score sql.NullFloat64
		if err := rows.Scan(&id, &orgID, &status, &freq, &last, &score); err != nil {
			return nil, err
		}
		seen[id] = true
		r := resources[id]
		lg := Laggard{ResourceID: id, OrgID: orgID, Frequency: freq}
		if r != nil {
			lg.ResourceCode, lg.ResourceName, lg.OrgName = r.Code, r.Name, r.OrgName
		}
		o := org(orgID, lg.OrgName)
		o.Datasets++
		if score.Valid {
			sc := score.Float64
			lg.Score = &sc
			scored[orgID] = append(scored[orgID], sc)
		}
		period := catalog.Frequency(freq).Period()
		switch {
		case status == statusRefused:
			lg.Reason = "schema_refused"
		case last == 0:
			lg.Reason = "never_loaded"
		case period > 0 && now.Sub(store.FromMicros(last)) > period:
			lg.Reason = "late"
		case score.Valid && score.Float64 < LowScore:
			lg.Reason = "low_score"
		}
		if last != 0 {
			t := store.FromMicros(last)
			lg.LastLoadAt = &t
			o.Loaded++
			if period > 0 {
				due := t.Add(period)
				lg.DueAt = &due
			}
		}
		if lg.Reason == "late" || lg.Reason == "never_loaded" {
			o.Late++
		}
		if lg.Reason != "" {
			rep.Entries = append(rep.Entries, lg)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for id, r := range resources {
		o := org(r.OrgID, r.OrgName)
		o.Entries++
		if !seen[id] {
			o.Late++
			rep.Entries = append(rep.Entries, Laggard{ResourceID: id, ResourceCode: r.Code, ResourceName: r.Name, OrgID: r.OrgID, OrgName: r.OrgName,
				Reason: "no_dataset", Frequency: string(r.Frequency)})
		}
	}
	for id, o := range orgs {
		if sc := scored[id]; len(sc) > 0 {
			sum := 0.0
			for _, v := range sc {
				sum += v
			}
			o.Score = round(sum/float64(len(sc)), 1)
		}
		rep.Orgs = append(rep.Orgs, *o)
	}
	sort.Slice(rep.Orgs, func(i, j int) bool {
		a, b := rep.Orgs[i], rep.Orgs[j]
		if a.Late != b.Late {
			return a.Late > b.Late
		}
		if a.Score != b.Score {
			return a.Score < b.Score
		}
		return a.OrgID < b.OrgID
	})
	sort.Slice(rep.Entries, func(i, j int) bool {
		a, b := rep.Entries[i], rep.Entries[j]
		if a.OrgID != b.OrgID {
			return a.OrgID < b.OrgID
		}
		return a.ResourceCode < b.ResourceCode
	})
	if rep.Orgs == nil {
		rep.Orgs = []OrgQuality{}
	}
	return rep, nil
}
