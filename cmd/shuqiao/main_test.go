package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// run executes the CLI in-process with args and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("shuqiao %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func find(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %q in:\n%s", re, s)
	}
	return m[1]
}

// The administration commands work end to end on a fresh data folder.
func TestAdminCommands(t *testing.T) {
	data := t.TempDir()
	d := "--data=" + data
	// Listing works on an empty store; creating needs an authority first.
	mustRun(t, "admin", "org", "list", d)
	if _, err := run(t, "admin", "org", "create", d, "--name", "市公安局", "--credit-code", identity.MakeCreditCode("11350200MA2600001")); err == nil || !strings.Contains(err.Error(), "bootstrap") {
		t.Fatalf("create before bootstrap: want a hint to bootstrap, got %v", err)
	}
	out := mustRun(t, "admin", "bootstrap", d, "--credit-code", identity.MakeCreditCode("11350200MA2600000"))
	if pw := find(t, `一次性密码: (\S+)`, out); len(pw) < 10 {
		t.Fatalf("one-time password %q", pw)
	}
	if _, err := run(t, "admin", "bootstrap", d, "--credit-code", identity.MakeCreditCode("11350200MA2600009")); err == nil {
		t.Fatal("a second bootstrap must fail")
	}
	// A bad credit code is refused with the rule it broke.
	if _, err := run(t, "admin", "org", "create", d, "--name", "市公安局", "--credit-code", "11350200MA26000010"); err == nil {
		t.Fatal("bad credit code accepted")
	}
	out = mustRun(t, "admin", "org", "create", d, "--name", "市公安局", "--kind", "department", "--credit-code", identity.MakeCreditCode("11350200MA2600001"))
	orgID := find(t, `^(\S+)\t`, out)
	out = mustRun(t, "admin", "org", "list", d, "--kind", "department")
	if !strings.Contains(out, "市公安局") {
		t.Fatalf("org list: %s", out)
	}
	out = mustRun(t, "admin", "user", "create", d, "--org", orgID, "--username", "gaj.admin", "--name", "管理员", "--roles", "admin")
	find(t, `一次性密码: (\S+)`, out)
	out = mustRun(t, "admin", "client", "create", d, "--org", orgID, "--name", "警务系统", "--scopes", "api:read")
	clientID := find(t, `\((\S+)\)`, out)
	out = mustRun(t, "admin", "token", "issue", d, "--client", clientID, "--scopes", "api:read", "--ttl-days", "7")
	tokenID := find(t, `token id: (\S+)`, out)
	if !strings.Contains(out, "sq_") {
		t.Fatalf("token not printed: %s", out)
	}
	mustRun(t, "admin", "token", "revoke", d, "--id", tokenID)
	out = mustRun(t, "migrate", d)
	if !strings.Contains(out, "migrated") {
		t.Fatal(out)
	}
	// Each administrative step is a ledger event, integrated before the
	// command exits, so the folder verifies without a server having run.
	mustRun(t, "ledger", "verify", d)
	testLedgerEvents(t, data)
}

// 'ledger events' pages through events by filter, and finds the events
// about a file by its content (R-SEC-2, R-SHR-5).
func testLedgerEvents(t *testing.T, data string) {
	d := "--data=" + data
	out := mustRun(t, "ledger", "events", d, "--action", "admin", "--limit", "2")
	if strings.Count(out, "\tadmin\t") != 2 {
		t.Fatalf("a page of 2 admin events:\n%s", out)
	}
	next := find(t, `more: --after (\d+)`, out)
	out = mustRun(t, "ledger", "events", d, "--action", "admin", "--limit", "2", "--after", next)
	if strings.Count(out, "\tadmin\t") != 2 || strings.HasPrefix(out, next+"\t") {
		t.Fatalf("the next page:\n%s", out)
	}
	// An event about a file, recorded as the platform records a delivery.
	file := filepath.Join(t.TempDir(), "leaked.csv")
	if err := os.WriteFile(file, []byte("name,age\n张*,42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	sum := sha256.Sum256(b)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.New(ctx, db, clock.Real{}, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return led.Append(ctx, tx, ledger.Event{ActorKind: ledger.ActorClient, ActorID: "client-x", OrgID: "org-x", Action: ledger.Provide,
			ResourceID: "res-x", GrantID: "grant-x", RecordCount: 1, ContentHash: hex.EncodeToString(sum[:])})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out = mustRun(t, "ledger", "events", d, "--file", file)
	if !strings.Contains(out, "provide") || !strings.Contains(out, "grant grant-x") || strings.Count(out, "\n") != 1 {
		t.Fatalf("events about the file:\n%s", out)
	}
	if out := mustRun(t, "ledger", "events", d, "--content-hash", strings.Repeat("0", 64)); !strings.Contains(out, "no events") {
		t.Fatalf("an unknown content hash:\n%s", out)
	}
	for _, bad := range [][]string{{"--content-hash", "not-a-hash"}, {"--since", "yesterday"}, {"--action", "steal"}} {
		if _, err := run(t, append([]string{"ledger", "events", d}, bad...)...); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}

// Every flag can come from a SHUQIAO_* variable; the command line wins.
func TestEnvironmentVariables(t *testing.T) {
	data := t.TempDir()
	t.Setenv("SHUQIAO_DATA", data)
	t.Setenv("SHUQIAO_LOG_LEVEL", "warn")
	out := mustRun(t, "migrate")
	if !strings.Contains(out, data) {
		t.Fatalf("SHUQIAO_DATA ignored: %s", out)
	}
	t.Setenv("SHUQIAO_LOG_LEVEL", "loud")
	if _, err := run(t, "migrate"); err == nil || !strings.Contains(err.Error(), "log level") {
		t.Fatalf("bad SHUQIAO_LOG_LEVEL: %v", err)
	}
	other := t.TempDir()
	out = mustRun(t, "migrate", "--data", other, "--log-level", "error")
	if !strings.Contains(out, other) {
		t.Fatalf("flag must win over variable: %s", out)
	}
	if _, err := run(t, "migrate", "--db", "mysql://x"); err == nil {
		t.Fatal("a non-PostgreSQL --db must be refused")
	}
}

func TestHelpDocumentsEnvironment(t *testing.T) {
	out := mustRun(t, "serve", "--help")
	for _, want := range []string{"--listen", "SHUQIAO_LISTEN", "--db", "SHUQIAO_DB", "--data", "--open-risk-scan-every", "SHUQIAO_OPEN_RISK_SCAN_EVERY"} {
		if !strings.Contains(out, want) {
			t.Fatalf("serve --help lacks %s", want)
		}
	}
	// R-OPN-6: a bad scan period is refused before anything starts, naming the variable.
	t.Setenv("SHUQIAO_OPEN_RISK_SCAN_EVERY", "weekly")
	if _, err := run(t, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "SHUQIAO_OPEN_RISK_SCAN_EVERY") {
		t.Fatalf("bad SHUQIAO_OPEN_RISK_SCAN_EVERY: %v", err)
	}
}

// The same commands run on PostgreSQL with --db (CI sets SHUQIAO_TEST_POSTGRES).
func TestCommandsOnPostgres(t *testing.T) {
	dsn := os.Getenv(storetest.TestPostgresEnv)
	if dsn == "" {
		t.Skip("SHUQIAO_TEST_POSTGRES not set; PostgreSQL variant runs in CI")
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, store.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("t_cli_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db := "--db=" + dsn + sep + "search_path=" + schema
	if _, err := run(t, "migrate", db); err == nil || !strings.Contains(err.Error(), "SHUQIAO_SECRET") {
		t.Fatalf("--db without a secret must be refused with a hint, got %v", err)
	}
	secret := "--secret=" + strings.Repeat("k", 40)
	mustRun(t, "migrate", db, secret)
	mustRun(t, "admin", "bootstrap", db, secret, "--credit-code", identity.MakeCreditCode("11350200MA2600000"))
	mustRun(t, "admin", "org", "create", db, secret, "--name", "市民政局", "--credit-code", identity.MakeCreditCode("11350200MA2600002"))
	if out := mustRun(t, "admin", "org", "list", db, secret); !strings.Contains(out, "市民政局") {
		t.Fatal(out)
	}
	mustRun(t, "ledger", "verify", db)
}

// A key made by 'ledger keygen' signs the checkpoints of a platform started
// with --ledger-key-file, and the printed verifier key checks them.
func TestLedgerKeygen(t *testing.T) {
	for _, algo := range []string{"ed25519", "sm2"} {
		t.Run(algo, func(t *testing.T) {
			dir := t.TempDir()
			key := dir + "/ledger.key"
			out := mustRun(t, "ledger", "keygen", "--algorithm", algo, "--origin", "shuqiao.test/ledger", "-o", key)
			vkey := find(t, `verifier key .*: (\S+)`, out)
			if _, err := run(t, "ledger", "keygen", "-o", key); err == nil {
				t.Fatal("keygen must never overwrite a key")
			}
			d := "--data=" + dir + "/data"
			flags := []string{d, "--ledger-key-file", key, "--ledger-origin", "shuqiao.test/ledger"}
			mustRun(t, append([]string{"admin", "bootstrap", "--credit-code", identity.MakeCreditCode("11350200MA2600000")}, flags...)...)
			mustRun(t, "ledger", "verify", d, "--key", vkey)
			other := mustRun(t, "ledger", "keygen", "--algorithm", algo, "--origin", "shuqiao.test/ledger", "-o", dir+"/other.key")
			if _, err := run(t, "ledger", "verify", d, "--key", find(t, `verifier key .*: (\S+)`, other)); err == nil {
				t.Fatal("checkpoints must not verify with another key")
			}
		})
	}
}
