package open

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/ledger"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/privacy/table"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// R-OPN-4: from not open to open. (a) An anonymised derivative of a
// not-open entry, made with k-anonymity and masking, is proposed with its
// risk report and approved by the authority; (b) a not-open entry is opened
// on the right holder's recorded consent. Both leave a case and ledger trail.
func TestNotOpenToOpen(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		notOpen := catalog.Sharing{Attr: catalog.None, Basis: "《个人信息保护法》", Reason: "含个人信息"}
		src := e.publish("wjw", "慢性病患者随访记录", notOpen, nil, []catalog.Field{
			{Name: "full_name", Label: "姓名", Type: "string", Level: catalog.LevelGeneral, Personal: true, Category: "个人信息/基本信息"},
			{Name: "age", Label: "年龄", Type: "integer", Level: catalog.LevelGeneral},
			{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral},
			{Name: "diagnosis", Label: "诊断", Type: "string", Level: catalog.LevelGeneral},
		})
		var keys []string
		var rows []map[string]any
		for i := 0; i < 60; i++ {
			keys = append(keys, fmt.Sprintf("%04d", i))
			rows = append(rows, map[string]any{"full_name": []string{"陈伟", "林芳", "黄强"}[i%3] + fmt.Sprint(i), "age": int64(20 + i%40),
				"gender": []string{"男", "女"}[i%2], "diagnosis": []string{"糖尿病", "高血压"}[i%2]})
		}
		e.rows.Put(src.ID, keys, rows)

		var ages strings.Builder
		for a := 20; a < 60; a++ {
			fmt.Fprintf(&ages, "%d;%d-%d;*\n", a, a/10*10, a/10*10+9)
		}
		spec := DeriveSpec{SourceID: src.ID, Fields: []string{"full_name", "age", "gender", "diagnosis"}, QIs: []string{"age", "gender"},
			Hierarchies: map[string]string{"age": ages.String(), "gender": "男;*\n女;*\n"}, K: 5,
			Masks: map[string]mask.Spec{"full_name": {Op: mask.OpSuppress}}}
		if _, err := e.s.Derive(e.ctx, steward("gaj"), spec); code(err) != ErrNotProvider.Code {
			t.Fatalf("another org derived: %v", err)
		}
		if _, err := e.s.Derive(e.ctx, steward("wjw"), DeriveSpec{SourceID: e.pub.ID, Fields: []string{"district"}, QIs: []string{"district"},
			Hierarchies: map[string]string{"district": "思明区;*"}, K: 5}); code(err) != ErrAlreadyOpen.Code {
			t.Fatalf("derived from an open entry: %v", err)
		}
		dv, err := e.s.Derive(e.ctx, steward("wjw"), spec)
		if err != nil {
			t.Fatal(err)
		}
		if dv.Result.MinClass < 5 || dv.Report.ProsecutorMax > 0.2 || dv.Report.Records == 0 {
			t.Fatalf("derivative not 5-anonymous: %+v %+v", dv.Result, dv.Report)
		}
		out, err := table.ParseCSV("d.csv", dv.CSV)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rows {
			if strings.ContainsAny(r[out.Col("full_name")], "陈林黄") || !strings.Contains(r[out.Col("age")], "-") && r[out.Col("age")] != "*" {
				t.Fatalf("derivative row not masked and generalised: %v", r)
			}
		}
		// Generalised rows repeat: the derivative's own key numbers them 1…n,
		// in an order that is not the source's.
		if out.Header[0] != DerivationKey || len(out.Rows) != dv.Report.Records {
			t.Fatalf("derivative header %v, %d rows", out.Header, len(out.Rows))
		}
		seenNo, ordered := map[string]bool{}, true
		for i, r := range out.Rows {
			seenNo[r[0]] = true
			ordered = ordered && r[0] == fmt.Sprintf("%02d", i+1) // zero-padded: text order is numeric order
		}
		if len(seenNo) != len(out.Rows) || !seenNo["01"] || !seenNo[fmt.Sprint(len(out.Rows))] || !ordered {
			t.Fatalf("row_no is not a key 1…n: %v", out.Rows[:3])
		}
		ageSeq := ""
		for _, r := range out.Rows[:20] {
			ageSeq += r[out.Col("age")] + ","
		}
		if again, _ := e.s.Derive(e.ctx, steward("wjw"), spec); again != nil {
			if ag, _ := table.ParseCSV("d.csv", again.CSV); ag != nil {
				seq := ""
				for _, r := range ag.Rows[:20] {
					seq += r[ag.Col("age")] + ","
				}
				if seq == ageSeq {
					t.Fatalf("two derivations list the rows in the same order: %s", seq)
				}
			}
		}
		// A mask on a QI applies before its generalisation: birth years
		// would be masked to the year, then generalised; here ages to ranges of 5.
		masked := spec
		masked.Masks = map[string]mask.Spec{"full_name": {Op: mask.OpSuppress}, "age": {Op: mask.OpGeneralize, To: mask.GenAgeRange, Width: 5}}
		var bands strings.Builder
		for a := 20; a < 60; a += 5 {
			fmt.Fprintf(&bands, "%d-%d;%d-%d;*\n", a, a+4, a/10*10, a/10*10+9)
		}
		masked.Hierarchies = map[string]string{"age": bands.String(), "gender": "男;*\n女;*\n"}
		if mdv, err := e.s.Derive(e.ctx, steward("wjw"), masked); err != nil || !strings.Contains(string(mdv.CSV), "-") {
			t.Fatalf("mask on a QI: %v", err)
		}
		// The org loads the derivative into its own entry (ingest in the
		// platform; the memory source here) and proposes opening it.
		lacking := e.publish("wjw", "慢性病随访统计（无序号）", catalog.Sharing{Attr: catalog.Conditional, Conditions: "待审核"}, nil, []catalog.Field{
			{Name: "age", Label: "年龄段", Type: "string", Level: catalog.LevelGeneral},
		})
		deriv := e.publish("wjw", "慢性病随访统计（匿名化）", catalog.Sharing{Attr: catalog.Conditional, Conditions: "待审核"}, nil, []catalog.Field{
			{Name: DerivationKey, Label: "记录序号", Type: "string", Level: catalog.LevelGeneral},
			{Name: "full_name", Label: "姓名（已隐去）", Type: "string", Level: catalog.LevelGeneral},
			{Name: "age", Label: "年龄段", Type: "string", Level: catalog.LevelGeneral},
			{Name: "gender", Label: "性别", Type: "string", Level: catalog.LevelGeneral},
			{Name: "diagnosis", Label: "诊断", Type: "string", Level: catalog.LevelGeneral},
		})
		proposal := OpeningPayload{Path: PathDerivative, Attr: catalog.Unconditional, Reason: "匿名化后满足5-匿名，重识别风险低于阈值", DerivationID: dv.ID}
		if _, err := e.s.ProposeOpening(e.ctx, steward("gaj"), deriv.ID, proposal); code(err) != ErrNotProvider.Code {
			t.Fatalf("another org proposed: %v", err)
		}
		if _, err := e.s.ProposeOpening(e.ctx, steward("wjw"), src.ID, proposal); code(err) != ErrDerivation.Code {
			t.Fatalf("proposed the source itself as its derivative: %v", err)
		}
		if _, err := e.s.ProposeOpening(e.ctx, steward("wjw"), lacking.ID, proposal); code(err) != ErrDerivativeEntry.Code {
			t.Fatalf("proposed an entry that cannot hold the derivative: %v", err)
		}
		c, err := e.s.ProposeOpening(e.ctx, steward("wjw"), deriv.ID, proposal)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(c.Payload), `"prosecutor_at_risk"`) || !strings.Contains(string(c.Payload), dv.ContentHash) {
			t.Fatalf("the case lacks the risk report: %s", c.Payload)
		}
		if _, err := e.act(steward("wjw"), c.ID, "approve", "自己批准"); err == nil {
			t.Fatal("the provider approved its own opening")
		}
		if _, err := e.act(authority, c.ID, "approve", "风险报告表明重识别风险可接受，同意开放"); err != nil {
			t.Fatal(err)
		}
		ops, err := e.s.Openings(e.ctx, deriv.ID)
		if err != nil || len(ops) != 1 || ops[0].Path != PathDerivative || ops[0].DerivationID != dv.ID {
			t.Fatalf("openings %+v %v", ops, err)
		}

		// (b) On the right holder's recorded consent.
		consent := &Consent{Holder: "某某科技有限公司", Credential: "91350200MA2600009X", GivenAt: e.clk.Now().Add(-24 * time.Hour),
			ExpiresAt: e.clk.Now().AddDate(1, 0, 0), Fields: []string{"age", "diagnosis"}, Use: "同意以无条件开放方式向社会公开", Evidence: "授权同意书 2026-0042 号"}
		bad := *consent
		bad.Evidence = ""
		if _, err := e.s.ProposeOpening(e.ctx, steward("wjw"), src.ID, OpeningPayload{Path: PathConsent, Attr: catalog.Unconditional,
			Reason: "权利人同意", Consent: &bad}); code(err) != ErrText.Code {
			t.Fatalf("consent without evidence: %v", err)
		}
		future := *consent
		future.GivenAt = e.clk.Now().Add(time.Hour)
		if _, err := e.s.ProposeOpening(e.ctx, steward("wjw"), src.ID, OpeningPayload{Path: PathConsent, Attr: catalog.Unconditional,
			Reason: "权利人同意", Consent: &future}); code(err) != ErrConsent.Code {
			t.Fatalf("consent given in the future: %v", err)
		}
		c2, err := e.s.ProposeOpening(e.ctx, steward("wjw"), src.ID, OpeningPayload{Path: PathConsent, Attr: catalog.Conditional,
			Conditions: "限科研使用", Reason: "数据权利人书面同意开放", Consent: consent})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.act(authority, c2.ID, "refuse", ""); err == nil {
			t.Fatal("refused without a reason")
		}
		if _, err := e.act(authority, c2.ID, "approve", "同意书真实有效，范围明确"); err != nil {
			t.Fatal(err)
		}
		if ops, _ := e.s.Openings(e.ctx, src.ID); len(ops) != 1 || ops[0].Path != PathConsent || ops[0].Attr != catalog.Conditional {
			t.Fatalf("consent opening %+v", ops)
		}
		// The ledger trail: the derivation and both decisions.
		seen := map[string]bool{}
		for _, ev := range append(e.ledgerEvents(ledger.Process), e.ledgerEvents(ledger.Decide)...) {
			seen[ev.Object] = true
		}
		for _, obj := range []string{"open/derivation/" + dv.ID, "open/conversion/" + c.ID, "open/conversion/" + c2.ID} {
			if !seen[obj] {
				t.Fatalf("no ledger event %s", obj)
			}
		}
	})
}
