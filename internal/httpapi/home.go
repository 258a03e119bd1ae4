package httpapi

import (
	_ "embed"
	"net/http"
)

// home is the landing page served at / until the web app is embedded: it
// tells a person who opened the address what is here and where to go.
//
//go:embed home.html
var home []byte

func (s *Server) homeRoutes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
		_, _ = w.Write(home)
	})
}
