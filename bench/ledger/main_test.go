package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSmoke runs every benchmark at tiny sizes so `go test ./...` keeps the
// program working; the figures of a smoke run mean nothing. `go run
// ./bench/ledger` measures.
func TestSmoke(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), config{quick: true, out: &out}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(a) minimal tx", "(a) CreateOrg-like tx", "(b) integrate", "(c) inclusion proof", "(d) durable appends"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
