package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

func cardOf(t *testing.T, rep map[string]any, orgID string) map[string]any {
	t.Helper()
	for _, it := range rep["items"].([]any) {
		if c := it.(map[string]any); c["org_id"] == orgID {
			return c
		}
	}
	t.Fatalf("no card for %s in %v", orgID, rep)
	return nil
}

// Org scorecards over HTTP, on both stores: a department publishes and
// loads an entry and answers one objection of two; the authority sees its
// catalog completeness, aggregation timeliness, quality, case answers and
// objections (R-GOV-1, R-GOV-3, R-QLT-2); the org sees only its own card.
func TestScorecardAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		gajID, _, st := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 1)
		busID, _, other := e.catalogOrg(root, "bus", "市公交集团有限公司", identity.KindPublicService, 2)
		anon := e.anon()

		d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", catalogEntry("常住人口基本信息"))).json(t)
		id, code := d["resource_id"].(string), d["code"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "首次发布"}))
		st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"id_card"}}))
		ids := residentIDs(4)
		var csv strings.Builder
		csv.WriteString("公民身份号码,姓名\n")
		for i, idc := range ids {
			fmt.Fprintf(&csv, "%s,居民%d\n", idc, i)
		}
		st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads?mode=replace&source=people.csv", "text/csv", []byte(csv.String())))

		objection := func(i int) string {
			c := other.want(http.StatusCreated, other.do("POST", "/api/v1/cases", map[string]any{
				"kind": "objection", "title": "姓名有误", "target": map[string]any{"type": "resource", "id": code},
				"payload": map[string]any{"key": map[string]string{"id_card": ids[i]}, "field": "full_name", "problem": "姓名有误", "evidence": "户口簿"},
			})).json(t)
			return c["id"].(string)
		}
		first := objection(0)
		objection(1)
		// Two days later (sessions expire meanwhile: sign in again).
		e.clock.Advance(48 * time.Hour)
		root, st = e.login("admin", "correct-horse-42"), e.login("gaj.steward", "steward-pass-2026")
		st.want(http.StatusOK, st.do("POST", "/api/v1/cases/"+first+"/actions/correct", map[string]any{
			"reason": "核查属实，已更正", "data": map[string]any{"values": map[string]string{"full_name": "新名"}}}))

		anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/scorecards", nil))
		rep := root.want(http.StatusOK, root.do("GET", "/api/v1/scorecards", nil)).json(t)
		if n := len(rep["items"].([]any)); n != 2 {
			t.Fatalf("cards of the department and the public service org, not the authority: %d", n)
		}
		gaj := cardOf(t, rep, gajID)
		cat := gaj["catalog"].(map[string]any)
		// catalogEntry has no tags missing but its fields lack descriptions.
		if cat["published"].(float64) != 1 || cat["missing"].(map[string]any)["field_descriptions"].(float64) != 1 || cat["completeness"].(float64) != 87.5 {
			t.Fatalf("catalog: %v", cat)
		}
		agg := gaj["aggregation"].(map[string]any)
		if agg["hosted"].(float64) != 1 || agg["loaded"].(float64) != 1 || agg["timeliness"].(float64) != 100 {
			t.Fatalf("aggregation: %v", agg)
		}
		if q := gaj["quality"].(map[string]any); q["score"] == nil || q["score"].(float64) <= 0 {
			t.Fatalf("quality: %v", q)
		}
		obj := gaj["objections"].(map[string]any)
		if obj["received"].(float64) != 2 || obj["decided"].(float64) != 1 || obj["open"].(float64) != 1 || obj["on_time"].(float64) != 100 || obj["mean_days"].(float64) != 2 {
			t.Fatalf("objections: %v", obj)
		}
		if cs := gaj["cases"].(map[string]any); cs["received"].(float64) != 2 {
			t.Fatalf("cases: %v", cs)
		}
		bus := cardOf(t, rep, busID)
		if bus["catalog"].(map[string]any)["completeness"] != nil || bus["overall"] != nil {
			t.Fatalf("an org with nothing to measure: %v", bus)
		}
		// The worst overall first; an org with nothing to measure last.
		if rep["items"].([]any)[0].(map[string]any)["org_id"] != gajID {
			t.Fatalf("order: %v", rep["items"])
		}

		// An org's people: their own card only.
		own := st.want(http.StatusOK, st.do("GET", "/api/v1/scorecards", nil)).json(t)
		if items := own["items"].([]any); len(items) != 1 || items[0].(map[string]any)["org_id"] != gajID {
			t.Fatalf("own card: %v", own)
		}
		st.want(http.StatusForbidden, st.do("GET", "/api/v1/scorecards?org="+busID, nil))
		if one := root.want(http.StatusOK, root.do("GET", "/api/v1/scorecards?org="+gajID, nil)).json(t); len(one["items"].([]any)) != 1 {
			t.Fatalf("one org: %v", one)
		}
	})
}
