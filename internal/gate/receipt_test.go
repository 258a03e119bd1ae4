package gate

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/catalog"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// TestReceiptVerifies: R-SHR-8. A delivered file verifies against its
// receipt offline: signature, content hash, ledger inclusion proof under a
// signed checkpoint, and the entry is the delivery's event. Any change to
// the file, the receipt or the key fails.
func TestReceiptVerifies(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		g := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"name", "age", "district"}, Purpose: "养老服务", Kind: KindConditional})
		file, d, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: CSV})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := f.gate.Receipt(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.SQLite {
			// The delivery's event was sequenced in its own commit: the
			// proof is there at once, under a checkpoint signed on demand.
			if rc.Ledger == nil {
				t.Fatal("no ledger proof for an event sequenced at commit")
			}
		} else {
			// Before integration: the signed statement alone verifies.
			if rc.Ledger != nil {
				t.Fatal("ledger proof before integration")
			}
			rj, _ := json.Marshal(rc)
			v, err := VerifyReceipt(file, rj, f.gate.ReceiptVerifierKey(), "")
			if err != nil || v.InLedger {
				t.Fatalf("statement only: %v %+v", err, v)
			}
		}
		f.integrate()
		rc, err = f.gate.Receipt(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Ledger == nil {
			t.Fatal("no ledger proof after integration")
		}
		rj, _ := json.Marshal(rc)
		v, err := VerifyReceipt(file, rj, f.gate.ReceiptVerifierKey(), f.led.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		st := v.Statement
		if !v.InLedger || !v.KeyPinned || !v.LedgerKeyPinned || st.GrantID != g.ID || st.Recipient.OrgID != "org-a" || st.Recipient.ClientID != "client-a" ||
			st.Purpose != "养老服务" || st.Records != 250 || st.Format != "csv" || !st.Time.Equal(d.Time) {
			t.Fatalf("verification: %+v", v)
		}
		// One byte changed in the file.
		bad := bytes.Clone(file)
		bad[len(bad)-2] ^= 1
		if _, err := VerifyReceipt(bad, rj, f.gate.ReceiptVerifierKey(), ""); err == nil || !strings.Contains(err.Error(), "not what was delivered") {
			t.Fatalf("tampered file: %v", err)
		}
		// The statement edited (recipient changed): the signature fails.
		forged := strings.Replace(string(rj), `\"org_id\":\"org-a\"`, `\"org_id\":\"org-b\"`, 1)
		if forged == string(rj) {
			t.Fatal("test did not edit the note")
		}
		if _, err := VerifyReceipt(file, []byte(forged), f.gate.ReceiptVerifierKey(), ""); err == nil {
			t.Fatal("forged receipt verified")
		}
		// A key other than the platform's.
		if _, err := VerifyReceipt(file, rj, f.led.VerifierKey(), ""); err == nil {
			t.Fatal("verified under the wrong key")
		}
		// The proof swapped for another entry's.
		var other Receipt
		_ = json.Unmarshal(rj, &other)
		other.Ledger.Entry = strings.Replace(other.Ledger.Entry, `"record_count":250`, `"record_count":249`, 1)
		oj, _ := json.Marshal(other)
		if _, err := VerifyReceipt(file, oj, "", ""); err == nil {
			t.Fatal("edited ledger entry verified")
		}
	})
}

// TestTraceSurvivesTransforms: R-SHR-5. Two recipients receive the same
// rows; each file, and each file after its columns and rows are shuffled,
// re-encoded CSV → XLSX (and XLSX → CSV), and cut to 10% of its rows,
// traces to its own grant and no other.
func TestTraceSurvivesTransforms(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		fields := []string{"id_card", "name", "age", "district", "income", "health"}
		ga := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: fields, Purpose: "医保核查", Kind: KindConditional, RowLimit: 250})
		gb := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-b", Fields: fields, Purpose: "医保核查", Kind: KindConditional, RowLimit: 250})
		fa, da, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Format: CSV})
		if err != nil {
			t.Fatal(err)
		}
		fb, _, err := f.deliver(Request{Principal: deptB, ResourceID: "res-people", Format: XLSX})
		if err != nil {
			t.Fatal(err)
		}
		// Values official decisions rest on are identical for both recipients.
		ra, rb := csvRows(t, fa), xlsxRows(t, fb)
		for i := 1; i < len(ra); i++ {
			if ra[i][2] != rb[i][2] || ra[i][3] != rb[i][3] || ra[i][0] != rb[i][0] || ra[i][1] != rb[i][1] {
				t.Fatalf("row %d differs in unmasked or partially masked values: %v vs %v", i, ra[i], rb[i])
			}
			if ra[i][4] == rb[i][4] {
				t.Fatalf("row %d: pseudonyms are the same for two recipients", i)
			}
		}
		check := func(name string, file []byte, want *Grant, exact bool) {
			t.Helper()
			tr, err := f.gate.Trace(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Matches) != 1 || tr.Matches[0].Grant.ID != want.ID || tr.Matches[0].Grant.GranteeOrgID != want.GranteeOrgID {
				t.Fatalf("%s: traced to %+v (tokens %d), want grant %s", name, tr.Matches, tr.Tokens, want.ID)
			}
			if len(tr.Matches[0].Deliveries) == 0 || tr.Matches[0].Deliveries[0].Recipient.OrgID != want.GranteeOrgID {
				t.Fatalf("%s: deliveries %+v", name, tr.Matches[0].Deliveries)
			}
			if exact != (len(tr.Exact) == 1) {
				t.Fatalf("%s: exact matches %d", name, len(tr.Exact))
			}
		}
		check("csv as delivered", fa, ga, true)
		check("xlsx as delivered", fb, gb, true)
		if tr, _ := f.gate.Trace(ctx, fa); tr.Exact[0].ID != da.ID {
			t.Fatal("exact match is not the delivery")
		}
		rng := rand.New(rand.NewPCG(7, 8))
		for _, c := range []struct {
			name string
			rows [][]string
			g    *Grant
		}{{"a", ra, ga}, {"b", rb, gb}} {
			shuffled := shuffle(rng, c.rows)
			check(c.name+" columns and rows shuffled, as CSV", writeCSV(shuffled), c.g, false)
			check(c.name+" re-encoded as XLSX", writeXLSX(t, shuffled), c.g, false)
			tenth := append([][]string{shuffled[0]}, shuffled[1:1+len(shuffled[1:])/10]...)
			check(c.name+" 10% of rows as XLSX", writeXLSX(t, tenth), c.g, false)
			check(c.name+" 10% of rows as CSV", writeCSV(tenth), c.g, false)
			one := [][]string{shuffled[0], shuffled[1]}
			check(c.name+" one row", writeCSV(one), c.g, false)
		}
		// Without pseudonymised cells nothing can be traced but exact files.
		plain := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age", "district"}, Purpose: "人口统计", Kind: KindUnconditional})
		pf, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", GrantID: plain.ID, Format: CSV})
		if err != nil {
			t.Fatal(err)
		}
		tr, _ := f.gate.Trace(ctx, pf)
		if len(tr.Matches) != 0 || len(tr.Exact) != 1 {
			t.Fatalf("plain: %+v", tr)
		}
		tr, _ = f.gate.Trace(ctx, append(pf, '\n'))
		if len(tr.Matches) != 0 || len(tr.Exact) != 0 {
			t.Fatalf("plain, changed: %+v", tr)
		}
	})
}

func csvRows(t *testing.T, b []byte) [][]string {
	rs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func xlsxRows(t *testing.T, b []byte) [][]string {
	x, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := x.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func shuffle(rng *rand.Rand, rows [][]string) [][]string {
	perm := rng.Perm(len(rows[0]))
	out := make([][]string, len(rows))
	for i, r := range rows {
		nr := make([]string, len(r))
		for j, k := range perm {
			nr[j] = r[k]
		}
		out[i] = nr
	}
	body := out[1:]
	rng.Shuffle(len(body), func(i, j int) { body[i], body[j] = body[j], body[i] })
	return out
}

func writeCSV(rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.WriteAll(rows)
	return b.Bytes()
}

func writeXLSX(t *testing.T, rows [][]string) []byte {
	x := excelize.NewFile()
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, v := range r {
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &cells); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := x.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestProxy: R-AGG-2. A service-interface resource is reached through the
// gate: decide, projection and masking of the upstream's answer, a ledger
// transmit event and a receipt; timeouts, a size limit, and no retry unless
// configured.
func TestProxy(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var calls atomic.Int32
		var mode atomic.Value
		mode.Store("ok")
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.Header.Get("Authorization") != "" {
				t.Error("caller credentials reached the upstream")
			}
			switch mode.Load() {
			case "slow":
				time.Sleep(300 * time.Millisecond)
			case "fail":
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			case "big":
				w.Write([]byte(`[` + strings.Repeat(`{"uscc":"x"},`, 20000) + `{"uscc":"y"}]`))
				return
			case "html":
				w.Write([]byte(`<html>`))
				return
			}
			fmt.Fprintf(w, `{"rows":[{"uscc":"91350200MA31234567","name":"厦门某公司","legal_id":"350203199001011234","score":%s,"extra":"not granted"}]}`, r.URL.Query().Get("score"))
		}))
		defer up.Close()
		f := newFixture(t, db)
		f.cat.mu.Lock()
		f.cat.res["res-svc"].Delivery.Endpoint = up.URL + "/credit"
		f.cat.mu.Unlock()
		// A timeout no healthy call reaches on a loaded machine; the slow
		// case below lowers it under the upstream's delay.
		f.gate.opts.Proxy.Timeout = 5 * time.Second
		f.gate.opts.Proxy.MaxBytes = 64 << 10
		g := f.grant(GrantSpec{ResourceID: "res-svc", GranteeOrgID: "org-a", Fields: []string{"uscc", "legal_id", "score"}, Purpose: "招投标信用核验", Kind: KindUnconditional})
		q := map[string][]string{"score": {"88"}}
		d, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptA, ResourceID: "res-svc"}, Query: q})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := d.Bytes()
		d.Close()
		var p page
		_ = json.Unmarshal(b, &p)
		if len(p.Rows) != 1 || p.Rows[0]["extra"] != nil || p.Rows[0]["name"] != nil || p.Rows[0]["score"].(float64) != 88 {
			t.Fatalf("proxied page: %s", b)
		}
		if id := p.Rows[0]["legal_id"].(string); id != "350203********1234" {
			t.Fatalf("legal_id not masked: %q", id)
		}
		if d.Receipt.Statement.Action != "transmit" || d.Receipt.Statement.GrantID != g.ID {
			t.Fatalf("receipt: %+v", d.Receipt.Statement)
		}
		// Fields outside the grant are refused before any upstream call.
		before := calls.Load()
		if _, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptA, ResourceID: "res-svc", Fields: []string{"name"}}}); codeOf(err) != "gate.field_not_granted" {
			t.Fatalf("field outside grant: %v", err)
		}
		if _, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptB, ResourceID: "res-svc"}}); codeOf(err) != "gate.no_grant" {
			t.Fatalf("no grant: %v", err)
		}
		if calls.Load() != before {
			t.Fatal("a refused call reached the upstream")
		}
		// Hosted endpoint for a service resource and vice versa.
		if _, err := f.gate.Deliver(ctx, Request{Principal: deptA, ResourceID: "res-svc"}); codeOf(err) != "gate.delivery_mode" {
			t.Fatalf("deliver on service: %v", err)
		}
		for _, c := range []struct{ mode, code string }{{"slow", "gate.upstream"}, {"big", "gate.upstream_too_large"}, {"html", "gate.upstream"}, {"fail", "gate.upstream"}} {
			mode.Store(c.mode)
			f.gate.opts.Proxy.Timeout = 5 * time.Second
			if c.mode == "slow" {
				f.gate.opts.Proxy.Timeout = 100 * time.Millisecond // the upstream takes 300 ms
			}
			before := calls.Load()
			_, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptA, ResourceID: "res-svc"}})
			if codeOf(err) != c.code {
				t.Fatalf("%s: %v", c.mode, err)
			}
			if n := calls.Load() - before; n != 1 {
				t.Fatalf("%s: %d upstream calls, want 1 (no retry by default)", c.mode, n)
			}
		}
		f.gate.opts.Proxy.Retries = 2
		before = calls.Load()
		if _, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptA, ResourceID: "res-svc"}}); codeOf(err) != "gate.upstream" {
			t.Fatal(err)
		}
		if n := calls.Load() - before; n != 3 {
			t.Fatalf("%d calls with 2 retries configured", n)
		}
		f.cat.mu.Lock()
		f.cat.res["res-svc"].Delivery.Mode = catalog.Hosted
		f.cat.mu.Unlock()
		if _, err := f.gate.Proxy(ctx, ProxyRequest{Request: Request{Principal: deptA, ResourceID: "res-svc"}}); codeOf(err) != "gate.delivery_mode" {
			t.Fatalf("proxy on hosted: %v", err)
		}
	})
}

// TestBatchedReceipts: R-SHR-8. The recorder signs a group commit's
// receipts under one signature over a Merkle root: each receipt still
// verifies alone against its own file, names no other delivery, and fails
// when its statement, its place in the batch or its path is changed.
func TestBatchedReceipts(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"name", "age", "district"}, Purpose: "养老服务", Kind: KindConditional})
		const n = 5
		ds := make([]*Delivery, n)
		jobs := make([]*recordJob, n)
		for i := range ds {
			d, err := f.gate.Prepare(ctx, Request{Principal: deptA, ResourceID: "res-people", Format: CSV, Limit: 10 + i})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ds[i], jobs[i] = d, &recordJob{d: d}
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return f.gate.rec.write(ctx, tx, jobs) }); err != nil {
			t.Fatal(err)
		}
		f.integrate()
		files := make([][]byte, n)
		receipts := make([][]byte, n)
		for i, d := range ds {
			d.recorded = true
			files[i], _ = d.Bytes()
			if !strings.HasPrefix(d.Receipt.Note, batchedType+"\n") {
				t.Fatalf("receipt %d is not batched: %.40q", i, d.Receipt.Note)
			}
			for j, o := range ds {
				if j != i && strings.Contains(d.Receipt.Note, o.ID) {
					t.Fatalf("receipt %d names delivery %d", i, j)
				}
			}
			rc, err := f.gate.Receipt(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			receipts[i], _ = json.Marshal(rc)
			v, err := VerifyReceipt(files[i], receipts[i], f.gate.ReceiptVerifierKey(), f.led.VerifierKey())
			if err != nil {
				t.Fatalf("receipt %d: %v", i, err)
			}
			if !v.InLedger || v.Statement.DeliveryID != d.ID || v.Statement.Records != 10+i {
				t.Fatalf("receipt %d: %+v", i, v)
			}
		}
		// Another delivery's file does not verify under this receipt.
		if _, err := VerifyReceipt(files[1], receipts[0], f.gate.ReceiptVerifierKey(), ""); err == nil {
			t.Fatal("file 1 verified under receipt 0")
		}
		edit := func(i int, fn func(string) string) []byte {
			var rc Receipt
			_ = json.Unmarshal(receipts[i], &rc)
			before := rc.Note
			rc.Note = fn(rc.Note)
			if rc.Note == before {
				t.Fatal("the edit changed nothing")
			}
			b, _ := json.Marshal(rc)
			return b
		}
		lines := func(note string) []string { return strings.SplitN(note, "\n", 4) }
		for name, forged := range map[string][]byte{
			// The recipient changed in the statement line.
			"statement": edit(2, func(s string) string { return strings.Replace(s, `"org_id":"org-a"`, `"org_id":"org-b"`, 1) }),
			// The index moved to a neighbour's leaf.
			"index": edit(2, func(s string) string {
				l := lines(s)
				l[2] = "3" + l[2][1:]
				return strings.Join(l, "\n")
			}),
			// One hash of the path swapped.
			"path": edit(2, func(s string) string {
				l := lines(s)
				f := strings.Fields(l[2])
				p := strings.Split(f[2], ",")
				p[0] = p[len(p)-1][:len(p[len(p)-1])-2] + "AA"
				l[2] = f[0] + " " + f[1] + " " + strings.Join(p, ",")
				return strings.Join(l, "\n")
			}),
		} {
			if _, err := VerifyReceipt(files[2], forged, f.gate.ReceiptVerifierKey(), ""); err == nil {
				t.Fatalf("%s: forged batched receipt verified", name)
			}
		}
	})
}
