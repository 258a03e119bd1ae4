// Package web serves the browser app (web/) embedded in the binary: the
// built files as they are, and index.html for every other path so the app's
// own router handles deep links (/catalog/…, /console/…). When the binary was
// built without the app (no Node.js), a small placeholder page stands in.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	webfiles "shuqiao/web"
)

// CSP is the Content-Security-Policy of the app's pages. Ant Design writes
// its styles as <style> elements at run time (CSS-in-JS), hence the inline
// styles; scripts come only from the app's own files.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// file is one servable file, read once.
type file struct {
	name  string
	ctype string
	body  []byte
	etag  string

	gzOnce sync.Once
	gz     []byte
}

// App serves one file tree.
type App struct {
	files map[string]*file
	// Built reports whether the real app is served (not the placeholder).
	Built bool
}

// New returns the app embedded in the binary.
func New() *App {
	a, err := FromFS(webfiles.Files)
	if err != nil {
		panic("web: " + err.Error())
	}
	return a
}

// FromFS reads an app from fsys: dist/ when it holds index.html, else
// dist-placeholder/.
func FromFS(fsys fs.FS) (*App, error) {
	root, built := "dist-placeholder", false
	if _, err := fs.Stat(fsys, "dist/index.html"); err == nil {
		root, built = "dist", true
	}
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return nil, err
	}
	a := &App{files: map[string]*file{}, Built: built}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		a.files["/"+p] = &file{name: p, ctype: ct, body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if a.files["/index.html"] == nil {
		return nil, fs.ErrNotExist
	}
	return a, nil
}

// compressible reports whether gzip is worth it for a content type.
func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") ||
		strings.Contains(ct, "json") || strings.Contains(ct, "svg") || strings.Contains(ct, "xml")
}

func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(f.body)
		_ = zw.Close()
		if buf.Len() < len(f.body) {
			f.gz = buf.Bytes()
		}
	})
	return f.gz
}

// ServeHTTP serves a file, or index.html for an app route.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f := a.files[p]
	h := w.Header()
	switch {
	case f != nil && p == "/index.html":
		h.Set("Cache-Control", "no-cache")
	case f != nil:
		if strings.HasPrefix(p, "/assets/") {
			// Vite names built assets by content hash.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
	case strings.HasPrefix(p, "/assets/") || path.Ext(p) != "":
		// A missing file, not an app route.
		http.NotFound(w, r)
		return
	default:
		f = a.files["/index.html"]
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(f.ctype, "text/html") {
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
	}
	body := f.body
	if compressible(f.ctype) {
		h.Add("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && r.Header.Get("Range") == "" {
			if gz := f.gzipped(); gz != nil {
				h.Set("Content-Encoding", "gzip")
				h.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gz"`)
				body = gz
			}
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
