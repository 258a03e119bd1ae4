package ledger

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// Kill -9 during a write burst: after restart every acknowledged event is
// present, the tree verifies, and no event is integrated twice (R-SEC-13).
// The victim is internal/crashtest, built into a temporary folder.
func TestKill9DuringWriteBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a helper program; skipped in -short")
	}
	bin := filepath.Join(t.TempDir(), "crashtest")
	build := exec.Command("go", "build", "-o", bin, "./internal/crashtest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crashtest: %v\n%s", err, out)
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var args []string
		if db.Dialect == store.Postgres {
			var schema string
			if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
				t.Fatal(err)
			}
			args = []string{"-db", os.Getenv(storetest.TestPostgresEnv), "-schema", schema}
		} else {
			args = []string{"-data", filepath.Dir(db.Where)}
		}
		acked := map[string]bool{} // "r<round>-<n>"
		next := 0
		for round, burst := range []int{150, 400, 900} {
			tag := fmt.Sprintf("r%d", round)
			cmd := exec.Command(bin, append(args, "-start", strconv.Itoa(next), "-tag", tag)...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			got := 0
			deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
			for sc.Scan() {
				n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
				if err != nil {
					t.Fatalf("round %d: bad line %q", round, sc.Text())
				}
				acked[fmt.Sprintf("%s-%d", tag, n)] = true
				next = n + 1
				got++
				if got == burst {
					// Mid-burst: the victim is inside its next transaction or integration.
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			deadline.Stop()
			// Read what it managed to acknowledge before dying.
			for sc.Scan() {
				if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack ")); err == nil {
					acked[fmt.Sprintf("%s-%d", tag, n)] = true
					next = n + 1
				}
			}
			_ = cmd.Wait()
			if got < burst {
				t.Fatalf("round %d: victim stopped after %d acks: %s", round, got, stderr.String())
			}
		}
		// Reopen, as the restarted server would, and finish integration.
		pending := count(t, db, "ledger_pending")
		l := newTestLedger(t, db)
		size, err := l.Integrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(ctx, db)
		if err != nil || !rep.OK {
			t.Fatalf("Verify after kill -9: %v %s", err, rep.Summary())
		}
		seen := map[string]int{}
		rows, err := db.QueryContext(ctx, `SELECT body FROM ledger_entries ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				t.Fatal(err)
			}
			e, err := DecodeEntry(body)
			if err != nil {
				t.Fatal(err)
			}
			key := e.Object + "/" + string(e.Action)
			seen[key]++
			if seen[key] > 1 {
				t.Fatalf("%s integrated twice", key)
			}
		}
		for n := range acked {
			for _, a := range []Action{Store, Use} {
				if seen["crash/"+n+"/"+string(a)] != 1 {
					t.Fatalf("acknowledged event %s (%s) is missing", n, a)
				}
			}
		}
		// Unacknowledged transactions are all-or-nothing.
		for k := range seen {
			txn := strings.TrimSuffix(strings.TrimSuffix(k, "/store"), "/use")
			if seen[txn+"/store"] != seen[txn+"/use"] {
				t.Fatalf("transaction %s is half integrated", txn)
			}
		}
		t.Logf("%d acknowledged transactions, %d pending at restart, %d entries, tree size %d", len(acked), pending, len(seen), size)
	})
}
