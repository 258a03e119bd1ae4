package ingest

import (
	"bufio"
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

// Kill -9 mid-load (R-AGG-1, R-SEC-13): the victim, internal/crashtest
// built into a temporary folder, loads a replace batch in chunks and is
// killed after some have committed. No part of the batch is visible
// afterwards; running it again resumes the batch after its last committed
// chunk and applies it whole, without duplicates.
func TestKill9MidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a helper program; skipped in -short")
	}
	bin := filepath.Join(t.TempDir(), "crashtest")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/crashtest").CombinedOutput(); err != nil {
		t.Fatalf("build crashtest: %v\n%s", err, out)
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		old := ids(15000)[14995:]
		e.load(st, r.ID, residentCSV(old, "id_card,full_name,gender,birth_date,household_size,contact"), LoadInput{Format: CSV})
		const n = 14000
		file := filepath.Join(t.TempDir(), "residents.csv")
		if err := os.WriteFile(file, []byte(residentCSV(ids(n), "id_card,full_name,gender,birth_date,household_size,contact")), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"-resource", r.ID, "-file", file, "-chunk", "500"}
		if db.Dialect == store.Postgres {
			var schema string
			if err := db.QueryRowContext(e.ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-db", os.Getenv(storetest.TestPostgresEnv), "-schema", schema)
		} else {
			args = append(args, "-data", filepath.Dir(db.Where))
		}
		// Round 1: kill after a few chunks.
		cmd := exec.Command(bin, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		guard := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(stdout)
		killedAt := int64(0)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				killedAt, _ = strconv.ParseInt(v, 10, 64)
				if killedAt >= 3000 {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		}
		guard.Stop()
		_ = cmd.Wait()
		if killedAt < 3000 || killedAt >= n {
			t.Fatalf("killed at %d rows (stderr: %s)", killedAt, stderr.String())
		}
		// Nothing of the batch is visible.
		rows := e.rows(r.ID)
		if len(rows) != len(old) || rows[old[0]] == nil {
			t.Fatalf("after kill -9: %d rows visible, want the old %d", len(rows), len(old))
		}
		open, err := e.s.OpenBatch(e.ctx, st, r.ID, file)
		if err != nil || open == nil || open.RowsRead < killedAt || open.Status != BatchLoading {
			t.Fatalf("unfinished batch: %+v %v", open, err)
		}
		// Round 2: resume to the end.
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("resume: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("resumed %s %d", open.ID, open.RowsRead)) || !strings.Contains(string(out), fmt.Sprintf("applied %d %d", n, n)) {
			t.Fatalf("resume output:\n%s", out)
		}
		rows = e.rows(r.ID)
		if len(rows) != n || rows[old[0]] != nil {
			t.Fatalf("after resume: %d rows", len(rows))
		}
		var count int64
		var ds *Dataset
		if ds, err = e.s.loadDataset(e.ctx, db, db.Dialect, r.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM `+qi(ds.table)).Scan(&count); err != nil || count != n {
			t.Fatalf("table holds %d rows (%v)", count, err)
		}
		var applied int
		_ = db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM ingest_batches WHERE resource_id = $1 AND status = 'applied'`, r.ID).Scan(&applied)
		if applied != 2 {
			t.Fatalf("%d applied batches, want 2 (the first load and the resumed one)", applied)
		}
	})
}
