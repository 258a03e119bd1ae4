package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// A field change in a new catalog version migrates the dataset (added and
// removed fields, a retype whose values convert), or is refused with the
// reason (a removed key, a value that does not convert); a refused dataset
// takes no loads until a later version migrates.
func TestSchemaFollowsCatalogVersions(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		idl := ids(3)
		e.load(st, r.ID, residentCSV(idl, "id_card,full_name,gender,birth_date,household_size,contact"), LoadInput{Format: CSV})
		// The gate reads through ingest's source, which keeps the table's
		// columns for a moment; a migration must not leave it reading the
		// old ones.
		gateRead := func(fields ...string) (int, error) {
			n := 0
			err := e.s.RowSource().(gate.ColumnSource).ScanColumns(e.ctx, r.ID, gate.Query{Fields: fields, Limit: 10}, func(string, []any) error { n++; return nil })
			return n, err
		}
		if n, err := gateRead("full_name", "contact"); err != nil || n != 3 {
			t.Fatalf("gate read before migration: %d rows, %v", n, err)
		}
		// v2: contact removed, occupation added, household_size integer → string.
		f2 := residentFields()[:5]
		f2[4].Type = "string"
		f2 = append(f2, catalog.Field{Name: "occupation", Label: "职业", Type: "string", Level: catalog.LevelGeneral})
		r2 := e.republish(st, r, f2)
		b := e.load(st, r.ID, fmt.Sprintf(`[{"id_card":%q,"full_name":"甲","occupation":"教师","household_size":"三口"}]`, idl[0]), LoadInput{Mode: Upsert, Format: JSON})
		if b.Status != BatchApplied {
			t.Fatalf("load after migration: %+v", b)
		}
		ds, _ := e.s.Dataset(e.ctx, st, r.ID)
		if ds.SchemaVersion != r2.Version || ds.Status != statusReady || len(ds.Fields) != 6 {
			t.Fatalf("dataset after migration: %+v", ds)
		}
		if n, err := gateRead("full_name", "occupation"); err != nil || n != 3 {
			t.Fatalf("gate read of an added field after migration: %d rows, %v", n, err)
		}
		if _, err := gateRead("contact"); err == nil {
			t.Fatal("the gate still reads a field the migration removed")
		}
		rows := e.rows(r.ID)
		if rows[idl[0]]["occupation"] != "教师" || rows[idl[0]]["household_size"] != "三口" || rows[idl[1]]["household_size"] != "2" {
			t.Fatalf("migrated rows: %v", rows)
		}
		if _, ok := rows[idl[1]]["contact"]; ok {
			t.Fatal("removed field still read")
		}
		var dropped bool
		for _, ev := range e.events(r.ID) {
			if ev.Action == ledger.Delete && strings.Contains(string(ev.Detail), "drop_fields") && len(ev.Fields) == 1 && ev.Fields[0] == "contact" {
				dropped = true
			}
		}
		if !dropped {
			t.Fatal("no ledger delete event for the dropped field")
		}
		// v3: household_size back to integer while "三口" is stored: refused.
		f3 := append([]catalog.Field(nil), f2...)
		f3[4].Type = "integer"
		e.republish(st, r, f3)
		_, err := e.s.Load(e.ctx, st, r.ID, strings.NewReader("[]"), LoadInput{Format: JSON, Mode: Upsert})
		if code(err) != "ingest.schema_refused" || !strings.Contains(err.Error(), "household_size") {
			t.Fatalf("unconvertible retype: %v", err)
		}
		if ds, _ := e.s.Dataset(e.ctx, st, r.ID); ds.Status != statusRefused || !strings.Contains(ds.StatusReason, "三口") {
			t.Fatalf("refused dataset: %+v", ds)
		}
		// v4: drop the key: refused too.
		e.republish(st, r, f2[1:])
		if _, err := e.s.SyncSchema(e.ctx, st, r.ID); code(err) != "ingest.schema_refused" || !strings.Contains(err.Error(), "id_card") {
			t.Fatalf("key removal: %v", err)
		}
		// v5 is v2 again: migrates, loads resume.
		e.republish(st, r, f2)
		if ch, err := e.s.SyncSchema(e.ctx, st, r.ID); err != nil || ch.Refused {
			t.Fatalf("sync back: %+v %v", ch, err)
		}
		if got := len(e.rows(r.ID)); got != 3 {
			t.Fatalf("%d rows after the refusals", got)
		}
	})
}

// R-QLT-1: each load is profiled (completeness per field, validity, key
// uniqueness, timeliness against the declared frequency); scores per
// resource and org over time; rules the org or the authority adds (range,
// pattern, cross-field) check rows; the authority sees who falls behind.
func TestQualityRulesScoresLaggards(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		if _, err := e.s.AddRule(e.ctx, st, r.ID, Rule{Kind: RuleRange, Field: "household_size", Min: "1", Max: "10"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddRule(e.ctx, authority(), r.ID, Rule{Kind: RulePattern, Field: "full_name", Pattern: `^\p{Han}{2,4}$`, Severity: SeverityWarning, Message: "姓名应为 2 到 4 个汉字"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddRule(e.ctx, st, r.ID, Rule{Kind: RuleCross, Field: "birth_date", Op: "<=", Other: "household_size"}); code(err) != "ingest.bad_rule" {
			t.Fatalf("incomparable cross rule: %v", err)
		}
		if _, err := e.s.AddRule(e.ctx, st, r.ID, Rule{Kind: RulePattern, Field: "full_name", Pattern: "("}); code(err) != "ingest.bad_rule" {
			t.Fatalf("bad pattern: %v", err)
		}
		if _, err := e.s.AddRule(e.ctx, steward("bus"), r.ID, Rule{Kind: RuleRange, Field: "household_size", Min: "1"}); code(err) != "forbidden" {
			t.Fatalf("another org's rule: %v", err)
		}
		rules, _ := e.s.Rules(e.ctx, st, r.ID)
		for _, ru := range rules {
			if ru.Authority {
				if err := e.s.DeleteRule(e.ctx, st, ru.ID); code(err) != "forbidden" {
					t.Fatalf("org removed an authority rule: %v", err)
				}
			}
		}
		idl := ids(4)
		csv := "id_card,full_name,gender,birth_date,household_size\n" +
			idl[0] + ",陈伟,1,1980-01-01,3\n" +
			idl[1] + ",Wang,2,,4\n" + // pattern warning, no birth date
			idl[2] + ",林芳,2,1981-02-02,12\n" + // out of range: rejected
			idl[3] + ",黄敏,,1982-03-03,\n"
		b := e.load(st, r.ID, csv, LoadInput{Format: CSV})
		p := b.Profile
		if b.RowsStaged != 3 || p == nil || p.Validity != 0.5 || p.Uniqueness != 1 || p.Timeliness != 1 || p.RuleWarnings != 1 {
			t.Fatalf("profile: %+v %+v", b, p)
		}
		comp := map[string]float64{}
		for _, fp := range p.Fields {
			comp[fp.Name] = fp.Completeness
		}
		if comp["id_card"] != 1 || comp["birth_date"] != 0.6667 || comp["contact"] != 0 || comp["household_size"] != 0.6667 {
			t.Fatalf("completeness: %v", comp)
		}
		if p.Errors["ingest.rule.range"] != 1 || p.Errors["ingest.rule.pattern.warning"] != 1 {
			t.Fatalf("errors: %v", p.Errors)
		}
		// Three days later (daily entry, period 2 days): the next load is late.
		e.clk.Advance(72 * time.Hour)
		rep, err := e.s.Laggards(e.ctx, authority())
		if err != nil {
			t.Fatal(err)
		}
		var late bool
		for _, l := range rep.Entries {
			late = late || (l.ResourceID == r.ID && l.Reason == "late")
		}
		if !late || len(rep.Orgs) == 0 || rep.Orgs[0].OrgID != "gaj" || rep.Orgs[0].Late != 1 {
			t.Fatalf("laggards: %+v", rep)
		}
		b2 := e.load(st, r.ID, csv, LoadInput{Format: CSV})
		if b2.Profile.Timeliness != 0.6667 || b2.Profile.SinceLastHours != 72 {
			t.Fatalf("late load: %+v", b2.Profile)
		}
		// A hosted entry without a dataset is behind too.
		bus := e.publish(steward("bus"), entry("bus", "公交线路", []catalog.Field{{Name: "line_no", Label: "线路", Type: "string", Level: catalog.LevelGeneral}}))
		rep, _ = e.s.Laggards(e.ctx, authority())
		var noDataset bool
		for _, l := range rep.Entries {
			noDataset = noDataset || (l.ResourceID == bus.ID && l.Reason == "no_dataset")
		}
		if !noDataset {
			t.Fatalf("entry without dataset not reported: %+v", rep.Entries)
		}
		if own, _ := e.s.Laggards(e.ctx, steward("bus")); len(own.Orgs) != 1 || own.Orgs[0].OrgID != "bus" {
			t.Fatalf("an org sees others' standing: %+v", own.Orgs)
		}
		pts, err := e.s.Scores(e.ctx, st, ScoreQuery{ResourceID: r.ID})
		if err != nil || len(pts) != 2 || pts[0].Loads != 1 || pts[1].Score >= pts[0].Score {
			t.Fatalf("scores over time: %+v %v", pts, err)
		}
		if org, _ := e.s.Scores(e.ctx, authority(), ScoreQuery{OrgID: "gaj"}); len(org) != 2 {
			t.Fatalf("org scores: %+v", org)
		}
		if _, err := e.s.Scores(e.ctx, steward("bus"), ScoreQuery{OrgID: "gaj"}); code(err) != "forbidden" {
			t.Fatalf("another org's scores: %v", err)
		}
	})
}

// R-SEC-1: a field whose values look like ID numbers, mobile numbers or bank
// cards but which the catalog does not classify as personal is flagged to
// the org's data stewards; a dismissed hint stays dismissed.
func TestPIIHints(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		idl := ids(20)
		var b strings.Builder
		b.WriteString("id_card,full_name,contact\n")
		for i, id := range idl {
			fmt.Fprintf(&b, "%s,居民%d,1390592%04d\n", id, i, i)
		}
		batch := e.load(st, r.ID, b.String(), LoadInput{Format: CSV})
		if len(batch.PIIHints) != 1 || batch.PIIHints[0].Field != "contact" || batch.PIIHints[0].Entity != "CN_MOBILE" || batch.PIIHints[0].Matched != 20 {
			t.Fatalf("hints: %+v", batch.PIIHints)
		}
		if ex := batch.PIIHints[0].Examples[0]; strings.Contains(ex, "13905920000") || !strings.Contains(ex, "*") {
			t.Fatalf("example not masked: %q", ex)
		}
		hints, err := e.s.PIIHints(e.ctx, st, "", "")
		if err != nil || len(hints) != 1 {
			t.Fatalf("steward's hints: %+v %v", hints, err)
		}
		if _, err := e.s.PIIHints(e.ctx, steward("bus"), "gaj", ""); code(err) != "forbidden" {
			t.Fatalf("another org read the hints: %v", err)
		}
		if _, err := e.s.DecideHint(e.ctx, st, hints[0].ID, "dismissed", ""); code(err) != "ingest.note_required" {
			t.Fatalf("dismiss without note: %v", err)
		}
		if _, err := e.s.DecideHint(e.ctx, st, hints[0].ID, "dismissed", "单位总机号码，非个人信息"); err != nil {
			t.Fatal(err)
		}
		if again := e.load(st, r.ID, b.String(), LoadInput{Format: CSV}); len(again.PIIHints) != 0 {
			t.Fatalf("a dismissed hint came back: %+v", again.PIIHints)
		}
		// A personal field is not flagged: id_card is classified.
		if h := DetectPII(idl); len(h) != 1 {
			t.Fatalf("detector: %v", h)
		}
	})
}

// R-QLT-2, R-QLT-3: anyone objects to a record (which record and field,
// what is wrong, evidence); the providing org verifies and corrects it by
// an incremental update linked to the case, or explains; the objector is
// told; the ledger shows the chain and the record's lineage names the case.
func TestObjectionCorrectOrExplain(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		idl := ids(3)
		e.load(st, r.ID, residentCSV(idl, "id_card,full_name,gender,birth_date,household_size,contact"), LoadInput{Format: CSV})
		c, err := e.s.FileObjection(e.ctx, citizen(), r.Code, ObjectionPayload{Key: map[string]string{"id_card": idl[1]}, Field: "birth_date",
			Problem: "出生日期登记错误", Proposed: "1980-02-02", Evidence: "出生医学证明编号 Q350000123"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Target.OrgID != "gaj" || c.Target.ID != r.ID || c.Deadline == nil {
			t.Fatalf("case: %+v", c)
		}
		if _, err := e.s.FileObjection(e.ctx, citizen(), r.ID, ObjectionPayload{Key: map[string]string{"nope": "1"}, Field: "birth_date", Problem: "x"}); err == nil {
			t.Fatal("an objection without the key was filed")
		}
		// Another org cannot answer it; the objector cannot either.
		corr, _ := json.Marshal(Correction{Values: map[string]string{"birth_date": "1980-02-02"}})
		if _, err := e.cw.Act(e.ctx, steward("bus"), c.ID, "correct", casework.ActInput{Reason: "x", Data: corr}); err == nil {
			t.Fatal("another org corrected")
		}
		bad, _ := json.Marshal(Correction{Values: map[string]string{"birth_date": "1980-02-31"}})
		if _, err := e.cw.Act(e.ctx, st, c.ID, "correct", casework.ActInput{Reason: "核查属实", Data: bad}); code(err) != "ingest.bad_date" {
			t.Fatalf("invalid correction: %v", err)
		}
		if rows := e.rows(r.ID); rows[idl[1]]["birth_date"] != "1980-01-02" {
			t.Fatalf("a refused correction changed the record: %v", rows[idl[1]])
		}
		done, err := e.cw.Act(e.ctx, st, c.ID, "correct", casework.ActInput{Reason: "经核查户籍档案，出生日期有误，已更正", Data: corr})
		if err != nil {
			t.Fatal(err)
		}
		if done.State != "corrected" || done.Decision == nil || done.Decision.Outcome != casework.Approved {
			t.Fatalf("corrected case: %+v", done)
		}
		if rows := e.rows(r.ID); rows[idl[1]]["birth_date"] != "1980-02-02" || rows[idl[0]]["birth_date"] != "1980-01-01" {
			t.Fatalf("after correction: %v", rows)
		}
		lin, err := e.s.Lineage(e.ctx, st, r.ID, map[string]string{"id_card": idl[1]})
		if err != nil || lin.CaseID != c.ID || lin.Mode != Upsert {
			t.Fatalf("lineage after correction: %+v %v", lin, err)
		}
		// The objector sees the outcome.
		seen, err := e.cw.Get(e.ctx, citizen(), c.ID)
		if err != nil || seen.Decision == nil {
			t.Fatalf("objector's view: %+v %v", seen, err)
		}
		var chain []string
		for _, ev := range e.events(r.ID) {
			if strings.Contains(string(ev.Detail), c.ID) || ev.Object == "case/"+c.ID {
				chain = append(chain, string(ev.Action))
			}
		}
		if s := strings.Join(chain, ","); !strings.Contains(s, "collect,store") {
			t.Fatalf("ledger chain for the case: %s", s)
		}
		// A second objection is explained, not corrected.
		c2, err := e.s.FileObjection(e.ctx, citizen(), r.ID, ObjectionPayload{Key: map[string]string{"id_card": idl[2]}, Field: "full_name", Problem: "姓名有误"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cw.Act(e.ctx, st, c2.ID, "explain", casework.ActInput{}); err == nil {
			t.Fatal("an explanation without a reason")
		}
		ex, err := e.cw.Act(e.ctx, st, c2.ID, "explain", casework.ActInput{Reason: "经核查与户籍档案一致，不予更正"})
		if err != nil || ex.State != "explained" || ex.Decision.Outcome != casework.Refused {
			t.Fatalf("explained: %+v %v", ex, err)
		}
	})
}

// R-AGG-2: a service-interface resource registers its upstream: OpenAPI
// description, credentials (stored encrypted, never shown), timeout and a
// health check that uses them.
func TestServiceRegistration(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var gotKey string
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotKey = r.Header.Get("X-Api-Key")
			if r.URL.Path != "/health" {
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		defer up.Close()
		en := entry("gaj", "人口核验服务", residentFields()[:2])
		en.Delivery = catalog.Delivery{Mode: catalog.ServiceAPI, Endpoint: up.URL}
		r := e.publish(steward("gaj"), en)
		spec := `openapi: 3.0.3
info: {title: 人口核验, version: "1"}
paths:
  /verify:
    post:
      responses: {"200": {description: ok}}
  /health:
    get:
      responses: {"200": {description: ok}}
`
		in := ServiceInput{BaseURL: up.URL, OpenAPI: spec, Auth: UpstreamAuth{Kind: AuthAPIKey, Name: "X-Api-Key", Secret: "s3cret-upstream-key"}, TimeoutMS: 2000, HealthPath: "/health"}
		u, err := e.s.RegisterService(e.ctx, steward("gaj"), r.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if u.Operations != 2 || u.Title != "人口核验" || !u.SecretSet || u.Health.Status != "unknown" {
			t.Fatalf("upstream: %+v", u)
		}
		var sealed []byte
		if err := db.QueryRowContext(e.ctx, `SELECT secret_enc FROM ingest_services WHERE resource_id = $1`, r.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte("s3cret")) {
			t.Fatal("the upstream secret is stored in clear")
		}
		h, err := e.s.CheckHealth(e.ctx, steward("gaj"), r.ID)
		if err != nil || h.Health.Status != "up" || gotKey != "s3cret-upstream-key" {
			t.Fatalf("health: %+v %v (key %q)", h, err, gotKey)
		}
		in.Auth.Secret = "" // keeps the stored one
		in.HealthPath = "/missing"
		if _, err := e.s.RegisterService(e.ctx, steward("gaj"), r.ID, in); err != nil {
			t.Fatal(err)
		}
		if h, _ := e.s.CheckHealth(e.ctx, steward("gaj"), r.ID); h.Health.Status != "down" || h.Health.Detail != "HTTP 404" {
			t.Fatalf("down: %+v", h.Health)
		}
		if _, err := e.s.RegisterService(e.ctx, steward("gaj"), r.ID, ServiceInput{BaseURL: up.URL, OpenAPI: "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}"}); code(err) != "ingest.bad_service" {
			t.Fatalf("swagger 2: %v", err)
		}
		if _, err := e.s.RegisterService(e.ctx, steward("bus"), r.ID, in); code(err) != "forbidden" {
			t.Fatalf("another org registered: %v", err)
		}
		hosted := e.residents()
		if _, err := e.s.RegisterService(e.ctx, steward("gaj"), hosted.ID, in); code(err) != "ingest.not_service" {
			t.Fatalf("hosted entry as a service: %v", err)
		}
	})
}

// R-AGG-1: XLSX uploads load like CSV; spreadsheet serial dates are dates.
func TestXLSXLoad(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		idl := ids(3)
		f := excelize.NewFile()
		rows := [][]any{{"公民身份号码", "姓名", "性别", "出生日期", "户内人数"}, {idl[0], "甲", "男", 29221, 3}, {}, {idl[1], "乙", "2", "1981-05-06", 2.0}, {idl[2], "丙", "3", "x", 1}}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			t.Fatal(err)
		}
		b := e.load(steward("gaj"), r.ID, buf.String(), LoadInput{Format: XLSX, Source: "people.xlsx"})
		if b.RowsStaged != 2 || b.RowsRejected != 1 {
			t.Fatalf("xlsx: %+v", b)
		}
		got := e.rows(r.ID)
		if got[idl[0]]["birth_date"] != "1980-01-01" || got[idl[0]]["gender"] != "1" || got[idl[1]]["household_size"] != "2" {
			t.Fatalf("xlsx rows: %v", got)
		}
		var lines []ReportLine
		_ = e.s.ErrorReport(e.ctx, steward("gaj"), b.ID, func(l ReportLine) error { lines = append(lines, l); return nil })
		if len(lines) != 2 || lines[0].Row != 5 {
			t.Fatalf("xlsx report (row numbers are the sheet's): %+v", lines)
		}
	})
}
