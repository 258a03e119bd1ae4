package ledger_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/app"
	"shuqiao/internal/ledger"
)

// A server started with --ledger-algorithm sm2 and --ledger-key-file serves
// checkpoints that verify with that key's SM2 verifier key, and keeps only
// the public half in its store.
func TestServerSignsCheckpointsWithConfiguredSM2Key(t *testing.T) {
	const origin = "shuqiao.test-xm/ledger"
	skey, vkey, err := ledger.GenerateSM2Key(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ledger.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{
		DataDir: filepath.Join(dir, "data"), LedgerOrigin: origin, LedgerAlgorithm: "sm2", LedgerKeyFile: keyFile,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	if a.Ledger.VerifierKey() != vkey {
		t.Fatalf("verifier key %q, want %q", a.Ledger.VerifierKey(), vkey)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	var body []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/ledger/checkpoint")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if got := resp.Header.Get("X-Ledger-Verifier-Key"); got != vkey {
					t.Fatalf("X-Ledger-Verifier-Key %q, want %q", got, vkey)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint served: %v %s", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	v, err := ledger.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.OpenCheckpoint(body, note.VerifierList(v), origin)
	if err != nil {
		t.Fatalf("checkpoint does not verify with the SM2 key: %v\n%s", err, body)
	}
	if !strings.HasPrefix(string(body), origin+"\n") {
		t.Fatalf("checkpoint origin line: %q", body)
	}
	// An Ed25519 key of the same name does not verify it.
	_, edV, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ledger.NewVerifier(edV)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.OpenCheckpoint(body, note.VerifierList(ev), origin); err == nil {
		t.Fatal("an unrelated Ed25519 key verified the SM2 checkpoint")
	}
	// The private key stays outside the store.
	var secrets int
	if err := a.DB.QueryRowContext(ctx, `SELECT count(*) FROM ledger_keys WHERE kind = 'signer' AND secret <> ''`).Scan(&secrets); err != nil {
		t.Fatal(err)
	}
	if secrets != 0 {
		t.Fatalf("%d private signer keys in the store, want 0", secrets)
	}
	t.Logf("checkpoint at size %d verified with %s", cp.Size, vkey)
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// A key file whose algorithm disagrees with --ledger-algorithm is refused.
func TestConfiguredAlgorithmMustMatchKeyFile(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, ledger.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ledger.key")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err = app.Open(context.Background(), app.Config{DataDir: filepath.Join(dir, "data"), LedgerAlgorithm: "sm2", LedgerKeyFile: keyFile}, log, nil)
	if err == nil || !strings.Contains(err.Error(), "sm2") {
		t.Fatalf("Open with an Ed25519 key file and sm2: %v", err)
	}
}
