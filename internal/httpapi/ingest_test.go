package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

func init() {
	// The contract check reads NDJSON and CSV bodies as text.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
}

func residentIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = identity.MakeResidentID(fmt.Sprintf("3502031980%02d%02d%03d", 1+i%12, 1+i%28, i))
	}
	return out
}

// Aggregation through the public API: a dataset for a hosted entry, a CSV
// replace, a streamed NDJSON upsert, a JSON delete, the error report, the
// record's lineage, rules, quality scores, laggards, PII hints and an
// objection corrected by its org. R-AGG-1, R-AGG-3, R-AGG-4, R-QLT-1,
// R-QLT-2, R-QLT-3, R-SEC-1.
func TestIngestAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, st := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 1)
		_, _, other := e.catalogOrg(root, "bus", "市公交集团有限公司", identity.KindPublicService, 2)
		anon := e.anon()

		en := catalogEntry("常住人口基本信息")
		en["fields"] = append(en["fields"].([]map[string]any),
			map[string]any{"name": "gender", "label": "性别", "type": "string", "code_list": "GB/T 2261.1-2003", "level": "general"},
			map[string]any{"name": "household_size", "label": "户内人数", "type": "integer", "level": "general"},
			map[string]any{"name": "contact", "label": "联系方式", "type": "string", "level": "general"})
		d := st.want(http.StatusCreated, st.do("POST", "/api/v1/catalog/resources", en)).json(t)
		id := d["resource_id"].(string)
		code := d["code"].(string)
		st.want(http.StatusOK, st.do("POST", "/api/v1/catalog/resources/"+id+"/publish", map[string]any{"reason": "首次发布"}))

		anon.want(http.StatusUnauthorized, anon.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"id_card"}}))
		other.want(http.StatusForbidden, other.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"id_card"}}))
		if r := st.want(http.StatusUnprocessableEntity, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"nope"}})); r.code(t) != "ingest.bad_key" {
			t.Fatalf("bad key: %s", r.body)
		}
		ds := st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"id_card"}})).json(t)
		if ds["status"] != "ready" || ds["schema_version"] != "1.0" {
			t.Fatalf("dataset: %v", ds)
		}
		st.want(http.StatusConflict, st.do("POST", "/api/v1/ingest/datasets", map[string]any{"resource": code, "key": []string{"id_card"}}))
		st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets/"+code, nil))
		if l := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets", nil)).json(t); len(l["items"].([]any)) != 1 {
			t.Fatalf("list: %v", l)
		}
		st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets/"+id+"/rules", map[string]any{"kind": "range", "field": "household_size", "min": "1", "max": "20"}))
		if rs := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets/"+id+"/rules", nil)).json(t); len(rs["items"].([]any)) != 1 {
			t.Fatalf("rules: %v", rs)
		}

		// A CSV replace with Chinese headers; one bad row.
		ids := residentIDs(13)
		var csv strings.Builder
		csv.WriteString("公民身份号码,姓名,性别,户内人数,联系方式\n")
		for i, idc := range ids[:10] {
			fmt.Fprintf(&csv, "%s,居民%d,%d,%d,1390592%04d\n", idc, i, 1+i%2, 1+i%4, i)
		}
		csv.WriteString(ids[10] + ",坏行,7,2,\n")
		csv.WriteString(ids[12] + ",超限,1,99,\n")
		b := st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads?mode=replace&source=people.csv", "text/csv", []byte(csv.String()))).json(t)
		if b["status"] != "applied" || b["rows_staged"].(float64) != 10 || b["rows_rejected"].(float64) != 2 || b["content_hash"] == "" {
			t.Fatalf("csv load: %v", b)
		}
		if hints := b["pii_hints"].([]any); len(hints) != 1 || hints[0].(map[string]any)["field"] != "contact" {
			t.Fatalf("pii hints: %v", b["pii_hints"])
		}
		batch := b["id"].(string)
		rep := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/loads/"+batch+"/errors", nil))
		if !strings.HasPrefix(rep.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(rep.body), "12,3,gender,ingest.code_list") || !strings.Contains(string(rep.body), "13,4,household_size,ingest.rule.range") {
			t.Fatalf("error report:\n%s", rep.body)
		}
		if js := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/loads/"+batch+"/errors?format=json", nil)).json(t); len(js["items"].([]any)) != 2 || js["items"].([]any)[1].(map[string]any)["row"].(float64) != 13 {
			t.Fatalf("json report: %v", js)
		}
		other.want(http.StatusNotFound, other.do("GET", "/api/v1/ingest/loads/"+batch+"/errors", nil))
		got := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/loads/"+batch, nil)).json(t)
		if got["profile"].(map[string]any)["score"].(float64) <= 0 {
			t.Fatalf("batch: %v", got)
		}

		// NDJSON upsert, streamed; JSON delete.
		nd := fmt.Sprintf("{\"id_card\":%q,\"full_name\":\"新名\"}\n{\"公民身份号码\":%q,\"姓名\":\"新人\"}\n", ids[0], ids[11])
		up := st.want(http.StatusCreated, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads?mode=upsert", "application/x-ndjson", []byte(nd))).json(t)
		if up["updated"].(float64) != 1 || up["inserted"].(float64) != 1 || up["rows_total"].(float64) != 11 {
			t.Fatalf("upsert: %v", up)
		}
		del := st.want(http.StatusCreated, st.do("POST", "/api/v1/ingest/datasets/"+id+"/loads?mode=delete&policy=reject_all", []map[string]string{{"id_card": ids[1]}})).json(t)
		if del["deleted"].(float64) != 1 || del["rows_total"].(float64) != 10 {
			t.Fatalf("delete: %v", del)
		}
		if r := st.want(http.StatusUnprocessableEntity, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads", "text/csv", []byte("nonsense\nx\n"))); r.code(t) != "ingest.unknown_column" || r.json(t)["field"] != "input.csv:1:1" {
			t.Fatalf("bad header: %s", r.body)
		}
		st.want(http.StatusUnsupportedMediaType, st.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads", "application/pdf", []byte("%PDF")))
		other.want(http.StatusForbidden, other.raw("POST", "/api/v1/ingest/datasets/"+id+"/loads", "text/csv", []byte(csv.String())))
		if l := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets/"+id+"/loads?limit=2", nil)).json(t); len(l["items"].([]any)) != 2 || l["next_cursor"] == nil {
			t.Fatalf("batches: %v", l)
		}

		// Lineage of a record.
		lin := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets/"+id+"/lineage?key.id_card="+url.QueryEscape(ids[0]), nil)).json(t)
		if lin["batch_id"] != up["id"] || lin["source_row"].(float64) != 1 {
			t.Fatalf("lineage: %v", lin)
		}
		st.want(http.StatusNotFound, st.do("GET", "/api/v1/ingest/datasets/"+id+"/lineage?key.id_card="+url.QueryEscape(ids[1]), nil))

		// Quality over time and the authority's view.
		if sc := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/quality/scores?resource="+id, nil)).json(t); len(sc["items"].([]any)) != 1 {
			t.Fatalf("scores: %v", sc)
		}
		lag := root.want(http.StatusOK, root.do("GET", "/api/v1/ingest/quality/laggards", nil)).json(t)
		if len(lag["orgs"].([]any)) == 0 {
			t.Fatalf("laggards: %v", lag)
		}
		hints := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/pii-hints", nil)).json(t)["items"].([]any)
		if len(hints) != 1 {
			t.Fatalf("hints: %v", hints)
		}
		st.want(http.StatusOK, st.do("POST", "/api/v1/ingest/pii-hints/"+hints[0].(map[string]any)["id"].(string), map[string]any{"status": "resolved", "note": "下一版本标注为个人信息"}))
		st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/code-lists", nil))
		if cl := st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/code-lists?name="+url.QueryEscape("GB/T 2261.1-2003"), nil)).json(t); len(cl["codes"].([]any)) != 4 {
			t.Fatalf("code list: %v", cl)
		}
		st.want(http.StatusForbidden, st.do("PUT", "/api/v1/ingest/code-lists", map[string]any{"name": "本地代码", "codes": []map[string]string{{"code": "1", "label": "一"}}}))
		root.want(http.StatusNoContent, root.do("PUT", "/api/v1/ingest/code-lists", map[string]any{"name": "本地代码", "codes": []map[string]string{{"code": "1", "label": "一"}}}))

		// Anyone can read which data items name a record (the objection form
		// asks for them); an unknown entry is 404.
		if rk := anon.want(http.StatusOK, anon.do("GET", "/api/v1/ingest/datasets/"+code+"/record-key", nil)).json(t); fmt.Sprint(rk["key"]) != "[id_card]" || rk["resource_id"] != id {
			t.Fatalf("record key: %v", rk)
		}
		anon.want(http.StatusNotFound, anon.do("GET", "/api/v1/ingest/datasets/no-such-entry/record-key", nil))
		// An objection, filed by someone of another org, corrected by the steward.
		c := other.want(http.StatusCreated, other.do("POST", "/api/v1/cases", map[string]any{
			"kind": "objection", "title": "户内人数有误", "target": map[string]any{"type": "resource", "id": code},
			"payload": map[string]any{"key": map[string]string{"id_card": ids[2]}, "field": "household_size", "problem": "户内人数应为 4", "evidence": "户口簿"},
		})).json(t)
		st.want(http.StatusOK, st.do("POST", "/api/v1/cases/"+c["id"].(string)+"/actions/correct", map[string]any{
			"reason": "核查属实，已更正", "data": map[string]any{"values": map[string]string{"household_size": "4"}}}))
		lin = st.want(http.StatusOK, st.do("GET", "/api/v1/ingest/datasets/"+id+"/lineage?key.id_card="+url.QueryEscape(ids[2]), nil)).json(t)
		if lin["case_id"] != c["id"] {
			t.Fatalf("corrected record's lineage: %v", lin)
		}
		if cs := other.want(http.StatusOK, other.do("GET", "/api/v1/cases/"+c["id"].(string), nil)).json(t); cs["state"] != "corrected" {
			t.Fatalf("objector's case: %v", cs)
		}
		st.want(http.StatusOK, st.do("POST", "/api/v1/ingest/datasets/"+id+"/sync", nil))
	})
}
