package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"time"

	"shuqiao/internal/store"
)

// Authenticate checks a username and password and returns the person as a
// Principal. Every failure for a known or unknown username says only
// ErrBadCredentials; after MaxLoginFailures failures the username is locked
// for LockoutDuration (ErrLoginLocked), counted in the database so that all
// replicas agree. remoteAddr is recorded as the account's last sign-in
// address.
func (s *Service) Authenticate(ctx context.Context, username, password, remoteAddr string) (Principal, error) {
	key := usernameKey(username)
	if err := s.checkLock(ctx, key); err != nil {
		return Principal{}, err
	}
	var id, hash string
	var disabled int64
	err := s.db.QueryRowContext(ctx, `SELECT id, password_hash, disabled FROM identity_users WHERE username_key = $1`, key).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as for a real account.
		_, _ = verifyPassword(s.dummyHash, password)
		if checkUsername(key) == nil {
			if err := s.recordFailure(ctx, key); err != nil {
				return Principal{}, err
			}
		}
		return Principal{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, internal("sign in", err)
	}
	ok, err := verifyPassword(hash, password)
	if err != nil {
		return Principal{}, internal("verify password", err)
	}
	if !ok {
		if err := s.recordFailure(ctx, key); err != nil {
			return Principal{}, err
		}
		return Principal{}, ErrBadCredentials
	}
	if disabled != 0 {
		return Principal{}, ErrAccountDisabled
	}
	if len(remoteAddr) > 100 {
		remoteAddr = remoteAddr[:100]
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE identity_users SET last_login_at = $1, last_login_addr = $2 WHERE id = $3`,
		store.Micros(s.clk.Now()), remoteAddr, id); err != nil {
		return Principal{}, internal("record sign-in", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM identity_login_failures WHERE username_key = $1`, key); err != nil {
		return Principal{}, internal("clear failures", err)
	}
	return s.userPrincipal(ctx, s.db, id)
}

// userPrincipal builds the Principal of a user as they are now: current
// roles, org and flags.
func (s *Service) userPrincipal(ctx context.Context, q store.Queryer, userID string) (Principal, error) {
	u, err := getUser(ctx, q, userID)
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, ErrAccountDisabled
	}
	org, err := getOrg(ctx, q, u.OrgID)
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, Name: u.DisplayName, Username: u.Username,
		Roles: u.Roles, MustChangePassword: u.MustChangePassword}, nil
}

// checkLock returns ErrLoginLocked while key is locked.
func (s *Service) checkLock(ctx context.Context, key string) error {
	var until int64
	err := s.db.QueryRowContext(ctx, `SELECT locked_until FROM identity_login_failures WHERE username_key = $1`, key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return internal("check lock", err)
	}
	if until > store.Micros(s.clk.Now()) {
		return ErrLoginLocked
	}
	return nil
}

// recordFailure counts a failed sign-in for key in one atomic statement, and
// locks the key once the count reaches MaxLoginFailures. Failures further
// apart than LockoutDuration start the count again.
func (s *Service) recordFailure(ctx context.Context, key string) error {
	now := s.clk.Now()
	var failures int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO identity_login_failures (username_key, failures, last_failed_at, locked_until)
			VALUES ($1, 1, $2, 0)
			ON CONFLICT (username_key) DO UPDATE SET
				failures = CASE WHEN identity_login_failures.last_failed_at < $3 THEN 1 ELSE identity_login_failures.failures + 1 END,
				last_failed_at = $2
			RETURNING failures`,
			key, store.Micros(now), store.Micros(now.Add(-LockoutDuration))).Scan(&failures)
		if err != nil {
			return internal("record failure", err)
		}
		if failures >= MaxLoginFailures {
			if _, err := tx.ExecContext(ctx, `UPDATE identity_login_failures SET failures = 0, locked_until = $1 WHERE username_key = $2`,
				store.Micros(now.Add(LockoutDuration)), key); err != nil {
				return internal("lock", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if failures >= MaxLoginFailures {
		return ErrLoginLocked
	}
	return nil
}

// Session is a browser session. Token is the cookie value and is returned
// only here; the store keeps its SHA-256.
type Session struct {
	Token     string    `json:"-"`
	CSRF      string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSession starts a browser session for p, a person.
func (s *Service) CreateSession(ctx context.Context, p Principal) (Session, error) {
	if p.UserID == "" {
		return Session{}, ErrSessionInvalid
	}
	now := s.clk.Now()
	sess := Session{Token: randomToken(32), ExpiresAt: store.FromMicros(store.Micros(now.Add(s.sessionTTL)))}
	sess.CSRF = s.csrfFor(sess.Token)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// Tidy this user's expired sessions while we are here.
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = $1 AND expires_at <= $2`,
			p.UserID, store.Micros(now)); err != nil {
			return internal("prune sessions", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			sha256Hex(sess.Token), p.UserID, store.Micros(now), store.Micros(sess.ExpiresAt)); err != nil {
			return internal("create session", err)
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

// csrfFor derives a session's CSRF token from its cookie value, so it needs
// no storage and cannot be guessed without the platform secret.
func (s *Service) csrfFor(token string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SessionPrincipal returns the person a session cookie belongs to, as they
// are now (current roles; a disabled account has no sessions), and the
// session's CSRF token.
func (s *Service) SessionPrincipal(ctx context.Context, token string) (Principal, string, error) {
	if token == "" || len(token) > 128 {
		return Principal{}, "", ErrSessionInvalid
	}
	var userID string
	var expires int64
	err := s.db.QueryRowContext(ctx, `SELECT user_id, expires_at FROM identity_sessions WHERE token_hash = $1`, sha256Hex(token)).
		Scan(&userID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, "", ErrSessionInvalid
	}
	if err != nil {
		return Principal{}, "", internal("get session", err)
	}
	if expires <= store.Micros(s.clk.Now()) {
		return Principal{}, "", ErrSessionExpired
	}
	p, err := s.userPrincipal(ctx, s.db, userID)
	if err != nil {
		if errors.Is(err, ErrUserNotFound) || errors.Is(err, ErrAccountDisabled) {
			return Principal{}, "", ErrSessionInvalid
		}
		return Principal{}, "", err
	}
	return p, s.csrfFor(token), nil
}

// EndSession ends a session (sign-out). Ending an unknown session is not an
// error.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM identity_sessions WHERE token_hash = $1`, sha256Hex(token)); err != nil {
		return internal("end session", err)
	}
	return nil
}

// EndOtherSessions ends every session of actor's account except the one
// whose cookie value is keep (pass "" to end them all), e.g. after a
// password change.
func (s *Service) EndOtherSessions(ctx context.Context, actor Principal, keep string) error {
	if actor.UserID == "" {
		return ErrSessionInvalid
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = $1 AND token_hash <> $2`,
		actor.UserID, sha256Hex(keep)); err != nil {
		return internal("end sessions", err)
	}
	return nil
}

// Prune deletes expired sessions and stale sign-in failure counts. A
// scheduler may call it; correctness never depends on it.
func (s *Service) Prune(ctx context.Context) error {
	now := s.clk.Now()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM identity_sessions WHERE expires_at <= $1`, store.Micros(now)); err != nil {
		return internal("prune sessions", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM identity_login_failures WHERE last_failed_at < $1 AND locked_until < $2`,
		store.Micros(now.Add(-LockoutDuration)), store.Micros(now)); err != nil {
		return internal("prune failures", err)
	}
	return nil
}
