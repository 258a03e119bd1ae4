// Command crashtest is the victim of the ledger's kill -9 test: it appends
// events in committed transactions as fast as it can, integrating in the
// background, and prints "ack N" after each commit returns. The test kills it
// with SIGKILL mid-burst and checks that every acknowledged event survived,
// once.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"

	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

func main() {
	data := flag.String("data", "", "SQLite data folder")
	dsn := flag.String("db", "", "PostgreSQL DSN")
	schema := flag.String("schema", "", "PostgreSQL schema")
	start := flag.Int("start", 0, "first event number")
	tag := flag.String("tag", "a", "names this run in the events, so runs never collide")
	flag.Parse()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: *data, DSN: *dsn, Schema: *schema})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	l, err := ledger.New(ctx, db, clock.Real{}, ledger.Options{BatchSize: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() { _ = l.Run(ctx) }()
	out := bufio.NewWriter(os.Stdout)
	for i := *start; ; i++ {
		e := ledger.Event{ActorKind: ledger.ActorSystem, Action: ledger.Store, Object: fmt.Sprintf("crash/%s-%d", *tag, i), RecordCount: int64(i)}
		// Two events per transaction: both or neither must survive.
		e2 := e
		e2.Action = ledger.Use
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.Append(ctx, tx, e, e2) }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "ack %d\n", i)
		out.Flush()
		if i%50 == 0 {
			if _, err := l.Integrate(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}
