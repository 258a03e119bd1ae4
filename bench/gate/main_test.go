package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestQuickRun runs the whole benchmark in its tiny form: hosting the
// dataset through catalog and ingest, both handlers, the load generator,
// the open loop. A smoke test that keeps `make bench` working, not a
// measurement.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if err := run(context.Background(), config{seconds: 0.2, rows: 500, workers: 4}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		case "/chunked":
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte("no length"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	lc := newLoadClient(strings.TrimPrefix(srv.URL, "http://"))
	defer lc.close()
	for i := 0; i < 3; i++ { // the same kept-alive connection, answer after answer
		if err := lc.get("/ok"); err != nil {
			t.Fatal(err)
		}
	}
	if err := lc.get("/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
	if err := lc.get("/chunked"); err == nil || !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("chunked answer: %v", err)
	}
	if err := lc.get("/ok"); err != nil {
		t.Fatalf("after errors: %v", err)
	}
}

func FuzzReadAnswer(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
	f.Add("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := readAnswer(bufio.NewReader(strings.NewReader(s)))
		if err == nil && !strings.HasPrefix(s, "HTTP/1.1 200") {
			t.Fatalf("accepted %q", s)
		}
		_ = fmt.Sprint(err)
	})
}
