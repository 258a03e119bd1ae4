// Package httpapi translates HTTP to the services' Go methods: routes, auth
// middleware, problem+json errors, the OpenAPI contract, health and metrics.
// It reads no tables itself.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"shuqiao/api"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/ledger"
	"shuqiao/internal/open"
	"shuqiao/internal/share"
)

// Deps are the services the API serves.
type Deps struct {
	Identity *identity.Service
	Ledger   *ledger.Ledger
	// Cases is the casework engine; nil leaves the case routes out.
	Cases *casework.Engine
	Clock clock.Clock
	Log   *slog.Logger
	// Ready reports whether the server can take traffic (the store answers).
	Ready func(ctx context.Context) error
	// Version is printed by /api/v1/version.
	Version string

	// Catalog is the public data resource catalog; nil leaves its routes out.
	Catalog *catalog.Service
	// Ingest is aggregation: hosted datasets, loads, quality; nil leaves its routes out.
	Ingest *ingest.Service
	// Gate is the only exit for record-level data; nil leaves its routes out.
	Gate *gate.Service
	// Share is sharing between orgs; nil leaves its routes out.
	Share *share.Service
	// Open is open data; nil leaves its routes out.
	Open *open.Service
}

// Options tune the HTTP layer.
type Options struct {
	// MaxBody bounds JSON request bodies (default 1 MiB).
	MaxBody int64
	// SecureCookies marks session cookies Secure; set it behind TLS.
	SecureCookies bool
}

// Server is the platform's HTTP API.
type Server struct {
	Deps
	opts       Options
	mux        *http.ServeMux
	metrics    *metrics
	reg        *prometheus.Registry
	loginLimit *ipLimiter
}

// New builds the API with every route registered.
func New(d Deps, opts Options) *Server {
	if opts.MaxBody == 0 {
		opts.MaxBody = 1 << 20
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{Deps: d, opts: opts, mux: http.NewServeMux(), reg: reg, metrics: newMetrics(reg), loginLimit: newIPLimiter(d.Clock, 20, time.Minute)}
	s.routes()
	return s
}

// Registry lets other parts of the platform add their own metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the root handler with the middleware chain applied.
func (s *Server) Handler() http.Handler {
	return s.withRequestID(s.withAccessLog(s.withRecover(s.withAuth(s.routed(s.mux)))))
}

// routed tells the access log which route served the request: the mux sets
// Pattern on the request it is handed, which the middleware above has
// copied with WithContext, so the pattern is carried back through the context.
func (s *Server) routed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if info, ok := r.Context().Value(keyRoute).(*accessInfo); ok {
			info.route = r.Pattern
		}
	})
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h under pattern (Go 1.22 method+path syntax).
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /readyz", func(w http.ResponseWriter, r *http.Request) error {
		if s.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.Ready(ctx); err != nil {
				s.Log.WarnContext(r.Context(), "not ready", "err", err)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
				return nil
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		_, _ = w.Write(api.OpenAPI)
	})
	s.handle("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]string{"version": s.Version, "name": "Shuqiao 数桥"})
		return nil
	})
	s.handle("/api/", func(w http.ResponseWriter, r *http.Request) error {
		return errNoRoute
	})
	s.homeRoutes()
	s.identityRoutes()
	if s.Ledger != nil {
		s.ledgerRoutes()
	}
	if s.Cases != nil {
		s.caseRoutes()
	}
	s.catalogRoutes()
	s.ingestRoutes()
	if s.Gate != nil {
		s.gateRoutes()
	}
	s.shareRoutes()
	s.openRoutes()
	s.scorecardRoutes()
}
