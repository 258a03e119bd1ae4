package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// openEntry is a catalog entry of statistics without personal data, open as given.
func openEntry(name string, open map[string]any, tags []string) map[string]any {
	en := catalogEntry(name)
	en["level"] = "general"
	en["share"] = map[string]any{"attr": "unconditional"}
	en["open"] = open
	en["tags"] = tags
	en["fields"] = []map[string]any{
		{"name": "district", "label": "所属区", "type": "string", "required": true, "level": "general"},
		{"name": "year", "label": "年份", "type": "integer", "required": true, "level": "general"},
		{"name": "count", "label": "数量", "type": "integer", "level": "general"},
	}
	return en
}

// publishHosted publishes entry and loads rows into it through ingest (the
// real load path; gate reads hosted rows from ingest). It returns the id.
func (e *env) publishHosted(st *user, entry map[string]any, rows int) string {
	e.t.Helper()
	d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", entry)).json(e.t)
	id, code := d["resource_id"].(string), d["code"].(string)
	st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "首次发布"}))
	st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"district", "year"}}))
	var csv strings.Builder
	csv.WriteString("district,year,count\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&csv, "%s,%d,%d\n", []string{"思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"}[i%6], 2020+i/6, 10+i*7)
	}
	b := st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads?mode=replace&source=stats.csv", "text/csv", []byte(csv.String()))).json(e.t)
	if b["status"] != "applied" || b["rows_total"].(float64) != float64(rows) {
		e.t.Fatalf("load: %v", b)
	}
	return id
}

// Open data over HTTP, every response checked against api/openapi.yaml:
// anyone downloads an unconditional entry, without an account and free, as
// CSV, XLSX and JSON, each a ledger disclose event with a requester
// fingerprint and no address (R-OPN-1, R-DEV-6); anonymous downloads are
// rate limited and a free API key raises the limit (R-OPN-1); a verified
// enterprise applies for a conditional entry, the providing org and the
// authority approve and it downloads under the grant, and a refusal's reason
// reaches the applicant (R-OPN-2); CKAN's package_show lists an
// unconditional entry's downloads as resources (R-OPN-1); a purpose-locked entry is refused on
// download, on application and in the open catalog (R-PRS-7).
func TestOpenAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, st := e.catalogOrg(root, "wjw", "市卫生健康委员会", identity.KindDepartment, 31)
		ent := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
			"name": "某数据科技有限公司", "kind": "enterprise", "credit_code": identity.MakeCreditCode("91350200MA2600777"),
		})).json(t)
		entID := ent["id"].(string)
		dev, _ := e.clientOf(root, entID, "医疗资源地图")
		anon := e.anon()

		pubID := e.publishHosted(st, openEntry("医疗机构数量", map[string]any{"attr": "unconditional"}, []string{"卫生"}), 12)
		condID := e.publishHosted(st, openEntry("门诊就诊人次", map[string]any{"attr": "conditional", "conditions": "仅用于科研"}, []string{"卫生"}), 12)
		camID := e.publishHosted(st, openEntry("公共场所视频点位人流统计", map[string]any{"attr": "unconditional"}, []string{"public_camera"}), 6)

		// R-OPN-1, R-DEV-6: anyone, no account, free, three formats.
		r := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID+"?format=csv", nil))
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(r.body), "思明区") || r.header.Get("Shuqiao-Records") != "12" {
			t.Fatalf("csv: %v\n%s", r.header, r.body)
		}
		r = anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID+"?format=xlsx", nil))
		if !strings.Contains(r.header.Get("Content-Type"), "spreadsheetml") || !bytes.HasPrefix(r.body, []byte("PK")) {
			t.Fatalf("xlsx: %v", r.header)
		}
		page := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID+"?format=json", nil)).json(t)
		if page["count"].(float64) != 12 || len(page["rows"].([]any)) != 12 {
			t.Fatalf("json: %v", page)
		}
		publicGrant := page["grant_id"].(string)
		if g := root.want(http.StatusOK, root.do("GET", "/api/v1/grants/"+publicGrant, nil)).json(t); g["kind"] != "open" || g["grantee_org_id"] != "" {
			t.Fatalf("public grant: %v", g)
		}
		if _, err := e.app.Ledger.Integrate(ctx); err != nil {
			t.Fatal(err)
		}
		ev := root.want(http.StatusOK, root.do("GET", "/api/v1/ledger/events?action=disclose&resource="+pubID+"&limit=500", nil))
		var downloads []map[string]any // the catalog's publication is a disclose event too
		for _, it := range ev.json(t)["items"].([]any) {
			if m := it.(map[string]any); strings.HasPrefix(fmt.Sprint(m["object"]), "open/download/") {
				downloads = append(downloads, m)
			}
		}
		if len(downloads) != 3 {
			t.Fatalf("disclose events: %d: %s", len(downloads), ev.body)
		}
		for _, m := range downloads {
			d := m["detail"].(map[string]any)
			if fp, _ := d["requester_fingerprint"].(string); len(fp) != 32 || d["anonymous"] != true || d["free"] != true || m["grant_id"] != publicGrant {
				t.Fatalf("disclose event: %v", m)
			}
		}
		if bytes.Contains(ev.body, []byte("127.0.0.1")) || bytes.Contains(ev.body, []byte("::1")) || bytes.Contains(ev.body, []byte("Go-http-client")) {
			t.Fatalf("a disclose event keeps the requester's address or user agent: %s", ev.body)
		}

		// R-OPN-1: the anonymous limit (burst 5), then a free API key raises it.
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID, nil))
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID, nil))
		r = anon.want(http.StatusTooManyRequests, anon.do("GET", "/api/v1/open/data/"+pubID, nil))
		if r.code(t) != "open.rate_limited" {
			t.Fatalf("limit: %s", r.body)
		}
		anon.want(http.StatusUnprocessableEntity, anon.do("POST", "/api/v1/open/keys", map[string]any{"name": ""}))
		k := anon.want(http.StatusCreated, anon.do("POST", "/api/v1/open/keys", map[string]any{"name": "医疗资源地图", "contact": "dev@example.com"})).json(t)
		key := k["key"].(string)
		for i := 0; i < 10; i++ {
			anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+pubID+"?format=csv&key="+url.QueryEscape(key), nil))
		}
		if r = anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/open/data/"+pubID+"?key=sqo_wrong", nil)); r.code(t) != "open.bad_key" {
			t.Fatalf("bad key: %s", r.body)
		}

		// The open catalog in bulk, with download URLs; the locked entry is absent.
		cat := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/catalog", nil))
		if !strings.Contains(string(cat.body), "/api/v1/open/data/"+pubID+"?format=xlsx") || strings.Contains(string(cat.body), camID) || !strings.Contains(string(cat.body), condID) {
			t.Fatalf("open catalog: %s", cat.body)
		}
		cat = anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/catalog?format=csv", nil))
		if !strings.HasPrefix(cat.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(cat.body), "csv_url") {
			t.Fatalf("csv catalog: %s", cat.body)
		}

		// R-OPN-2: a conditional entry needs an approved application.
		e.clock.Advance(time.Minute) // the anonymous bucket refills

		// R-OPN-1: CKAN's package_show of an unconditional entry lists its
		// downloads as resources, so CKAN clients fetch the data itself.
		ckan := func(id string) map[string]any {
			t.Helper()
			m := anon.want(http.StatusOK, anon.do("GET", "/api/3/action/package_show?id="+id, nil)).json(t)
			return m["result"].(map[string]any)
		}
		pk := ckan(pubID)
		if pk["num_resources"].(float64) != 4 {
			t.Fatalf("package_show: %v", pk)
		}
		formats := map[string]string{}
		for _, x := range pk["resources"].([]any) {
			m := x.(map[string]any)
			formats[m["format"].(string)] = m["url"].(string)
		}
		for _, f := range []string{"CSV", "XLSX", "JSON", "NDJSON"} {
			if want := e.srv.URL + "/api/v1/open/data/" + pubID + "?format=" + strings.ToLower(f); formats[f] != want {
				t.Fatalf("package_show resource %s: %q, want %q", f, formats[f], want)
			}
		}
		dl := anon.want(http.StatusOK, anon.do("GET", strings.TrimPrefix(formats["CSV"], e.srv.URL), nil))
		if !strings.HasPrefix(dl.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(dl.body), "湖里区") {
			t.Fatalf("CKAN resource URL: %s", dl.body)
		}
		for _, id := range []string{condID, camID} {
			if strings.Contains(fmt.Sprint(ckan(id)["resources"]), "/api/v1/open/data/") {
				t.Fatalf("package_show of a conditional or locked entry offers downloads: %v", ckan(id))
			}
		}
		if r = anon.want(http.StatusForbidden, anon.do("GET", "/api/v1/open/data/"+condID, nil)); r.code(t) != "open.conditional" {
			t.Fatalf("anonymous conditional: %s", r.body)
		}
		app := map[string]any{"resource_id": condID, "scenario": "城市医疗资源分布研究", "fields": []string{"district", "count"}, "days": 90,
			"commitments": map[string]any{"authenticity": true, "compliance": true, "security": true, "no_third_party": false}}
		anon.want(http.StatusUnauthorized, anon.do("POST", "/api/v1/open/applications", app))
		if r = dev.want(http.StatusUnprocessableEntity, dev.do("POST", "/api/v1/open/applications", app)); r.code(t) != "open.commitments" {
			t.Fatalf("commitments: %s", r.body)
		}
		app["commitments"].(map[string]any)["no_third_party"] = true
		cs := dev.want(http.StatusCreated, dev.do("POST", "/api/v1/open/applications", app)).json(t)
		caseID := cs["id"].(string)
		if cs["kind"] != "open_application" || cs["state"] != "submitted" {
			t.Fatalf("case: %v", cs)
		}
		if a := cs["payload"].(map[string]any)["applicant"].(map[string]any); a["type"] != "enterprise" || a["name"] != "某数据科技有限公司" {
			t.Fatalf("applicant: %v", a)
		}
		root.want(http.StatusConflict, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "同意"}))
		st.want(http.StatusOK, st.do("POST", "/api/v1/cases/"+caseID+"/actions/concur", map[string]any{"reason": "同意"}))
		st.want(http.StatusForbidden, st.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "同意"}))
		cs = root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "同意开放"})).json(t)
		if cs["state"] != "approved" {
			t.Fatalf("approved: %v", cs)
		}
		page = dev.want(http.StatusOK, dev.do("GET", "/api/v1/open/data/"+condID+"?format=json", nil)).json(t)
		if fmt.Sprint(page["fields"]) != "[district count]" || page["count"].(float64) != 12 {
			t.Fatalf("conditional download: %v", page)
		}
		if r = dev.want(http.StatusForbidden, dev.do("GET", "/api/v1/open/data/"+condID+"?fields=year", nil)); r.code(t) != "gate.field_not_granted" {
			t.Fatalf("outside the application: %s", r.body)
		}
		// The applicant's grant carries the scenario and the commitments.
		g := dev.want(http.StatusOK, dev.do("GET", "/api/v1/grants/"+page["grant_id"].(string), nil)).json(t)
		if g["kind"] != "open" || g["purpose"] != "城市医疗资源分布研究" || g["case_id"] != caseID || !strings.Contains(g["terms"].(string), "第三方") {
			t.Fatalf("applicant's grant: %v", g)
		}
		// R-OPN-2: the grant is the applicant's own: a colleague in the same
		// enterprise, a person or another of its applications, is refused.
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+entID+"/users", map[string]any{
			"username": "ent.analyst", "display_name": "数据分析师", "password": "analyst-pass-2026", "roles": []string{"developer"},
		}))
		colleague := e.login("ent.analyst", "analyst-pass-2026")
		otherApp, _ := e.clientOf(root, entID, "另一个应用")
		for _, u := range []*user{colleague, otherApp} {
			if r = u.want(http.StatusForbidden, u.do("GET", "/api/v1/open/data/"+condID+"?format=json", nil)); r.code(t) != "open.not_applicant" {
				t.Fatalf("a colleague of the applicant downloaded: %s", r.body)
			}
			if r = u.want(http.StatusForbidden, u.do("GET", "/api/v1/open/data/"+condID+"?grant="+page["grant_id"].(string), nil)); r.code(t) != "open.not_applicant" {
				t.Fatalf("a colleague of the applicant downloaded naming the grant: %s", r.body)
			}
		}
		// An unconditional entry needs no application.
		app["resource_id"] = pubID
		if r = dev.want(http.StatusUnprocessableEntity, dev.do("POST", "/api/v1/open/applications", app)); r.code(t) != "open.unconditional" {
			t.Fatalf("unconditional application: %s", r.body)
		}

		// R-OPN-2: a refusal with a reason the applicant reads.
		app["resource_id"], app["fields"], app["scenario"] = condID, []string{"year"}, "另一场景"
		refused := dev.want(http.StatusCreated, dev.do("POST", "/api/v1/open/applications", app)).json(t)["id"].(string)
		st.want(http.StatusUnprocessableEntity, st.do("POST", "/api/v1/cases/"+refused+"/actions/refuse", map[string]any{}))
		reason := "年份可从无条件开放的医疗机构数量获取"
		st.want(http.StatusOK, st.do("POST", "/api/v1/cases/"+refused+"/actions/refuse", map[string]any{"reason": reason}))
		got := dev.want(http.StatusOK, dev.do("GET", "/api/v1/cases/"+refused, nil)).json(t)
		if d := got["decision"].(map[string]any); got["state"] != "refused" || d["outcome"] != "refused" || d["reason"] != reason {
			t.Fatalf("refusal: %v", got)
		}

		// R-PRS-7: the purpose-locked entry is refused on download and on application.
		for _, u := range []*user{anon, dev} {
			if r = u.want(http.StatusForbidden, u.do("GET", "/api/v1/open/data/"+camID+"?format=csv", nil)); r.code(t) != "open.purpose_locked" {
				t.Fatalf("locked download: %s", r.body)
			}
		}
		app["resource_id"], app["fields"] = camID, []string{"district"}
		if r = dev.want(http.StatusForbidden, dev.do("POST", "/api/v1/open/applications", app)); r.code(t) != "open.purpose_locked" {
			t.Fatalf("locked application: %s", r.body)
		}

		// R-PRS-7 beyond open: sharing it for another purpose is refused by the
		// gate; a public-security purpose, marked as such, is not.
		_, _, gaj := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 32)
		decl := map[string]any{"resource_id": camID, "scenario": "城市客流规划", "legal_duty": "《城乡规划法》", "fields": []string{"district", "count"}}
		if r = gaj.want(http.StatusForbidden, gaj.do("POST", "/api/v1/share/grants", decl)); r.code(t) != "gate.purpose_locked" {
			t.Fatalf("locked share: %s", r.body)
		}
		decl["scenario"], decl["legal_duty"] = "公共安全：重大活动人流管控", "《中华人民共和国人民警察法》第六条"
		gaj.want(http.StatusCreated, gaj.do("POST", "/api/v1/share/grants", decl))

		// R-OPN-5: "please open this" and the ranking; R-OPN-3, R-OPN-6 for the authority.
		anon.want(http.StatusAccepted, anon.do("POST", "/api/v1/open/requests", map[string]any{"resource_id": condID, "note": "希望无条件开放"}))
		dm := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/demand?days=30", nil)).json(t)["items"].([]any)
		// score = downloads + 5×applications + 10×requests: 1 + 10 + 10 for the conditional entry, 16 downloads for the other.
		if len(dm) != 2 || dm[0].(map[string]any)["resource_id"] != condID || dm[0].(map[string]any)["score"].(float64) != 21 || dm[1].(map[string]any)["score"].(float64) != 16 {
			t.Fatalf("demand: %v", dm)
		}
		anon.want(http.StatusUnprocessableEntity, anon.do("GET", "/api/v1/open/demand?days=0", nil))
		if pr := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/demand?not_open=1", nil)).json(t)["items"].([]any); len(pr) != 1 || pr[0].(map[string]any)["resource_id"] != condID {
			t.Fatalf("open-priority list: %v", pr)
		}
		dev.want(http.StatusForbidden, dev.do("GET", "/api/v1/open/reviews/due", nil))
		root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil))
		root.want(http.StatusOK, root.do("POST", "/api/v1/open/reviews/run", nil))
	})
}

// R-OPN-4 over HTTP, every response checked against api/openapi.yaml: the
// providing org derives an anonymised CSV of a not-open hosted entry (k, the
// quasi-identifiers' hierarchies, masks) with its risk report, loads it
// through ingest into its derivative entry keyed by the derivation's row_no,
// proposes opening that entry with the derivation, and the authority
// approves through the case actions; the opening is listed, the org opens
// the entry and anyone downloads the derivative. A proposal on
// the right holder's consent cannot be refused without a reason, and the
// refusal's reason reaches the org.
func TestOpenConversionAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, st := e.catalogOrg(root, "wjw", "市卫生健康委员会", identity.KindDepartment, 41)
		_, _, other := e.catalogOrg(root, "jyj", "市教育局", identity.KindDepartment, 42)
		anon := e.anon()

		field := func(name, label, typ string, personal bool) map[string]any {
			return map[string]any{"name": name, "label": label, "type": typ, "level": "general", "personal": personal}
		}
		src := catalogEntry("慢性病患者随访记录")
		src["level"], src["tags"] = "general", []string{"卫生"}
		src["fields"] = []map[string]any{field("full_name", "姓名", "string", true), field("age", "年龄", "integer", false),
			field("gender", "性别", "string", false), field("diagnosis", "诊断", "string", false)}
		d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", src)).json(t)
		srcID, srcCode := d["resource_id"].(string), d["code"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+srcID+"/publish", map[string]any{"reason": "首次发布"}))
		st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": srcCode, "key": []string{"full_name"}}))
		var csv strings.Builder
		csv.WriteString("full_name,age,gender,diagnosis\n")
		for i := 0; i < 60; i++ {
			fmt.Fprintf(&csv, "%s%d,%d,%s,%s\n", []string{"陈伟", "林芳", "黄强"}[i%3], i, 20+i%40, []string{"男", "女"}[i%2], []string{"糖尿病", "高血压"}[i%2])
		}
		st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+srcID+"/loads?mode=replace&source=followup.csv", "text/csv", []byte(csv.String())))

		var ages strings.Builder
		for a := 20; a < 60; a++ {
			fmt.Fprintf(&ages, "%d;%d-%d;*\n", a, a/10*10, a/10*10+9)
		}
		spec := map[string]any{"source_id": srcID, "fields": []string{"full_name", "age", "gender", "diagnosis"}, "qis": []string{"age", "gender"},
			"hierarchies": map[string]string{"age": ages.String(), "gender": "男;*\n女;*\n"}, "k": 5,
			"masks": map[string]any{"full_name": map[string]any{"op": "suppress"}}}

		// Derive: the providing org only, with valid parameters.
		anon.want(http.StatusUnauthorized, anon.do("POST", "/api/v1/open/derivations", spec))
		if r := other.want(http.StatusForbidden, other.do("POST", "/api/v1/open/derivations", spec)); r.code(t) != "open.not_provider" {
			t.Fatalf("another org derived: %s", r.body)
		}
		spec["k"] = 1
		if r := st.want(http.StatusUnprocessableEntity, st.do("POST", "/api/v1/open/derivations", spec)); r.code(t) != "open.derivation" {
			t.Fatalf("k=1: %s", r.body)
		}
		spec["k"] = 5
		dv := st.want(http.StatusCreated, st.do("POST", "/api/v1/open/derivations", spec))
		m := dv.json(t)
		dvID := m["id"].(string)
		res, rep := m["result"].(map[string]any), m["report"].(map[string]any)
		if dv.header.Get("Shuqiao-Derivation-Id") != dvID || res["min_class"].(float64) < 5 || rep["prosecutor_max"].(float64) > 0.2 || m["content_hash"] == "" {
			t.Fatalf("derivation: %v %s", dv.header, dv.body)
		}
		out := m["csv"].(string)
		if !strings.HasPrefix(out, "row_no,full_name,age,gender,diagnosis\n") || strings.ContainsAny(out, "陈林黄") || strings.Contains(out, ",25,") || !strings.Contains(out, ",20-29,") {
			t.Fatalf("derivative not masked and generalised:\n%s", out)
		}
		sum := sha256.Sum256([]byte(out))
		if hex.EncodeToString(sum[:]) != m["content_hash"] {
			t.Fatalf("content hash %v does not cover the CSV", m["content_hash"])
		}
		// The CSV as the body, ready for ingest.
		raw := st.want(http.StatusCreated, st.do("POST", "/api/v1/open/derivations?format=csv", spec))
		if !strings.HasPrefix(raw.header.Get("Content-Type"), "text/csv") || raw.header.Get("Shuqiao-Derivation-Id") == "" ||
			raw.header.Get("Shuqiao-Min-Class") == "" || !strings.HasPrefix(string(raw.body), "row_no,full_name,age,gender,diagnosis\n") {
			t.Fatalf("derivation as CSV: %v\n%s", raw.header, raw.body)
		}

		// The org's derivative entry, proposed for opening with the derivation.
		der := catalogEntry("慢性病随访统计（匿名化）")
		der["level"], der["tags"] = "general", []string{"卫生"}
		der["open"] = map[string]any{"attr": "none", "basis": "待转为开放审核", "reason": "匿名化衍生数据，待审核"}
		der["fields"] = []map[string]any{field("row_no", "记录序号", "string", false), field("full_name", "姓名（已隐去）", "string", false),
			field("age", "年龄段", "string", false), field("gender", "性别", "string", false), field("diagnosis", "诊断", "string", false)}
		der["fields"].([]map[string]any)[0]["required"] = true
		d = st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", der)).json(t)
		derID, derCode := d["resource_id"].(string), d["code"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+derID+"/publish", map[string]any{"reason": "首次发布"}))
		// The derivative loads through ingest keyed by its row_no.
		st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": derCode, "key": []string{"row_no"}}))
		ld := st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+derID+"/loads?mode=replace&source=derivation-"+dvID+".csv", "text/csv", []byte(out))).json(t)
		if ld["status"] != "applied" || ld["rows_total"].(float64) != rep["records"].(float64) {
			t.Fatalf("derivative load: %v", ld)
		}
		prop := map[string]any{"resource_id": derID, "path": "derivative", "attr": "unconditional", "reason": "匿名化后满足5-匿名，重识别风险低于阈值", "derivation_id": dvID}
		if r := other.want(http.StatusForbidden, other.do("POST", "/api/v1/open/conversions", prop)); r.code(t) != "open.not_provider" {
			t.Fatalf("another org proposed: %s", r.body)
		}
		cs := st.want(http.StatusCreated, st.do("POST", "/api/v1/open/conversions", prop)).json(t)
		caseID := cs["id"].(string)
		pl := cs["payload"].(map[string]any)
		if cs["kind"] != "open_conversion" || cs["state"] != "submitted" || pl["derivation"].(map[string]any)["content_hash"] != m["content_hash"] {
			t.Fatalf("conversion case: %v", cs)
		}
		if _, ok := pl["derivation"].(map[string]any)["report"].(map[string]any)["prosecutor_at_risk"]; !ok {
			t.Fatalf("the case lacks the risk report: %v", pl)
		}
		st.want(http.StatusForbidden, st.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "自己批准"}))
		if got := root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "风险报告表明重识别风险可接受"})).json(t); got["state"] != "approved" {
			t.Fatalf("approve: %v", got)
		}
		ops := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/openings?resource="+derID, nil)).json(t)["items"].([]any)
		if len(ops) != 1 || ops[0].(map[string]any)["case_id"] != caseID || ops[0].(map[string]any)["path"] != "derivative" || ops[0].(map[string]any)["derivation_id"] != dvID {
			t.Fatalf("openings: %v", ops)
		}
		anon.want(http.StatusUnprocessableEntity, anon.do("GET", "/api/v1/open/openings", nil))
		// The org opens the entry as approved; anyone downloads the derivative.
		der["open"] = map[string]any{"attr": "unconditional"}
		st.want(http.StatusOK, st.do("PUT", "/api/v1/catalog/resources/"+derID+"/draft", der))
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+derID+"/publish", map[string]any{"reason": "依转为开放案件 " + caseID + " 无条件开放"}))
		dl := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+derID+"?format=csv", nil))
		if dl.header.Get("Shuqiao-Records") != fmt.Sprint(rep["records"]) || !strings.HasPrefix(strings.TrimPrefix(string(dl.body), "\ufeff"), "row_no,") || strings.ContainsAny(string(dl.body), "陈林黄") {
			t.Fatalf("download of the opened derivative: %v\n%.200s", dl.header, dl.body)
		}

		// On the right holder's consent: incomplete consent is refused at filing;
		// the authority's refusal needs a reason, which the org reads.
		consent := map[string]any{"holder": "某某科技有限公司", "credential": "91350200MA2600009X", "given_at": e.clock.Now().Add(-24 * time.Hour).Format(time.RFC3339),
			"expires_at": e.clock.Now().AddDate(1, 0, 0).Format(time.RFC3339), "fields": []string{"age", "diagnosis"}, "use": "同意以有条件开放方式向社会公开", "evidence": ""}
		cprop := map[string]any{"resource_id": srcID, "path": "consent", "attr": "conditional", "conditions": "限科研使用", "reason": "数据权利人书面同意开放", "consent": consent}
		if r := st.want(http.StatusUnprocessableEntity, st.do("POST", "/api/v1/open/conversions", cprop)); r.code(t) != "open.text" || r.json(t)["field"] != "payload.consent.evidence" {
			t.Fatalf("consent without evidence: %s", r.body)
		}
		consent["evidence"] = "授权同意书 2026-0042 号"
		c2 := st.want(http.StatusCreated, st.do("POST", "/api/v1/open/conversions", cprop)).json(t)["id"].(string)
		root.want(http.StatusUnprocessableEntity, root.do("POST", "/api/v1/cases/"+c2+"/actions/refuse", map[string]any{}))
		reason := "同意书未载明权利人对开放范围的确认"
		root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+c2+"/actions/refuse", map[string]any{"reason": reason}))
		got := st.want(http.StatusOK, st.do("GET", "/api/v1/cases/"+c2, nil)).json(t)
		if dc := got["decision"].(map[string]any); got["state"] != "refused" || dc["outcome"] != "refused" || dc["reason"] != reason {
			t.Fatalf("consent refusal: %v", got)
		}
		if ops := st.want(http.StatusOK, st.do("GET", "/api/v1/open/openings?resource="+srcID, nil)).json(t)["items"].([]any); len(ops) != 0 {
			t.Fatalf("a refused proposal was listed as an opening: %v", ops)
		}
	})
}

// newEnvWith is newEnv with the app configured by cfg (its DataDir is a
// temporary folder).
func newEnvWith(t *testing.T, db *store.DB, cfg app.Config) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	cfg.DataDir = t.TempDir()
	a, err := app.New(context.Background(), db, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, app: a, clock: clk, srv: srv}
}

// serve runs the app's server, with its background workers, until the
// returned stop is called.
func (e *env) serve() (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.app.Serve(ctx, ln) }()
	return func() {
		e.t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			e.t.Fatal("the server did not stop")
		}
	}
}

// R-OPN-6: the scheduled risk scan is a worker of the server (app.Serve),
// on the period --open-risk-scan-every sets, judged by the platform's clock
// (a fake one here). Started, it scans the opened datasets: one built to be
// re-identifiable (every age-sex-district combination unique) is flagged to
// the authority and the providing org by an open_risk case, an aggregate one
// is not. Before the period nothing is read again; after it the worker
// re-scans, and the same dataset version is not flagged a second time. New
// data is a new version, flagged again.
func TestOpenRiskScanWorker(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnvWith(t, db, app.Config{OpenRiskScanEvery: 24 * time.Hour})
		root, _ := e.bootstrap()
		_, _, st := e.catalogOrg(root, "wjw", "市卫生健康委员会", identity.KindDepartment, 51)

		safeID := e.publishHosted(st, openEntry("医疗机构数量", map[string]any{"attr": "unconditional"}, []string{"卫生"}), 60)
		en := openEntry("慢性病随访个案（去标识）", map[string]any{"attr": "unconditional"}, []string{"卫生"})
		en["fields"] = []map[string]any{
			{"name": "case_no", "label": "病例编号", "type": "string", "required": true, "level": "general"},
			{"name": "age", "label": "年龄", "type": "integer", "level": "general"},
			{"name": "gender", "label": "性别", "type": "string", "level": "general"},
			{"name": "district", "label": "所属区", "type": "string", "level": "general"},
			{"name": "diagnosis", "label": "诊断", "type": "string", "level": "general"},
		}
		d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", en)).json(t)
		reidID, reidCode := d["resource_id"].(string), d["code"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+reidID+"/publish", map[string]any{"reason": "首次发布"}))
		st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": reidCode, "key": []string{"case_no"}}))
		load := func(n int) {
			t.Helper()
			var csv strings.Builder
			csv.WriteString("case_no,age,gender,district,diagnosis\n")
			for i := 0; i < n; i++ {
				fmt.Fprintf(&csv, "C%04d,%d,%s,思明区,糖尿病\n", i, 20+i, []string{"男", "女"}[i%2])
			}
			st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+reidID+"/loads?mode=replace&source=followup.csv", "text/csv", []byte(csv.String())))
		}
		load(40)

		latest := func(id string) map[string]any {
			t.Helper()
			r := root.do("GET", "/api/v1/open/risk/"+id, nil)
			if r.status == http.StatusNotFound {
				return nil
			}
			return root.want(http.StatusOK, r).json(t)
		}
		// waitScan runs the server until the worker has scanned id anew.
		waitScan := func(id, after string) map[string]any {
			t.Helper()
			stop := e.serve()
			defer stop()
			deadline := time.Now().Add(30 * time.Second)
			for {
				if sc := latest(id); sc != nil && sc["id"] != after {
					return sc
				}
				if time.Now().After(deadline) {
					t.Fatalf("the worker did not scan %s", id)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		riskCases := func() int {
			t.Helper()
			// In the providing org's inbox.
			items := st.want(http.StatusOK, st.do("GET", "/api/v1/cases?view=awaiting&kind=open_risk&limit=100", nil)).json(t)["items"].([]any)
			n := 0
			for _, it := range items {
				if it.(map[string]any)["target"].(map[string]any)["id"] == reidID {
					n++
				}
			}
			return n
		}

		// Started, the worker scans both; only the re-identifiable one is flagged.
		first := waitScan(reidID, "")
		caseID, _ := first["case_id"].(string)
		if first["flagged"] != true || caseID == "" || first["already_flagged"] == true || first["report"].(map[string]any)["uniques"].(float64) != 40 {
			t.Fatalf("first scan: %v", first)
		}
		if sc := waitScan(safeID, ""); sc["flagged"] != false || sc["case_id"] != nil {
			t.Fatalf("the aggregate dataset was flagged: %v", sc)
		}
		// The providing org and the authority are assigned the flag.
		c := st.want(http.StatusOK, st.do("GET", "/api/v1/cases/"+caseID, nil)).json(t)
		assigned := map[string]bool{}
		for _, a := range c["assignees"].([]any) {
			m := a.(map[string]any)
			org, _ := m["org_id"].(string)
			assigned[org+"/"+fmt.Sprint(m["role"])] = true
		}
		if c["kind"] != "open_risk" || c["state"] != "flagged" || !assigned["/authority_admin"] {
			t.Fatalf("risk case: %v", c)
		}
		if c["target"].(map[string]any)["org_id"] == "" || !assigned[fmt.Sprint(c["target"].(map[string]any)["org_id"])+"/data_steward"] {
			t.Fatalf("the providing org is not assigned the flag: %v", c["assignees"])
		}

		// Before the period: the worker reads nothing again. (Sessions end
		// while the clock moves on: sign in again.)
		relogin := func() {
			root, st = e.login("admin", "correct-horse-42"), e.login("wjw.steward", "steward-pass-2026")
		}
		e.clock.Advance(23 * time.Hour)
		relogin()
		stop := e.serve()
		time.Sleep(500 * time.Millisecond)
		stop()
		if sc := latest(reidID); sc["id"] != first["id"] {
			t.Fatalf("re-scanned before the period: %v", sc)
		}
		// After it: re-scanned, the same dataset version not flagged twice.
		e.clock.Advance(2 * time.Hour)
		relogin()
		second := waitScan(reidID, first["id"].(string))
		if second["flagged"] != true || second["already_flagged"] != true || second["case_id"] != caseID || second["data_hash"] != first["data_hash"] {
			t.Fatalf("re-scan of the same version: %v", second)
		}
		if n := riskCases(); n != 1 {
			t.Fatalf("%d risk cases for one dataset version, want 1", n)
		}
		// New data is a new version: scanned at the next check, flagged again.
		e.clock.Advance(time.Hour)
		relogin()
		load(45)
		third := waitScan(reidID, second["id"].(string))
		if third["flagged"] != true || third["already_flagged"] == true || third["case_id"] == caseID || third["data_hash"] == first["data_hash"] {
			t.Fatalf("scan of new data: %v", third)
		}
		if n := riskCases(); n != 2 {
			t.Fatalf("%d risk cases after new data, want 2", n)
		}
	})
}

// R-OPN-3 over HTTP with a fake clock: a conditional entry falls due for
// review once the review period (default 365 days) has passed since its
// publication; the authority lists it with its usage (downloads,
// applications, "please open" requests) and risk evidence, runs the job,
// which files one open_review case and lists the entry no more, and decides
// by the case, with a reason, to make it unconditional; the providing org
// then changes the catalog entry's open attribute (catalog publication) and
// anyone downloads it. Only the authority decides a review.
func TestOpenReviewAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, st := e.catalogOrg(root, "wjw", "市卫生健康委员会", identity.KindDepartment, 61)
		ent := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
			"name": "某健康科技有限公司", "kind": "enterprise", "credit_code": identity.MakeCreditCode("91350200MA2600661"),
		})).json(t)
		dev, _ := e.clientOf(root, ent["id"].(string), "健康地图")
		anon := e.anon()

		entry := openEntry("门诊就诊人次", map[string]any{"attr": "conditional", "conditions": "仅用于科研"}, []string{"卫生"})
		condID := e.publishHosted(st, entry, 60)

		// Usage: an application approved and downloaded, and a public request.
		app := map[string]any{"resource_id": condID, "scenario": "门诊需求预测", "fields": []string{"district", "count"}, "days": 90,
			"commitments": map[string]any{"authenticity": true, "compliance": true, "security": true, "no_third_party": true}}
		caseID := dev.want(http.StatusCreated, dev.do("POST", "/api/v1/open/applications", app)).json(t)["id"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/cases/"+caseID+"/actions/concur", map[string]any{"reason": "同意"}))
		root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "同意开放"}))
		dev.want(http.StatusOK, dev.do("GET", "/api/v1/open/data/"+condID+"?format=csv", nil))
		anon.want(http.StatusAccepted, anon.do("POST", "/api/v1/open/requests", map[string]any{"resource_id": condID, "note": "希望无条件开放"}))
		// Risk evidence: the authority's scan.
		scans := root.want(http.StatusOK, root.do("POST", "/api/v1/open/risk/scan", nil)).json(t)["items"].([]any)
		if len(scans) != 1 || scans[0].(map[string]any)["resource_id"] != condID || scans[0].(map[string]any)["flagged"] != false {
			t.Fatalf("risk scan: %v", scans)
		}
		scanID := scans[0].(map[string]any)["id"]

		// Not due within the period.
		if due := root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil)).json(t)["items"].([]any); len(due) != 0 {
			t.Fatalf("due at once: %v", due)
		}
		e.clock.Advance(364 * 24 * time.Hour)
		root = e.login("admin", "correct-horse-42") // sessions end while the clock moves on
		if due := root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil)).json(t)["items"].([]any); len(due) != 0 {
			t.Fatalf("due before the period: %v", due)
		}
		if cs := root.want(http.StatusOK, root.do("POST", "/api/v1/open/reviews/run", nil)).json(t)["cases"].([]any); len(cs) != 0 {
			t.Fatalf("review filed before the period: %v", cs)
		}

		// Past the period: listed with usage and risk evidence.
		e.clock.Advance(2 * 24 * time.Hour)
		root, st = e.login("admin", "correct-horse-42"), e.login("wjw.steward", "steward-pass-2026")
		st.want(http.StatusForbidden, st.do("GET", "/api/v1/open/reviews/due", nil))
		due := root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil)).json(t)["items"].([]any)
		if len(due) != 1 {
			t.Fatalf("due: %v", due)
		}
		ev := due[0].(map[string]any)
		risk, _ := ev["risk"].(map[string]any)
		if ev["resource_id"] != condID || ev["downloads"].(float64) != 1 || ev["applications"].(float64) != 1 || ev["requests"].(float64) != 1 ||
			risk == nil || risk["id"] != scanID || risk["report"] == nil || ev["last_review"] != nil {
			t.Fatalf("evidence: %v", ev)
		}

		// The job files one review case; the entry is no longer listed.
		cs := root.want(http.StatusOK, root.do("POST", "/api/v1/open/reviews/run", nil)).json(t)["cases"].([]any)
		if len(cs) != 1 {
			t.Fatalf("review cases: %v", cs)
		}
		reviewID := cs[0].(string)
		if again := root.want(http.StatusOK, root.do("POST", "/api/v1/open/reviews/run", nil)).json(t)["cases"].([]any); len(again) != 0 {
			t.Fatalf("filed twice: %v", again)
		}
		if due := root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil)).json(t)["items"].([]any); len(due) != 0 {
			t.Fatalf("listed while its review is pending: %v", due)
		}
		rc := st.want(http.StatusOK, st.do("GET", "/api/v1/cases/"+reviewID, nil)).json(t)
		if pl := rc["payload"].(map[string]any); rc["kind"] != "open_review" || rc["state"] != "pending" || pl["requests"].(float64) != 1 || pl["risk"] == nil {
			t.Fatalf("review case: %v", rc)
		}

		// The authority decides, with a reason; the providing org cannot.
		st.want(http.StatusForbidden, st.do("POST", "/api/v1/cases/"+reviewID+"/actions/make_unconditional", map[string]any{"reason": "自行决定"}))
		root.want(http.StatusUnprocessableEntity, root.do("POST", "/api/v1/cases/"+reviewID+"/actions/make_unconditional", map[string]any{}))
		rc = root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+reviewID+"/actions/make_unconditional",
			map[string]any{"reason": "需求较高，风险扫描未发现重识别风险，转为无条件开放"})).json(t)
		if rc["state"] != "unconditional" || rc["decision"].(map[string]any)["outcome"] != "approved" {
			t.Fatalf("decision: %v", rc)
		}

		// The providing org changes the catalog entry accordingly; anyone then downloads it.
		if r := anon.want(http.StatusForbidden, anon.do("GET", "/api/v1/open/data/"+condID, nil)); r.code(t) != "open.conditional" {
			t.Fatalf("before the catalog change: %s", r.body)
		}
		entry["open"] = map[string]any{"attr": "unconditional"}
		st.want(http.StatusOK, st.do("PUT", "/api/v1/catalog/resources/"+condID+"/draft", entry))
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+condID+"/publish", map[string]any{"reason": "依定期评估案件 " + reviewID + " 转为无条件开放"}))
		res := anon.want(http.StatusOK, anon.do("GET", "/api/v1/catalog/resources/"+condID, nil)).json(t)
		if res["open"].(map[string]any)["attr"] != "unconditional" {
			t.Fatalf("open attribute after the review: %v", res["open"])
		}
		if r := anon.want(http.StatusOK, anon.do("GET", "/api/v1/open/data/"+condID+"?format=csv", nil)); r.header.Get("Shuqiao-Records") != "60" {
			t.Fatalf("download after the review: %v", r.header)
		}
		// Unconditional now: no longer reviewed.
		e.clock.Advance(400 * 24 * time.Hour)
		root = e.login("admin", "correct-horse-42")
		if due := root.want(http.StatusOK, root.do("GET", "/api/v1/open/reviews/due", nil)).json(t)["items"].([]any); len(due) != 0 {
			t.Fatalf("an unconditional entry is due for review: %v", due)
		}
	})
}
