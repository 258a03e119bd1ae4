// Package storetest runs store tests on SQLite and, when configured, PostgreSQL.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"shuqiao/internal/store"
	"testing"
)

// TestPostgresEnv names the environment variable that holds a PostgreSQL DSN
// for store tests. CI sets it; without it store tests run on SQLite only.
const TestPostgresEnv = "SHUQIAO_TEST_POSTGRES"

// EachDialect runs fn as a subtest on a fresh SQLite store, and again on a
// fresh PostgreSQL schema when SHUQIAO_TEST_POSTGRES holds a DSN. If the
// variable is set but the server cannot be reached, the test fails: a store
// test must never skip silently in CI.
func EachDialect(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, OpenTestSQLite(t))
	})
	if dsn := os.Getenv(TestPostgresEnv); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			fn(t, OpenTestPostgres(t, dsn))
		})
	}
}

// OpenTestSQLite opens a SQLite store in a temporary folder.
func OpenTestSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenTestPostgres creates a fresh schema on the server dsn names, opens a
// store whose search_path is that schema, and drops the schema afterwards.
func OpenTestPostgres(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := store.Open(ctx, store.Options{DSN: dsn})
	if err != nil {
		t.Fatalf("%s is set but PostgreSQL is not reachable: %v", TestPostgresEnv, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	db, err := store.Open(ctx, store.Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatalf("open postgres schema: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	return db
}
