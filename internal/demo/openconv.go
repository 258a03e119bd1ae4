package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"shuqiao/internal/app"
	"shuqiao/internal/catalog"
	"shuqiao/internal/httpapi"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/open"
	"shuqiao/internal/privacy/mask"
)

// Names of the demo's R-OPN-4 entries (re-versions of existing catalog
// entries: the catalog demo keeps exactly CatalogEntryCount).
const (
	OpenDerivativeName = "常住人口性别民族出生年代结构（匿名化衍生数据，演示）"
	OpenConsentHolder  = "鹭岛空间信息科技有限公司"
)

// seedOpenConversion opens not-open data both ways R-OPN-4 allows, each
// through the HTTP API as the people involved would, leaving the
// open_conversion case and ledger trail (decisions 0103, 0104):
//
//   - The residents' register (not open: resident IDs) is anonymised by its
//     providing org with POST /api/v1/open/derivations: the names, IDs,
//     addresses and phones are left out, the birth date masked to its year,
//     and sex, ethnicity, birth year and district generalised to
//     10-anonymity with their hierarchies; the risk report comes with it.
//     Another not-open entry of the org is re-versioned to describe the
//     derivative, its dataset keyed by the derivative's row_no, and the CSV
//     loaded through ingest. The org proposes opening it with the derivation
//     (POST /api/v1/open/conversions), the authority approves, the org
//     opens the entry unconditionally and anyone downloads it.
//   - A purchased (not-open) entry is opened on the recorded consent of its
//     right holder, 鹭岛空间信息科技有限公司: the org proposes, the
//     authority approves, the org opens it.
func seedOpenConversion(ctx context.Context, a *app.App, all []*catalog.Resource, keep ...string) error {
	hasData := func(r *catalog.Resource) bool {
		ds, err := a.Ingest.Dataset(ctx, ingest.System(r.OrgID), r.ID)
		return err == nil && ds != nil
	}
	usable := func(r *catalog.Resource) bool {
		return r.Remote == nil && r.Delivery.Mode == catalog.Hosted && !open.PurposeLocked(r) && r.Open.Attr == catalog.None
	}
	var residents *catalog.Resource
	for _, r := range all {
		if usable(r) && hasFieldNames(r, "id_card", "full_name", "gender", "ethnicity", "birth_date", "district") {
			residents = r
			break
		}
	}
	if residents == nil {
		return fmt.Errorf("demo: open: the datasets demo's residents entry is missing or open")
	}
	var target, consented *catalog.Resource
	for _, r := range all {
		if !usable(r) || r.ID == residents.ID || slices.Contains(keep, r.ID) || hasData(r) {
			continue
		}
		if target == nil && r.OrgID == residents.OrgID {
			target = r
			continue
		}
		personal := slices.ContainsFunc(r.Fields, func(f catalog.Field) bool { return f.Personal || f.Sensitive })
		if !personal && len(simpleFields(r, 3)) >= 3 && shareKeyField(r) != "" &&
			(consented == nil || (r.DataClass == catalog.ClassPurchased && consented.DataClass != catalog.ClassPurchased)) {
			consented = r
		}
	}
	if target == nil || consented == nil {
		return fmt.Errorf("demo: open: the seeded catalog lacks not-open entries to open (R-OPN-4)")
	}
	h := a.SeedHandler()
	provider, err := seedSession(ctx, a, h, orgUsername(ctx, a, residents.OrgID))
	if err != nil {
		return err
	}
	authority, err := seedSession(ctx, a, h, "admin")
	if err != nil {
		return err
	}

	// (a) An anonymised derivative of the residents' register.
	years := &strings.Builder{}
	for y := 1930; y < 2030; y++ {
		fmt.Fprintf(years, "%d;%d-%d;*\n", y, y/10*10, y/10*10+9)
	}
	years.WriteString("*;*;*\n")
	eth := &strings.Builder{}
	for n := 1; n <= 58; n++ {
		group := "少数民族"
		if n == 1 {
			group = "汉族"
		}
		fmt.Fprintf(eth, "%02d;%s;*\n", n, group)
	}
	districts := &strings.Builder{}
	for _, d := range districtsC {
		part := "岛外"
		if d == "350203" || d == "350206" {
			part = "岛内"
		}
		fmt.Fprintf(districts, "%s;%s;*\n", d, part)
	}
	spec := open.DeriveSpec{SourceID: residents.ID, Fields: []string{"gender", "ethnicity", "birth_date", "district"},
		QIs:         []string{"gender", "ethnicity", "birth_date", "district"},
		Hierarchies: map[string]string{"gender": "1;*\n2;*\n9;*\n", "ethnicity": eth.String(), "birth_date": years.String(), "district": districts.String()},
		K:           10, MaxSuppression: 0.05,
		Masks: map[string]mask.Spec{"birth_date": {Op: mask.OpGeneralize, To: mask.GenYear}}}
	body, hdr, err := provider.call(ctx, http.MethodPost, "/api/v1/open/derivations?format=csv", "application/json", jsonBody(spec), http.StatusCreated)
	if err != nil {
		return fmt.Errorf("demo: open: derivation: %w", err)
	}
	dvID := hdr.Get("Shuqiao-Derivation-Id")

	p := catalog.System(target.OrgID)
	en := target.Entry
	en.Name = OpenDerivativeName
	en.Description = "由" + residents.Name + "经匿名化处理形成的衍生数据：去除姓名、公民身份号码、住址和联系电话，出生日期泛化到年份，" +
		"性别、民族、出生年份与行政区划按泛化层次泛化至每组不少于10人（k-匿名），附重识别风险评估报告（演示数据）。"
	en.Level = catalog.LevelGeneral
	en.Open = catalog.Sharing{Attr: catalog.None, Basis: "《厦门经济特区数据条例》", Reason: "匿名化衍生数据，待不予开放转为开放审核"}
	en.Fields = []catalog.Field{
		{Name: open.DerivationKey, Label: "记录序号", Type: "string", Required: true, Level: catalog.LevelGeneral, Description: "随机顺序编号，与原始数据无关"},
		{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral, Description: "GB/T 2261.1 代码，或已泛化（*）"},
		{Name: "ethnicity", Label: "民族（已泛化）", Type: "string", Level: catalog.LevelGeneral},
		{Name: "birth_date", Label: "出生年代（已泛化）", Type: "string", Level: catalog.LevelGeneral},
		{Name: "district", Label: "行政区划（已泛化）", Type: "string", Level: catalog.LevelGeneral},
	}
	if _, err := a.Catalog.UpdateDraft(ctx, p, target.ID, catalog.DraftUpdate{Entry: en}); err != nil {
		return fmt.Errorf("demo: open: derivative entry: %w", err)
	}
	pub, err := a.Catalog.Publish(ctx, p, target.ID, catalog.PublishInput{Reason: "登记匿名化衍生数据", AcknowledgeBreaking: true})
	if err != nil {
		return fmt.Errorf("demo: open: publish the derivative entry: %w", err)
	}
	if pub.Resource == nil {
		return fmt.Errorf("demo: open: the derivative entry waits for review")
	}
	der := pub.Resource
	if _, _, err := provider.call(ctx, http.MethodPost, "/api/v1/ingest/datasets", "application/json",
		jsonBody(map[string]any{"resource": der.Code, "key": []string{open.DerivationKey}}), http.StatusCreated); err != nil {
		return fmt.Errorf("demo: open: derivative dataset: %w", err)
	}
	lb, _, err := provider.call(ctx, http.MethodPost, "/api/v1/ingest/datasets/"+der.ID+"/loads?mode=replace&source=derivation-"+dvID+".csv", "text/csv", body, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("demo: open: load the derivative: %w", err)
	}
	var load struct {
		Status string `json:"status"`
		Rows   int    `json:"rows_total"`
	}
	if err := json.Unmarshal(lb, &load); err != nil || load.Status != string(ingest.BatchApplied) || fmt.Sprint(load.Rows) != hdr.Get("Shuqiao-Records") {
		return fmt.Errorf("demo: open: load the derivative: %s", lb)
	}
	if err := seedConversion(ctx, provider, authority, map[string]any{"resource_id": der.ID, "path": open.PathDerivative, "attr": catalog.Unconditional,
		"reason": "原始数据经匿名化处理，满足10-匿名，重识别风险评估报告显示高风险记录占比低于阈值", "derivation_id": dvID},
		"风险评估报告与衍生数据内容哈希一致，所列数据项不含个人信息，同意转为无条件开放"); err != nil {
		return err
	}
	if der, err = setOpen(ctx, a, der, catalog.Sharing{Attr: catalog.Unconditional}); err != nil {
		return err
	}

	// (b) On the right holder's recorded consent.
	if err := loadShareRows(ctx, a, consented, 11); err != nil {
		return fmt.Errorf("demo: open: %w", err)
	}
	holder, err := orgByName(ctx, a, OpenConsentHolder)
	if err != nil {
		return err
	}
	owner, err := seedSession(ctx, a, h, orgUsername(ctx, a, consented.OrgID))
	if err != nil {
		return err
	}
	now := a.Clock.Now().UTC()
	if err := seedConversion(ctx, owner, authority, map[string]any{"resource_id": consented.ID, "path": open.PathConsent, "attr": catalog.Unconditional,
		"reason": "该数据的权利人书面同意向社会无条件开放",
		"consent": open.Consent{Holder: holder.Name, Credential: holder.CreditCode, GivenAt: now.AddDate(0, 0, -30), ExpiresAt: now.AddDate(3, 0, 0),
			Fields: allFields(consented), Use: "同意由数据提供单位以无条件开放方式向社会免费提供全部数据项",
			Evidence: "《数据开放授权同意书》（鹭岛空间〔2026〕7号），原件存数据提供单位"}},
		"权利人同意书载明同意范围与开放方式，在有效期内，同意转为无条件开放"); err != nil {
		return err
	}
	if consented, err = setOpen(ctx, a, consented, catalog.Sharing{Attr: catalog.Unconditional}); err != nil {
		return err
	}
	// Anyone downloads both, as any open data.
	for i, r := range []*catalog.Resource{der, consented} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/open/data/"+r.ID+"?format=csv", nil).WithContext(ctx)
		req.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", 30+i)
		req.Header.Set("User-Agent", "shuqiao-demo/1.0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Shuqiao-Records") == "0" {
			return fmt.Errorf("demo: open: anonymous download of %s: status %d: %s", r.Name, rec.Code, rec.Body.Bytes())
		}
	}
	return nil
}

// seedConversion files an open_conversion case as the providing org and
// has the authority approve it, both over HTTP.
func seedConversion(ctx context.Context, provider, authority *session, proposal map[string]any, approval string) error {
	b, _, err := provider.call(ctx, http.MethodPost, "/api/v1/open/conversions", "application/json", jsonBody(proposal), http.StatusCreated)
	if err != nil {
		return fmt.Errorf("demo: open: propose opening (%v): %w", proposal["path"], err)
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("demo: open: conversion case: %w", err)
	}
	if _, _, err := authority.call(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/actions/approve", "application/json",
		jsonBody(map[string]any{"reason": approval}), http.StatusOK); err != nil {
		return fmt.Errorf("demo: open: approve opening (%v): %w", proposal["path"], err)
	}
	return nil
}

// session is a demo person signed in to the app's HTTP handler.
type session struct {
	h     http.Handler
	token string
	csrf  string
}

func seedSession(ctx context.Context, a *app.App, h http.Handler, username string) (*session, error) {
	p, err := a.Identity.Authenticate(ctx, username, Password, "demo")
	if err != nil {
		return nil, fmt.Errorf("demo: sign in %s: %w", username, err)
	}
	s, err := a.Identity.CreateSession(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("demo: session of %s: %w", username, err)
	}
	return &session{h: h, token: s.Token, csrf: s.CSRF}, nil
}

// call makes one request and checks its status.
func (s *session) call(ctx context.Context, method, path, contentType string, body []byte, want int) ([]byte, http.Header, error) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(httpapi.CSRFHeader, s.csrf)
	req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: s.token})
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != want {
		return nil, nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, rec.Code, want, rec.Body.Bytes())
	}
	return rec.Body.Bytes(), rec.Header(), nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func hasFieldNames(r *catalog.Resource, names ...string) bool {
	for _, n := range names {
		if !slices.ContainsFunc(r.Fields, func(f catalog.Field) bool { return f.Name == n }) {
			return false
		}
	}
	return true
}

// shareKeyField is the field loadShareRows keys an entry's records by.
func shareKeyField(r *catalog.Resource) string {
	for _, f := range r.Fields {
		if f.Type == "string" && f.CodeList == "" && !f.Personal {
			return f.Name
		}
	}
	return ""
}

// orgByName finds a demo org by its name.
func orgByName(ctx context.Context, a *app.App, name string) (identity.Org, error) {
	after := ""
	for {
		page, next, err := a.Identity.ListOrgs(ctx, identity.OrgFilter{}, after, 200)
		if err != nil {
			return identity.Org{}, fmt.Errorf("demo: list orgs: %w", err)
		}
		for _, o := range page {
			if o.Name == name {
				return o, nil
			}
		}
		if next == "" {
			return identity.Org{}, fmt.Errorf("demo: no org %s", name)
		}
		after = next
	}
}
