package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/share"
)

// ShareAppName is the demo business application of the civil affairs
// bureau: an API client whose token is printed with the demo logins.
const ShareAppName = "低保核查系统"

// seedShare gives the demo city sharing in every state (R-SHR-1..10): the
// public security bureau provides an unconditional, a conditional and a
// not-shared entry, the social security bureau an unconditional one; the
// civil affairs bureau holds an unconditional grant, a conditional grant
// approved by the provider and the authority, a refused request (with its
// written reason), an automatically refused request for the not-shared
// entry and a grant the authority suspended; its business application calls
// them through the gate's HTTP endpoint with a bearer token. A need on the
// demand list and a dispute before the city government complete the
// picture. It returns the application's login line (its token).
//
// Entries without a demo dataset get 200 synthetic records loaded through
// ingest, the path every org's data takes, so the gate serves them from the
// store like any hosted data.
func seedShare(ctx context.Context, a *app.App, authP identity.Principal) ([]Login, error) {
	if a.Share == nil || a.Gate == nil || a.Catalog == nil {
		return nil, nil
	}
	signIn := func(username string) (identity.Principal, error) {
		p, err := a.Identity.Authenticate(ctx, username, Password, "demo")
		if err != nil {
			return p, fmt.Errorf("demo: share: sign in %s: %w", username, err)
		}
		return p, nil
	}
	mzj, err := signIn("mzj.steward")
	if err != nil {
		return nil, err
	}

	// The entries come from the seeded catalog: one provider with an
	// unconditional, a conditional and a not-shared hosted entry, and a
	// second provider with an unconditional one.
	pick, err := pickShareEntries(ctx, a, mzj.OrgID)
	if err != nil {
		return nil, err
	}
	pop, exit, wanted, insured := pick[0], pick[1], pick[2], pick[3]
	gaj, err := signIn(orgUsername(ctx, a, pop.OrgID))
	if err != nil {
		return nil, err
	}

	for r, res := range pick {
		if err := loadShareRows(ctx, a, res, r); err != nil {
			return nil, err
		}
	}
	popFields, exitFields, insFields := simpleFields(pop, 3), simpleFields(exit, 2), simpleFields(insured, 2)
	outside := ""
	for _, f := range pop.Fields {
		if !slices.Contains(popFields, f.Name) {
			outside = f.Name
		}
	}

	// Unconditional (R-SHR-2).
	if _, err := a.Share.ObtainUnconditional(ctx, mzj, share.Declaration{ResourceID: pop.ID, Scenario: "最低生活保障资格核查",
		LegalDuty: "《社会救助暂行办法》第十一条", Fields: popFields}); err != nil {
		return nil, fmt.Errorf("demo: share: unconditional: %w", err)
	}
	// Conditional, approved by the provider and the authority (R-SHR-3, R-SHR-4).
	c, err := a.Share.RequestShare(ctx, mzj, share.ShareRequest{ResourceID: exit.ID, RequestPayload: share.RequestPayload{
		Scenario: "低保对象长期出境核查", LegalDuty: "《社会救助暂行办法》第十一条、第十六条", Fields: exitFields, Days: 365, Acknowledged: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("demo: share: request: %w", err)
	}
	if _, err := a.Cases.Act(ctx, gaj, c.ID, "concur", casework.ActInput{Reason: "同意，限所列数据项"}); err != nil {
		return nil, fmt.Errorf("demo: share: concur: %w", err)
	}
	if _, err := a.Cases.Act(ctx, authP, c.ID, "approve", casework.ActInput{Reason: "场景属于法定职责，数据项最小够用，同意共享"}); err != nil {
		return nil, fmt.Errorf("demo: share: approve: %w", err)
	}
	// A refused request, with its written reason.
	c, err = a.Share.RequestShare(ctx, mzj, share.ShareRequest{ResourceID: exit.ID, RequestPayload: share.RequestPayload{
		Scenario: "困难群众家庭情况走访", LegalDuty: "《社会救助暂行办法》第十条", Fields: allFields(exit), Days: 365, Acknowledged: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("demo: share: request: %w", err)
	}
	if _, err := a.Cases.Act(ctx, gaj, c.ID, "refuse", casework.ActInput{Reason: "走访场景只需所列数据项中的一部分，不符合最小够用原则；请按实际需要重新申请，或使用无条件共享的《" + pop.Name + "》。"}); err != nil {
		return nil, fmt.Errorf("demo: share: refuse: %w", err)
	}
	// A request for a not-shared entry, refused automatically citing its basis.
	if _, err := a.Share.RequestShare(ctx, mzj, share.ShareRequest{ResourceID: wanted.ID, RequestPayload: share.RequestPayload{
		Scenario: "救助对象身份核查", LegalDuty: "《社会救助暂行办法》", Fields: simpleFields(wanted, 1), Acknowledged: true,
	}}); err != nil {
		return nil, fmt.Errorf("demo: share: not-shared request: %w", err)
	}
	// A grant the authority suspended (R-SHR-10).
	ins, err := a.Share.ObtainUnconditional(ctx, mzj, share.Declaration{ResourceID: insured.ID, Scenario: "低保家庭收入核对",
		LegalDuty: "《社会救助暂行办法》第十一条", Fields: insFields})
	if err != nil {
		return nil, fmt.Errorf("demo: share: unconditional: %w", err)
	}
	if _, err := a.Share.Apply(ctx, authP, ins.ID, share.Suspend, "监测发现调用量异常，暂停数据服务，责令改正后恢复（福建省大数据发展条例第三十三条）"); err != nil {
		return nil, fmt.Errorf("demo: share: suspend: %w", err)
	}
	// The demand list and a dispute.
	if _, err := a.Share.PostDemand(ctx, mzj, share.DemandInput{Title: "残疾人证信息", Description: "低保审核需要核对残疾等级，目录中暂无该数据。",
		Scenario: "最低生活保障资格核查", LegalDuty: "《社会救助暂行办法》", Items: []string{"残疾人证号", "残疾类别", "残疾等级"}}); err != nil {
		return nil, fmt.Errorf("demo: share: demand: %w", err)
	}
	if _, err := a.Share.FileDispute(ctx, authP, share.DisputeInput{ResourceID: wanted.ID, Proposed: catalog.Conditional,
		Reason: "该目录的部分数据项可在履行法定职责的必要范围内有条件共享，暂不共享的范围过宽。"}); err != nil {
		return nil, fmt.Errorf("demo: share: dispute: %w", err)
	}

	// The business application and its token.
	cl, err := a.Identity.CreateClient(ctx, authP, identity.NewClient{OrgID: mzj.OrgID, Name: ShareAppName,
		Roles: []identity.Role{identity.RoleDeveloper}, Scopes: []string{"api:read"}})
	if err != nil {
		return nil, fmt.Errorf("demo: share: client: %w", err)
	}
	tok, err := a.Identity.IssueToken(ctx, authP, cl.ID, []string{"api:read"}, 365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("demo: share: token: %w", err)
	}
	// It calls through the gate's HTTP endpoint; each answer is checked.
	h := a.SeedHandler()
	call := func(path string, want int, wantCode string) error {
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			return fmt.Errorf("demo: share: GET %s: status %d, want %d: %s", path, rec.Code, want, rec.Body.Bytes())
		}
		if wantCode != "" {
			var pr struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.Code != wantCode {
				return fmt.Errorf("demo: share: GET %s: code %q, want %s", path, pr.Code, wantCode)
			}
		}
		return nil
	}
	for _, c := range []struct {
		path string
		want int
		code string
	}{
		{"/api/v1/data/" + pop.ID + "?limit=20", http.StatusOK, ""},
		{"/api/v1/data/" + pop.ID + "?format=csv", http.StatusOK, ""},
		{"/api/v1/data/" + exit.ID + "?limit=10", http.StatusOK, ""},
		{"/api/v1/data/" + pop.ID + "?fields=" + outside, http.StatusForbidden, "gate.field_not_granted"},
		{"/api/v1/data/" + insured.ID, http.StatusForbidden, "gate.grant_suspended"},
		{"/api/v1/data/" + wanted.ID, http.StatusForbidden, "gate.no_grant"},
	} {
		if err := call(c.path, c.want, c.code); err != nil {
			return nil, err
		}
	}
	return []Login{{Org: "市民政局「" + ShareAppName + "」", Token: tok.Token, Roles: cl.Roles}}, nil
}

// pickShareEntries finds, in the seeded catalog, published hosted entries
// of a provider other than consumerOrg: unconditional, conditional and
// not-shared ones of one org, and an unconditional one of a second org.
func pickShareEntries(ctx context.Context, a *app.App, consumerOrg string) ([]*catalog.Resource, error) {
	type trio struct{ u, c, n *catalog.Resource }
	byOrg := map[string]*trio{}
	var order []string
	cursor := ""
	for {
		page, next, err := a.Catalog.List(ctx, identity.Principal{}, catalog.ListFilter{Status: catalog.StatusPublished}, cursor, 500)
		if err != nil {
			return nil, fmt.Errorf("demo: share: list catalog: %w", err)
		}
		for _, r := range page {
			if r.OrgID == consumerOrg || r.Delivery.Mode != catalog.Hosted || len(simpleFields(r, 3)) < 3 {
				continue
			}
			t := byOrg[r.OrgID]
			if t == nil {
				t = &trio{}
				byOrg[r.OrgID] = t
				order = append(order, r.OrgID)
			}
			switch {
			case r.Share.Attr == catalog.Unconditional && t.u == nil:
				t.u = r
			case r.Share.Attr == catalog.Conditional && t.c == nil:
				t.c = r
			case r.Share.Attr == catalog.None && t.n == nil:
				t.n = r
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, org := range order {
		t := byOrg[org]
		if t.u == nil || t.c == nil || t.n == nil {
			continue
		}
		for _, other := range order {
			if o := byOrg[other]; other != org && o.u != nil {
				return []*catalog.Resource{t.u, t.c, t.n, o.u}, nil
			}
		}
	}
	return nil, fmt.Errorf("demo: share: the seeded catalog lacks the entries the sharing demo needs")
}

// orgUsername is the demo steward's username of org.
func orgUsername(ctx context.Context, a *app.App, orgID string) string {
	o, err := a.Identity.GetOrg(ctx, orgID)
	if err != nil {
		return ""
	}
	for _, so := range orgs {
		if so.name == o.Name {
			return so.slug + ".steward"
		}
	}
	return ""
}

// simpleFields are up to n of r's fields whose values the demo generates.
func simpleFields(r *catalog.Resource, n int) []string {
	var out []string
	for _, f := range r.Fields {
		switch f.Type {
		case "string", "integer", "decimal", "boolean", "date", "datetime":
			if len(out) < n {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

func allFields(r *catalog.Resource) []string {
	return simpleFields(r, len(r.Fields))
}

// demoValue is a plausible value of field f in row i of entry r.
func demoValue(f catalog.Field, i, r int, name string) any {
	switch f.Type {
	case "integer":
		return int64(1 + (i*37+r)%500)
	case "decimal":
		return float64((i*1913+r)%100000) / 100
	case "boolean":
		return i%3 != 0
	case "date":
		return time.Date(2020+i%6, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	case "datetime":
		return time.Date(2026, time.Month(1+i%11), 1+i%28, i%24, 0, 0, 0, time.UTC).Format(time.RFC3339)
	case "string":
	default:
		return nil
	}
	switch f.Name {
	case "full_name":
		return name
	case "id_card":
		return fmt.Sprintf("350203%04d%02d%02d%03d%d", 1950+i%60, 1+i%12, 1+i%28, i, (i+r)%10)
	case "phone":
		return fmt.Sprintf("1380592%04d", i)
	case "gender":
		return []string{"男", "女"}[i%2]
	case "credit_code":
		return fmt.Sprintf("91350200MA%07dX", 2700000+i)
	case "district_code":
		return []string{"350203", "350205", "350206", "350211", "350212", "350213"}[i%6]
	}
	return fmt.Sprintf("%s-%04d", f.Label, i)
}

// loadShareRows gives a picked entry a dataset and records, unless the
// datasets demo already loaded it.
func loadShareRows(ctx context.Context, a *app.App, res *catalog.Resource, r int) error {
	p := ingest.System(res.OrgID)
	if ds, err := a.Ingest.Dataset(ctx, p, res.ID); err == nil && ds != nil {
		return nil
	}
	// The key is a plain text item (no code list, not personal), made unique.
	key := ""
	for _, f := range res.Fields {
		if f.Type == "string" && f.CodeList == "" && !f.Personal {
			key = f.Name
			break
		}
	}
	if key == "" {
		return fmt.Errorf("demo: share: %s has no text data item to key its records by", res.Name)
	}
	if _, err := a.Ingest.CreateDataset(ctx, p, res.ID, ingest.DatasetInput{Key: []string{key}}); err != nil {
		return fmt.Errorf("demo: share: dataset for %s: %w", res.Name, err)
	}
	surnames := []string{"陈", "林", "黄", "张", "李", "王", "吴", "刘", "蔡", "杨"}
	given := []string{"伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰"}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for i := 0; i < 200; i++ {
		row := map[string]any{}
		for _, f := range res.Fields {
			row[f.Name] = demoValue(f, i, r, surnames[i%len(surnames)]+given[(i*7)%len(given)])
		}
		row[key] = fmt.Sprintf("%s-%06d", key, i)
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	batch, err := a.Ingest.Load(ctx, p, res.ID, strings.NewReader(b.String()), ingest.LoadInput{
		Mode: ingest.Replace, Policy: ingest.AcceptValid, Format: ingest.NDJSON, Source: "share-demo.ndjson"})
	if err != nil {
		return fmt.Errorf("demo: share: load %s: %w", res.Name, err)
	}
	if batch.Status != ingest.BatchApplied || batch.RowsStaged == 0 {
		return fmt.Errorf("demo: share: load %s: %s %s", res.Name, batch.Status, batch.Reason)
	}
	return nil
}
