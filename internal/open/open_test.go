package open

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-OPN-1, R-DEV-6: anyone downloads unconditional open data, free and
// without an account, as CSV, XLSX or JSON; each download is a ledger
// disclose event with a keyed requester fingerprint, never the address.
func TestUnconditionalDownload(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		who := Requester{IP: "203.0.113.7", UserAgent: "curl/8"}
		for _, f := range []gate.Format{gate.CSV, gate.XLSX, gate.JSON} {
			d, err := e.s.Download(e.ctx, DownloadRequest{ResourceID: e.pub.ID, Format: f, Requester: who})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			b, err := d.Bytes()
			d.Close()
			if err != nil || len(b) == 0 || d.Records != 30 {
				t.Fatalf("%s: %d bytes, %d records, %v", f, len(b), d.Records, err)
			}
			if f == gate.CSV && !strings.Contains(string(b), "district,year,count") {
				t.Fatalf("csv header: %.80s", b)
			}
		}
		var evs []ledger.Entry
		for _, ev := range e.ledgerEvents(ledger.Disclose) {
			if strings.HasPrefix(ev.Object, "open/download/") {
				evs = append(evs, ev)
			}
		}
		if len(evs) != 3 {
			t.Fatalf("%d disclose events, want 3", len(evs))
		}
		var detail map[string]any
		_ = json.Unmarshal(evs[0].Detail, &detail)
		fp, _ := detail["requester_fingerprint"].(string)
		if fp != e.s.Fingerprint(who) || len(fp) != 32 || detail["free"] != true {
			t.Fatalf("detail %v", detail)
		}
		raw, _ := json.Marshal(evs)
		if bytes.Contains(raw, []byte("203.0.113.7")) || bytes.Contains(raw, []byte("curl/8")) {
			t.Fatal("the ledger holds the requester's address or user agent")
		}
		// The fingerprint changes with the day: requesters are not linked across days.
		e.clk.Advance(24 * time.Hour)
		if e.s.Fingerprint(who) == fp {
			t.Fatal("fingerprint not day-bucketed")
		}
		if n, _ := e.s.DownloadCount(e.ctx, e.pub.ID, time.Time{}); n != 3 {
			t.Fatalf("download count %d", n)
		}
		// Not open, or conditional: anonymous downloads are refused.
		_, err := e.s.Download(e.ctx, DownloadRequest{ResourceID: e.cond.ID, Format: gate.CSV, Requester: who})
		e.wantCode(err, ErrConditional.Code)
	})
}

// R-OPN-1: anonymous downloads are rate limited per fingerprint; a free API
// key gives a higher limit; another requester is not affected.
func TestRateLimitsAndKeys(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{AnonPerMinute: 5, KeyPerMinute: 100})
		a := Requester{IP: "198.51.100.1", UserAgent: "x"}
		dl := func(r Requester) error {
			d, err := e.s.Download(e.ctx, DownloadRequest{ResourceID: e.pub.ID, Format: gate.JSON, Requester: r})
			if d != nil {
				d.Close()
			}
			return err
		}
		var err error
		n := 0
		for ; n < 50; n++ {
			if err = dl(a); err != nil {
				break
			}
		}
		e.wantCode(err, ErrRateLimited.Code)
		if n != 5 {
			t.Fatalf("anonymous burst %d, want 5", n)
		}
		if err := dl(Requester{IP: "198.51.100.2", UserAgent: "x"}); err != nil {
			t.Fatalf("another requester: %v", err)
		}
		k, err := e.s.IssueKey(e.ctx, "公交到站小程序", "dev@example.com")
		if err != nil || !strings.HasPrefix(k.Secret, "sqo_") {
			t.Fatalf("key %+v %v", k, err)
		}
		a.APIKey = k.Secret
		for i := 0; i < 10; i++ {
			if err := dl(a); err != nil {
				t.Fatalf("keyed download %d: %v", i, err)
			}
		}
		a.APIKey = "sqo_wrong"
		e.wantCode(dl(a), ErrBadKey.Code)
		// A minute later the anonymous requester may download again.
		e.clk.Advance(time.Minute)
		a.APIKey = ""
		if err := dl(a); err != nil {
			t.Fatal(err)
		}
	})
}

// R-PRS-7: public-place camera data is never opened, whatever its open
// attribute says: not by download, not by application, not at the gate,
// not in the open catalog, and a public grant made before the lock is ended.
func TestPurposeLock(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		if !PurposeLocked(e.cam) || PurposeLocked(e.pub) {
			t.Fatal("PurposeLocked")
		}
		_, err := e.s.Download(e.ctx, DownloadRequest{ResourceID: e.cam.ID, Format: gate.CSV})
		e.wantCode(err, ErrPurposeLocked.Code)
		_, err = e.s.PublicGrant(e.ctx, e.cam.ID)
		e.wantCode(err, ErrPurposeLocked.Code)
		_, err = e.apply(developer("ent"), e.cam, allCommitments)
		e.wantCode(err, ErrPurposeLocked.Code)
		// The gate: nobody anonymous gets it (no public grant exists).
		dec, err := e.gate.Decide(e.ctx, gate.Request{ResourceID: e.cam.ID})
		if err != nil || dec.Allow || dec.Reason.Code != gate.ErrNotForAnonymous.Code {
			t.Fatalf("gate decide: %+v %v", dec, err)
		}
		ls, err := e.s.Catalog(e.ctx, "https://data.example")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if l.ID == e.cam.ID {
				t.Fatal("purpose-locked entry in the open catalog")
			}
		}
		// A public grant made before the tag was set is terminated by Sync
		// and serves nobody afterwards.
		late := e.publish("gaj", "卡口过车统计", catalog.Sharing{Attr: catalog.Unconditional}, []string{"交通"}, e.pub.Fields)
		e.rows.Put(late.ID, []string{"1"}, []map[string]any{{"district": "思明区", "year": int64(2025), "count": int64(3)}})
		g, err := e.s.PublicGrant(e.ctx, late.ID)
		if err != nil {
			t.Fatal(err)
		}
		u := catalog.DraftUpdate{Entry: late.Entry}
		u.Tags = []string{"交通", "identity_device"}
		if _, err := e.cat.UpdateDraft(e.ctx, steward("gaj"), late.ID, u); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cat.Publish(e.ctx, steward("gaj"), late.ID, catalog.PublishInput{Reason: "标注为身份识别设备采集"}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.s.Sync(e.ctx); err != nil || n != 1 {
			t.Fatalf("sync %d %v", n, err)
		}
		_, err = e.gate.Deliver(e.ctx, gate.Request{ResourceID: late.ID, Format: gate.JSON, GrantID: g.ID})
		e.wantCode(err, gate.ErrTerminated.Code)
		// Demand for it never puts it on the open-priority list.
		if err := e.s.RequestOpen(e.ctx, e.cam.ID, "请开放", Requester{IP: "1.2.3.4"}); err != nil {
			t.Fatal(err)
		}
		rk, _ := e.s.Ranking(e.ctx, time.Time{}, true, 10)
		for _, d := range rk {
			if d.ResourceID == e.cam.ID {
				t.Fatal("purpose-locked entry on the open-priority list")
			}
		}
	})
}

// R-PRS-7 beyond open: the gate itself refuses any grant of a purpose-locked
// resource that is open or not for public security, whichever service asks
// (share, market, operator…); a grant marked "public_security:" or
// "公共安全：" with a stated scenario is allowed.
func TestPurposeLockGrants(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		grant := func(kind gate.Kind, org, purpose string) (*gate.Grant, error) {
			var g *gate.Grant
			err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
				var err error
				g, err = e.gate.CreateGrant(e.ctx, tx, authority, gate.GrantSpec{ResourceID: e.cam.ID, GranteeOrgID: org, Fields: []string{"district", "count"}, Purpose: purpose, Kind: kind})
				return err
			})
			return g, err
		}
		for _, c := range []struct {
			kind    gate.Kind
			org     string
			purpose string
		}{
			{gate.KindUnconditional, "wjw", "城市客流规划"},
			{gate.KindConditional, "wjw", "城市客流规划"},
			{gate.KindMarket, "ent", "商业选址"},
			{gate.KindOperator, "ent", "授权运营"},
			{gate.KindService, "auth", "风险扫描"},
			{gate.KindConditional, "wjw", "public_security:"}, // no scenario stated
			{gate.KindConditional, "wjw", "为了公共安全：人流分析"},      // not marked, only mentioned
			{gate.KindOpen, "", "public_security: 公开"},        // never opened, whatever the purpose
			{gate.KindOpen, "ent", "公共安全：重大活动安保"},
		} {
			_, err := grant(c.kind, c.org, c.purpose)
			if code(err) != gate.ErrPurposeLocked.Code {
				t.Fatalf("%s grant for %q: %v, want %s", c.kind, c.purpose, err, gate.ErrPurposeLocked.Code)
			}
		}
		for _, p := range []string{"公共安全：重大活动安保", "public_security: 追查在逃人员", "公共安全:反恐防范"} {
			if _, err := grant(gate.KindConditional, "auth", p); err != nil {
				t.Fatalf("public-security grant %q: %v", p, err)
			}
		}
		// An unlocked resource is unaffected.
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
			_, err := e.gate.CreateGrant(e.ctx, tx, authority, gate.GrantSpec{ResourceID: e.pub.ID, GranteeOrgID: "ent", Fields: []string{"district"}, Purpose: "商业选址", Kind: gate.KindMarket})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// R-OPN-2: a verified applicant files an application with scenario, fields
// and all four commitments; the providing org and the authority approve;
// the applicant downloads under the grant (fingerprinted by the gate);
// another application is refused with a reason the applicant reads.
func TestConditionalApplication(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		app := developer("ent")
		// Each commitment must be acknowledged.
		partial := allCommitments
		partial.NoThirdParty = false
		_, err := e.apply(app, e.cond, partial)
		e.wantCode(err, ErrCommitments.Code)
		_, err = e.apply(developer("ent2"), e.cond, allCommitments)
		e.wantCode(err, ErrNotVerified.Code)
		_, err = e.apply(app, e.pub, allCommitments)
		e.wantCode(err, ErrUseDownload.Code)

		c, err := e.apply(app, e.cond, allCommitments)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "submitted" || c.Deadline == nil {
			t.Fatalf("case %+v", c)
		}
		var p ApplicationPayload
		_ = json.Unmarshal(c.Payload, &p)
		if p.Applicant == nil || p.Applicant.Type != "enterprise" || p.Commitment != CommitmentText {
			t.Fatalf("payload %+v", p)
		}
		// Before approval: no data.
		_, err = e.s.Download(e.ctx, DownloadRequest{Principal: app, ResourceID: e.cond.ID, Format: gate.JSON})
		e.wantCode(err, gate.ErrNoGrantForYou.Code)
		if _, err := e.act(authority, c.ID, "approve", ""); err == nil {
			t.Fatal("authority approved before the providing org reviewed")
		}
		if _, err := e.act(steward("wjw"), c.ID, "concur", ""); err != nil {
			t.Fatal(err)
		}
		c, err = e.act(authority, c.ID, "approve", "同意")
		if err != nil || c.Decision == nil || c.Decision.Outcome != casework.Approved {
			t.Fatalf("approve: %+v %v", c, err)
		}
		gs, _ := e.gate.Grants(e.ctx, gate.GrantFilter{CaseID: c.ID})
		if len(gs) != 1 || gs[0].Kind != gate.KindOpen || gs[0].GranteeOrgID != "ent" || len(gs[0].Fields) != 2 || !strings.Contains(gs[0].Terms, "第三方") {
			t.Fatalf("grants %+v", gs)
		}
		d, err := e.s.Download(e.ctx, DownloadRequest{Principal: app, ResourceID: e.cond.ID, Format: gate.CSV})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := d.Bytes()
		d.Close()
		if d.Records != 30 || !strings.Contains(string(b), "district,count") || d.Receipt == nil {
			t.Fatalf("delivery %d records: %.60s", d.Records, b)
		}
		// Fields outside the application are refused.
		_, err = e.s.Download(e.ctx, DownloadRequest{Principal: app, ResourceID: e.cond.ID, Format: gate.CSV, Fields: []string{"year"}})
		e.wantCode(err, gate.ErrField.Code)
		// R-OPN-2: the grant is the applicant's, not the org's: a colleague in
		// the same enterprise is refused, naming the grant or not.
		colleague := identity.Principal{UserID: "dev2-ent", OrgID: "ent", OrgKind: identity.KindEnterprise, Roles: []identity.Role{identity.RoleDeveloper}}
		_, err = e.s.Download(e.ctx, DownloadRequest{Principal: colleague, ResourceID: e.cond.ID, Format: gate.CSV})
		e.wantCode(err, ErrNotApplicant.Code)
		_, err = e.s.Download(e.ctx, DownloadRequest{Principal: colleague, ResourceID: e.cond.ID, Format: gate.CSV, GrantID: gs[0].ID})
		e.wantCode(err, ErrNotApplicant.Code)
		if !strings.Contains(gs[0].Terms, "仅限申请人") {
			t.Fatalf("the grant's terms do not bind it to the applicant: %s", gs[0].Terms)
		}
		// The gate itself binds the grant to the person, so its own data
		// path refuses the colleague too.
		if gs[0].GranteeUserID != app.UserID {
			t.Fatalf("grant bound to %q, want %q", gs[0].GranteeUserID, app.UserID)
		}
		_, err = e.gate.Deliver(e.ctx, gate.Request{Principal: colleague, ResourceID: e.cond.ID, Format: gate.CSV})
		e.wantCode(err, gate.ErrUser.Code)

		// A refusal needs a reason, and the applicant reads it.
		c2, err := e.apply(app, e.cond, allCommitments)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.act(steward("wjw"), c2.ID, "refuse", ""); err == nil {
			t.Fatal("refused without a reason")
		}
		if _, err := e.act(steward("wjw"), c2.ID, "refuse", "已有同一场景的授权"); err != nil {
			t.Fatal(err)
		}
		got, err := e.cw.Get(e.ctx, app, c2.ID)
		if err != nil || got.Decision == nil || got.Decision.Outcome != casework.Refused || got.Decision.Reason != "已有同一场景的授权" {
			t.Fatalf("applicant's view: %+v %v", got, err)
		}
		// A look at the first rows is a delivery, counted as a preview and
		// not as a download.
		pv, err := e.s.Download(e.ctx, DownloadRequest{Principal: app, ResourceID: e.cond.ID, Format: gate.JSON, Limit: 5, Preview: true})
		if err != nil {
			t.Fatal(err)
		}
		pv.Close()
		// Applications count as demand (R-OPN-5).
		rk, _ := e.s.Ranking(e.ctx, time.Time{}, true, 10)
		if len(rk) != 1 || rk[0].ResourceID != e.cond.ID || rk[0].Applications != 2 || rk[0].Downloads != 1 || rk[0].Previews != 1 {
			t.Fatalf("ranking %+v", rk)
		}
	})
}

// R-OPN-3: with a fake clock, conditional entries fall due for review after
// the configured period, with usage and risk evidence; the authority decides
// by case; a decided entry is due again one period later.
func TestPeriodicReview(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{ReviewPeriod: 90 * 24 * time.Hour})
		due, err := e.s.DueReviews(e.ctx)
		if err != nil || len(due) != 0 {
			t.Fatalf("due at once: %v %v", due, err)
		}
		_ = e.s.RequestOpen(e.ctx, e.cond.ID, "希望无条件开放", Requester{IP: "192.0.2.1"})
		e.clk.Advance(91 * 24 * time.Hour)
		// Runs at the same moment (two replicas' schedulers) file one case.
		var wg sync.WaitGroup
		runs := make([][]*casework.Case, 4)
		errs := make([]error, 4)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i], errs[i] = e.s.RunReviews(e.ctx)
			}()
		}
		wg.Wait()
		var cases []*casework.Case
		for i := range runs {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			cases = append(cases, runs[i]...)
		}
		if len(cases) != 1 || cases[0].Target.ID != e.cond.ID {
			t.Fatalf("review cases %v", cases)
		}
		var ev Evidence
		_ = json.Unmarshal(cases[0].Payload, &ev)
		if ev.Requests != 1 || ev.ResourceID != e.cond.ID {
			t.Fatalf("evidence %+v", ev)
		}
		// Filed once: not again while pending.
		if again, _ := e.s.RunReviews(e.ctx); len(again) != 0 {
			t.Fatal("filed twice")
		}
		if _, err := e.act(steward("wjw"), cases[0].ID, "make_unconditional", "x"); err == nil {
			t.Fatal("only the authority decides a review")
		}
		c, err := e.act(authority, cases[0].ID, "make_unconditional", "需求高且无风险，转为无条件开放")
		if err != nil || c.State != "unconditional" {
			t.Fatalf("decide: %+v %v", c, err)
		}
		if due, _ := e.s.DueReviews(e.ctx); len(due) != 0 {
			t.Fatal("due right after a review")
		}
		e.clk.Advance(91 * 24 * time.Hour)
		if due, _ := e.s.DueReviews(e.ctx); len(due) != 1 || due[0].LastReview == nil {
			t.Fatalf("due again: %+v", due)
		}
	})
}

// R-OPN-6: the risk scan flags a dataset built to be re-identifiable (every
// age-sex-district combination unique) to the providing org and the
// authority, and passes an aggregate one.
func TestRiskScan(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		reid := e.publish("wjw", "个案就诊明细（去标识）", catalog.Sharing{Attr: catalog.Unconditional}, nil, []catalog.Field{
			{Name: "age", Label: "年龄", Type: "integer", Level: catalog.LevelGeneral},
			{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral},
			{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
			{Name: "diagnosis", Label: "诊断", Type: "string", Level: catalog.LevelGeneral},
		})
		var keys []string
		var rows []map[string]any
		for i := 0; i < 40; i++ {
			keys = append(keys, fmt.Sprintf("%04d", i))
			rows = append(rows, map[string]any{"age": int64(20 + i), "gender": []string{"男", "女"}[i%2], "district": "思明区", "diagnosis": "糖尿病"})
		}
		e.rows.Put(reid.ID, keys, rows)
		e.loaded(reid)
		scans, err := e.s.ScanRisk(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*RiskScan{}
		for _, s := range scans {
			byID[s.ResourceID] = s
		}
		r := byID[reid.ID]
		if r == nil || !r.Flagged || r.Report.Uniques != 40 || r.CaseID == "" {
			t.Fatalf("re-identifiable scan %+v", r)
		}
		if p := byID[e.pub.ID]; p == nil || p.Flagged {
			t.Fatalf("aggregate scan %+v", p)
		}
		if byID[e.cam.ID] != nil {
			t.Fatal("scanned a purpose-locked (never opened) entry")
		}
		c, err := e.cw.Get(e.ctx, steward("wjw"), r.CaseID)
		if err != nil || c.Kind != KindRisk {
			t.Fatalf("provider sees the flag: %v", err)
		}
		assigned := map[string]bool{}
		for _, a := range c.Assignees {
			assigned[a.OrgID+"/"+string(a.Role)] = true
		}
		if !assigned["wjw/data_steward"] || !assigned["/authority_admin"] {
			t.Fatalf("assignees %+v", c.Assignees)
		}
		if latest, _ := e.s.LatestRisk(e.ctx, reid.ID); latest == nil || latest.ID != r.ID {
			t.Fatal("latest risk")
		}
		if _, err := e.act(authority, r.CaseID, "resolve", "已改为按年龄段发布"); err != nil {
			t.Fatal(err)
		}
	})
}

// R-OPN-5, R-OPN-1: the open catalog in bulk lists download URLs of
// unconditional entries; requests and downloads rank demand.
func TestCatalogAndDemand(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		var b bytes.Buffer
		if err := e.s.WriteCatalog(e.ctx, &b, "https://data.example", "csv"); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, e.pub.Name) || !strings.Contains(out, "https://data.example/api/v1/open/data/"+e.pub.ID+"?format=csv") ||
			!strings.Contains(out, e.cond.Name) || strings.Contains(out, e.cam.Name) {
			t.Fatalf("catalog csv:\n%s", out)
		}
		for i := 0; i < 3; i++ {
			_ = e.s.RequestOpen(e.ctx, e.cond.ID, "", Requester{IP: fmt.Sprint("192.0.2.", i)})
		}
		_ = e.s.RequestOpen(e.ctx, e.cond.ID, "", Requester{IP: "192.0.2.0"}) // same requester, same day: once
		d, err := e.s.Download(e.ctx, DownloadRequest{ResourceID: e.pub.ID, Format: gate.JSON})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		rk, err := e.s.Ranking(e.ctx, time.Time{}, false, 10)
		if err != nil || len(rk) != 2 || rk[0].ResourceID != e.cond.ID || rk[0].Requests != 3 || rk[0].Score != 30 || rk[1].Downloads != 1 {
			t.Fatalf("ranking %+v %v", rk, err)
		}
		prio, _ := e.s.Ranking(e.ctx, time.Time{}, true, 10)
		if len(prio) != 1 || prio[0].ResourceID != e.cond.ID {
			t.Fatalf("priority %+v", prio)
		}
	})
}

var _ = identity.Principal{}

// R-OPN-6: the scheduled scan (RunRiskScans, the server's worker) with a
// fake clock: it scans what is due, flags a dataset built to be
// re-identifiable to the providing org and the authority once per dataset
// version however often it runs, re-scans after the period, and flags a
// new version of the data again.
func TestScheduledRiskScan(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{RiskScanEvery: 7 * 24 * time.Hour})
		reid := e.publish("wjw", "个案就诊明细（去标识）", catalog.Sharing{Attr: catalog.Unconditional}, nil, []catalog.Field{
			{Name: "age", Label: "年龄", Type: "integer", Level: catalog.LevelGeneral},
			{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral},
			{Name: "district", Label: "所属区", Type: "string", Level: catalog.LevelGeneral},
			{Name: "diagnosis", Label: "诊断", Type: "string", Level: catalog.LevelGeneral},
		})
		put := func(n int) {
			var keys []string
			var rows []map[string]any
			for i := 0; i < n; i++ {
				keys = append(keys, fmt.Sprintf("%04d", i))
				rows = append(rows, map[string]any{"age": int64(20 + i), "gender": []string{"男", "女"}[i%2], "district": "思明区", "diagnosis": "糖尿病"})
			}
			e.rows.Put(reid.ID, keys, rows)
			e.loaded(reid)
		}
		// An opened entry whose data was never loaded is not scanned.
		empty := e.publish("wjw", "个案就诊明细（未汇聚）", catalog.Sharing{Attr: catalog.Unconditional}, nil, reid.Fields)
		put(40)
		riskCases := func() []*casework.Case {
			t.Helper()
			cs, _, err := e.cw.List(e.ctx, authority, casework.Query{Kind: KindRisk, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var out []*casework.Case
			for _, c := range cs {
				if c.Target.ID == reid.ID {
					out = append(out, c)
				}
			}
			return out
		}
		run := func() map[string]*RiskScan {
			t.Helper()
			scans, err := e.s.RunRiskScans(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			by := map[string]*RiskScan{}
			for _, sc := range scans {
				by[sc.ResourceID] = sc
			}
			return by
		}

		first := run()
		r := first[reid.ID]
		if r == nil || !r.Flagged || r.AlreadyFlagged || r.CaseID == "" || r.DataHash == "" || r.Version == "" {
			t.Fatalf("first scheduled scan of the re-identifiable entry: %+v", r)
		}
		if p := first[e.pub.ID]; p == nil || p.Flagged {
			t.Fatalf("aggregate entry: %+v", p)
		}
		if first[e.cam.ID] != nil || first[empty.ID] != nil {
			t.Fatal("scanned a purpose-locked entry or one without data")
		}
		c, err := e.cw.Get(e.ctx, steward("wjw"), r.CaseID)
		if err != nil || c.Kind != KindRisk || c.State != "flagged" {
			t.Fatalf("the providing org does not see the flag: %+v %v", c, err)
		}
		// Not due again before the period: nothing is read.
		e.clk.Advance(6 * 24 * time.Hour)
		if again := run(); len(again) != 0 {
			t.Fatalf("scanned before the period: %+v", again)
		}
		// After the period: scanned again, the same version is not flagged twice.
		e.clk.Advance(25 * time.Hour)
		second := run()[reid.ID]
		if second == nil || !second.Flagged || !second.AlreadyFlagged || second.CaseID != r.CaseID || second.DataHash != r.DataHash {
			t.Fatalf("re-scan of the same version: %+v", second)
		}
		if cs := riskCases(); len(cs) != 1 {
			t.Fatalf("%d risk cases for one dataset version, want 1", len(cs))
		}
		if latest, _ := e.s.LatestRisk(e.ctx, reid.ID); latest == nil || latest.ID != second.ID || latest.Version != r.Version {
			t.Fatalf("latest risk %+v", latest)
		}
		// New data, still re-identifiable: a new version, scanned at the next
		// check (before the period) and flagged again.
		e.clk.Advance(time.Hour)
		put(50)
		e.clk.Advance(time.Minute)
		third := run()[reid.ID]
		if third == nil || !third.Flagged || third.AlreadyFlagged || third.CaseID == r.CaseID || third.DataHash == r.DataHash {
			t.Fatalf("scan of new data: %+v", third)
		}
		if cs := riskCases(); len(cs) != 2 {
			t.Fatalf("%d risk cases after new data, want 2", len(cs))
		}
		// The scan by hand refers to the existing flag too.
		byHand, err := e.s.ScanResource(e.ctx, reid.ID)
		if err != nil || !byHand.AlreadyFlagged || byHand.CaseID != third.CaseID {
			t.Fatalf("scan by hand: %+v %v", byHand, err)
		}
	})
}
