// Package scorecard evaluates each org's data work for the authority
// (R-GOV-1, SZ51, XM6), so that failing orgs can be found and given
// rectification orders (R-GOV-3, XM63): catalog completeness, aggregation
// timeliness, data quality, how fast and how punctually the org answers the
// cases addressed to it, and how it handles objections to its data (R-QLT-2).
//
// It owns no tables: it reads the catalog, ingest and casework through the
// narrow interfaces below, as the platform, and decides access itself.
package scorecard

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
)

// Catalog lists published catalog entries (catalog.Service.List).
type Catalog interface {
	List(ctx context.Context, p identity.Principal, f catalog.ListFilter, cursor string, limit int) ([]*catalog.Resource, string, error)
}

// Aggregation reports who falls behind with loads and quality
// (ingest.Service.Laggards).
type Aggregation interface {
	Laggards(ctx context.Context, p identity.Principal) (*ingest.LaggardReport, error)
}

// Cases lists cases (casework.Engine.List).
type Cases interface {
	List(ctx context.Context, p identity.Principal, q casework.Query) ([]*casework.Case, string, error)
}

// Orgs lists the orgs on the platform (identity.Service.ListOrgs).
type Orgs interface {
	ListOrgs(ctx context.Context, f identity.OrgFilter, after string, limit int) ([]identity.Org, string, error)
}

// Options tune which orgs and cases count.
type Options struct {
	// OrgKinds are the kinds of org that have cataloging and sharing duties
	// (default: departments and public service organisations).
	OrgKinds []identity.OrgKind
	// ResponseKinds are the case kinds in which the target org must answer
	// (default: share requests, objections, rectification orders, sharing
	// disputes and open-data applications).
	ResponseKinds []string
	// Window is how far back cases count (default 365 days).
	Window time.Duration
}

// Service computes scorecards.
type Service struct {
	cat   Catalog
	agg   Aggregation
	cases Cases
	orgs  Orgs
	now   func() time.Time
	opts  Options
}

// New returns a scorecard service. agg may be nil (aggregation disabled):
// timeliness and quality are then left empty.
func New(cat Catalog, agg Aggregation, cases Cases, orgs Orgs, now func() time.Time, opts Options) *Service {
	if len(opts.OrgKinds) == 0 {
		opts.OrgKinds = []identity.OrgKind{identity.KindDepartment, identity.KindPublicService}
	}
	if len(opts.ResponseKinds) == 0 {
		// Names, not imports: share and open depend on far more than a
		// scorecard needs.
		opts.ResponseKinds = []string{"share_request", ingest.KindObjection, casework.KindRectification, "share_dispute", "open_application"}
	}
	if opts.Window <= 0 {
		opts.Window = 365 * 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	return &Service{cat: cat, agg: agg, cases: cases, orgs: orgs, now: now, opts: opts}
}

// CatalogMeasure: how completely the org describes its published entries.
type CatalogMeasure struct {
	Published int `json:"published"`
	// Complete counts entries with every recommended attribute filled.
	Complete int `json:"complete"`
	// Completeness is the mean share (0–100) of recommended attributes
	// filled; nil when the org has published nothing.
	Completeness *float64 `json:"completeness"`
	// Missing counts, per attribute, the entries that lack it.
	Missing map[string]int `json:"missing"`
}

// AggregationMeasure: whether the org's hosted entries are loaded on time.
type AggregationMeasure struct {
	Hosted   int `json:"hosted"`
	Datasets int `json:"datasets"`
	Loaded   int `json:"loaded"`
	// Late counts hosted entries with no dataset, never loaded, or overdue.
	Late int `json:"late"`
	// Timeliness is the share (0–100) of hosted entries on time; nil with
	// no hosted entries.
	Timeliness *float64 `json:"timeliness"`
}

// QualityMeasure: the mean score of the org's datasets' latest loads.
type QualityMeasure struct {
	Loaded int      `json:"loaded"`
	Score  *float64 `json:"score"`
}

// CaseMeasure: how the org answers cases addressed to it.
type CaseMeasure struct {
	Received int `json:"received"`
	// Decided counts closed cases with a decision; withdrawn ones count
	// only as received.
	Decided int `json:"decided"`
	Open    int `json:"open"`
	// Overdue counts open cases past their deadline.
	Overdue int `json:"overdue"`
	// OnTime is the share (0–100) of decided cases decided before their
	// deadline; nil with none decided.
	OnTime *float64 `json:"on_time"`
	// MeanDays is the mean time from filing to decision in calendar days.
	MeanDays *float64 `json:"mean_days"`
}

// Card is one org's scorecard.
type Card struct {
	OrgID       string             `json:"org_id"`
	OrgName     string             `json:"org_name"`
	OrgKind     identity.OrgKind   `json:"org_kind"`
	Catalog     CatalogMeasure     `json:"catalog"`
	Aggregation AggregationMeasure `json:"aggregation"`
	Quality     QualityMeasure     `json:"quality"`
	Cases       CaseMeasure        `json:"cases"`
	Objections  CaseMeasure        `json:"objections"`
	// Overall is the mean of the measures that apply (completeness,
	// timeliness, quality, on-time answers, on-time objections).
	Overall *float64 `json:"overall"`
}

// Report is every card the caller may see, worst overall first.
type Report struct {
	At    time.Time `json:"at"`
	Since time.Time `json:"since"`
	Items []Card    `json:"items"`
}

// reader is how the scorecard reads: as the platform (a system client, as
// open's jobs are), because a card counts entries and cases its reader may
// not open one by one; who may see which card is decided by Cards. It only
// ever lists.
func reader() identity.Principal {
	return identity.Principal{ClientID: "system:scorecard", Name: "机构评估", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
}

// IsAuthority reports whether p sees every org's card: the authority's
// people and the city government.
func IsAuthority(p identity.Principal) bool {
	return p.OrgKind == identity.KindAuthority || p.HasAny(identity.RoleAuthorityAdmin, identity.RoleCityGovernment)
}

// Cards returns the scorecards of every org with duties (the authority), or
// of one org (orgID; an org's own people may ask for theirs).
func (s *Service) Cards(ctx context.Context, p identity.Principal, orgID string) (*Report, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	if !IsAuthority(p) {
		if orgID == "" {
			orgID = p.OrgID
		}
		if orgID != p.OrgID || orgID == "" {
			return nil, apperr.ErrForbidden.At("org")
		}
	}
	now := s.now()
	since := now.Add(-s.opts.Window)
	cards, err := s.orgCards(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if err := s.catalog(ctx, cards, orgID); err != nil {
		return nil, err
	}
	if err := s.aggregation(ctx, cards); err != nil {
		return nil, err
	}
	if err := s.caseMeasures(ctx, cards, orgID, since, now); err != nil {
		return nil, err
	}
	rep := &Report{At: now, Since: since, Items: make([]Card, 0, len(cards))}
	for _, c := range cards {
		c.Overall = mean(c.Catalog.Completeness, c.Aggregation.Timeliness, c.Quality.Score, c.Cases.OnTime, c.Objections.OnTime)
		rep.Items = append(rep.Items, *c)
	}
	sort.Slice(rep.Items, func(i, j int) bool {
		a, b := rep.Items[i].Overall, rep.Items[j].Overall
		switch {
		case a != nil && b != nil && *a != *b:
			return *a < *b
		case (a == nil) != (b == nil):
			return a != nil // orgs with nothing to measure last
		}
		return rep.Items[i].OrgID < rep.Items[j].OrgID
	})
	return rep, nil
}

// orgCards starts a card for each org with duties, or for the one asked.
func (s *Service) orgCards(ctx context.Context, only string) (map[string]*Card, error) {
	cards := map[string]*Card{}
	for _, kind := range s.opts.OrgKinds {
		after := ""
		for {
			orgs, next, err := s.orgs.ListOrgs(ctx, identity.OrgFilter{Kind: kind}, after, 500)
			if err != nil {
				return nil, fmt.Errorf("scorecard: orgs: %w", err)
			}
			for _, o := range orgs {
				if only == "" || o.ID == only {
					cards[o.ID] = &Card{OrgID: o.ID, OrgName: o.Name, OrgKind: o.Kind, Catalog: CatalogMeasure{Missing: map[string]int{}}}
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	if only != "" && cards[only] == nil {
		// An org without duties (the authority itself, an enterprise) still
		// gets its card when asked for by id.
		cards[only] = &Card{OrgID: only, Catalog: CatalogMeasure{Missing: map[string]int{}}}
	}
	return cards, nil
}

// Attributes that a published entry should have beyond what the catalog's
// rules already enforce (name, data class, frequency, levels, attributes).
// Their names are the keys of CatalogMeasure.Missing.
var checks = []struct {
	name string
	ok   func(r *catalog.Resource) bool
}{
	{"description", func(r *catalog.Resource) bool { return strings.TrimSpace(r.Description) != "" }},
	{"themes", func(r *catalog.Resource) bool { return len(r.Themes) > 0 }},
	{"industry", func(r *catalog.Resource) bool { return r.Industry != "" }},
	{"legal_basis", func(r *catalog.Resource) bool { return strings.TrimSpace(r.LegalBasis) != "" }},
	{"contact", func(r *catalog.Resource) bool {
		return r.Contact.Name != "" && (r.Contact.Phone != "" || r.Contact.Email != "")
	}},
	{"tags", func(r *catalog.Resource) bool { return len(r.Tags) > 0 }},
	{"formats", func(r *catalog.Resource) bool { return len(r.Formats) > 0 }},
	{"field_descriptions", func(r *catalog.Resource) bool {
		// Every data item explained by a description or a code list.
		if len(r.Fields) == 0 {
			return false
		}
		for _, f := range r.Fields {
			if strings.TrimSpace(f.Description) == "" && f.CodeList == "" {
				return false
			}
		}
		return true
	}},
}

// Checks lists the attribute names the catalog completeness counts.
func Checks() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

func (s *Service) catalog(ctx context.Context, cards map[string]*Card, only string) error {
	sums := map[string]float64{}
	cursor := ""
	for {
		page, next, err := s.cat.List(ctx, reader(), catalog.ListFilter{OrgID: only}, cursor, 500)
		if err != nil {
			return fmt.Errorf("scorecard: catalog: %w", err)
		}
		for _, r := range page {
			c := cards[r.OrgID]
			if c == nil || r.Remote != nil {
				continue // harvested entries are another platform's work
			}
			if c.OrgName == "" {
				c.OrgName = r.OrgName
			}
			c.Catalog.Published++
			filled := 0
			for _, ch := range checks {
				if ch.ok(r) {
					filled++
				} else {
					c.Catalog.Missing[ch.name]++
				}
			}
			if filled == len(checks) {
				c.Catalog.Complete++
			}
			sums[r.OrgID] += float64(filled) / float64(len(checks))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for id, c := range cards {
		if c.Catalog.Published > 0 {
			c.Catalog.Completeness = pct(sums[id] / float64(c.Catalog.Published))
		}
	}
	return nil
}

func (s *Service) aggregation(ctx context.Context, cards map[string]*Card) error {
	if s.agg == nil {
		return nil
	}
	rep, err := s.agg.Laggards(ctx, reader())
	if err != nil {
		return fmt.Errorf("scorecard: laggards: %w", err)
	}
	for _, o := range rep.Orgs {
		c := cards[o.OrgID]
		if c == nil {
			continue
		}
		c.Aggregation = AggregationMeasure{Hosted: o.Entries, Datasets: o.Datasets, Loaded: o.Loaded, Late: o.Late}
		if o.Entries > 0 {
			c.Aggregation.Timeliness = pct(float64(max(0, o.Entries-o.Late)) / float64(o.Entries))
		}
		c.Quality.Loaded = o.Loaded
		if o.Loaded > 0 {
			sc := o.Score
			c.Quality.Score = &sc
		}
	}
	return nil
}

// caseMeasures reads the response kinds' cases filed since since, by their
// target org.
func (s *Service) caseMeasures(ctx context.Context, cards map[string]*Card, only string, since, now time.Time) error {
	type acc struct {
		onTime, decided int
		days            float64
	}
	accs := map[string]*[2]acc{} // [0] cases, [1] objections
	for _, kind := range s.opts.ResponseKinds {
		after := ""
		for {
			// Only the period's cases are read: the engine filters them by
			// when they were filed, where paging through every case ever
			// filed grew with the platform's age.
			list, next, err := s.cases.List(ctx, reader(), casework.Query{View: casework.ViewAll, Kind: kind, OrgID: only, Since: since, After: after, Limit: 500})
			if err != nil {
				return fmt.Errorf("scorecard: cases: %w", err)
			}
			for _, c := range list {
				card := cards[c.Target.OrgID]
				if card == nil {
					continue
				}
				a := accs[card.OrgID]
				if a == nil {
					a = &[2]acc{}
					accs[card.OrgID] = a
				}
				ms := []*CaseMeasure{&card.Cases}
				as := []*acc{&a[0]}
				if kind == ingest.KindObjection {
					ms = append(ms, &card.Objections)
					as = append(as, &a[1])
				}
				for i, m := range ms {
					m.Received++
					switch {
					case c.Phase == casework.PhaseClosed && c.Decision != nil:
						m.Decided++
						as[i].decided++
						as[i].days += c.Decision.At.Sub(c.CreatedAt).Hours() / 24
						if c.Deadline == nil || c.Decision.At.Before(*c.Deadline) {
							as[i].onTime++
						}
					case c.Phase == casework.PhaseClosed:
						// Closed without a decision (withdrawn): neither
						// the org's answer nor its delay.
					default:
						m.Open++
						if c.Deadline != nil && !now.Before(*c.Deadline) && c.Phase == casework.PhaseActive {
							m.Overdue++
						}
					}
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	for id, a := range accs {
		c := cards[id]
		for i, m := range []*CaseMeasure{&c.Cases, &c.Objections} {
			if a[i].decided > 0 {
				m.OnTime = pct(float64(a[i].onTime) / float64(a[i].decided))
				d := math.Round(a[i].days/float64(a[i].decided)*10) / 10
				m.MeanDays = &d
			}
		}
	}
	return nil
}

func pct(x float64) *float64 {
	v := math.Round(x*1000) / 10
	return &v
}

func mean(xs ...*float64) *float64 {
	var sum float64
	n := 0
	for _, x := range xs {
		if x != nil {
			sum += *x
			n++
		}
	}
	if n == 0 {
		return nil
	}
	v := math.Round(sum/float64(n)*10) / 10
	return &v
}
