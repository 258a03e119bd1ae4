package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSmoke runs the benchmark at a tiny size so `go test ./...` keeps the
// program working; its figures mean nothing. `go run ./bench/ingest` measures.
func TestSmoke(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), config{quick: true, out: &out}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CSV replace load", "rows/s", "peak heap"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
