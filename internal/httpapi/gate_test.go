package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

func init() {
	// The contract check reads NDJSON bodies as opaque text.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
}

// clientOf registers an API client of org with a read/write token.
func (e *env) clientOf(admin *user, orgID, name string) (*user, string) {
	e.t.Helper()
	c := admin.want(http.StatusCreated, admin.do("POST", "/api/v1/orgs/"+orgID+"/clients", map[string]any{
		"name": name, "roles": []string{"developer"}, "scopes": []string{"api:read", "api:write"},
	})).json(e.t)
	tok := admin.want(http.StatusCreated, admin.do("POST", "/api/v1/clients/"+c["id"].(string)+"/tokens", map[string]any{"ttl_days": 30})).json(e.t)
	u := e.anon()
	u.bearer = tok["token"].(string)
	return u, c["id"].(string)
}

// The gate over HTTP: a consumer org's business application reads a hosted
// resource in every format under a grant, gets a receipt that verifies
// offline, and is refused outside the grant. R-SHR-2, R-SHR-4, R-SHR-5,
// R-SHR-8, R-SHR-10, R-SEC-3, R-AGG-2.
func TestGateAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, provider := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 11)
		consumerID, _, _ := e.catalogOrg(root, "mzj", "市民政局", identity.KindDepartment, 12)
		otherID, _, _ := e.catalogOrg(root, "jyj", "市教育局", identity.KindDepartment, 13)
		app, clientID := e.clientOf(root, consumerID, "低保核查系统")
		other, _ := e.clientOf(root, otherID, "招生系统")
		anon := e.anon()

		d := provider.want(http.StatusCreated, provider.do("POST", "/api/v1/catalog/resources", catalogEntry("常住人口基本信息"))).json(t)
		resID := d["resource_id"].(string)
		provider.want(http.StatusOK, provider.do("POST", "/api/v1/catalog/resources/"+resID+"/publish", map[string]any{"reason": "首次发布"}))

		rows := gate.NewMemorySource()
		var keys []string
		var data []map[string]any
		for i := 0; i < 30; i++ {
			keys = append(keys, fmt.Sprintf("%04d", i))
			data = append(data, map[string]any{"id_card": fmt.Sprintf("35020319900101%03d%d", i, i%10), "full_name": []string{"张伟", "李娜", "王芳"}[i%3]})
		}
		rows.Put(resID, keys, data)
		e.app.Gate.UseRows(rows)

		// No grant yet: refused, with the reason, for everyone.
		r := app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+resID, nil))
		if r.code(t) != "gate.no_grant" {
			t.Fatalf("no grant: %s", r.body)
		}
		r = anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/data/"+resID, nil))
		if r.code(t) != "gate.sign_in" {
			t.Fatalf("anonymous: %s", r.body)
		}
		// Share creates the grant inside its own transaction.
		var g *gate.Grant
		if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
			var err error
			g, err = e.app.Gate.CreateGrant(ctx, tx, identity.Principal{UserID: "approver", OrgID: "auth"}, gate.GrantSpec{
				ResourceID: resID, GranteeOrgID: consumerID, GranteeClientID: clientID, Fields: []string{"id_card", "full_name"},
				Purpose: "最低生活保障资格核查", Kind: gate.KindConditional, RowLimit: 20,
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}

		r = app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+resID+"?limit=5&fields=full_name,id_card", nil))
		var page struct {
			Fields []string         `json:"fields"`
			Rows   []map[string]any `json:"rows"`
			Next   string           `json:"next_cursor"`
		}
		_ = json.Unmarshal(r.body, &page)
		if len(page.Rows) != 5 || page.Next == "" || r.header.Get("Shuqiao-Next-Cursor") != page.Next || r.header.Get("Shuqiao-Grant-Id") != g.ID {
			t.Fatalf("page: %s %v", r.body, r.header)
		}
		if n := page.Rows[0]["full_name"].(string); n != "张*" {
			t.Fatalf("name not masked: %q", n)
		}
		if id := page.Rows[0]["id_card"].(string); len(id) != 32 {
			t.Fatalf("important id_card not pseudonymised: %q", id)
		}
		r = app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+resID+"?limit=5&cursor="+page.Next, nil))
		// Formats.
		for _, f := range []string{"ndjson", "csv", "xlsx"} {
			r = app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+resID+"?format="+f+"&filter="+url.QueryEscape(`full_name ~ "张"`), nil))
			if r.header.Get("Shuqiao-Records") != "10" {
				t.Fatalf("%s: records %s", f, r.header.Get("Shuqiao-Records"))
			}
		}
		csvResp := app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+resID+"?format=csv", nil))
		if csvResp.header.Get("Shuqiao-Records") != "20" {
			t.Fatalf("row limit: %s", csvResp.header.Get("Shuqiao-Records"))
		}
		// Outside the grant.
		for q, code := range map[string]string{
			"?filter=" + url.QueryEscape(`age > 3`):     "gate.filter_field_not_granted",
			"?fields=id_card,age":                       "gate.field_not_granted",
			"?purpose=" + url.QueryEscape("商业营销"):       "gate.purpose_mismatch",
			"?filter=" + url.QueryEscape(`full_name ~`): "gate.bad_filter",
		} {
			r = app.do("GET", "/api/v1/data/"+resID+q, nil)
			if r.code(t) != code {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
		}
		r = other.want(http.StatusForbidden, other.do("GET", "/api/v1/data/"+resID+"?grant="+g.ID, nil))
		if r.code(t) != "gate.no_grant" {
			t.Fatalf("other org: %s", r.body)
		}
		// A person of the consumer org is not the bound client.
		// (Grants bound to a client serve that application only.)

		// The receipt: in the headers at once, complete with the ledger proof
		// after integration, and it verifies the file offline (R-SHR-8).
		note, _ := base64.StdEncoding.DecodeString(csvResp.header.Get("Shuqiao-Receipt"))
		if !strings.HasPrefix(string(note), gate.StatementType+"\n") {
			t.Fatalf("receipt header: %q", note)
		}
		if err := e.app.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		delivery := csvResp.header.Get("Shuqiao-Delivery-Id")
		rc := app.want(http.StatusOK, app.do("GET", "/api/v1/receipts/"+delivery, nil))
		v, err := gate.VerifyReceipt(csvResp.body, rc.body, e.app.Gate.ReceiptVerifierKey(), e.app.Ledger.VerifierKey())
		if err != nil || !v.InLedger || v.Statement.Recipient.OrgID != consumerID || v.Statement.Purpose != "最低生活保障资格核查" {
			t.Fatalf("verify: %v %+v", err, v)
		}
		if _, err := gate.VerifyReceipt(append(csvResp.body, ' '), rc.body, e.app.Gate.ReceiptVerifierKey(), ""); err == nil {
			t.Fatal("a changed file verified")
		}
		other.want(http.StatusNotFound, other.do("GET", "/api/v1/receipts/"+delivery, nil))
		provider.want(http.StatusOK, provider.do("GET", "/api/v1/receipts/"+delivery, nil))
		root.want(http.StatusOK, root.do("GET", "/api/v1/receipts/"+delivery, nil))

		// Grants: the grantee and the provider see it, others do not.
		gl := app.want(http.StatusOK, app.do("GET", "/api/v1/grants", nil)).json(t)
		if len(gl["items"].([]any)) != 1 {
			t.Fatalf("grants: %v", gl)
		}
		provider.want(http.StatusOK, provider.do("GET", "/api/v1/grants/"+g.ID, nil))
		other.want(http.StatusNotFound, other.do("GET", "/api/v1/grants/"+g.ID, nil))
		if pl := provider.want(http.StatusOK, provider.do("GET", "/api/v1/grants?resource="+resID, nil)).json(t); len(pl["items"].([]any)) != 1 {
			t.Fatalf("provider's grants: %v", pl)
		}

		// R-SHR-10: suspended, calls fail with a clear error.
		if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := e.app.Gate.SuspendGrant(ctx, tx, identity.Principal{UserID: "approver", OrgID: "auth"}, g.ID, "超出场景使用")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		app.lang = "en"
		r = app.want(http.StatusForbidden, app.do("GET", "/api/v1/data/"+resID, nil))
		if r.code(t) != "gate.grant_suspended" || !strings.Contains(string(r.body), "超出场景使用") {
			t.Fatalf("suspended: %s", r.body)
		}
	})
}

// A service-interface resource called through the gate (R-AGG-2).
func TestGateProxyAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("fields") != "" || r.Header.Get("X-Shuqiao-Grant") == "" {
				t.Errorf("upstream got gate parameters or no grant header: %s", r.URL)
			}
			fmt.Fprintf(w, `[{"id_card":"350203199001011234","full_name":"%s"}]`, r.URL.Query().Get("who"))
		}))
		defer up.Close()
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		_, _, provider := e.catalogOrg(root, "gaj", "市公安局", identity.KindDepartment, 21)
		consumerID, _, _ := e.catalogOrg(root, "mzj", "市民政局", identity.KindDepartment, 22)
		app, _ := e.clientOf(root, consumerID, "核验系统")
		entry := catalogEntry("人口核验接口")
		entry["delivery"] = map[string]any{"mode": "service", "endpoint": up.URL + "/verify"}
		resID := provider.want(http.StatusCreated, provider.do("POST", "/api/v1/catalog/resources", entry)).json(t)["resource_id"].(string)
		provider.want(http.StatusOK, provider.do("POST", "/api/v1/catalog/resources/"+resID+"/publish", map[string]any{"reason": "发布"}))
		if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := e.app.Gate.CreateGrant(ctx, tx, identity.Principal{UserID: "approver"}, gate.GrantSpec{
				ResourceID: resID, GranteeOrgID: consumerID, Fields: []string{"full_name"}, Purpose: "身份核验", Kind: gate.KindUnconditional,
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r := app.want(http.StatusOK, app.do("GET", "/api/v1/data/"+resID+"/call?who="+url.QueryEscape("张三丰")+"&fields=full_name", nil))
		if !bytes.Contains(r.body, []byte(`"full_name":"张**"`)) || bytes.Contains(r.body, []byte("350203")) {
			t.Fatalf("proxied: %s", r.body)
		}
		r = app.do("GET", "/api/v1/data/"+resID, nil)
		if r.code(t) != "gate.delivery_mode" {
			t.Fatalf("hosted endpoint on a service resource: %s", r.body)
		}
	})
}
