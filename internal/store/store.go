// Package store gives the platform its database: connections for the embedded
// SQLite store and for PostgreSQL, the dialect, transactions and the migration
// runner. Feature packages own their tables and SQL; store owns none.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the SQL flavour of a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a database handle that knows its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Where says, for people, where the data lives (a folder or a redacted DSN).
	Where string
	// writer admits one write transaction at a time on SQLite (nil on
	// PostgreSQL). SQLite allows one writer anyway; queueing writers here wakes
	// the next one the moment the lock is free, where SQLite's busy handler
	// would sleep in millisecond steps and starve under load.
	writer chan struct{}
	// stop ends the background WAL checkpointer (SQLite).
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// restartFrames is the WAL length at which the checkpointer restarts
	// it (see checkpoint).
	restartFrames atomic.Int64
	// file is the database file, opened once for restart's syncs and
	// closed only after every SQLite connection (see restart).
	file     *os.File
	fileOnce sync.Once
}

// Options say which database to open.
type Options struct {
	// DataDir holds the embedded SQLite database (shuqiao.db) and other
	// local state. Used when DSN is empty.
	DataDir string
	// DSN is a postgres:// URL. When set, PostgreSQL is used.
	DSN string
	// Schema, for PostgreSQL, sets the search_path; tests use a fresh schema.
	Schema string
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the store that opts describe and checks that it answers.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.DSN != "" {
		return openPostgres(ctx, opts)
	}
	return openSQLite(ctx, opts.DataDir)
}

// busyTimeoutMillis is how long a SQLite connection waits for another
// process's write lock.
const busyTimeoutMillis = 10000

func openSQLite(ctx context.Context, dir string) (*DB, error) {
	if dir == "" {
		dir = "shuqiao-data"
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create data folder %s: %w", dir, err)
	}
	// SQLite's syncs (here only the checkpointer's: commits do not sync
	// in WAL mode with synchronous NORMAL) use fdatasync where the system
	// has it, as SQLite's own Linux builds do; the transpiled library
	// defaults to fsync, whose timestamp update goes through the file
	// system's journal. The data is as durable either way. The RESTART
	// checkpoint's two syncs hold every writer up (see checkpoint).
	if _, err := sqlite.Fdatasync(true); err != nil && !errors.Is(err, sqlite.ErrFdatasyncUnavailable) {
		return nil, fmt.Errorf("store: sqlite fdatasync: %w", err)
	}
	path := filepath.Join(dir, "shuqiao.db")
	// WAL lets readers run beside the one writer; BEGIN IMMEDIATE takes the
	// write lock up front so two writers queue on busy_timeout instead of
	// failing with SQLITE_BUSY when a read transaction tries to upgrade.
	// wal_autocheckpoint(0): only the store's checkpointer copies the WAL
	// back (see checkpoint).
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMillis) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate" +
		"&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	// Keep every connection idle rather than the default two: opening a
	// SQLite connection re-reads the schema, and churn showed in profiles.
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	d := &DB{DB: db, Dialect: SQLite, Where: path, writer: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), file: file}
	d.restartFrames.Store(restartFrames)
	go d.checkpoint()
	return d, nil
}

// checkpointEvery is how often the WAL is copied back into the database,
// and restartFrames how long it may grow (256 MiB of 4 KiB pages) before
// the checkpointer makes the next writer start it again from the top
// (tests lower it: DB.restartFrames).
const (
	checkpointEvery = 100 * time.Millisecond
	restartFrames   = 65536
)

// checkpoint copies the WAL into the database in the background, so that
// no commit does it. SQLite's automatic checkpoint runs inside whichever
// commit finds the WAL over wal_autocheckpoint frames, holding the one
// write lock while it copies and fsyncs, and every call queued behind that
// commit waits. A PASSIVE checkpoint every 100 ms was meant to keep the
// WAL under that threshold, but copying frames back does not shorten the
// WAL: a writer starts it again from the top only when it finds every
// frame copied back and no reader still on an older snapshot, which under
// a steady stream of reads and commits seldom holds. So the WAL crossed
// the threshold and stayed over it, and commit after commit ran a
// checkpoint: at half of the gate's maximum load, their fsyncs (3 to 6 ms,
// some 11) were a large part of the slowest commits. The automatic
// checkpoint is now off (wal_autocheckpoint(0)).
//
// So every checkpointEvery a PASSIVE checkpoint copies what it can without
// waiting for anyone, and once the WAL holds restartFrames frames a RESTART
// checkpoint, run while this process's writers queue on WriteLock, copies
// the few frames committed since and waits (briefly, see restart) for
// readers to leave the WAL, so that the next writer overwrites it from the
// top. That holds writers up for the checkpoint's two syncs (the WAL's,
// then the database's), whatever few frames are left to copy: 24 to 54 ms
// while commits kept the disk busy, 4 to 10 ms now that restart syncs
// first. At 64 MiB it happened about once a second at half of the gate's
// maximum load, and the calls caught behind it were most of that load's
// p99; at 256 MiB it happens every 3 to 4 s there, and at the city's daily
// average of calls every few minutes
// (docs/decisions/0110-twice-the-processors.md). The price is a WAL file
// of up to 256 MiB on disk.
func (db *DB) checkpoint() {
	defer close(db.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var (
		backoff time.Duration
		notTill time.Time
	)
	for {
		select {
		case <-db.stop:
			return
		case now := <-t.C:
			var busy, frames, copied int64
			err := db.DB.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
			if err != nil || frames < db.restartFrames.Load() || now.Before(notTill) {
				continue
			}
			if db.restart(context.Background()) {
				backoff = 0
				continue
			}
			// A reader held on: try again later, and less often while it
			// lasts, so that writers are not held up every tick.
			backoff = min(max(2*backoff, time.Second), restartBackoffMax)
			notTill = now.Add(backoff)
		}
	}
}

// restartBusyMillis bounds how long a RESTART checkpoint waits for
// readers still on the old WAL. Writers queue behind it, and a long read
// (an export of a large dataset) must not hold them up: past the bound it
// gives up, and the checkpointer tries again after a backoff.
const (
	restartBusyMillis = 5
	restartBackoffMax = 10 * time.Second
)

// restart runs a RESTART checkpoint on a connection of its own with a short
// busy timeout, holding the write turn so that this process's writers wait
// for it in WriteLock's queue rather than in SQLite's busy handler, which
// sleeps in millisecond steps.
//
// What the writers wait for is the checkpoint's two syncs, so as much of
// the syncing as can be is done before it takes the write turn: both files
// are synced, then a PASSIVE checkpoint copies what was committed
// meanwhile, and the RESTART checkpoint is left the frames of the last
// few milliseconds. Measured at half of the gate's maximum load: the first
// sync of the two files after the periodic checkpoint took 20 to 60 ms,
// and with the RESTART checkpoint running first writers waited 24 to
// 54 ms; after the unlocked syncs and copy, 1 to 17 ms (decision 0110).
// The first sync's slowness is the kernel's writeback, not traced further.
func (db *DB) restart(ctx context.Context) bool {
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartBusyMillis)); err != nil {
		return false
	}
	// The pooled connection goes back as it came.
	defer conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeoutMillis))
	// The WAL is opened afresh (SQLite deletes it when its last
	// connection closes, and takes no lock on it); the database file
	// through the descriptor held since Open: on POSIX systems closing any
	// descriptor of a file drops every lock the process holds on it,
	// SQLite's included.
	if err := syncFile(db.Where + "-wal"); err != nil {
		return false
	}
	if err := syncData(db.file); err != nil {
		return false
	}
	var busy, frames, copied int64
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return false
	}
	release, err := db.WriteLock(ctx)
	if err != nil {
		return false
	}
	defer release()
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied); err != nil {
		return false
	}
	return busy == 0
}

// syncFile writes the file at path to stable storage (see syncData). It
// opens the file for writing: Windows flushes only a handle that may
// write. Never the database file: see restart.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncData(f)
}

// Close stops the checkpointer and closes the database.
func (db *DB) Close() error {
	if db.stop != nil {
		db.stopOnce.Do(func() { close(db.stop) })
		<-db.done
	}
	err := db.DB.Close()
	if db.file != nil {
		// After the connections: this close drops the process's locks on
		// the file (see restart).
		db.fileOnce.Do(func() { _ = db.file.Close() })
	}
	return err
}

func openPostgres(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: parse PostgreSQL DSN: %w", err)
	}
	if opts.Schema != "" {
		cfg.RuntimeParams["search_path"] = opts.Schema
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	return &DB{DB: db, Dialect: Postgres, Where: fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)}, nil
}

// Tx is a transaction that knows its dialect, so code running inside one can
// pick dialect-specific SQL without another parameter.
type Tx struct {
	*sql.Tx
	Dialect Dialect
}

// writerWait bounds how long a write transaction queues for its turn, as
// SQLite's busy_timeout does across processes.
const writerWait = 10 * time.Second

var errWriterBusy = errors.New("store: database is busy: another write transaction held it too long")

// WriteLock waits for this process's turn to write on SQLite and returns the
// function that gives the turn back; on PostgreSQL it returns at once. InTx
// takes it itself; code that runs its own transaction on a dedicated
// connection takes it around that transaction.
func (db *DB) WriteLock(ctx context.Context) (release func(), err error) {
	if db.writer == nil {
		return func() {}, nil
	}
	t := time.NewTimer(writerWait)
	defer t.Stop()
	select {
	case db.writer <- struct{}{}:
		return func() { <-db.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errWriterBusy
	}
}

// ExecContext runs one statement outside a transaction. On SQLite it
// first takes this process's write turn: a statement that writes takes
// SQLite's one write lock as a transaction does, and when the two met in
// SQLite's busy handler the loser slept in millisecond steps (a ledger
// checkpoint's insert, once a second, cost the gate's group commit 1 to
// 9 ms each time).
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	release, err := db.WriteLock(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return db.DB.ExecContext(ctx, query, args...)
}

// InTx runs fn in a transaction and commits it when fn returns nil. A panic or
// error rolls it back; nothing fn wrote survives a failure. Transactions must
// not nest: on SQLite an inner InTx would wait for the outer one forever (it
// fails after writerWait instead).
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.inTx(ctx, db.BeginTx, fn)
}

// InConnTx is InTx on a connection the caller holds. A writer that commits
// often keeps its own connection so that its page cache stays warm: SQLite
// empties a connection's cache whenever it finds that another connection
// has written since its last transaction, and pooled connections take
// turns.
func (db *DB) InConnTx(ctx context.Context, conn *sql.Conn, fn func(tx *Tx) error) error {
	return db.inTx(ctx, conn.BeginTx, fn)
}

func (db *DB) inTx(ctx context.Context, begin func(context.Context, *sql.TxOptions) (*sql.Tx, error), fn func(tx *Tx) error) (err error) {
	release, err := db.WriteLock(ctx)
	if err != nil {
		return err
	}
	defer release()
	sqlTx, err := begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{Tx: sqlTx, Dialect: db.Dialect}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Queryer is what both *DB and *Tx offer for reads, so a read helper can run
// inside or outside a transaction.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either database.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "23505" {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLITE_CONSTRAINT_UNIQUE")
}

// Micros converts t to the unix-microsecond integers that every table stores
// times as (see docs/decisions/0002-times-as-unix-micros.md).
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros is the inverse of Micros; 0 is the zero time.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// NewID returns a new identifier: a UUIDv7, so ids sort by creation time and
// serve as stable pagination cursors on both databases.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}
