package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure the identity service.
type Options struct {
	// Secret is the platform secret (at least 32 bytes). It keys the hashes
	// of resident ID numbers and derives sessions' CSRF tokens.
	Secret []byte
	// SessionTTL is how long a browser session lives; default 12 hours.
	SessionTTL time.Duration
	// Argon2 sets the cost of new password hashes; zero means DefaultArgon2.
	Argon2 Argon2Params
}

// Login throttling: after MaxLoginFailures failed sign-ins for one username
// within LockoutDuration of each other, the username is locked for
// LockoutDuration.
const (
	MaxLoginFailures = 5
	LockoutDuration  = 15 * time.Minute
	DefaultTokenTTL  = 90 * 24 * time.Hour
	MaxTokenTTL      = 366 * 24 * time.Hour
	DefaultPageSize  = 50
	MaxPageSize      = 500
)

// Service manages orgs, users, roles, sessions, API clients and tokens.
type Service struct {
	db         *store.DB
	led        *ledger.Ledger
	clk        clock.Clock
	secret     []byte
	sessionTTL time.Duration
	argon      Argon2Params
	// dummyHash is verified against when a username is unknown, so a
	// sign-in takes as long whether or not the account exists.
	dummyHash string
}

// New returns the identity service over db, migrating its tables.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, opts Options) (*Service, error) {
	if len(opts.Secret) < 32 {
		return nil, errors.New("identity: the platform secret must be at least 32 bytes")
	}
	if db == nil || led == nil || clk == nil {
		return nil, errors.New("identity: New needs a store, a ledger and a clock")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if err := db.Migrate(ctx, "identity", migrations, "migrations"); err != nil {
		return nil, err
	}
	s := &Service{db: db, led: led, clk: clk, secret: slices.Clone(opts.Secret), sessionTTL: opts.SessionTTL, argon: opts.Argon2}
	var err error
	if s.dummyHash, err = hashPassword("shuqiao-dummy-password-0", s.argon); err != nil {
		return nil, err
	}
	return s, nil
}

// Errors callers may test for with errors.Is.
var (
	ErrOrgNotFound    = apperr.New(apperr.NotFound, "identity.org_not_found", "机构不存在", "no such organisation")
	ErrUserNotFound   = apperr.New(apperr.NotFound, "identity.user_not_found", "用户不存在", "no such user")
	ErrClientNotFound = apperr.New(apperr.NotFound, "identity.client_not_found", "应用不存在", "no such API client")
	ErrTokenNotFound  = apperr.New(apperr.NotFound, "identity.token_not_found", "令牌不存在", "no such token")

	ErrForbiddenRole         = apperr.New(apperr.Forbidden, "identity.forbidden_role", "您的角色无权执行该操作", "your roles do not allow this")
	ErrForbiddenOrg          = apperr.New(apperr.Forbidden, "identity.forbidden_org", "您只能管理本机构的账号和应用", "you may manage only your own organisation's accounts and clients")
	ErrForbiddenPlatformRole = apperr.New(apperr.Forbidden, "identity.forbidden_platform_role",
		"只有平台管理员（authority_admin）可以授予或撤销平台角色", "only an authority_admin may grant or revoke platform roles")

	ErrUsernameTaken      = apperr.New(apperr.Conflict, "identity.username_taken", "用户名已被使用", "the username is taken").At("username")
	ErrCreditCodeTaken    = apperr.New(apperr.Conflict, "identity.credit_code_taken", "该统一社会信用代码已登记", "an organisation with this unified social credit code exists").At("credit_code")
	ErrAuthorityExists    = apperr.New(apperr.Conflict, "identity.authority_exists", "大数据主管部门已存在，平台只能有一个", "the authority already exists; a platform has exactly one")
	ErrClientNameTaken    = apperr.New(apperr.Conflict, "identity.client_name_taken", "本机构已有同名应用", "your organisation already has a client with this name").At("name")
	ErrLastAuthorityAdmin = apperr.New(apperr.Conflict, "identity.last_authority_admin",
		"不能撤销最后一位平台管理员的 authority_admin 角色", "cannot remove authority_admin from the last active authority admin")

	ErrBadCredentials = apperr.New(apperr.Unauthenticated, "identity.bad_credentials", "用户名或密码错误", "wrong username or password")
	ErrLoginLocked    = apperr.New(apperr.TooMany, "identity.login_locked",
		"登录失败次数过多，该账号已暂时锁定 15 分钟", "too many failed sign-ins; this username is locked for 15 minutes")
	ErrAccountDisabled = apperr.New(apperr.Forbidden, "identity.account_disabled", "账号已停用", "the account is disabled")
	ErrWrongPassword   = apperr.New(apperr.Invalid, "identity.wrong_password", "原密码错误", "the current password is wrong").At("old_password")
	ErrSamePassword    = apperr.New(apperr.Invalid, "identity.same_password", "新密码不能与原密码相同", "the new password must differ from the current one").At("new_password")

	ErrSessionInvalid = apperr.New(apperr.Unauthenticated, "identity.session_invalid", "会话无效，请重新登录", "the session is not valid; sign in again")
	ErrSessionExpired = apperr.New(apperr.Unauthenticated, "identity.session_expired", "会话已过期，请重新登录", "the session has expired; sign in again")

	ErrTokenUnknown   = apperr.New(apperr.Unauthenticated, "identity.token_unknown", "令牌无效", "the token is not valid")
	ErrTokenExpired   = apperr.New(apperr.Unauthenticated, "identity.token_expired", "令牌已过期", "the token has expired")
	ErrTokenRevoked   = apperr.New(apperr.Unauthenticated, "identity.token_revoked", "令牌已被吊销", "the token has been revoked")
	ErrClientDisabled = apperr.New(apperr.Unauthenticated, "identity.client_disabled", "应用已停用", "the API client is disabled")
)

// actorEvent starts a ledger event for something actor did: a person, an
// API client, or the platform itself (the CLI, bootstrap, demo seeding).
func actorEvent(actor Principal, object string, detail map[string]any) ledger.Event {
	e := ledger.Event{ActorKind: ledger.ActorSystem, OrgID: actor.OrgID, Action: ledger.Admin, Object: object}
	switch {
	case actor.UserID != "":
		e.ActorKind, e.ActorID = ledger.ActorUser, actor.UserID
	case actor.ClientID != "":
		e.ActorKind, e.ActorID = ledger.ActorClient, actor.ClientID
	}
	if detail != nil {
		e.Detail = ledger.DetailOf(detail)
	}
	return e
}

// canAdminOrg reports whether actor may manage accounts and clients of org:
// an authority_admin anywhere, an admin within their own org.
func canAdminOrg(actor Principal, orgID string) error {
	if actor.Has(RoleAuthorityAdmin) {
		return nil
	}
	if !actor.Has(RoleAdmin) {
		return ErrForbiddenRole
	}
	if actor.OrgID == "" || actor.OrgID != orgID {
		return ErrForbiddenOrg
	}
	return nil
}

// normalizeRoles checks roles, drops duplicates and returns them in the
// canonical order (org roles, then platform roles).
func normalizeRoles(roles []Role, field string) ([]Role, error) {
	out := []Role{}
	for _, r := range roles {
		if !slices.Contains(OrgRoles, r) && !slices.Contains(PlatformRoles, r) {
			return nil, apperr.Invalidf("identity.role_invalid", field, "未知角色 %q", "unknown role %q", string(r))
		}
	}
	for _, r := range append(slices.Clone(OrgRoles), PlatformRoles...) {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func joinRoles(roles []Role) string {
	ss := make([]string, len(roles))
	for i, r := range roles {
		ss[i] = string(r)
	}
	return strings.Join(ss, " ")
}

func splitRoles(s string) []Role {
	out := []Role{}
	for _, f := range strings.Fields(s) {
		out = append(out, Role(f))
	}
	return out
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// keyedHash is HMAC-SHA256 under the platform secret with a purpose label,
// hex-encoded.
func (s *Service) keyedHash(purpose, v string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// ResidentIDHash returns the keyed hash under which a canonical resident ID
// number is stored, so a person can be matched without keeping the number.
func (s *Service) ResidentIDHash(canonicalID string) string {
	return s.keyedHash("resident-id", canonicalID)
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return min(limit, MaxPageSize)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// internal wraps an unexpected database error.
func internal(op string, err error) error {
	return fmt.Errorf("identity: %s: %w", op, err)
}
