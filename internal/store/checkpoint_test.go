package store

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// Under a steady stream of commits, with a reader always on the WAL, the
// checkpointer still has the WAL started again from the top; and no
// commit runs a checkpoint of its own. Without the RESTART checkpoint, no
// writer ever found the WAL free to start again here (0 restarts in 2 s),
// and its file grew by every frame written.
func TestCheckpointerRestartsWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const frames = 256 // 1 MiB
	db.restartFrames.Store(frames)

	var auto int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d (%v), want 0: no commit checkpoints", auto, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE ckpt_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	// Two readers in turn, each holding a snapshot for a millisecond, so
	// that some reader is on the WAL at almost every moment.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			time.Sleep(time.Duration(r) * time.Millisecond)
			for {
				select {
				case <-stop:
					return
				default:
				}
				// An open statement holds its read snapshot (BeginTx
				// would take the write lock: _txlock=immediate).
				rows, err := db.QueryContext(ctx, `SELECT k FROM ckpt_t`)
				if err != nil {
					t.Error(err)
					return
				}
				rows.Next()
				time.Sleep(time.Millisecond)
				_ = rows.Close()
				reads.Add(1)
			}
		}(r)
	}

	wal := filepath.Join(dir, "shuqiao.db-wal")
	var commits, largest int64
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := db.ExecContext(ctx, `INSERT INTO ckpt_t (v) VALUES ('a record of about a hundred bytes, as a ledger entry or a delivery row would be')`); err != nil {
			t.Fatal(err)
		}
		commits++
		if st, err := os.Stat(wal); err == nil {
			largest = max(largest, st.Size())
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	if reads.Load() < 100 {
		t.Fatalf("only %d reads: the readers did not keep the WAL busy", reads.Load())
	}
	// The WAL header counts the times the WAL was started again from the
	// top (its checkpoint sequence number, bytes 12 to 15).
	hdr := make([]byte, 32)
	f, err := os.Open(wal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	restarts := binary.BigEndian.Uint32(hdr[12:16])
	t.Logf("%d commits, %d restarts, WAL file at most %d KiB", commits, restarts, largest>>10)
	if restarts == 0 {
		t.Fatalf("the WAL was never started again from the top in %d commits (its file reached %d KiB)", commits, largest>>10)
	}
}

// The embedded store's syncs are fdatasync on Linux, as SQLite's own Linux
// builds make them (the transpiled library defaults to fsync).
func TestSQLiteSyncsWithFdatasync(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync is what the store asks for where the system has it; checked on Linux")
	}
	if _, err := sqlite.Fdatasync(false); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !sqlite.FdatasyncEnabled() {
		t.Fatal("after Open, SQLite syncs with fsync; want fdatasync")
	}
}
