package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyRoute
)

var (
	errNoRoute            = apperr.New(apperr.NotFound, "http.no_route", "接口不存在", "no such API endpoint")
	errCSRF               = apperr.New(apperr.Forbidden, "http.csrf", "缺少或错误的 CSRF 令牌（请求头 X-CSRF-Token）", "missing or wrong CSRF token (header X-CSRF-Token)")
	errScope              = apperr.New(apperr.Forbidden, "http.token_scope", "令牌的权限范围不允许此操作", "the token's scopes do not allow this operation")
	errMustChangePassword = apperr.New(apperr.Forbidden, "identity.must_change_password", "请先修改一次性密码", "change your one-time password first")
	errPanic              = apperr.New(apperr.Internal, "internal", "服务器内部错误", "internal error")
)

// SessionCookie is the browser session cookie's name.
const SessionCookie = "shuqiao_session"

// CSRFHeader carries the session's CSRF token on unsafe requests.
const CSRFHeader = "X-CSRF-Token"

// Token scopes checked by the HTTP layer. Capabilities may define finer ones.
const (
	ScopeRead  = "api:read"
	ScopeWrite = "api:write"
)

// accessInfo carries back to the access log what inner layers learn on
// copies of the request: who called and which route served them.
type accessInfo struct {
	route     string
	principal identity.Principal
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		info := &accessInfo{}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), keyRoute, info)))
		route := info.route
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(r.Method, route, sw.status, d)
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			return
		}
		p := info.principal
		s.Log.InfoContext(r.Context(), "http",
			"method", r.Method, "path", r.URL.Path, "route", route, "status", sw.status,
			"bytes", sw.bytes, "ms", float64(d.Microseconds())/1000,
			"request_id", requestID(r.Context()), "user", p.UserID, "client", p.ClientID, "org", p.OrgID)
	})
}

func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "panic", "value", v, "path", r.URL.Path)
				s.writeError(w, r, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// withAuth resolves who is calling: a bearer token (an API client) or a
// session cookie (a person in a browser). Session requests that change state
// must echo the session's CSRF token; bearer requests cannot be forged by a
// third-party page, so they need none. A bad credential is an error, never a
// silent fall back to anonymous.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		var p identity.Principal
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				s.writeError(w, r, apperr.ErrAuth.At("Authorization"))
				return
			}
			var err error
			p, err = s.Identity.TokenPrincipal(r.Context(), strings.TrimSpace(tok))
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if !tokenAllows(p.Scopes, r.Method) {
				s.writeError(w, r, errScope)
				return
			}
		} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			sp, csrf, err := s.Identity.SessionPrincipal(r.Context(), c.Value)
			if err != nil {
				// An expired session on a public page is not an error worth
				// failing the page for; clear it and carry on anonymously.
				clearSessionCookie(w, s.opts.SecureCookies)
				if !isSafe(r.Method) {
					s.writeError(w, r, err)
					return
				}
			} else {
				if !isSafe(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(csrf)) != 1 {
					s.writeError(w, r, errCSRF)
					return
				}
				p = sp
			}
		}
		if info, ok := r.Context().Value(keyRoute).(*accessInfo); ok {
			info.principal = p
		}
		if p.MustChangePassword && !allowedBeforePasswordChange(r) {
			s.writeError(w, r, errMustChangePassword)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	})
}

// allowedBeforePasswordChange lists what a person holding a one-time password
// may do: see who they are, change the password, or leave.
func allowedBeforePasswordChange(r *http.Request) bool {
	switch r.URL.Path {
	case "/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout", "/api/v1/auth/login":
		return true
	}
	return false
}

func tokenAllows(scopes []string, method string) bool {
	for _, sc := range scopes {
		if sc == ScopeWrite || (sc == ScopeRead && isSafe(method)) {
			return true
		}
	}
	return false
}

func principalOf(r *http.Request) identity.Principal {
	p, _ := r.Context().Value(keyPrincipal).(identity.Principal)
	return p
}

// mustAuth returns the caller, or an error if the request is anonymous.
func mustAuth(r *http.Request) (identity.Principal, error) {
	p := principalOf(r)
	if !p.Authenticated() {
		return p, apperr.ErrAuth
	}
	return p, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter throttles login attempts per client address in this replica, on
// top of identity's per-account lockout that all replicas share.
type ipLimiter struct {
	mu     sync.Mutex
	clock  clock.Clock
	max    int
	window time.Duration
	hits   map[string][]time.Time
}

func newIPLimiter(clk clock.Clock, max int, window time.Duration) *ipLimiter {
	return &ipLimiter{clock: clk, max: max, window: window, hits: map[string][]time.Time{}}
}

func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	cut := now.Add(-l.window)
	h := l.hits[ip]
	i := 0
	for i < len(h) && h[i].Before(cut) {
		i++
	}
	h = h[i:]
	if len(h) >= l.max {
		l.hits[ip] = h
		return false
	}
	l.hits[ip] = append(h, now)
	if len(l.hits) > 100000 { // bound memory under a spray of addresses
		l.hits = map[string][]time.Time{}
	}
	return true
}

// authedFunc is a handler for signed-in callers only.
type authedFunc func(w http.ResponseWriter, r *http.Request, p identity.Principal) error

// authed refuses callers who are not signed in (apperr.ErrAuth) and hands
// the signed-in caller's principal to h.
func authed(h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := mustAuth(r)
		if err != nil {
			return err
		}
		return h(w, r, p)
	}
}
