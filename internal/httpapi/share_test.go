package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// Sharing over HTTP, every response checked against api/openapi.yaml:
// an unconditional resource obtained by declaration, a conditional request
// approved by the providing org and the authority and read by the consumer's
// business application through the gate, a refusal whose reason reaches the
// applicant, the automatic refusal of a not-shared resource, suspension
// blocking the gate, usage, disputes, misuse reports and the demand list.
// R-SHR-1..7, R-SHR-10.
func TestShareAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		root, authority := e.bootstrap()
		providerID, _, provider := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 21)
		consumerID, _, consumer := e.catalogOrg(root, "mzj", "市民政局", identity.KindDepartment, 22)
		app, _ := e.clientOf(root, consumerID, "低保核查系统")
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+authority.ID+"/users", map[string]any{
			"username": "cityhall", "display_name": "市政府督办员", "password": "cityhall-pass-2026", "roles": []string{"city_government"},
		}))
		city := e.login("cityhall", "cityhall-pass-2026")

		publish := func(name string, share map[string]any) string {
			entry := catalogEntry(name)
			entry["share"] = share
			d := provider.want(http.StatusCreated, provider.do("POST", "/api/v1/catalog/resources", entry)).json(t)
			id := d["resource_id"].(string)
			provider.want(http.StatusOK, provider.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "首次发布"}))
			return id
		}
		openID := publish("常住人口基本信息", map[string]any{"attr": "unconditional"})
		condID := publish("出入境证件信息", map[string]any{"attr": "conditional", "conditions": "履行法定职责"})
		noneID := publish("在逃人员信息", map[string]any{"attr": "none", "basis": "《中华人民共和国人民警察法》第二十条", "reason": "涉及侦查秘密"})
		rows := gate.NewMemorySource()
		for _, id := range []string{openID, condID, noneID} {
			var keys []string
			var data []map[string]any
			for i := 0; i < 10; i++ {
				keys = append(keys, fmt.Sprintf("%04d", i))
				data = append(data, map[string]any{"id_card": fmt.Sprintf("35020319900101%03d%d", i, i%10), "full_name": "张伟"})
			}
			rows.Put(id, keys, data)
		}
		e.app.Gate.UseRows(rows)

		c := consumer.want(http.StatusOK, consumer.do("GET", "/api/v1/share/commitment", nil)).json(t)
		if !strings.Contains(c["zh"].(string), "第三方") || c["request_days"].(float64) != 5 {
			t.Fatalf("commitment: %v", c)
		}

		// R-SHR-2: declare and obtain.
		r := app.want(http.StatusForbidden, app.do("POST", "/api/v1/share/grants", map[string]any{"resource_id": openID, "scenario": "x", "fields": []string{"full_name"}}))
		if r.code(t) != "share.forbidden" {
			t.Fatalf("developer client declares: %s", r.body)
		}
		r = consumer.want(http.StatusUnprocessableEntity, consumer.do("POST", "/api/v1/share/grants", map[string]any{"resource_id": openID, "scenario": "低保核查", "fields": []string{"salary"}}))
		if r.code(t) != "share.fields" {
			t.Fatalf("unknown field: %s", r.body)
		}
		r = consumer.want(http.StatusUnprocessableEntity, consumer.do("POST", "/api/v1/share/grants", map[string]any{"resource_id": condID, "scenario": "低保核查", "fields": []string{"full_name"}}))
		if r.code(t) != "share.conditional" {
			t.Fatalf("conditional declared: %s", r.body)
		}
		g := consumer.want(http.StatusCreated, consumer.do("POST", "/api/v1/share/grants", map[string]any{
			"resource_id": openID, "scenario": "最低生活保障资格核查", "legal_duty": "《社会救助暂行办法》", "fields": []string{"full_name"},
		})).json(t)
		openGrant := g["id"].(string)
		if g["kind"] != "unconditional" || g["provider_org_id"] != providerID || g["usable"] != true {
			t.Fatalf("grant: %v", g)
		}
		app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+openID, nil))
		r = app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+openID+"?fields=id_card", nil))
		if r.code(t) != "gate.field_not_granted" {
			t.Fatalf("outside field: %s", r.body)
		}

		// R-SHR-3, R-SHR-4: request, concur, approve.
		req := map[string]any{"resource_id": condID, "scenario": "低保对象出境核查", "legal_duty": "《社会救助暂行办法》第十一条",
			"fields": []string{"id_card"}, "days": 90, "acknowledged": false}
		r = consumer.want(http.StatusUnprocessableEntity, consumer.do("POST", "/api/v1/share/requests", req))
		if r.code(t) != "share.commitment" {
			t.Fatalf("unacknowledged: %s", r.body)
		}
		req["acknowledged"] = true
		cs := consumer.want(http.StatusCreated, consumer.do("POST", "/api/v1/share/requests", req)).json(t)
		caseID := cs["id"].(string)
		if cs["state"] != "submitted" || cs["kind"] != "share_request" {
			t.Fatalf("case: %v", cs)
		}
		r = consumer.want(http.StatusForbidden, consumer.do("POST", "/api/v1/cases/"+caseID+"/actions/concur", nil))
		r = root.want(http.StatusConflict, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{}))
		provider.want(http.StatusOK, provider.do("POST", "/api/v1/cases/"+caseID+"/actions/concur", map[string]any{"reason": "同意"}))
		provider.want(http.StatusForbidden, provider.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{}))
		cs = root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+caseID+"/actions/approve", map[string]any{"reason": "同意共享"})).json(t)
		if cs["state"] != "approved" {
			t.Fatalf("approved: %v", cs)
		}
		list := consumer.want(http.StatusOK, consumer.do("GET", "/api/v1/share/grants?view=consumer", nil)).json(t)["items"].([]any)
		var condGrant map[string]any
		for _, it := range list {
			if m := it.(map[string]any); m["case_id"] == caseID {
				condGrant = m
			}
		}
		if condGrant == nil || fmt.Sprint(condGrant["fields"]) != "[id_card]" || condGrant["kind"] != "conditional" || condGrant["purpose"] != "低保对象出境核查" {
			t.Fatalf("conditional grant: %v", list)
		}
		app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+condID, nil))
		app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+condID+"?fields=full_name", nil))
		reqs := provider.want(http.StatusOK, provider.do("GET", "/api/v1/share/requests?view=org", nil)).json(t)["items"].([]any)
		if len(reqs) != 1 {
			t.Fatalf("provider's requests: %d", len(reqs))
		}

		// A refusal's written reason reaches the applicant.
		req["fields"] = []string{"full_name"}
		req["scenario"] = "另一场景"
		cs = consumer.want(http.StatusCreated, consumer.do("POST", "/api/v1/share/requests", req)).json(t)
		refused := cs["id"].(string)
		r = provider.want(http.StatusUnprocessableEntity, provider.do("POST", "/api/v1/cases/"+refused+"/actions/refuse", map[string]any{}))
		if r.code(t) != "casework.reason_required" {
			t.Fatalf("refusal without reason: %s", r.body)
		}
		reason := "姓名可通过无条件共享的常住人口基本信息获取"
		provider.want(http.StatusOK, provider.do("POST", "/api/v1/cases/"+refused+"/actions/refuse", map[string]any{"reason": reason}))
		got := consumer.want(http.StatusOK, consumer.do("GET", "/api/v1/cases/"+refused, nil)).json(t)
		if d := got["decision"].(map[string]any); d["outcome"] != "refused" || d["reason"] != reason {
			t.Fatalf("decision: %v", got["decision"])
		}
		notes := consumer.want(http.StatusOK, consumer.do("GET", "/api/v1/notifications", nil)).json(t)["items"].([]any)
		found := false
		for _, n := range notes {
			m := n.(map[string]any)
			found = found || (m["case_id"] == refused && m["action"] == "refuse")
		}
		if !found {
			t.Fatalf("no refusal notification: %v", notes)
		}

		// Not-shared: refused at once, citing the basis.
		req["resource_id"] = noneID
		cs = consumer.want(http.StatusCreated, consumer.do("POST", "/api/v1/share/requests", req)).json(t)
		if d, _ := cs["decision"].(map[string]any); cs["state"] != "refused" || d == nil || !strings.Contains(d["reason"].(string), "人民警察法") {
			t.Fatalf("not-shared: %v", cs)
		}

		// R-SHR-10: suspension blocks the gate with a clear error.
		consumer.want(http.StatusForbidden, consumer.do("POST", "/api/v1/share/grants/"+openGrant+"/suspend", map[string]any{"reason": "x"}))
		provider.want(http.StatusForbidden, provider.do("POST", "/api/v1/share/grants/"+openGrant+"/suspend", map[string]any{"reason": "x"}))
		root.want(http.StatusNotFound, root.do("POST", "/api/v1/share/grants/"+openGrant+"/pause", map[string]any{"reason": "x"}))
		g = root.want(http.StatusOK, root.do("POST", "/api/v1/share/grants/"+openGrant+"/suspend", map[string]any{"reason": "超出场景使用，责令改正"})).json(t)
		if g["state"] != "suspended" || g["usable"] != false {
			t.Fatalf("suspended: %v", g)
		}
		r = app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+openID, nil))
		if r.code(t) != "gate.grant_suspended" || !strings.Contains(string(r.body), "责令改正") {
			t.Fatalf("suspended call: %s", r.body)
		}
		root.want(http.StatusOK, root.do("POST", "/api/v1/share/grants/"+openGrant+"/reinstate", map[string]any{"reason": "已整改"}))
		app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+openID, nil))

		// Usage, for the providing org and the authority.
		if _, err := e.app.Ledger.Integrate(ctx); err != nil {
			t.Fatal(err)
		}
		u := provider.want(http.StatusOK, provider.do("GET", "/api/v1/share/grants/"+openGrant+"/usage", nil)).json(t)
		if u["calls"].(float64) != 2 || u["outside_fields"].(float64) != 1 {
			t.Fatalf("usage: %v", u)
		}
		root.want(http.StatusOK, root.do("GET", "/api/v1/share/grants/"+openGrant+"/usage?since=2026-01-01T00:00:00Z", nil))
		consumer.want(http.StatusForbidden, consumer.do("GET", "/api/v1/share/grants/"+openGrant+"/usage", nil))

		// The providing org asks for suspension through a case; the authority decides.
		ms := provider.want(http.StatusCreated, provider.do("POST", "/api/v1/share/misuse-reports", map[string]any{
			"grant_id": condGrant["id"], "measure": "suspend", "reason": "疑似向第三方提供", "evidence": "使用监测异常",
		})).json(t)
		root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+ms["id"].(string)+"/actions/approve", map[string]any{"reason": "暂停"}))
		r = app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+condID, nil))
		if r.code(t) != "gate.grant_suspended" {
			t.Fatalf("after report: %s", r.body)
		}
		// The authority terminates everything the consumer holds from the provider.
		changed := root.want(http.StatusOK, root.do("POST", "/api/v1/share/consumers/"+consumerID+"/terminate", map[string]any{
			"reason": "拒不改正，终止数据服务", "provider_org_id": providerID,
		})).json(t)["items"].([]any)
		if len(changed) != 2 {
			t.Fatalf("terminated %d", len(changed))
		}
		r = app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+openID, nil))
		if r.code(t) != "gate.grant_terminated" {
			t.Fatalf("after termination: %s", r.body)
		}

		// R-SHR-6: a dispute goes to the city government.
		ds := root.want(http.StatusCreated, root.do("POST", "/api/v1/share/disputes", map[string]any{
			"resource_id": noneID, "proposed": "conditional", "reason": "身份号码与姓名可有条件共享",
		})).json(t)
		dID := ds["id"].(string)
		provider.want(http.StatusOK, provider.do("POST", "/api/v1/cases/"+dID+"/actions/refer", map[string]any{"reason": "协商不成"}))
		root.want(http.StatusForbidden, root.do("POST", "/api/v1/cases/"+dID+"/actions/decide", map[string]any{"reason": "r", "data": map[string]any{"attr": "conditional"}}))
		ds = city.want(http.StatusOK, city.do("POST", "/api/v1/cases/"+dID+"/actions/decide", map[string]any{"reason": "改为有条件共享", "data": map[string]any{"attr": "conditional"}})).json(t)
		if ds["state"] != "decided" {
			t.Fatalf("dispute: %v", ds)
		}

		// R-SHR-7: the demand list.
		dm := consumer.want(http.StatusCreated, consumer.do("POST", "/api/v1/share/demands", map[string]any{
			"title": "残疾人证信息", "description": "低保核查需要残疾等级", "scenario": "低保核查", "items": []string{"残疾人证号", "残疾等级"},
		})).json(t)
		dmID := dm["id"].(string)
		consumer.want(http.StatusForbidden, consumer.do("POST", "/api/v1/share/demands/"+dmID+"/ask", map[string]any{"org_id": providerID, "note": "x"}))
		root.want(http.StatusOK, root.do("POST", "/api/v1/share/demands/"+dmID+"/ask", map[string]any{"org_id": providerID, "note": "请编目残疾人证信息"}))
		asked := provider.want(http.StatusOK, provider.do("GET", "/api/v1/share/demands?asked=true", nil)).json(t)["items"].([]any)
		if len(asked) != 1 {
			t.Fatalf("asked: %v", asked)
		}
		dm = provider.want(http.StatusOK, provider.do("POST", "/api/v1/share/demands/"+dmID+"/match", map[string]any{"resource_id": condID, "note": "已编目"})).json(t)
		if dm["status"] != "matched" {
			t.Fatalf("demand: %v", dm)
		}
		consumer.want(http.StatusOK, consumer.do("GET", "/api/v1/share/demands/"+dmID, nil))
		root.want(http.StatusNotFound, root.do("POST", "/api/v1/share/demands/"+dmID+"/reopen", map[string]any{}))
	})
}
