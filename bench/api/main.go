// Command api compares an authenticated API call through the whole stack
// (request id, access log, metrics, bearer-token lookup in the store, JSON)
// with a bare net/http handler that writes the same JSON, over loopback.
// The governed call makes two indexed reads (token with its client and org,
// then the org for the answer) that the baseline does not; the 4x budget is
// for those reads plus logging and metrics.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"shuqiao/bench/harness"
	"shuqiao/internal/app"
	"shuqiao/internal/identity"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/api:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "shuqiao-bench-api")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(ctx, app.Config{DataDir: dir}, log, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	org, admin, pw, err := a.Identity.Bootstrap(ctx, identity.BootstrapInput{
		AuthorityName: "市大数据管理局", CreditCode: identity.MakeCreditCode("11350200MA2600000"), AdminUsername: "admin",
	})
	if err != nil {
		return err
	}
	p, err := a.Identity.Authenticate(ctx, admin.Username, pw, "bench")
	if err != nil {
		return err
	}
	client, err := a.Identity.CreateClient(ctx, p, identity.NewClient{OrgID: org.ID, Name: "bench", Roles: []identity.Role{identity.RoleDataSteward}, Scopes: []string{"api:read"}})
	if err != nil {
		return err
	}
	tok, err := a.Identity.IssueToken(ctx, p, client.ID, []string{"api:read"}, 24*time.Hour)
	if err != nil {
		return err
	}

	governedURL, stopG, err := serve(a.Handler())
	if err != nil {
		return err
	}
	defer stopG()
	body, _ := json.Marshal(map[string]any{"client_id": client.ID, "name": client.Name, "org": org, "roles": []string{"data_steward"}, "scopes": []string{"api:read"}})
	raw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	baseURL, stopB, err := serve(raw)
	if err != nil {
		return err
	}
	defer stopB()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(url string) func() error {
		return func() error {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", url, resp.Status)
			}
			return nil
		}
	}
	r, err := harness.Compare("GET /api/v1/me with bearer token", 2000, 4, get(governedURL+"/api/v1/me"), get(baseURL+"/"))
	if err != nil {
		return err
	}
	r.Note = "(full middleware + token lookup vs bare handler)"
	harness.Print(os.Stdout, []harness.Result{r})
	return nil
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
