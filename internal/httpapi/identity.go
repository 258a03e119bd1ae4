package httpapi

import (
	"net/http"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
)

var errLoginThrottled = apperr.New(apperr.TooMany, "identity.login_throttled", "登录尝试过于频繁，请稍后再试", "too many sign-in attempts; try again later")

func (s *Server) identityRoutes() {
	s.handle("POST /api/v1/auth/login", s.login)
	s.handle("POST /api/v1/auth/logout", s.logout)
	s.handle("GET /api/v1/me", authed(s.me))
	s.handle("POST /api/v1/me/password", authed(s.changePassword))
	s.handle("GET /api/v1/orgs", s.listOrgs)
	s.handle("POST /api/v1/orgs", authed(s.createOrg))
	s.handle("GET /api/v1/orgs/{id}", s.getOrg)
	s.handle("GET /api/v1/orgs/{id}/users", authed(s.listUsers))
	s.handle("POST /api/v1/orgs/{id}/users", authed(s.createUser))
	s.handle("PUT /api/v1/users/{id}/roles", authed(s.setRoles))
	s.handle("POST /api/v1/users/{id}/disable", s.setDisabled(true))
	s.handle("POST /api/v1/users/{id}/enable", s.setDisabled(false))
	s.handle("GET /api/v1/orgs/{id}/clients", authed(s.listClients))
	s.handle("POST /api/v1/orgs/{id}/clients", authed(s.createClient))
	s.handle("GET /api/v1/clients/{id}/tokens", authed(s.listTokens))
	s.handle("POST /api/v1/clients/{id}/tokens", authed(s.issueToken))
	s.handle("POST /api/v1/tokens/{id}/revoke", authed(s.revokeToken))
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	User      meResponse `json:"user"`
	CSRFToken string     `json:"csrf_token"`
	ExpiresAt time.Time  `json:"expires_at"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if !s.loginLimit.allow(clientIP(r)) {
		return errLoginThrottled
	}
	var in loginRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.Identity.Authenticate(r.Context(), in.Username, in.Password, clientIP(r))
	if err != nil {
		return err
	}
	sess, err := s.Identity.CreateSession(r.Context(), p)
	if err != nil {
		return err
	}
	// Max-Age, not Expires: a lifetime counted on the browser's own clock,
	// so a client whose clock is off from the platform's (or a test on a
	// fake clock) keeps the cookie exactly as long as the session lasts.
	// The session's expiry is enforced on the platform's side either way.
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: sess.Token, Path: "/", MaxAge: max(int(sess.ExpiresAt.Sub(s.Clock.Now()).Seconds()), 1),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.opts.SecureCookies,
	})
	me, err := s.meOf(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, loginResponse{User: me, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt})
	return nil
}

func clearSessionCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := s.Identity.EndSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	clearSessionCookie(w, s.opts.SecureCookies)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type meResponse struct {
	UserID   string          `json:"user_id,omitempty"`
	ClientID string          `json:"client_id,omitempty"`
	Name     string          `json:"name"`
	Org      identity.Org    `json:"org"`
	Roles    []identity.Role `json:"roles"`
	Scopes   []string        `json:"scopes,omitempty"`
}

func (s *Server) meOf(r *http.Request, p identity.Principal) (meResponse, error) {
	org, err := s.Identity.GetOrg(r.Context(), p.OrgID)
	if err != nil {
		return meResponse{}, err
	}
	roles := p.Roles
	if roles == nil {
		roles = []identity.Role{}
	}
	return meResponse{UserID: p.UserID, ClientID: p.ClientID, Name: p.Name, Org: org, Roles: roles, Scopes: p.Scopes}, nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	me, err := s.meOf(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

type passwordRequest struct {
	Old string `json:"old_password"`
	New string `json:"new_password"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in passwordRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Identity.ChangePassword(r.Context(), p, in.Old, in.New); err != nil {
		return err
	}
	// Whoever else held this account's sessions must sign in again.
	if c, err := r.Cookie(SessionCookie); err == nil && p.UserID != "" {
		if err := s.Identity.EndOtherSessions(r.Context(), p, c.Value); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := identity.OrgFilter{Kind: identity.OrgKind(q.Get("kind")), Query: q.Get("q")}
	orgs, next, err := s.Identity.ListOrgs(r.Context(), f, cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(orgs, next))
	return nil
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in identity.NewOrg
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	org, err := s.Identity.CreateOrg(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, org)
	return nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) error {
	org, err := s.Identity.GetOrg(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, org)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	users, next, err := s.Identity.ListUsers(r.Context(), p, r.PathValue("id"), cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(users, next))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in identity.NewUser
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	in.OrgID = r.PathValue("id")
	u, err := s.Identity.CreateUser(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

type rolesRequest struct {
	Roles []identity.Role `json:"roles"`
}

func (s *Server) setRoles(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in rolesRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	u, err := s.Identity.SetRoles(r.Context(), p, r.PathValue("id"), in.Roles)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cs, err := s.Identity.ListClients(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(cs, ""))
	return nil
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in identity.NewClient
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	in.OrgID = r.PathValue("id")
	c, err := s.Identity.CreateClient(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	ts, err := s.Identity.ListTokens(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(ts, ""))
	return nil
}

type tokenRequest struct {
	Scopes []string `json:"scopes"`
	// TTLDays is how long the token lives; 0 means the default (90 days).
	TTLDays int `json:"ttl_days"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in tokenRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.TTLDays < 0 || in.TTLDays > 366 {
		return apperr.Invalidf("identity.token_ttl", "ttl_days", "有效期须为 1 到 366 天", "ttl_days must be from 1 to 366")
	}
	t, err := s.Identity.IssueToken(r.Context(), p, r.PathValue("id"), in.Scopes, time.Duration(in.TTLDays)*24*time.Hour)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	if err := s.Identity.RevokeToken(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) setDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := mustAuth(r)
		if err != nil {
			return err
		}
		u, err := s.Identity.SetDisabled(r.Context(), p, r.PathValue("id"), disabled)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}
