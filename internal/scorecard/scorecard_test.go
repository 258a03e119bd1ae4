package scorecard

import (
	"context"
	"errors"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
)

type fakeCatalog []*catalog.Resource

func (f fakeCatalog) List(_ context.Context, _ identity.Principal, lf catalog.ListFilter, cursor string, limit int) ([]*catalog.Resource, string, error) {
	var out []*catalog.Resource
	for _, r := range f {
		if lf.OrgID == "" || r.OrgID == lf.OrgID {
			out = append(out, r)
		}
	}
	// Two pages, to prove the service follows cursors.
	if cursor == "" && len(out) > 1 {
		return out[:1], "next", nil
	}
	if cursor == "next" {
		return out[1:], "", nil
	}
	return out, "", nil
}

type fakeAgg ingest.LaggardReport

func (f *fakeAgg) Laggards(context.Context, identity.Principal) (*ingest.LaggardReport, error) {
	r := ingest.LaggardReport(*f)
	return &r, nil
}

type fakeCases []*casework.Case

func (f fakeCases) List(_ context.Context, p identity.Principal, q casework.Query) ([]*casework.Case, string, error) {
	if !p.Has(identity.RoleAuthorityAdmin) {
		return nil, "", errors.New("the scorecard must read as the platform")
	}
	var out []*casework.Case
	for _, c := range f {
		// As the engine filters: the scorecard must ask for its period.
		if c.Kind == q.Kind && (q.OrgID == "" || c.Target.OrgID == q.OrgID) && !c.CreatedAt.Before(q.Since) {
			out = append(out, c)
		}
	}
	return out, "", nil
}

type fakeOrgs []identity.Org

func (f fakeOrgs) ListOrgs(_ context.Context, of identity.OrgFilter, _ string, _ int) ([]identity.Org, string, error) {
	var out []identity.Org
	for _, o := range f {
		if o.Kind == of.Kind {
			out = append(out, o)
		}
	}
	return out, "", nil
}

func at(days int) time.Time     { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, days) }
func tp(t time.Time) *time.Time { return &t }

func full(id, org string) *catalog.Resource {
	r := &catalog.Resource{ID: id, OrgName: "名"}
	r.OrgID = org
	r.Description, r.Themes, r.Industry, r.LegalBasis = "说明", []string{"economy"}, "S", "条例"
	r.Contact = catalog.Contact{Name: "张三", Phone: "0592"}
	r.Tags, r.Formats = []string{"x"}, []string{"csv"}
	r.Fields = []catalog.Field{{Name: "a", Description: "甲"}, {Name: "b", CodeList: "GB/T 2261.1-2003"}}
	return r
}

func fixture() *Service {
	half := full("r2", "gaj")
	half.Tags, half.Industry, half.LegalBasis, half.Fields[0].Description = nil, "", "", "" // 4 of 8 missing
	harvested := full("r3", "gaj")
	harvested.Description = ""
	harvested.Remote = &catalog.Remote{Source: "province"}
	cat := fakeCatalog{full("r1", "gaj"), half, harvested, full("r4", "bus")}
	agg := &fakeAgg{Orgs: []ingest.OrgQuality{
		{OrgID: "gaj", Entries: 4, Datasets: 3, Loaded: 3, Late: 1, Score: 82.5},
		{OrgID: "bus", Entries: 1, Datasets: 0, Loaded: 0, Late: 1},
	}}
	cases := fakeCases{
		// gaj: decided on time in 2 days, decided late, open and overdue, open in time.
		{ID: "c1", Kind: "share_request", Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseClosed, CreatedAt: at(0), Deadline: tp(at(10)),
			Decision: &casework.Decision{Outcome: casework.Approved, At: at(2)}},
		{ID: "c2", Kind: ingest.KindObjection, Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseClosed, CreatedAt: at(0), Deadline: tp(at(5)),
			Decision: &casework.Decision{Outcome: casework.Approved, At: at(6)}},
		{ID: "c3", Kind: ingest.KindObjection, Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseActive, CreatedAt: at(1), Deadline: tp(at(8))},
		{ID: "c4", Kind: casework.KindRectification, Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseActive, CreatedAt: at(9), Deadline: tp(at(40))},
		// Too old to count, and a kind the org does not answer.
		{ID: "c5", Kind: "share_request", Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseActive, CreatedAt: at(-400), Deadline: tp(at(-390))},
		{ID: "c6", Kind: casework.KindComplaint, Target: casework.Target{OrgID: "gaj"}, Phase: casework.PhaseActive, CreatedAt: at(1)},
	}
	orgs := fakeOrgs{
		{ID: "gaj", Name: "市公安局", Kind: identity.KindDepartment},
		{ID: "bus", Name: "市公交集团", Kind: identity.KindPublicService},
		{ID: "corp", Name: "某企业", Kind: identity.KindEnterprise},
		{ID: "auth", Name: "市大数据局", Kind: identity.KindAuthority},
	}
	return New(cat, agg, cases, orgs, func() time.Time { return at(20) }, Options{})
}

func eq(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || *got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// R-GOV-1: every org with duties gets a card with its catalog completeness,
// aggregation timeliness, quality, case answers and objections (R-QLT-2);
// the authority sees them all, worst first (R-GOV-3 picks from them).
func TestCards(t *testing.T) {
	s := fixture()
	authority := identity.Principal{UserID: "u", OrgID: "auth", OrgKind: identity.KindAuthority, Roles: []identity.Role{identity.RoleAuthorityAdmin}}
	rep, err := s.Cards(context.Background(), authority, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Items) != 2 {
		t.Fatalf("cards for the orgs with duties only: %+v", rep.Items)
	}
	// bus: complete catalog (100), timeliness 0, no quality, no cases → 50;
	// gaj: (75 + 75 + 82.5 + 50 + 0) / 5 = 56.5. Worst first.
	bus, gaj := rep.Items[0], rep.Items[1]
	if bus.OrgID != "bus" || gaj.OrgID != "gaj" {
		t.Fatalf("order: %s, %s", bus.OrgID, gaj.OrgID)
	}
	eq(t, "bus overall", bus.Overall, 50)
	eq(t, "bus timeliness", bus.Aggregation.Timeliness, 0)
	if bus.Quality.Score != nil || bus.Cases.OnTime != nil {
		t.Errorf("bus has no quality or cases: %+v", bus)
	}
	if gaj.Catalog.Published != 2 || gaj.Catalog.Complete != 1 || gaj.Catalog.Missing["tags"] != 1 || gaj.Catalog.Missing["description"] != 0 {
		t.Errorf("gaj catalog (harvested entries do not count): %+v", gaj.Catalog)
	}
	eq(t, "gaj completeness", gaj.Catalog.Completeness, 75)
	eq(t, "gaj timeliness", gaj.Aggregation.Timeliness, 75)
	eq(t, "gaj quality", gaj.Quality.Score, 82.5)
	c := gaj.Cases
	if c.Received != 4 || c.Decided != 2 || c.Open != 2 || c.Overdue != 1 {
		t.Errorf("gaj cases: %+v", c)
	}
	eq(t, "gaj on time", c.OnTime, 50)
	eq(t, "gaj mean days", c.MeanDays, 4)
	o := gaj.Objections
	if o.Received != 2 || o.Decided != 1 || o.Open != 1 || o.Overdue != 1 {
		t.Errorf("gaj objections: %+v", o)
	}
	eq(t, "gaj objections on time", o.OnTime, 0)
	eq(t, "gaj overall", gaj.Overall, 56.5)
}

// An org's own people see their own card and no other.
func TestCardsAccess(t *testing.T) {
	s := fixture()
	ctx := context.Background()
	st := identity.Principal{UserID: "s", OrgID: "bus", OrgKind: identity.KindPublicService, Roles: []identity.Role{identity.RoleDataSteward}}
	rep, err := s.Cards(ctx, st, "")
	if err != nil || len(rep.Items) != 1 || rep.Items[0].OrgID != "bus" || rep.Items[0].OrgName != "市公交集团" {
		t.Fatalf("own card: %+v, %v", rep, err)
	}
	if _, err := s.Cards(ctx, st, "gaj"); !errors.Is(err, apperr.ErrForbidden) {
		t.Fatalf("another org's card: %v", err)
	}
	if _, err := s.Cards(ctx, identity.Principal{}, ""); !errors.Is(err, apperr.ErrAuth) {
		t.Fatalf("anonymous: %v", err)
	}
	// The authority asks for one org, even one without duties.
	authority := identity.Principal{UserID: "u", OrgID: "auth", OrgKind: identity.KindAuthority}
	rep, err = s.Cards(ctx, authority, "gaj")
	if err != nil || len(rep.Items) != 1 || rep.Items[0].Cases.Received != 4 {
		t.Fatalf("one org: %+v, %v", rep, err)
	}
	if rep, err = s.Cards(ctx, authority, "corp"); err != nil || len(rep.Items) != 1 || rep.Items[0].Overall != nil {
		t.Fatalf("an org without duties: %+v, %v", rep, err)
	}
}
