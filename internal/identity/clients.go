package identity

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// Well-known token scopes. httpapi lets api:read make safe (GET) requests
// and api:write any request.
const (
	ScopeRead  = "api:read"
	ScopeWrite = "api:write"
)

// DefaultClientScopes are given to a client created without scopes: read
// only, so writing is always a deliberate choice.
var DefaultClientScopes = []string{ScopeRead}

// Client is an org's business application that calls the API with bearer
// tokens.
type Client struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	Roles     []Role    `json:"roles"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
}

// NewClient is what CreateClient needs.
type NewClient struct {
	OrgID  string   `json:"org_id,omitempty"`
	Name   string   `json:"name"`
	Roles  []Role   `json:"roles"`
	Scopes []string `json:"scopes"`
}

// Token describes a bearer token; the secret itself is never stored or
// shown again after IssueToken.
type Token struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
}

// TokenInfo names Token where it is embedded in IssuedToken, whose own
// Token field is the secret.
type TokenInfo = Token

// IssuedToken is a newly issued token: Token is the bearer secret
// ("sq_" + 43 base64url characters), shown this once; the embedded TokenInfo
// describes it.
type IssuedToken struct {
	Token string `json:"token"`
	TokenInfo
}

// TokenPrefix starts every bearer token, so leaked tokens are easy to find
// with secret scanners.
const TokenPrefix = "sq_"

var scopeRe = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

const maxScopes = 32

// normalizeScopes checks scopes, drops duplicates and sorts them.
func normalizeScopes(scopes []string) ([]string, error) {
	if len(scopes) > maxScopes {
		return nil, apperr.Invalidf("identity.scope_invalid", "scopes", "权限范围不能超过 %d 个", "at most %d scopes", maxScopes)
	}
	out := []string{}
	for _, sc := range scopes {
		if !scopeRe.MatchString(sc) {
			return nil, apperr.Invalidf("identity.scope_invalid", "scopes", "权限范围 %q 格式不正确", "scope %q is not valid (lower-case letters, digits and _ . : -)", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CreateClient registers an API client for an org. An org admin may create
// clients for their own org, an authority_admin for any. A client's roles
// must be org roles: platform roles belong to people.
func (s *Service) CreateClient(ctx context.Context, actor Principal, in NewClient) (Client, error) {
	in.OrgID = strings.TrimSpace(in.OrgID)
	in.Name = strings.TrimSpace(in.Name)
	if in.OrgID == "" {
		return Client{}, apperr.Invalidf("identity.org_required", "org_id", "须指定机构", "an org_id is required")
	}
	if err := canAdminOrg(actor, in.OrgID); err != nil {
		return Client{}, err
	}
	if err := checkName(in.Name, "name"); err != nil {
		return Client{}, err
	}
	roles, err := normalizeRoles(in.Roles, "roles")
	if err != nil {
		return Client{}, err
	}
	if slices.ContainsFunc(roles, Role.IsPlatform) {
		return Client{}, apperr.New(apperr.Forbidden, "identity.forbidden_role",
			"应用只能拥有机构内角色，不能拥有平台角色", "an API client may hold org roles only, never platform roles").At("roles")
	}
	if len(in.Scopes) == 0 {
		in.Scopes = DefaultClientScopes
	}
	scopes, err := normalizeScopes(in.Scopes)
	if err != nil {
		return Client{}, err
	}
	c := Client{ID: store.NewID(), OrgID: in.OrgID, Name: in.Name, Roles: roles, Scopes: scopes,
		CreatedAt: store.FromMicros(store.Micros(s.clk.Now()))}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := getOrg(ctx, tx, in.OrgID); err != nil {
			if errors.Is(err, ErrOrgNotFound) {
				return ErrOrgNotFound.At("org_id")
			}
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identity_clients WHERE org_id = $1 AND name = $2`, c.OrgID, c.Name).Scan(&n); err != nil {
			return internal("check client name", err)
		}
		if n > 0 {
			return ErrClientNameTaken
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_clients (id, org_id, name, roles, scopes, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, 0, $6)`,
			c.ID, c.OrgID, c.Name, joinRoles(c.Roles), strings.Join(c.Scopes, " "), store.Micros(c.CreatedAt)); err != nil {
			if store.IsUniqueViolation(err) {
				return ErrClientNameTaken
			}
			return internal("insert client", err)
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "client/"+c.ID, map[string]any{
			"op": "client.create", "org_id": c.OrgID, "name": c.Name, "roles": c.Roles, "scopes": c.Scopes,
		}))
	})
	if err != nil {
		return Client{}, err
	}
	return c, nil
}

const clientColumns = `id, org_id, name, roles, scopes, disabled, created_at`

func scanClient(row interface{ Scan(...any) error }) (Client, error) {
	var c Client
	var roles, scopes string
	var disabled, created int64
	if err := row.Scan(&c.ID, &c.OrgID, &c.Name, &roles, &scopes, &disabled, &created); err != nil {
		return Client{}, err
	}
	c.Roles, c.Scopes = splitRoles(roles), strings.Fields(scopes)
	c.Disabled, c.CreatedAt = disabled != 0, store.FromMicros(created)
	return c, nil
}

func getClient(ctx context.Context, q store.Queryer, id string) (Client, error) {
	c, err := scanClient(q.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM identity_clients WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, ErrClientNotFound
	}
	if err != nil {
		return Client{}, internal("get client", err)
	}
	return c, nil
}

// GetClient returns a client if actor may manage its org.
func (s *Service) GetClient(ctx context.Context, actor Principal, id string) (Client, error) {
	c, err := getClient(ctx, s.db, id)
	if err != nil {
		return Client{}, err
	}
	if err := canAdminOrg(actor, c.OrgID); err != nil {
		return Client{}, err
	}
	return c, nil
}

// ListClients lists an org's API clients, to its admins and authority admins.
func (s *Service) ListClients(ctx context.Context, actor Principal, orgID string) ([]Client, error) {
	if err := canAdminOrg(actor, orgID); err != nil {
		return nil, err
	}
	if _, err := s.GetOrg(ctx, orgID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+clientColumns+` FROM identity_clients WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, internal("list clients", err)
	}
	defer rows.Close()
	out := []Client{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, internal("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list clients", err)
	}
	return out, nil
}

// IssueToken issues a bearer token for a client. scopes must be a subset of
// the client's (empty means all of them); ttl defaults to 90 days and may be
// at most 366 days.
func (s *Service) IssueToken(ctx context.Context, actor Principal, clientID string, scopes []string, ttl time.Duration) (IssuedToken, error) {
	c, err := s.GetClient(ctx, actor, clientID)
	if err != nil {
		return IssuedToken{}, err
	}
	if c.Disabled {
		return IssuedToken{}, apperr.New(apperr.Conflict, "identity.client_disabled", "应用已停用，不能签发令牌", "the API client is disabled; no tokens can be issued")
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return IssuedToken{}, apperr.Invalidf("identity.token_ttl", "ttl", "令牌有效期须在 1 分钟到 366 天之间", "a token lives from 1 minute to 366 days")
	}
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	if scopes, err = normalizeScopes(scopes); err != nil {
		return IssuedToken{}, err
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return IssuedToken{}, apperr.New(apperr.Forbidden, "identity.scope_not_allowed",
				"令牌的权限范围超出了应用的权限范围："+sc, "the token asks for a scope the client does not have: "+sc).At("scopes")
		}
	}
	now := store.FromMicros(store.Micros(s.clk.Now()))
	t := IssuedToken{Token: TokenPrefix + randomToken(32), TokenInfo: Token{ID: store.NewID(), ClientID: c.ID, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_tokens (id, client_id, token_hash, scopes, created_at, expires_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, 0)`,
			t.ID, t.ClientID, sha256Hex(t.Token), strings.Join(t.Scopes, " "), store.Micros(t.CreatedAt), store.Micros(t.ExpiresAt)); err != nil {
			return internal("insert token", err)
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "token/"+t.ID, map[string]any{
			"op": "token.issue", "org_id": c.OrgID, "client_id": c.ID, "scopes": t.Scopes, "expires_at": t.ExpiresAt,
		}))
	})
	if err != nil {
		return IssuedToken{}, err
	}
	return t, nil
}

const tokenColumns = `id, client_id, scopes, created_at, expires_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var scopes string
	var created, expires, revoked int64
	if err := row.Scan(&t.ID, &t.ClientID, &scopes, &created, &expires, &revoked); err != nil {
		return Token{}, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = store.FromMicros(created), store.FromMicros(expires), store.FromMicros(revoked)
	return t, nil
}

// ListTokens lists a client's tokens, newest last, without their secrets.
func (s *Service) ListTokens(ctx context.Context, actor Principal, clientID string) ([]Token, error) {
	if _, err := s.GetClient(ctx, actor, clientID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		return nil, internal("list tokens", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, internal("list tokens", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list tokens", err)
	}
	return out, nil
}

// RevokeToken revokes a token at once. Revoking a revoked token is a no-op
// that writes nothing.
func (s *Service) RevokeToken(ctx context.Context, actor Principal, tokenID string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE id = $1`, tokenID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTokenNotFound
		}
		if err != nil {
			return internal("get token", err)
		}
		c, err := getClient(ctx, tx, t.ClientID)
		if err != nil {
			return err
		}
		if err := canAdminOrg(actor, c.OrgID); err != nil {
			return err
		}
		if !t.RevokedAt.IsZero() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE identity_tokens SET revoked_at = $1 WHERE id = $2`, store.Micros(s.clk.Now()), t.ID); err != nil {
			return internal("revoke token", err)
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "token/"+t.ID, map[string]any{
			"op": "token.revoke", "org_id": c.OrgID, "client_id": c.ID,
		}))
	})
}

// TokenPrincipal returns the API client a bearer token belongs to, acting
// with the client's roles and the token's scopes. Unknown, expired and
// revoked tokens get distinct codes (identity.token_unknown,
// identity.token_expired, identity.token_revoked), all Unauthenticated.
func (s *Service) TokenPrincipal(ctx context.Context, bearer string) (Principal, error) {
	if !strings.HasPrefix(bearer, TokenPrefix) || len(bearer) > 128 {
		return Principal{}, ErrTokenUnknown
	}
	// One query: every API call passes here, so token, client and org kind
	// are read together.
	var (
		t                         Token
		c                         Client
		kind                      OrgKind
		tScopes, cRoles, cScopes  string
		created, expires, revoked int64
		disabled                  int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.client_id, t.scopes, t.created_at, t.expires_at, t.revoked_at,
			c.org_id, c.name, c.roles, c.scopes, c.disabled, o.kind
		FROM identity_tokens t
		JOIN identity_clients c ON c.id = t.client_id
		JOIN identity_orgs o ON o.id = c.org_id
		WHERE t.token_hash = $1`, sha256Hex(bearer)).
		Scan(&t.ID, &t.ClientID, &tScopes, &created, &expires, &revoked, &c.OrgID, &c.Name, &cRoles, &cScopes, &disabled, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrTokenUnknown
	}
	if err != nil {
		return Principal{}, internal("get token", err)
	}
	t.Scopes = strings.Fields(tScopes)
	t.ExpiresAt, t.RevokedAt = store.FromMicros(expires), store.FromMicros(revoked)
	c.ID, c.Roles, c.Scopes, c.Disabled = t.ClientID, splitRoles(cRoles), strings.Fields(cScopes), disabled != 0
	if !t.RevokedAt.IsZero() {
		return Principal{}, ErrTokenRevoked
	}
	if !s.clk.Now().Before(t.ExpiresAt) {
		return Principal{}, ErrTokenExpired
	}
	if c.Disabled {
		return Principal{}, ErrClientDisabled
	}
	org := Org{Kind: kind}
	// A client's scopes may have been narrowed since the token was issued.
	var scopes []string
	for _, sc := range t.Scopes {
		if slices.Contains(c.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return Principal{ClientID: c.ID, OrgID: c.OrgID, OrgKind: org.Kind, Name: c.Name, Roles: c.Roles, Scopes: scopes}, nil
}
