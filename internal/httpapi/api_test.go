package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

type env struct {
	t     *testing.T
	app   *app.App
	clock *clock.Fake
	srv   *httptest.Server
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(context.Background(), db, app.Config{DataDir: t.TempDir()}, log, clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, app: a, clock: clk, srv: srv}
}

// user is an HTTP client with its own cookie jar, checked against the contract.
type user struct {
	e      *env
	hc     *http.Client
	csrf   string
	bearer string
	lang   string
}

func (e *env) anon() *user {
	jar, _ := cookiejar.New(nil)
	return &user{e: e, hc: &http.Client{Jar: jar, Transport: &contractTransport{t: e.t, router: loadContract(e.t), next: http.DefaultTransport}}}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r resp) code(t *testing.T) string {
	t.Helper()
	c, _ := r.json(t)["code"].(string)
	return c
}

func (u *user) raw(method, path, contentType string, body []byte) resp {
	u.e.t.Helper()
	req, err := http.NewRequest(method, u.e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		u.e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u.csrf != "" {
		req.Header.Set("X-CSRF-Token", u.csrf)
	}
	if u.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+u.bearer)
	}
	if u.lang != "" {
		req.Header.Set("Accept-Language", u.lang)
	}
	res, err := u.hc.Do(req)
	if err != nil {
		u.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (u *user) do(method, path string, body any) resp {
	u.e.t.Helper()
	var b []byte
	ct := ""
	if body != nil {
		b, _ = json.Marshal(body)
		ct = "application/json"
	}
	return u.raw(method, path, ct, b)
}

func (u *user) want(status int, r resp) resp {
	u.e.t.Helper()
	if r.status != status {
		u.e.t.Fatalf("want status %d, got %d: %s", status, r.status, r.body)
	}
	return r
}

func (e *env) login(username, password string) *user {
	e.t.Helper()
	u := e.anon()
	r := u.want(http.StatusOK, u.do("POST", "/api/v1/auth/login", map[string]string{"username": username, "password": password}))
	u.csrf = r.json(e.t)["csrf_token"].(string)
	return u
}

// bootstrap creates the authority and returns its admin, signed in.
func (e *env) bootstrap() (*user, identity.Org) {
	e.t.Helper()
	org, admin, pw, err := e.app.Identity.Bootstrap(context.Background(), identity.BootstrapInput{
		AuthorityName: "市大数据管理局", NameEN: "Municipal Big Data Administration",
		CreditCode: identity.MakeCreditCode("11350200MA2600000"), AdminUsername: "admin", AdminDisplayName: "管理员",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	u := e.login(admin.Username, pw)
	// A one-time password allows nothing but changing it.
	r := u.want(http.StatusForbidden, u.do("GET", "/api/v1/orgs/"+org.ID+"/users", nil))
	if r.code(e.t) != "identity.must_change_password" {
		e.t.Fatalf("code %q", r.code(e.t))
	}
	u.want(http.StatusNoContent, u.do("POST", "/api/v1/me/password", map[string]string{"old_password": pw, "new_password": "correct-horse-42"}))
	return u, org
}

// The foundation's "done when": an org admin signs in, registers an API
// client, issues a token and calls the API with it; revoking the token ends
// that. R-SEC-3 (identity authentication, access control).
func TestOrgAdminClientTokenFlow(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()

		r := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
			"name": "市自来水有限公司", "name_en": "City Water Supply", "kind": "public_service",
			"credit_code": identity.MakeCreditCode("91350200MA2600028"),
		}))
		orgID := r.json(t)["id"].(string)

		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+orgID+"/users", map[string]any{
			"username": "water.admin", "display_name": "自来水管理员", "password": "water-admin-2026", "roles": []string{"admin"},
		}))
		admin := e.login("water.admin", "water-admin-2026")
		me := admin.want(http.StatusOK, admin.do("GET", "/api/v1/me", nil)).json(t)
		if me["org"].(map[string]any)["id"] != orgID {
			t.Fatalf("me: wrong org: %v", me)
		}

		c := admin.want(http.StatusCreated, admin.do("POST", "/api/v1/orgs/"+orgID+"/clients", map[string]any{
			"name": "营业厅系统", "roles": []string{"data_steward"}, "scopes": []string{"api:read", "api:write"},
		})).json(t)
		tok := admin.want(http.StatusCreated, admin.do("POST", "/api/v1/clients/"+c["id"].(string)+"/tokens", map[string]any{
			"scopes": []string{"api:read"}, "ttl_days": 30,
		})).json(t)
		secret := tok["token"].(string)
		if !strings.HasPrefix(secret, "sq_") {
			t.Fatalf("token %q", secret)
		}

		app := e.anon()
		app.bearer = secret
		me = app.want(http.StatusOK, app.do("GET", "/api/v1/me", nil)).json(t)
		if me["client_id"] != c["id"] {
			t.Fatalf("token principal: %v", me)
		}
		// A read-only token may not change anything.
		r = app.want(http.StatusForbidden, app.do("POST", "/api/v1/orgs/"+orgID+"/clients", map[string]any{"name": "x"}))
		if r.code(t) != "http.token_scope" {
			t.Fatalf("code %q", r.code(t))
		}
		// The token list never shows the secret.
		list := admin.want(http.StatusOK, admin.do("GET", "/api/v1/clients/"+c["id"].(string)+"/tokens", nil))
		if bytes.Contains(list.body, []byte(secret)) {
			t.Fatal("token list leaks the secret")
		}

		admin.want(http.StatusNoContent, admin.do("POST", "/api/v1/tokens/"+tok["id"].(string)+"/revoke", nil))
		r = app.want(http.StatusUnauthorized, app.do("GET", "/api/v1/me", nil))
		if r.code(t) == "" || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("revoked token: %s", r.body)
		}
	})
}

func TestTokenExpiry(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, org := e.bootstrap()
		c := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+org.ID+"/clients", map[string]any{
			"name": "监管系统", "roles": []string{"reviewer"}, "scopes": []string{"api:read"},
		})).json(t)
		tok := root.want(http.StatusCreated, root.do("POST", "/api/v1/clients/"+c["id"].(string)+"/tokens", map[string]any{"ttl_days": 1})).json(t)
		app := e.anon()
		app.bearer = tok["token"].(string)
		app.want(http.StatusOK, app.do("GET", "/api/v1/me", nil))
		e.clock.Advance(25 * time.Hour)
		r := app.want(http.StatusUnauthorized, app.do("GET", "/api/v1/me", nil))
		if !strings.Contains(r.code(t), "expired") {
			t.Fatalf("want an expiry code, got %q", r.code(t))
		}
	})
}

// A session may change state only with its CSRF token.
func TestCSRF(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, org := e.bootstrap()
		good := root.csrf
		root.csrf = ""
		r := root.want(http.StatusForbidden, root.do("POST", "/api/v1/orgs/"+org.ID+"/clients", map[string]any{"name": "x"}))
		if r.code(t) != "http.csrf" {
			t.Fatalf("code %q", r.code(t))
		}
		root.csrf = "wrong"
		root.want(http.StatusForbidden, root.do("POST", "/api/v1/orgs/"+org.ID+"/clients", map[string]any{"name": "x"}))
		// Reads need no CSRF token.
		root.want(http.StatusOK, root.do("GET", "/api/v1/me", nil))
		root.csrf = good
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+org.ID+"/clients", map[string]any{"name": "x", "roles": []string{"reviewer"}, "scopes": []string{"api:read"}}))
	})
}

// Role checks through the API. R-SEC-3.
func TestRoles(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		var ids []string
		for i, name := range []string{"市公安局", "市民政局"} {
			r := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
				"name": name, "kind": "department", "credit_code": identity.MakeCreditCode("11350200MA260010" + string(rune('1'+i))),
			}))
			ids = append(ids, r.json(t)["id"].(string))
		}
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+ids[0]+"/users", map[string]any{
			"username": "gaj.admin", "display_name": "公安管理员", "password": "gaj-admin-2026", "roles": []string{"admin"},
		}))
		a := e.login("gaj.admin", "gaj-admin-2026")
		// An org admin creates no orgs,
		a.want(http.StatusForbidden, a.do("POST", "/api/v1/orgs", map[string]any{
			"name": "伪造局", "kind": "department", "credit_code": identity.MakeCreditCode("11350200MA2600199"),
		}))
		// no users in another org,
		a.want(http.StatusForbidden, a.do("POST", "/api/v1/orgs/"+ids[1]+"/users", map[string]any{
			"username": "mz.x", "display_name": "x", "password": "mz-x-password-1", "roles": []string{"admin"},
		}))
		// and grants no platform roles,
		a.want(http.StatusForbidden, a.do("POST", "/api/v1/orgs/"+ids[0]+"/users", map[string]any{
			"username": "gaj.boss", "display_name": "x", "password": "gaj-boss-password-1", "roles": []string{"authority_admin"},
		}))
		// but manages its own org's staff.
		a.want(http.StatusCreated, a.do("POST", "/api/v1/orgs/"+ids[0]+"/users", map[string]any{
			"username": "gaj.steward", "display_name": "数据专员", "password": "gaj-steward-2026", "roles": []string{"data_steward"},
		}))
		s := e.login("gaj.steward", "gaj-steward-2026")
		s.want(http.StatusForbidden, s.do("GET", "/api/v1/orgs/"+ids[0]+"/users", nil))
		// The org admin disables the steward, whose session ends at once.
		users := a.want(http.StatusOK, a.do("GET", "/api/v1/orgs/"+ids[0]+"/users", nil)).json(t)["items"].([]any)
		var stewardID string
		for _, u := range users {
			if m := u.(map[string]any); m["username"] == "gaj.steward" {
				stewardID = m["id"].(string)
			}
		}
		a.want(http.StatusOK, a.do("POST", "/api/v1/users/"+stewardID+"/disable", nil))
		s.want(http.StatusUnauthorized, s.do("GET", "/api/v1/me", nil))
		a.want(http.StatusOK, a.do("POST", "/api/v1/users/"+stewardID+"/enable", nil))
		e.login("gaj.steward", "gaj-steward-2026")
		// Anonymous callers see the public org directory but nothing else.
		anon := e.anon()
		list := anon.want(http.StatusOK, anon.do("GET", "/api/v1/orgs?kind=department", nil)).json(t)
		if n := len(list["items"].([]any)); n != 2 {
			t.Fatalf("want 2 departments, got %d", n)
		}
		anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/me", nil))
	})
}

// Bad input gets a clear problem+json error with the right status and place,
// and writes nothing.
func TestBadInput(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		check := func(r resp, status int, code, field string) {
			t.Helper()
			if r.status != status {
				t.Fatalf("want %d, got %d: %s", status, r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			m := r.json(t)
			if code != "" && m["code"] != code {
				t.Fatalf("want code %s, got %v", code, m["code"])
			}
			if field != "" && m["field"] != field {
				t.Fatalf("want field %s, got %v", field, m["field"])
			}
			if m["detail"] == "" {
				t.Fatal("no detail")
			}
		}
		goodCode := identity.MakeCreditCode("11350200MA2600300")
		badCheck := goodCode[:17] + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[(strings.IndexByte("0123456789ABCDEFGHJKLMNPQRTUWXY", goodCode[17])+1)%31])
		r := root.do("POST", "/api/v1/orgs", map[string]any{"name": "x局", "kind": "department", "credit_code": badCheck})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad check character: %d %s", r.status, r.body)
		}
		r = root.do("POST", "/api/v1/orgs", map[string]any{"name": "x局", "kind": "department", "credit_code": "123"})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("short credit code: %d %s", r.status, r.body)
		}
		check(root.do("POST", "/api/v1/orgs", map[string]any{"name": "x局", "kind": "department", "credit_code": goodCode, "colour": "red"}),
			http.StatusUnprocessableEntity, "http.unknown_field", "colour")
		check(root.raw("POST", "/api/v1/orgs", "text/plain", []byte(`{}`)), http.StatusUnsupportedMediaType, "http.unsupported_media_type", "")
		check(root.raw("POST", "/api/v1/orgs", "application/json", []byte(`{"name": `)), http.StatusBadRequest, "http.bad_json", "")
		check(root.raw("POST", "/api/v1/orgs", "application/json", append([]byte(`{"name":"`), append(bytes.Repeat([]byte("长"), 1<<19), '"', '}')...)),
			http.StatusRequestEntityTooLarge, "http.body_too_large", "")
		// Nothing was written by any of these.
		anon := e.anon()
		list := anon.want(http.StatusOK, anon.do("GET", "/api/v1/orgs", nil)).json(t)
		if n := len(list["items"].([]any)); n != 1 {
			t.Fatalf("want only the authority, got %d orgs", n)
		}
		// Wrong passwords get a 401 without saying which part was wrong.
		r = anon.do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "wrong-password"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", r.status, r.body)
		}
		r2 := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": "nobody", "password": "wrong-password"})
		if r2.status != http.StatusUnauthorized || r2.code(t) != r.code(t) {
			t.Fatalf("unknown user must look like a wrong password: %s vs %s", r2.body, r.body)
		}
	})
}

// Errors follow Accept-Language: Chinese by default, English on request.
func TestProblemLanguage(t *testing.T) {
	e := newEnv(t, storetest.OpenTestSQLite(t))
	u := e.anon()
	zh := u.want(http.StatusUnauthorized, u.do("GET", "/api/v1/me", nil)).json(t)["detail"].(string)
	u.lang = "en-GB,en;q=0.9"
	en := u.want(http.StatusUnauthorized, u.do("GET", "/api/v1/me", nil)).json(t)["detail"].(string)
	if zh == en || !strings.ContainsRune(zh, '登') || strings.ContainsRune(en, '登') {
		t.Fatalf("zh %q en %q", zh, en)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	e := newEnv(t, storetest.OpenTestSQLite(t))
	u := e.anon()
	u.want(http.StatusOK, u.do("GET", "/healthz", nil))
	u.want(http.StatusOK, u.do("GET", "/readyz", nil))
	plain := &http.Client{}
	for _, p := range []string{"/metrics", "/api/v1/openapi.yaml"} {
		res, err := plain.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
		if p == "/metrics" && !bytes.Contains(b, []byte("shuqiao_http_requests_total")) {
			t.Fatalf("metrics lack request counter")
		}
	}
	res, err := plain.Get(e.srv.URL + "/api/v1/no-such-thing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("unknown route: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestHomePage(t *testing.T) {
	e := newEnv(t, storetest.OpenTestSQLite(t))
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(b, []byte("数桥")) {
		t.Fatalf("home: %d", res.StatusCode)
	}
}

// Metrics are labelled by route and access logs name the caller, though
// both are learnt by layers inside the logging middleware.
func TestAccessLogAndMetricsKnowRouteAndCaller(t *testing.T) {
	db := storetest.OpenTestSQLite(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := app.New(context.Background(), db, app.Config{DataDir: t.TempDir()}, log, clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	e := &env{t: t, app: a, srv: srv}
	root, _ := e.bootstrap()
	root.want(http.StatusOK, root.do("GET", "/api/v1/me", nil))
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(b, []byte(`route="GET /api/v1/me"`)) {
		t.Fatalf("metrics lack the route label:\n%s", b)
	}
	if !regexp.MustCompile(`path=/api/v1/me route="GET /api/v1/me" status=200 .* user=\S{8,}`).Match(logs.Bytes()) {
		t.Fatalf("access log lacks the route or the caller:\n%s", logs.String())
	}
}
