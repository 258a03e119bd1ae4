package ingest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Upstream authentication kinds.
const (
	AuthNone   = "none"
	AuthAPIKey = "api_key" // a header (Name) carrying Secret
	AuthBearer = "bearer"  // Authorization: Bearer Secret
	AuthBasic  = "basic"   // HTTP Basic with Name and Secret
)

// UpstreamAuth is how the platform authenticates to an upstream service.
// Secret is write-only: it is stored encrypted and never returned.
type UpstreamAuth struct {
	Kind   string `json:"kind"`
	Name   string `json:"name,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// ServiceInput registers a service-interface resource's upstream (R-AGG-2):
// data that may not be aggregated stays at the org and is shared through
// this endpoint, which the gate proxies.
type ServiceInput struct {
	BaseURL string `json:"base_url"`
	// OpenAPI is the upstream's OpenAPI 3 description (JSON or YAML).
	OpenAPI string       `json:"openapi"`
	Auth    UpstreamAuth `json:"auth"`
	// TimeoutMS bounds each upstream call (default 10000, 100 to 60000).
	TimeoutMS int `json:"timeout_ms"`
	// HealthPath is requested (GET) to check the upstream; "" uses the base URL.
	HealthPath string `json:"health_path,omitempty"`
}

// Health is the last health check of an upstream.
type Health struct {
	// Status is unknown, up or down.
	Status    string     `json:"status"`
	Detail    string     `json:"detail,omitempty"`
	LatencyMS int        `json:"latency_ms"`
	At        *time.Time `json:"at,omitempty"`
}

// Upstream is a registered service interface as people see it.
type Upstream struct {
	ResourceID string `json:"resource_id"`
	OrgID      string `json:"org_id"`
	BaseURL    string `json:"base_url"`
	Title      string `json:"title"`
	Operations int    `json:"operations"`
	AuthKind   string `json:"auth_kind"`
	AuthName   string `json:"auth_name,omitempty"`
	// SecretSet says a secret is stored (it is never shown).
	SecretSet  bool      `json:"secret_set"`
	TimeoutMS  int       `json:"timeout_ms"`
	HealthPath string    `json:"health_path,omitempty"`
	Health     Health    `json:"health"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

var errNoSecretKey = apperr.New(apperr.Internal, "ingest.no_secret_key", "平台密钥未配置，无法保存上游凭据", "the platform secret is not configured; upstream credentials cannot be stored")

// deriveKey derives the key that encrypts upstream credentials from the
// platform secret; nil without one.
func deriveKey(secret []byte) []byte {
	if len(secret) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("shuqiao/ingest/upstream-credentials/v1"))
	return m.Sum(nil)
}

// seal encrypts a credential with AES-256-GCM, bound to its resource.
func (s *Service) seal(resourceID, secret string) ([]byte, error) {
	if s.key == nil {
		return nil, errNoSecretKey
	}
	block, err := aes.NewCipher(s.key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, []byte(secret), []byte(resourceID)), nil
}

func (s *Service) open(resourceID string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if s.key == nil {
		return "", errNoSecretKey
	}
	block, err := aes.NewCipher(s.key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(sealed) < gcm.NonceSize() {
		return "", errors.New("ingest: sealed credential is too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(resourceID))
	if err != nil {
		return "", fmt.Errorf("ingest: credential does not decrypt (was the platform secret changed?): %w", err)
	}
	return string(plain), nil
}

func svcInvalid(field, zh, en string, args ...any) error {
	return apperr.Invalidf("ingest.bad_service", field, zh, en, args...)
}

// parseOpenAPI loads an OpenAPI 3 description without following external
// references, and returns its title and number of operations.
func parseOpenAPI(doc string) (string, int, error) {
	if len(doc) == 0 || len(doc) > 4<<20 {
		return "", 0, svcInvalid("openapi", "须提供不超过 4 MiB 的 OpenAPI 3 描述", "give an OpenAPI 3 description of at most 4 MiB")
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	d, err := loader.LoadFromData([]byte(doc))
	if err != nil {
		return "", 0, svcInvalid("openapi", "OpenAPI 描述无法解析：%v", "the OpenAPI description does not parse: %v", clip(err.Error(), 300))
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		return "", 0, svcInvalid("openapi", "须为 OpenAPI 3.x（openapi: 3.0 或 3.1）", "it must be OpenAPI 3.x (openapi: 3.0 or 3.1)")
	}
	n := 0
	if d.Paths != nil {
		for _, item := range d.Paths.Map() {
			n += len(item.Operations())
		}
	}
	if n == 0 {
		return "", 0, svcInvalid("openapi", "OpenAPI 描述中没有任何接口操作", "the OpenAPI description has no operations")
	}
	title := ""
	if d.Info != nil {
		title = d.Info.Title
	}
	return clip(title, 200), n, nil
}

// RegisterService registers (or updates) the upstream of a service-interface
// resource. An empty Auth.Secret keeps the stored one.
func (s *Service) RegisterService(ctx context.Context, p identity.Principal, resource string, in ServiceInput) (*Upstream, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	if r.Delivery.Mode != catalog.ServiceAPI {
		return nil, ErrNotService.At(r.Code)
	}
	u, err := url.Parse(strings.TrimSpace(in.BaseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, svcInvalid("base_url", "上游地址须为 http(s) URL，且不含用户信息", "the base URL must be an http(s) URL without user information")
	}
	title, ops, err := parseOpenAPI(in.OpenAPI)
	if err != nil {
		return nil, err
	}
	if in.TimeoutMS == 0 {
		in.TimeoutMS = 10000
	}
	if in.TimeoutMS < 100 || in.TimeoutMS > 60000 {
		return nil, svcInvalid("timeout_ms", "超时须在 100 到 60000 毫秒之间", "timeout_ms must be from 100 to 60000")
	}
	if in.HealthPath != "" && (!strings.HasPrefix(in.HealthPath, "/") || len(in.HealthPath) > 200) {
		return nil, svcInvalid("health_path", "健康检查路径须以 / 开头，最多 200 字节", "health_path must start with / (at most 200 bytes)")
	}
	a := in.Auth
	if a.Kind == "" {
		a.Kind = AuthNone
	}
	switch a.Kind {
	case AuthNone:
		a.Name, a.Secret = "", ""
	case AuthAPIKey:
		if a.Name == "" || strings.ContainsAny(a.Name, " :\r\n") || len(a.Name) > 100 {
			return nil, svcInvalid("auth.name", "api_key 须给出请求头名称", "api_key needs a header name")
		}
	case AuthBearer:
		a.Name = ""
	case AuthBasic:
		if a.Name == "" || len(a.Name) > 200 {
			return nil, svcInvalid("auth.name", "basic 须给出用户名", "basic needs a user name")
		}
	default:
		return nil, svcInvalid("auth.kind", "认证方式须为 none、api_key、bearer 或 basic", "auth.kind must be none, api_key, bearer or basic")
	}
	now := s.now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var sealed []byte
		var oldKind string
		err := tx.QueryRowContext(ctx, `SELECT auth_kind, secret_enc FROM ingest_services WHERE resource_id = $1`, r.ID).Scan(&oldKind, &sealed)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		switch {
		case a.Kind == AuthNone:
			sealed = nil
		case a.Secret != "":
			if sealed, err = s.seal(r.ID, a.Secret); err != nil {
				return err
			}
		case !exists || oldKind != a.Kind || len(sealed) == 0:
			return svcInvalid("auth.secret", "须提供上游凭据", "give the upstream credential")
		}
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE ingest_services SET base_url = $1, openapi = $2, title = $3, operations = $4, auth_kind = $5, auth_name = $6,
				secret_enc = $7, timeout_ms = $8, health_path = $9, updated_at = $10 WHERE resource_id = $11`,
				u.String(), in.OpenAPI, title, ops, a.Kind, a.Name, sealed, in.TimeoutMS, in.HealthPath, store.Micros(now), r.ID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO ingest_services (resource_id, org_id, base_url, openapi, title, operations, auth_kind, auth_name, secret_enc,
				timeout_ms, health_path, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
				r.ID, r.OrgID, u.String(), in.OpenAPI, title, ops, a.Kind, a.Name, sealed, in.TimeoutMS, in.HealthPath, store.Micros(now))
		}
		if err != nil {
			return fmt.Errorf("ingest: register service: %w", err)
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, r.ID, map[string]any{"what": "ingest.service.register", "base_url": u.String(),
			"operations": ops, "auth": a.Kind, "timeout_ms": in.TimeoutMS}))
	})
	if err != nil {
		return nil, err
	}
	return s.upstream(ctx, r.ID)
}

const upstreamCols = `resource_id, org_id, base_url, title, operations, auth_kind, auth_name, secret_enc, timeout_ms, health_path, health_status, health_detail, health_ms, health_at, created_at, updated_at`

func (s *Service) upstreamRow(ctx context.Context, id string) (*Upstream, []byte, error) {
	var u Upstream
	var sealed []byte
	var hat, c, up int64
	err := s.db.QueryRowContext(ctx, `SELECT `+upstreamCols+` FROM ingest_services WHERE resource_id = $1`, id).Scan(&u.ResourceID, &u.OrgID, &u.BaseURL,
		&u.Title, &u.Operations, &u.AuthKind, &u.AuthName, &sealed, &u.TimeoutMS, &u.HealthPath, &u.Health.Status, &u.Health.Detail, &u.Health.LatencyMS, &hat, &c, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, apperr.New(apperr.NotFound, "ingest.no_service", "该目录条目尚未登记服务接口", "no service interface is registered for this entry").At(id)
	}
	if err != nil {
		return nil, nil, err
	}
	u.SecretSet = len(sealed) > 0
	if hat != 0 {
		t := store.FromMicros(hat)
		u.Health.At = &t
	}
	u.CreatedAt, u.UpdatedAt = store.FromMicros(c), store.FromMicros(up)
	return &u, sealed, nil
}

func (s *Service) upstream(ctx context.Context, id string) (*Upstream, error) {
	u, _, err := s.upstreamRow(ctx, id)
	return u, err
}

// Upstream returns a resource's registered service interface.
func (s *Service) Upstream(ctx context.Context, p identity.Principal, resource string) (*Upstream, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canSee(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	return s.upstream(ctx, r.ID)
}

// UpstreamCredentials returns a service's decrypted authentication, for the
// gate that proxies it. It is not offered over HTTP.
func (s *Service) UpstreamCredentials(ctx context.Context, resourceID string) (*Upstream, UpstreamAuth, error) {
	u, sealed, err := s.upstreamRow(ctx, resourceID)
	if err != nil {
		return nil, UpstreamAuth{}, err
	}
	secret, err := s.open(resourceID, sealed)
	if err != nil {
		return nil, UpstreamAuth{}, err
	}
	return u, UpstreamAuth{Kind: u.AuthKind, Name: u.AuthName, Secret: secret}, nil
}

// Authorize sets a's credentials on an upstream request.
func (a UpstreamAuth) Authorize(req *http.Request) {
	switch a.Kind {
	case AuthAPIKey:
		req.Header.Set(a.Name, a.Secret)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.Secret)
	case AuthBasic:
		req.SetBasicAuth(a.Name, a.Secret)
	}
}

// CheckHealth requests the upstream's health path with its credentials and
// timeout and records the result.
func (s *Service) CheckHealth(ctx context.Context, p identity.Principal, resource string) (*Upstream, error) {
	r, err := s.resource(ctx, resource)
	if err != nil {
		return nil, err
	}
	if !canManage(p, r.OrgID) {
		return nil, apperr.ErrForbidden
	}
	return s.checkHealth(ctx, r.ID)
}

func (s *Service) checkHealth(ctx context.Context, id string) (*Upstream, error) {
	u, auth, err := s.UpstreamCredentials(ctx, id)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(u.TimeoutMS)*time.Millisecond)
	defer cancel()
	status, detail := "down", ""
	start := time.Now()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, strings.TrimSuffix(u.BaseURL, "/")+u.HealthPath, nil)
	if err == nil {
		auth.Authorize(req)
		req.Header.Set("User-Agent", "shuqiao-health/1")
		var res *http.Response
		res, err = s.opts.HTTPClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			detail = fmt.Sprintf("HTTP %d", res.StatusCode)
			if res.StatusCode < 400 {
				status = "up"
			}
		}
	}
	if err != nil {
		detail = clip(err.Error(), 300)
	}
	ms := int(time.Since(start).Milliseconds())
	now := s.now()
	if _, err := s.db.ExecContext(ctx, `UPDATE ingest_services SET health_status = $1, health_detail = $2, health_ms = $3, health_at = $4 WHERE resource_id = $5`,
		status, detail, ms, store.Micros(now), id); err != nil {
		return nil, err
	}
	u.Health = Health{Status: status, Detail: detail, LatencyMS: ms, At: &now}
	return u, nil
}

// CheckAllHealth checks every registered upstream; the server runs it
// periodically.
func (s *Service) CheckAllHealth(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT resource_id FROM ingest_services ORDER BY resource_id`)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := s.checkHealth(ctx, id); err != nil {
			s.log.Warn("ingest: upstream health check", "resource", id, "err", err)
		}
	}
	return nil
}
