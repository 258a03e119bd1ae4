// Package gate is the only exit for record-level data (DESIGN.md rule 1):
// decide (who, which resource, which fields, which purpose, under which
// grant) → transform (project, mask by classification level, fingerprint) →
// deliver (paged JSON, NDJSON, CSV, XLSX, or a proxied service call) →
// record (a ledger provide/transmit event with the content hash, and a
// signed receipt). Sharing, open data, the market, subject access and the
// sandbox call it; none of them reads dataset rows itself.
//
// Grants live here. Capabilities create, suspend, reinstate and terminate
// them through CreateGrant, SuspendGrant, ReinstateGrant and TerminateGrant,
// inside their own transactions (for instance a casework effect), and every
// change is a ledger event in that transaction.
//
// Requirements: R-SHR-2..5, R-SHR-8, R-SHR-10, R-AGG-2, R-SEC-3, R-PRS-6.
package gate

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Resources finds catalog entries for the gate. Only published entries may
// be delivered; a lookup of anything else should fail with catalog.ErrNotFound.
type Resources interface {
	Resource(ctx context.Context, id string) (*catalog.Resource, error)
}

// ResourceFunc adapts a function to Resources.
type ResourceFunc func(ctx context.Context, id string) (*catalog.Resource, error)

// Resource calls f.
func (f ResourceFunc) Resource(ctx context.Context, id string) (*catalog.Resource, error) {
	return f(ctx, id)
}

// ProxyOptions tune calls to service-interface resources (R-AGG-2).
type ProxyOptions struct {
	// Timeout bounds one upstream call (default 10s).
	Timeout time.Duration
	// MaxBytes bounds the upstream response (default 8 MiB); a larger one
	// is refused, never truncated.
	MaxBytes int64
	// Retries is how many times a failed idempotent (GET) call is retried
	// on a connection error or a 502/503/504. Default 0: no retry.
	Retries int
	// Client makes the calls (default: a client with Timeout and no
	// redirects followed).
	Client *http.Client
}

// Options configure the gate.
type Options struct {
	// Secret keys pseudonyms and delivery fingerprints (at least 32 bytes).
	// Replicas must share it, and it must not change: a new secret makes
	// new pseudonyms and old files untraceable.
	Secret []byte
	// ReceiptKey is a note private key for receipts ("PRIVATE+KEY+…",
	// Ed25519 or SM2, see ledger.NewSigner). Empty: generated on first start
	// and kept in gate_keys.
	ReceiptKey string
	// ReceiptVerifierKey is ReceiptKey's public half; required with it.
	ReceiptVerifierKey string
	// Algorithm of a generated receipt key: ledger.Ed25519 (default) or ledger.SM2.
	Algorithm ledger.Algorithm
	// Origin names the receipt key (default "shuqiao.local/receipt").
	Origin string
	// MaskAlgorithm is the pseudonym HMAC: mask.HMACSHA256 (default) or mask.HMACSM3.
	MaskAlgorithm mask.Algorithm
	// Policy picks masking per field classification (default mask.DefaultPolicy).
	Policy *mask.Policy
	// MaxRows caps the rows of one delivery whatever the grant says (default 10,000).
	MaxRows int
	// PageSize is the default page of the JSON format (default 100).
	PageSize int
	// DefaultRowLimit and DefaultRatePerMinute apply to grants that set none
	// (defaults 1,000 rows and 600 calls a minute).
	DefaultRowLimit      int
	DefaultRatePerMinute int
	// SpoolMemory is how much of a delivery is kept in memory before it
	// spills to a temporary file (default 4 MiB).
	SpoolMemory int
	Proxy       ProxyOptions
	Log         *slog.Logger
}

func (o *Options) defaults() {
	if o.Origin == "" {
		o.Origin = "shuqiao.local/receipt"
	}
	if o.Algorithm == "" {
		o.Algorithm = ledger.Ed25519
	}
	if o.MaskAlgorithm == "" {
		o.MaskAlgorithm = mask.HMACSHA256
	}
	if o.Policy == nil {
		o.Policy = mask.DefaultPolicy(pseudonymKeyName)
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 10_000
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.DefaultRowLimit <= 0 {
		o.DefaultRowLimit = 1000
	}
	if o.DefaultRatePerMinute <= 0 {
		o.DefaultRatePerMinute = 600
	}
	if o.SpoolMemory <= 0 {
		o.SpoolMemory = 4 << 20
	}
	if o.Proxy.Timeout <= 0 {
		o.Proxy.Timeout = 10 * time.Second
	}
	if o.Proxy.MaxBytes <= 0 {
		o.Proxy.MaxBytes = 8 << 20
	}
	if o.Proxy.Client == nil {
		o.Proxy.Client = &http.Client{
			Timeout:       o.Proxy.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

const pseudonymKeyName = "gate"

// Service is the gate.
type Service struct {
	db        *store.DB
	led       *ledger.Ledger
	clock     clock.Clock
	resources Resources
	opts      Options

	rowsMu sync.RWMutex
	rows   RowSource

	policy   *mask.Compiled
	traceKey []byte // keys fingerprint tags
	pseudKey []byte // keys per-grant pseudonym keys

	fpMu   sync.Mutex
	fpKeys map[grantKeyID]*grantKeys

	signer note.Signer
	vkey   string

	limits     *rateLimits
	rec        *recorder
	deliveries *store.RowInserter

	grantsMu   sync.Mutex
	grantCache map[string]grantCacheEntry
}

// New migrates the gate's tables, loads (or creates) the receipt key and
// returns the gate. rows may be nil and set later with UseRows.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, resources Resources, rows RowSource, opts Options) (*Service, error) {
	if led == nil || resources == nil {
		return nil, errors.New("gate: a ledger and a resource lookup are required")
	}
	if len(opts.Secret) < 32 {
		return nil, errors.New("gate: Options.Secret must be at least 32 bytes")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	opts.defaults()
	if err := db.Migrate(ctx, "gate", migrations, "migrations"); err != nil {
		return nil, err
	}
	s := &Service{db: db, led: led, clock: clk, resources: resources, rows: rows, opts: opts,
		traceKey: derive(opts.Secret, "gate/trace"), pseudKey: derive(opts.Secret, "gate/pseudonym"),
		deliveries: store.NewRowInserter(db, `INSERT INTO gate_deliveries (id, grant_id, resource_id, org_id, client_id, user_id, action, format, records,
		content_hash, event_hash, signed, created_at) VALUES `, deliveryCols)}
	keys := &mask.KeyRing{Algorithm: opts.MaskAlgorithm, Keys: map[string][]byte{pseudonymKeyName: derive(opts.Secret, "gate/pseudonym/base")}}
	var err error
	if s.policy, err = opts.Policy.Compile(keys); err != nil {
		return nil, fmt.Errorf("gate: masking policy: %w", err)
	}
	if err := s.loadKey(ctx); err != nil {
		return nil, err
	}
	// Prepared now, not from inside the recorder's first transaction.
	if err := s.deliveries.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	s.limits = newRateLimits(clk)
	s.grantCache = map[string]grantCacheEntry{}
	s.fpKeys = map[grantKeyID]*grantKeys{}
	s.rec = newRecorder(s, db.Dialect)
	return s, nil
}

// Close stops the gate's background recorder; deliveries after Close fail.
func (s *Service) Close() {
	s.rec.close()
	_ = s.deliveries.Close()
}

// UseRows sets where hosted rows come from (ingest).
func (s *Service) UseRows(r RowSource) {
	s.rowsMu.Lock()
	s.rows = r
	s.rowsMu.Unlock()
}

func (s *Service) rowSource() RowSource {
	s.rowsMu.RLock()
	defer s.rowsMu.RUnlock()
	return s.rows
}

// ReceiptVerifierKey is the public key that verifies receipts, as a note
// verifier key. Publish it beside the ledger's key.
func (s *Service) ReceiptVerifierKey() string { return s.vkey }

// LedgerVerifierKey is the ledger's checkpoint key, for receipts' proofs.
func (s *Service) LedgerVerifierKey() string { return s.led.VerifierKey() }

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (s *Service) loadKey(ctx context.Context) error {
	if s.opts.ReceiptKey != "" {
		signer, _, err := ledger.NewSigner(s.opts.ReceiptKey)
		if err != nil {
			return fmt.Errorf("gate: receipt key: %w", err)
		}
		// The pair must match: sign a probe and verify it.
		v, err := ledger.NewVerifier(s.opts.ReceiptVerifierKey)
		if err != nil {
			return fmt.Errorf("gate: receipt verifier key: %w", err)
		}
		probe, err := note.Sign(&note.Note{Text: "probe\n"}, signer)
		if err == nil {
			_, err = note.Open(probe, note.VerifierList(v))
		}
		if err != nil {
			return fmt.Errorf("gate: the receipt key and its verifier key do not match: %w", err)
		}
		s.signer, s.vkey = signer, s.opts.ReceiptVerifierKey
		return nil
	}
	name := fmt.Sprintf("receipt:%s:%s", s.opts.Algorithm, s.opts.Origin)
	var skey, vkey string
	var err error
	if s.opts.Algorithm == ledger.SM2 {
		skey, vkey, err = ledger.GenerateSM2Key(rand.Reader, s.opts.Origin)
	} else {
		skey, vkey, err = note.GenerateKey(rand.Reader, s.opts.Origin)
	}
	if err != nil {
		return fmt.Errorf("gate: generate receipt key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO gate_keys (name, secret, public, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
		name, skey, vkey, store.Micros(s.clock.Now())); err != nil {
		return fmt.Errorf("gate: store receipt key: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT secret, public FROM gate_keys WHERE name = $1`, name).Scan(&skey, &vkey); err != nil {
		return fmt.Errorf("gate: read receipt key: %w", err)
	}
	signer, _, err := ledger.NewSigner(skey)
	if err != nil {
		return fmt.Errorf("gate: stored receipt key: %w", err)
	}
	s.signer, s.vkey = signer, vkey
	return nil
}

// Errors of the gate. Deny reasons are in decide.go.
var (
	ErrNoRows       = apperr.New(apperr.Internal, "gate.no_row_source", "托管数据读取未配置", "hosted data reading is not configured")
	ErrBadFormat    = apperr.New(apperr.Invalid, "gate.bad_format", "不支持的交付格式（json、ndjson、csv、xlsx）", "unsupported format (json, ndjson, csv, xlsx)")
	ErrBadCursor    = apperr.New(apperr.Invalid, "gate.bad_cursor", "分页游标无效", "invalid cursor")
	ErrBadGrant     = apperr.New(apperr.Invalid, "gate.bad_grant", "授权内容无效", "invalid grant")
	ErrGrantState   = apperr.New(apperr.Conflict, "gate.grant_state", "授权当前状态不允许此操作", "the grant's state does not allow this")
	ErrNoGrant      = apperr.New(apperr.NotFound, "gate.grant_not_found", "授权不存在", "no such grant")
	ErrNoDelivery   = apperr.New(apperr.NotFound, "gate.delivery_not_found", "交付记录不存在", "no such delivery")
	ErrUpstream     = apperr.New(apperr.Internal, "gate.upstream", "上游服务接口调用失败", "the upstream service interface failed")
	ErrUpstreamSize = apperr.New(apperr.TooLarge, "gate.upstream_too_large", "上游服务接口返回的数据超过上限", "the upstream response exceeds the size limit")
)
