// Package open is opening public data to the public (开放, R-OPN-1..6,
// R-DEV-6, R-PRS-7):
//
//   - unconditional open data is downloaded by anyone, free and without an
//     account, through the gate (CSV, XLSX, JSON, NDJSON), each download a
//     ledger disclose event carrying a keyed, day-bucketed requester
//     fingerprint, never an address; anonymous callers are rate limited per
//     fingerprint and a free API key raises the limit (R-OPN-1);
//   - conditional open data needs an open_application case from a verified
//     person or enterprise with scenario, fields and four commitments; the
//     providing org and the authority review it; approval creates a gate
//     grant of kind open for the applicant (R-OPN-2);
//   - conditional entries are reviewed periodically by an open_review case
//     with usage and risk evidence (R-OPN-3);
//   - demand is measured: downloads, applications and public "please open
//     this" requests, with a ranking (R-OPN-5);
//   - opened entries are scanned for re-identification risk and flagged
//     through an open_risk case (R-OPN-6);
//   - entries marked as public-place camera or identity-device data are
//     purpose-locked to public security: open refuses them on every path
//     (R-PRS-7).
//
// Nothing in open involves payment (R-DEV-6). Open owns no grants and reads
// no data: grants belong to gate and every delivery goes through gate. Open
// imports only the foundation (store, identity, casework, ledger, catalog,
// gate, privacy).
package open

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"errors"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Case kinds open registers.
const (
	KindApplication = "open_application" // conditional open data (R-OPN-2)
	KindReview      = "open_review"      // periodic review of a conditional entry (R-OPN-3)
	KindRisk        = "open_risk"        // a re-identification risk flag (R-OPN-6)
)

// Options configure open data.
type Options struct {
	// Secret keys requester fingerprints (at least 32 bytes; replicas share it).
	Secret []byte
	// AnonPerMinute is the download rate of one anonymous fingerprint
	// (default 30); KeyPerMinute that of one free API key (default 600).
	AnonPerMinute int
	KeyPerMinute  int
	// ApplicationDays is the time limit, in working days, to answer an
	// open application (default 10); ReviewDays and RiskDays those of review
	// and risk cases (default 10 and 5).
	ApplicationDays int
	ReviewDays      int
	RiskDays        int
	// DefaultGrantDays is how long an approved application's grant lasts
	// when the applicant names none (default 365); MaxGrantDays bounds it
	// (default 1095).
	DefaultGrantDays int
	MaxGrantDays     int
	// ReviewPeriod is how often a conditional-open entry is reviewed
	// (default 365 days) (R-OPN-3).
	ReviewPeriod time.Duration
	// RiskThreshold is the per-record prosecutor risk above which a record is
	// at risk (default 0.2: a class smaller than 5); MaxAtRisk the share of
	// records at risk above which an entry is flagged (default 0.05) (R-OPN-6).
	RiskThreshold float64
	MaxAtRisk     float64
	// RiskSampleRows bounds the rows one scan reads (default 10,000).
	RiskSampleRows int
	// Verify tells whether an applicant's identity is verified; nil refuses
	// every application (see IdentityVerifier).
	Verify Verifier
	// AuthorityOrgID is the authority's org: the risk scan reads data
	// through a service grant to it. When empty, Authority finds it (the
	// authority may be bootstrapped after the server starts); when both find
	// nothing, the scan is disabled.
	AuthorityOrgID string
	Authority      func(ctx context.Context) (string, error)
	// RiskScanEvery is how often the scheduled scan (RunRiskScans) re-scans
	// an opened entry whose version and data did not change (default 7
	// days) (R-OPN-6).
	RiskScanEvery time.Duration
}

func (o *Options) defaults() {
	if o.AnonPerMinute <= 0 {
		o.AnonPerMinute = 30
	}
	if o.KeyPerMinute <= 0 {
		o.KeyPerMinute = 600
	}
	if o.ApplicationDays <= 0 {
		o.ApplicationDays = 10
	}
	if o.ReviewDays <= 0 {
		o.ReviewDays = 10
	}
	if o.RiskDays <= 0 {
		o.RiskDays = 5
	}
	if o.DefaultGrantDays <= 0 {
		o.DefaultGrantDays = 365
	}
	if o.MaxGrantDays <= 0 {
		o.MaxGrantDays = 1095
	}
	if o.ReviewPeriod <= 0 {
		o.ReviewPeriod = 365 * 24 * time.Hour
	}
	if o.RiskThreshold <= 0 {
		o.RiskThreshold = 0.2
	}
	if o.MaxAtRisk <= 0 {
		o.MaxAtRisk = 0.05
	}
	if o.RiskScanEvery <= 0 {
		o.RiskScanEvery = 7 * 24 * time.Hour
	}
	if o.RiskSampleRows <= 0 {
		o.RiskSampleRows = 10_000
	}
}

// Service is open data.
type Service struct {
	db     *store.DB
	led    *ledger.Ledger
	clock  clock.Clock
	cw     *casework.Engine
	cat    *catalog.Service
	gate   *gate.Service
	opts   Options
	fpKey  []byte
	limits *limiter
}

// New migrates open's tables and registers its case kinds with cw.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, cw *casework.Engine, cat *catalog.Service, g *gate.Service, opts Options) (*Service, error) {
	if led == nil || cw == nil || cat == nil || g == nil {
		return nil, errors.New("open: a ledger, a casework engine, the catalog and the gate are required")
	}
	if len(opts.Secret) < 32 {
		return nil, errors.New("open: Options.Secret must be at least 32 bytes")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	opts.defaults()
	if err := db.Migrate(ctx, "open", migrations, "migrations"); err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, opts.Secret)
	m.Write([]byte("open/requester-fingerprint"))
	s := &Service{db: db, led: led, clock: clk, cw: cw, cat: cat, gate: g, opts: opts, fpKey: m.Sum(nil), limits: newLimiter(clk)}
	for _, k := range []casework.Kind{s.applicationKind(), s.reviewKind(), s.riskKind(), s.conversionKind()} {
		if err := cw.Register(k); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Options returns the effective options.
func (s *Service) Options() Options { return s.opts }

// Errors of open data (stable codes).
var (
	ErrUnavailable    = apperr.New(apperr.NotFound, "open.resource_unavailable", "该数据资源不存在或未发布", "the resource does not exist or is not published")
	ErrNotOpen        = apperr.New(apperr.Forbidden, "open.not_open", "该数据资源为不予（暂不）开放类", "the resource is not open")
	ErrConditional    = apperr.New(apperr.Forbidden, "open.conditional", "该数据资源为有条件开放类，须提出开放申请，经审核同意后获取（R-OPN-2）", "the resource is open conditionally: file an open application first (R-OPN-2)")
	ErrUseDownload    = apperr.New(apperr.Invalid, "open.unconditional", "该数据资源为无条件开放类，任何人可直接免费下载，无需申请", "the resource is open unconditionally: anyone downloads it free, no application needed")
	ErrPurposeLocked  = apperr.New(apperr.Forbidden, "open.purpose_locked", "公共场所图像采集、个人身份识别设备采集的数据仅用于维护公共安全，不得开放（R-PRS-7）", "data from public-place cameras and identity devices is used only for public security and is never opened (R-PRS-7)")
	ErrServiceAPI     = apperr.New(apperr.Invalid, "open.service_interface", "该资源以服务接口提供，不能批量下载", "the resource is a service interface and cannot be downloaded")
	ErrRateLimited    = apperr.New(apperr.TooMany, "open.rate_limited", "下载过于频繁，请稍后再试；免费申请 API 密钥可获得更高额度", "too many downloads: wait a little, or get a free API key for a higher limit")
	ErrBadKey         = apperr.New(apperr.Unauthenticated, "open.bad_key", "API 密钥无效或已吊销", "the API key is invalid or revoked")
	ErrNotVerified    = apperr.New(apperr.Forbidden, "open.not_verified", "申请人须经实名核验：个人须登记并核验公民身份号码，企业须有统一社会信用代码", "the applicant must be verified: a person with a checked resident ID, or an enterprise with a unified social credit code")
	ErrCommitments    = apperr.New(apperr.Invalid, "open.commitments", "须逐项确认承诺：真实性、合规性、安全性，不向第三方提供", "acknowledge each commitment: authenticity, compliance, security, no passing to third parties")
	ErrFields         = apperr.New(apperr.Invalid, "open.fields", "须列出所需的数据项，且只列所需的", "list the data items needed, and only those")
	ErrText           = apperr.New(apperr.Invalid, "open.text", "内容缺失或过长", "missing or too long")
	ErrDays           = apperr.New(apperr.Invalid, "open.duration", "使用期限超出允许范围", "the duration is out of range")
	ErrNotFound       = apperr.New(apperr.NotFound, "open.not_found", "未找到", "not found")
	ErrForbidden      = apperr.New(apperr.Forbidden, "open.forbidden", "您的角色无权进行此操作", "your role may not do this")
	ErrNotApplicant   = apperr.New(apperr.Forbidden, "open.not_applicant", "该开放授权仅限申请人本人（或提出申请的应用）使用；同一单位的其他人员须自行提出开放申请", "the open grant is the applicant's alone (the person or API client that applied); colleagues must apply themselves")
	ErrNoRiskScanning = apperr.New(apperr.Internal, "open.no_authority", "未配置大数据主管部门机构，无法进行风险扫描", "no authority org is configured: the risk scan cannot run")
)

// Purpose lock (R-PRS-7). The catalog has no dedicated attribute for where
// data was collected, so the lock is a catalog tag (docs/decisions/0101):
// an entry carrying any of these tags is public-place camera or
// identity-device data, purpose-locked to public security. The tags and the
// check live in gate, whose CreateGrant also refuses open grants and grants
// for any other purpose (docs/decisions/0102).
var PurposeLockTags = gate.PurposeLockTags

// PurposeLocked reports whether r is purpose-locked to public security.
func PurposeLocked(r *catalog.Resource) bool { return gate.PurposeLocked(r) }

// resource returns a published, local catalog entry as the public sees it.
func (s *Service) resource(ctx context.Context, id string) (*catalog.Resource, error) {
	r, err := s.cat.Get(ctx, identity.Principal{}, id)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.NotFound {
			return nil, ErrUnavailable.At("resource")
		}
		return nil, err
	}
	if r.Status != catalog.StatusPublished || r.Remote != nil {
		return nil, ErrUnavailable.At("resource")
	}
	return r, nil
}

// system is the platform acting on its own (grants for the public, the
// review and risk jobs).
var system = identity.Principal{ClientID: "system:open", Name: "开放数据服务"}

func isAuthority(p identity.Principal) bool {
	return p.Has(identity.RoleAuthorityAdmin) || (p.OrgKind == identity.KindAuthority && p.Has(identity.RoleReviewer))
}

func isProvider(p identity.Principal, orgID string) bool {
	return p.Authenticated() && orgID != "" && p.OrgID == orgID && p.HasAny(identity.RoleAdmin, identity.RoleDataSteward, identity.RoleChiefDataOfficer)
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
