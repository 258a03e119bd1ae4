package httpapi

import "shuqiao/internal/web"

// homeRoutes serves the web app (web/, embedded by internal/web) for every
// path no other route claims: the portal, the consoles and their deep links.
// The pattern has no method so that it stays less specific than "/api/",
// /healthz, /readyz and /metrics; the app answers 405 itself to anything but
// GET and HEAD.
func (s *Server) homeRoutes() {
	app := web.New()
	s.mux.Handle("/", app)
}
