package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServesBuiltAppWithFallback(t *testing.T) {
	fsys := fstest.MapFS{
		"dist/index.html":             {Data: []byte("<!doctype html><title>数桥</title><div id=root></div>")},
		"dist/assets/index-abc.js":    {Data: []byte(strings.Repeat("console.log('数桥');", 200))},
		"dist/favicon.svg":            {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"dist-placeholder/index.html": {Data: []byte("placeholder")},
	}
	a, err := FromFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Built {
		t.Fatal("dist has index.html but Built is false")
	}
	for _, p := range []string{"/", "/catalog/abc", "/console/cases?view=org", "/index.html"} {
		w := get(t, a, "GET", p, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "数桥") {
			t.Fatalf("%s: %d %q", p, w.Code, w.Body.String())
		}
		if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: headers %v", p, w.Header())
		}
	}
	w := get(t, a, "GET", "/assets/index-abc.js", nil)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), "javascript") || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("asset: %d %v", w.Code, w.Header())
	}
	for _, p := range []string{"/assets/missing.js", "/robots.txt"} {
		if w := get(t, a, "GET", p, nil); w.Code != 404 {
			t.Fatalf("%s: %d, want 404", p, w.Code)
		}
	}
	if w := get(t, a, "POST", "/", nil); w.Code != 405 {
		t.Fatalf("POST: %d", w.Code)
	}
	// gzip when asked, and the same bytes after decompression.
	w = get(t, a, "GET", "/assets/index-abc.js", map[string]string{"Accept-Encoding": "gzip, br"})
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if string(b) != string(fsys["dist/assets/index-abc.js"].Data) {
		t.Fatal("gzip body differs")
	}
	// Conditional requests.
	etag := get(t, a, "GET", "/", nil).Header().Get("ETag")
	if w := get(t, a, "GET", "/", map[string]string{"If-None-Match": etag}); w.Code != 304 {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
}

func TestPlaceholderWhenNotBuilt(t *testing.T) {
	a, err := FromFS(fstest.MapFS{"dist-placeholder/index.html": {Data: []byte("<title>数桥</title> make web")}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Built {
		t.Fatal("Built without dist")
	}
	if w := get(t, a, "GET", "/portal/search", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "make web") {
		t.Fatalf("placeholder: %d %q", w.Code, w.Body.String())
	}
}

func TestEmbedded(t *testing.T) {
	a := New()
	w := get(t, a, "GET", "/", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "数桥") {
		t.Fatalf("embedded app: %d", w.Code)
	}
}
