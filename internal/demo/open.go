package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"shuqiao/internal/app"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/open"
)

// OpenFintechScenario is the scenario of the demo's approved open
// application, filed by 海峡征信科技有限公司.
const OpenFintechScenario = "企业信用评估：核验授信客户的市场主体登记与存续状态"

// seedOpen gives the demo city open data (R-OPN-1, R-OPN-2, R-OPN-5). It
// creates no catalog entry (the catalog demo keeps exactly
// CatalogEntryCount): it re-versions existing hosted entries instead.
//
//   - Unconditional, downloadable by anyone: the bus lines and the medical
//     institutions (the datasets demo's records) and one statistics entry
//     given 200 records through ingest. Each is downloaded anonymously once
//     through the app's HTTP endpoint, which creates its public grant.
//   - Conditional: the market entities register (the datasets demo's
//     records). 海峡征信科技有限公司 applies with scenario, fields and the
//     four commitments; the providing org concurs and the authority
//     approves, which creates its gate grant; it then downloads under it.
//   - Demand: a public "please open this" request for a not-open entry.
//   - From not open to open (R-OPN-4): seedOpenConversion.
func seedOpen(ctx context.Context, a *app.App, authP identity.Principal) error {
	if a.Open == nil || a.Catalog == nil || a.Ingest == nil || a.Gate == nil {
		return nil
	}
	var all []*catalog.Resource
	cursor := ""
	for {
		page, next, err := a.Catalog.List(ctx, identity.Principal{}, catalog.ListFilter{Status: catalog.StatusPublished}, cursor, 500)
		if err != nil {
			return fmt.Errorf("demo: open: list catalog: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	hasFields := func(r *catalog.Resource, names ...string) bool {
		for _, n := range names {
			if !slices.ContainsFunc(r.Fields, func(f catalog.Field) bool { return f.Name == n }) {
				return false
			}
		}
		return true
	}
	find := func(ok func(*catalog.Resource) bool) *catalog.Resource {
		for _, r := range all {
			if r.Remote == nil && r.Delivery.Mode == catalog.Hosted && !open.PurposeLocked(r) && ok(r) {
				return r
			}
		}
		return nil
	}
	bus := find(func(r *catalog.Resource) bool { return hasFields(r, "line_no", "line_name", "fare") })
	hosp := find(func(r *catalog.Resource) bool { return hasFields(r, "org_code", "org_name", "beds") })
	ents := find(func(r *catalog.Resource) bool { return hasFields(r, "credit_code", "ent_name", "registered_capital") })
	if bus == nil || hosp == nil || ents == nil {
		return fmt.Errorf("demo: open: the datasets demo's bus lines, medical institutions or market entities entry is missing")
	}
	hasData := func(r *catalog.Resource) bool {
		ds, err := a.Ingest.Dataset(ctx, ingest.System(r.OrgID), r.ID)
		return err == nil && ds != nil
	}
	// A statistics entry, already open unconditionally, without personal
	// data items and without records yet.
	stats := find(func(r *catalog.Resource) bool {
		if r.Open.Attr != catalog.Unconditional || !strings.Contains(r.Name, "统计数据") || len(simpleFields(r, 3)) < 3 || hasData(r) {
			return false
		}
		key := false
		for _, f := range r.Fields {
			if f.Personal || f.Sensitive {
				return false
			}
			key = key || (f.Type == "string" && f.CodeList == "")
		}
		return key
	})
	if stats == nil {
		return fmt.Errorf("demo: open: no unconditional statistics entry to load")
	}
	if err := loadShareRows(ctx, a, stats, 7); err != nil {
		return fmt.Errorf("demo: open: %w", err)
	}

	// The catalog marks them: bus lines and medical institutions open
	// unconditionally, market entities conditionally.
	var err error
	if bus, err = setOpen(ctx, a, bus, catalog.Sharing{Attr: catalog.Unconditional}); err != nil {
		return err
	}
	if hosp, err = setOpen(ctx, a, hosp, catalog.Sharing{Attr: catalog.Unconditional}); err != nil {
		return err
	}
	if ents, err = setOpen(ctx, a, ents, catalog.Sharing{Attr: catalog.Conditional,
		Conditions: "须提交开放申请，说明应用场景与所需数据项，承诺真实、合规、安全使用且不向第三方提供"}); err != nil {
		return err
	}

	// Anyone downloads the unconditional entries, free and without an
	// account, through the app's HTTP endpoint.
	h := a.SeedHandler()
	for i, r := range []*catalog.Resource{bus, hosp, stats} {
		for _, format := range []string{"json", "csv"} {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/open/data/"+r.ID+"?format="+format, nil).WithContext(ctx)
			req.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", 10+i)
			req.Header.Set("User-Agent", "shuqiao-demo/1.0")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Header().Get("Shuqiao-Records") == "0" {
				return fmt.Errorf("demo: open: anonymous download of %s: status %d: %s", r.Name, rec.Code, rec.Body.Bytes())
			}
		}
	}

	// Conditional: an enterprise applies, the provider concurs, the
	// authority approves (R-OPN-2).
	fin, err := a.Identity.Authenticate(ctx, "fintech.admin", Password, "demo")
	if err != nil {
		return fmt.Errorf("demo: open: sign in fintech.admin: %w", err)
	}
	provider, err := a.Identity.Authenticate(ctx, orgUsername(ctx, a, ents.OrgID), Password, "demo")
	if err != nil {
		return fmt.Errorf("demo: open: sign in the provider of %s: %w", ents.Name, err)
	}
	fields := []string{"credit_code", "ent_name", "established_on", "in_business"}
	c, err := a.Open.Apply(ctx, fin, open.Application{ResourceID: ents.ID, ApplicationPayload: open.ApplicationPayload{
		Scenario: OpenFintechScenario, Fields: fields, Days: 365,
		Commitments: open.Commitments{Authenticity: true, Compliance: true, Security: true, NoThirdParty: true},
	}})
	if err != nil {
		return fmt.Errorf("demo: open: application: %w", err)
	}
	if _, err := a.Cases.Act(ctx, provider, c.ID, "concur", casework.ActInput{Reason: "所申请数据项为公开登记信息，场景明确，同意开放"}); err != nil {
		return fmt.Errorf("demo: open: concur: %w", err)
	}
	if _, err := a.Cases.Act(ctx, authP, c.ID, "approve", casework.ActInput{Reason: "申请人已实名核验，承诺齐全，数据项最小够用，同意有条件开放一年"}); err != nil {
		return fmt.Errorf("demo: open: approve: %w", err)
	}
	d, err := a.Open.Download(ctx, open.DownloadRequest{Principal: fin, Requester: open.Requester{IP: "203.0.113.20", UserAgent: "海峡征信风控系统"},
		ResourceID: ents.ID, Format: gate.JSON, Fields: fields, Limit: 100})
	if err != nil {
		return fmt.Errorf("demo: open: download under the approved application: %w", err)
	}
	_, err = d.WriteTo(io.Discard)
	d.Close()
	if err != nil || d.Records == 0 {
		return fmt.Errorf("demo: open: download under the approved application: %d records, %v", d.Records, err)
	}

	// Demand: "please open this" for a not-open entry (R-OPN-5).
	wanted := find(func(r *catalog.Resource) bool {
		return r.Open.Attr == catalog.None && strings.Contains(r.Name, "停车场")
	})
	if wanted == nil {
		wanted = find(func(r *catalog.Resource) bool { return r.Open.Attr == catalog.None })
	}
	if wanted == nil {
		return fmt.Errorf("demo: open: no not-open entry to ask for")
	}
	if err := a.Open.RequestOpen(ctx, wanted.ID, "希望开放停车场泊位与收费标准等非个人信息，便于开发停车导航应用。",
		open.Requester{IP: "198.51.100.77", UserAgent: "Mozilla/5.0 (demo)"}); err != nil {
		return fmt.Errorf("demo: open: request: %w", err)
	}
	// From not open to open (R-OPN-4); the requested entry stays not open.
	return seedOpenConversion(ctx, a, all, wanted.ID)
}

// setOpen gives r a new version with the open attribute o, unless it has it.
func setOpen(ctx context.Context, a *app.App, r *catalog.Resource, o catalog.Sharing) (*catalog.Resource, error) {
	if r.Open.Attr == o.Attr {
		return r, nil
	}
	p := catalog.System(r.OrgID)
	en := r.Entry
	en.Open = o
	if _, err := a.Catalog.UpdateDraft(ctx, p, r.ID, catalog.DraftUpdate{Entry: en}); err != nil {
		return nil, fmt.Errorf("demo: open: %s: %w", r.Name, err)
	}
	pub, err := a.Catalog.Publish(ctx, p, r.ID, catalog.PublishInput{Reason: "调整开放属性：" + string(o.Attr)})
	if err != nil {
		return nil, fmt.Errorf("demo: open: publish %s: %w", r.Name, err)
	}
	if pub.Resource == nil {
		return nil, fmt.Errorf("demo: open: %s waits for review", r.Name)
	}
	return pub.Resource, nil
}
