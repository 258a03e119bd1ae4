package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/xuri/excelize/v2"

	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func init() {
	// The contract check reads XLSX bodies as opaque files.
	openapi3filter.RegisterBodyDecoder(xlsxType, openapi3filter.FileBodyDecoder)
}

// catalogOrg creates an org with a data steward and returns the org's id,
// its credit code and the steward, signed in.
func (e *env) catalogOrg(root *user, slug, name string, kind identity.OrgKind, n int) (string, string, *user) {
	e.t.Helper()
	code := identity.MakeCreditCode(fmt.Sprintf("11350200MA%07d", 2600100+n))
	org := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
		"name": name, "kind": kind, "credit_code": code,
	})).json(e.t)
	id := org["id"].(string)
	root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+id+"/users", map[string]any{
		"username": slug + ".steward", "display_name": name + "数据专员", "password": "steward-pass-2026", "roles": []string{"data_steward"},
	}))
	return id, code, e.login(slug+".steward", "steward-pass-2026")
}

func catalogEntry(name string) map[string]any {
	return map[string]any{
		"name": name, "description": name + "，每日更新", "data_class": "government",
		"themes": []string{"public_security"}, "industry": "S", "library": map[string]any{"kind": "base", "code": "population"},
		"frequency": "daily", "formats": []string{"csv", "json"}, "legal_basis": "《户口登记条例》", "level": "important",
		"share":    map[string]any{"attr": "conditional", "conditions": "履行法定职责"},
		"open":     map[string]any{"attr": "none", "basis": "《个人信息保护法》", "reason": "含个人信息"},
		"delivery": map[string]any{"mode": "hosted"}, "contact": map[string]any{"name": "张三", "email": "data@example.gov.cn"},
		"tags": []string{"人口"},
		"fields": []map[string]any{
			{"name": "id_card", "label": "公民身份号码", "type": "string", "required": true, "level": "important", "personal": true, "sensitive": true},
			{"name": "full_name", "label": "姓名", "type": "string", "level": "general", "personal": true},
		},
	}
}

// The catalog through the public API: drafting, rule refusals, publishing,
// the public catalog, search, versions, XLSX, DCAT, CKAN, purchase requests
// and review. R-CAT-1..9, R-OPN-1/2 (the open list), R-SEC-1.
func TestCatalogAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		orgID, orgCode, st := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 1)
		anon := e.anon()

		// R-CAT-5: a refusal cites the rule.
		bad := catalogEntry("不予共享但无依据")
		bad["share"] = map[string]any{"attr": "none", "reason": "涉密"}
		r := st.want(http.StatusUnprocessableEntity, st.do("POST", "/api/v1/catalog/resources", bad))
		if r.code(t) != "catalog.rule.none_share_needs_basis" || r.json(t)["field"] != "share.basis" || !strings.Contains(string(r.body), "R-CAT-5") {
			t.Fatalf("rule refusal: %s", r.body)
		}
		anon.want(http.StatusUnauthorized, anon.do("POST", "/api/v1/catalog/resources", catalogEntry("x")))

		d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", catalogEntry("常住人口基本信息"))).json(t)
		id := d["resource_id"].(string)
		if d["code"] != orgCode+"-00001" {
			t.Fatalf("code %v, want %s-00001", d["code"], orgCode)
		}
		anon.want(http.StatusNotFound, anon.do("GET", "/api/v1/catalog/resources/"+id, nil))
		pub := st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "首次发布"})).json(t)
		if pub["resource"].(map[string]any)["version"] != "1.0" {
			t.Fatalf("publish: %v", pub)
		}
		got := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/resources/"+id, nil)).json(t)
		if got["org_name"] != "市公安局" || got["status"] != "published" {
			t.Fatalf("public entry: %v", got)
		}
		res := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/search?q="+url.QueryEscape("人口")+"&theme=public_security", nil)).json(t)
		if res["total"].(float64) != 1 || len(res["facets"].(map[string]any)["org"].([]any)) != 1 {
			t.Fatalf("search: %v", res)
		}
		anon.want(http.StatusUnprocessableEntity, anon.do("GET", "/api/v1/catalog/search?q="+url.QueryEscape(`"open`), nil))
		if ol := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/open-list", nil)).json(t); len(ol["items"].([]any)) != 0 {
			t.Fatalf("a not-open entry on the open list: %v", ol)
		}
		vs := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/resources/"+id+"/versions", nil)).json(t)
		if v := vs["items"].([]any)[0].(map[string]any); v["reason"] != "首次发布" || v["by"] == "" {
			t.Fatalf("versions: %v", vs)
		}
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/config", nil))
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/rules", nil))
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/orgs", nil))
		dups := st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/duplicates", map[string]any{"org_id": "elsewhere", "fields": []map[string]any{{"name": "sfzh", "label": "公民身份号码", "type": "string", "level": "general"}}})).json(t)
		if len(dups["items"].([]any)) != 1 {
			t.Fatalf("duplicates: %v", dups)
		}

		// XLSX: template, export, re-import (updates the draft), a malformed file.
		tpl := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/template.xlsx", nil))
		if tpl.header.Get("Content-Type") != xlsxType || !bytes.HasPrefix(tpl.body, []byte("PK")) {
			t.Fatalf("template: %s", tpl.header)
		}
		exp := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/export.xlsx?org="+orgID, nil))
		f, err := excelize.OpenReader(bytes.NewReader(exp.body))
		if err != nil {
			t.Fatal(err)
		}
		_ = f.SetCellValue(catalog.SheetEntries, "D2", "修订后的摘要")
		var edited bytes.Buffer
		_, _ = f.WriteTo(&edited)
		imp := st.want(http.StatusCreated, st.raw("POST", "/api/v1/catalog/import", xlsxType, edited.Bytes())).json(t)
		if imp["updated"].(float64) != 1 {
			t.Fatalf("import: %v", imp)
		}
		r = st.want(http.StatusUnprocessableEntity, st.raw("POST", "/api/v1/catalog/import", xlsxType, []byte("not a spreadsheet")))
		if r.code(t) != "catalog.xlsx" {
			t.Fatalf("malformed import: %s", r.body)
		}
		st.want(http.StatusUnsupportedMediaType, st.raw("POST", "/api/v1/catalog/import", "text/plain", []byte("x")))
		draft := st.want(http.StatusOK, st.do("GET", "/api/v1/catalog/resources/"+id+"/draft", nil)).json(t)
		if draft["description"] != "修订后的摘要" {
			t.Fatalf("imported draft: %v", draft["description"])
		}
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "修订摘要"}))

		// DCAT-AP.
		dcat := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/dcat.jsonld", nil)).json(t)
		ds := dcat["dcat:dataset"].([]any)
		if dcat["@type"] != "dcat:Catalog" || len(ds) != 1 || ds[0].(map[string]any)["dct:identifier"] != orgCode+"-00001" {
			t.Fatalf("dcat: %v", dcat)
		}

		// CKAN.
		ck := func(path string, status int) map[string]any {
			t.Helper()
			return anon.want(status, anon.do("GET", path, nil)).json(t)
		}
		name := strings.ToLower(orgCode + "-00001")
		if l := ck("/api/3/action/package_list", 200)["result"].([]any); len(l) != 1 || l[0] != name {
			t.Fatalf("package_list: %v", l)
		}
		pk := ck("/api/3/action/package_show?id="+name, 200)["result"].(map[string]any)
		if pk["title"] != "常住人口基本信息" || pk["organization"].(map[string]any)["title"] != "市公安局" || pk["version"] != "1.1" {
			t.Fatalf("package_show: %v", pk)
		}
		sr := ck("/api/3/action/package_search?q="+url.QueryEscape("人口")+"&fq="+url.QueryEscape("organization:"+orgID+" res_format:CSV"), 200)["result"].(map[string]any)
		if sr["count"].(float64) != 1 {
			t.Fatalf("package_search: %v", sr)
		}
		if ol := ck("/api/3/action/organization_list", 200)["result"].([]any); len(ol) != 1 || ol[0] != orgID {
			t.Fatalf("organization_list: %v", ol)
		}
		if m := ck("/api/3/action/package_show?id=nope", 404); m["success"] != false {
			t.Fatalf("missing package: %v", m)
		}
		ck("/api/3/action/resource_create", 404)

		// R-CAT-9: a purchase request, approved by the authority, enters the catalog.
		c := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/purchases", map[string]any{
			"name": "企业招聘数据", "supplier": "某数据公司", "purpose": "就业监测", "legal_basis": "《厦门经济特区数据条例》第二十二条",
			"themes": []string{"employment"}, "frequency": "monthly", "formats": []string{"csv"}, "level": "general",
			"fields": []map[string]any{{"name": "position", "label": "岗位", "type": "string", "level": "general"}},
		})).json(t)
		root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+c["id"].(string)+"/actions/approve", map[string]any{}))
		list := st.want(http.StatusOK, st.do("GET", "/api/v1/catalog/resources?org="+orgID, nil)).json(t)["items"].([]any)
		var purchased bool
		for _, it := range list {
			purchased = purchased || it.(map[string]any)["data_class"] == "purchased"
		}
		if len(list) != 2 || !purchased {
			t.Fatalf("purchased entry missing: %v", list)
		}

		// R-CAT-3: the authority requires review; the steward's publish waits on a case.
		st.want(http.StatusForbidden, st.do("PUT", "/api/v1/catalog/config", map[string]any{"require_review": true}))
		root.want(http.StatusOK, root.do("PUT", "/api/v1/catalog/config", map[string]any{"require_review": true}))
		d = st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", catalogEntry("流动人口信息"))).json(t)
		id2 := d["resource_id"].(string)
		pr := st.want(http.StatusAccepted, st.do("POST", "/api/v1/catalog/resources/"+id2+"/publish", map[string]any{"reason": "发布"})).json(t)
		caseID := pr["review_case_id"].(string)
		anon.want(http.StatusNotFound, anon.do("GET", "/api/v1/catalog/resources/"+id2, nil))
		root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{}))
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/resources/"+id2, nil))

		// Withdraw.
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id2+"/withdraw", map[string]any{"reason": "停止提供"}))
		anon.want(http.StatusNotFound, anon.do("GET", "/api/v1/catalog/resources/"+id2, nil))
	})
}

// R-CAT-4: one Shuqiao harvests another's catalog through the CKAN API as
// linked, read-only remote entries; entries the source withdraws are
// withdrawn on the next harvest. A plain CKAN portal is harvested too.
func TestCatalogHarvest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		src := newEnv(t, db)
		root, _ := src.bootstrap()
		_, _, st := src.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 1)
		var ids []string
		for _, n := range []string{"常住人口基本信息", "流动人口登记"} {
			id := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", catalogEntry(n))).json(t)["resource_id"].(string)
			st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "发布"}))
			ids = append(ids, id)
		}

		dst := newEnv(t, storetest.OpenTestSQLite(t))
		ctx := context.Background()
		sys := catalog.System("")
		out, err := dst.app.Catalog.Harvest(ctx, sys, src.srv.URL, catalog.HarvestOptions{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if out.Created != 2 || out.Read != 2 {
			t.Fatalf("harvest: %+v", out)
		}
		sr, err := dst.app.Catalog.Search(ctx, catalog.SearchInput{Q: "流动人口"})
		if err != nil || sr.Total != 1 {
			t.Fatalf("search harvested: %+v %v", sr, err)
		}
		h := sr.Items[0]
		if h.Remote == nil || !strings.Contains(h.OrgName, "市公安局") || len(h.Fields) != 2 || h.Share.Attr != catalog.Conditional {
			t.Fatalf("harvested entry: %+v", h)
		}
		if _, err := dst.app.Catalog.UpdateDraft(ctx, sys, h.ID, catalog.DraftUpdate{}); err == nil || !strings.Contains(err.Error(), "catalog.remote_read_only") {
			t.Fatalf("remote entry edited: %v", err)
		}
		// Unauthorised callers may not harvest.
		if _, err := dst.app.Catalog.Harvest(ctx, identity.Principal{UserID: "u", OrgID: "o"}, src.srv.URL, catalog.HarvestOptions{}); err == nil {
			t.Fatal("a non-authority harvested")
		}

		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+ids[1]+"/withdraw", map[string]any{"reason": "停用"}))
		out, err = dst.app.Catalog.Harvest(ctx, sys, src.srv.URL+"/api/3/action", catalog.HarvestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if out.Withdrawn != 1 || out.Unchanged != 1 {
			t.Fatalf("re-harvest: %+v", out)
		}
		if sr, _ := dst.app.Catalog.Search(ctx, catalog.SearchInput{Q: "流动人口"}); sr.Total != 0 {
			t.Fatalf("withdrawn upstream, still found: %d", sr.Total)
		}

		// A plain CKAN portal.
		ckan := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/3/action/package_search" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "result": map[string]any{"count": 1, "results": []any{map[string]any{
				"id": "x1", "name": "air-quality", "title": "Air quality 空气质量", "notes": "Hourly readings", "state": "active",
				"organization": map[string]any{"name": "epb", "title": "Environment Bureau"},
				"tags":         []any{map[string]any{"name": "air"}}, "resources": []any{map[string]any{"format": "CSV"}},
				"extras": []any{map[string]any{"key": "frequency", "value": "daily"}},
			}}}})
		}))
		defer ckan.Close()
		out, err = dst.app.Catalog.Harvest(ctx, sys, ckan.URL, catalog.HarvestOptions{})
		if err != nil || out.Created != 1 {
			t.Fatalf("ckan harvest: %+v %v", out, err)
		}
		sr, _ = dst.app.Catalog.Search(ctx, catalog.SearchInput{Q: "空气质量"})
		if sr.Total != 1 || sr.Items[0].Frequency != catalog.Daily || sr.Items[0].Formats[0] != "csv" || sr.Items[0].OrgName != "Environment Bureau @ "+strings.TrimPrefix(ckan.URL, "http://") {
			t.Fatalf("ckan entry: %+v", sr.Items)
		}
		if _, err := dst.app.Catalog.Harvest(ctx, sys, "ftp://example", catalog.HarvestOptions{}); err == nil || !strings.Contains(err.Error(), "catalog.harvest") {
			t.Fatalf("bad url: %v", err)
		}
		if _, err := dst.app.Catalog.Harvest(ctx, sys, ckan.URL+"/nothing-here", catalog.HarvestOptions{}); err == nil {
			t.Fatal("harvest of a non-CKAN address succeeded")
		}
	})
}
