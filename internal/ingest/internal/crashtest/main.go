// Command crashtest is the victim of ingest's kill -9 test: it loads a CSV
// into a dataset in small chunks, resuming an unfinished batch of the same
// file if there is one, and prints a line per committed chunk so the test
// knows when to kill it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

func main() {
	data := flag.String("data", "", "SQLite data folder")
	dsn := flag.String("db", "", "PostgreSQL DSN")
	schema := flag.String("schema", "", "PostgreSQL schema")
	resource := flag.String("resource", "", "resource id")
	file := flag.String("file", "", "CSV file")
	chunk := flag.Int("chunk", 1000, "rows per chunk")
	flag.Parse()
	if err := run(*data, *dsn, *schema, *resource, *file, *chunk); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
}

func run(data, dsn, schema, resource, file string, chunk int) error {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: data, DSN: dsn, Schema: schema})
	if err != nil {
		return err
	}
	defer db.Close()
	clk := clock.Real{}
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		return err
	}
	cat, err := catalog.New(ctx, db, led, clk, catalog.Options{Orgs: func(_ context.Context, id string) (catalog.Org, error) {
		if id != "gaj" {
			return catalog.Org{}, apperr.ErrNotFound
		}
		return catalog.Org{ID: "gaj", Name: "市公安局", Code: identity.MakeCreditCode("11350200MA2600001"), Kind: identity.KindDepartment}, nil
	}})
	if err != nil {
		return err
	}
	s, err := ingest.New(ctx, db, led, clk, ingest.Options{Catalog: cat, ChunkRows: chunk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	p := ingest.System("gaj")
	in := ingest.LoadInput{Mode: ingest.Replace, Format: ingest.CSV, Source: "crash.csv", Fingerprint: file}
	b, err := s.OpenBatch(ctx, p, resource, file)
	if err != nil {
		return err
	}
	if b == nil {
		if b, err = s.Begin(ctx, p, resource, in); err != nil {
			return err
		}
	} else {
		fmt.Printf("resumed %s %d\n", b.ID, b.RowsRead)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	in.Progress = func(pr ingest.Progress) { fmt.Printf("committed %d\n", pr.Rows) }
	done, err := s.Continue(ctx, p, b.ID, f, in)
	if err != nil {
		return err
	}
	fmt.Printf("%s %d %d\n", done.Status, done.RowsStaged, done.RowsTotal)
	return nil
}
