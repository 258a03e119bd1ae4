// Package share is data sharing between public management and service
// organisations (共享, R-SHR-1..10): unconditional resources are obtained at
// once by declaring a scenario and the fields needed; conditional resources
// are requested through a share_request case that the providing org and the
// authority review; not-shared resources are refused citing their recorded
// legal basis; disputes over a sharing attribute go to the city government;
// a demand list matches needs to supply; the authority, or the providing org
// through a case, suspends and terminates consumers' grants; and every grant's
// use is monitored from the ledger.
//
// Share owns no grants and reads no data: grants belong to gate
// (CreateGrant, SuspendGrant, ReinstateGrant, TerminateGrant inside share's
// transactions) and every delivery goes through gate. Share imports only the
// foundation (store, identity, casework, ledger, catalog, gate).
package share

import (
	"context"
	"embed"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// Case kinds share registers.
const (
	KindRequest    = "share_request"    // a conditional share request (R-SHR-3, R-SHR-4)
	KindDispute    = "share_dispute"    // a dispute over a sharing attribute (R-SHR-6)
	KindSuspension = "share_suspension" // a providing org's report asking to suspend or terminate a grant (R-SHR-10)
)

// Options configure sharing.
type Options struct {
	// RequestDays is the time limit, in working days, for answering a share
	// request (XM26 合理期限; default 5).
	RequestDays int
	// DisputeDays is the time for the providing org and the applicant to
	// settle a dispute before it goes to the city government (default 10);
	// DecisionDays the city government's time to decide (default 10).
	DisputeDays  int
	DecisionDays int
	// SuspensionDays is the authority's time to decide a providing org's
	// suspension report (default 3).
	SuspensionDays int
	// DefaultGrantDays is how long a grant lasts when the consumer names no
	// duration (default 365); MaxGrantDays bounds any duration (default 1095).
	DefaultGrantDays int
	MaxGrantDays     int
	// Orgs resolves org ids (to check the org a demand is referred to); nil
	// skips the check.
	Orgs catalog.OrgLookup
	// Usage tunes anomaly detection (see UsageOptions).
	Usage UsageOptions
}

func (o *Options) defaults() {
	if o.RequestDays <= 0 {
		o.RequestDays = 5
	}
	if o.DisputeDays <= 0 {
		o.DisputeDays = 10
	}
	if o.DecisionDays <= 0 {
		o.DecisionDays = 10
	}
	if o.SuspensionDays <= 0 {
		o.SuspensionDays = 3
	}
	if o.DefaultGrantDays <= 0 {
		o.DefaultGrantDays = 365
	}
	if o.MaxGrantDays <= 0 {
		o.MaxGrantDays = 1095
	}
	o.Usage.defaults()
}

// Service is sharing.
type Service struct {
	db    *store.DB
	led   *ledger.Ledger
	clock clock.Clock
	cw    *casework.Engine
	cat   *catalog.Service
	gate  *gate.Service
	opts  Options
}

// New migrates share's tables and registers its case kinds with cw.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, cw *casework.Engine, cat *catalog.Service, g *gate.Service, opts Options) (*Service, error) {
	if led == nil || cw == nil || cat == nil || g == nil {
		return nil, errors.New("share: a ledger, a casework engine, the catalog and the gate are required")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	opts.defaults()
	if err := db.Migrate(ctx, "share", migrations, "migrations"); err != nil {
		return nil, err
	}
	s := &Service{db: db, led: led, clock: clk, cw: cw, cat: cat, gate: g, opts: opts}
	for _, k := range []casework.Kind{s.requestKind(), s.disputeKind(), s.suspensionKind()} {
		if err := cw.Register(k); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Options returns the service's effective options.
func (s *Service) Options() Options { return s.opts }

// Errors of sharing (stable codes).
var (
	ErrNotSharing     = apperr.New(apperr.Forbidden, "share.not_public_org", "只有政务部门和公共服务组织之间共享公共数据（SZ13、XM26）", "public data is shared only between government departments and public service organisations (SZ13, XM26)")
	ErrRole           = apperr.New(apperr.Forbidden, "share.forbidden", "您的角色无权进行此共享操作", "your role may not do this")
	ErrUnavailable    = apperr.New(apperr.NotFound, "share.resource_unavailable", "该数据资源不存在或未发布", "the resource does not exist or is not published")
	ErrOwnResource    = apperr.New(apperr.Invalid, "share.own_resource", "这是本机构提供的数据资源，无需申请共享", "your org provides this resource; there is nothing to request")
	ErrNeedsRequest   = apperr.New(apperr.Invalid, "share.conditional", "该资源为有条件共享类，须提出共享申请，经审核后获得授权（XM26）", "the resource is shared conditionally: file a share request for review (XM26)")
	ErrUseDirect      = apperr.New(apperr.Invalid, "share.unconditional", "该资源为无条件共享类，声明应用场景和所需数据项即可直接获取（XM26）", "the resource is shared unconditionally: declare the scenario and fields to obtain it directly (XM26)")
	ErrNotShared      = apperr.New(apperr.Forbidden, "share.not_shared", "该资源为不予（暂不）共享类", "the resource is not shared")
	ErrFields         = apperr.New(apperr.Invalid, "share.fields", "须按最小够用原则列出所需的数据项（XM27）", "list the data items needed, and only those (minimal sufficiency, XM27)")
	ErrText           = apperr.New(apperr.Invalid, "share.text", "内容缺失或过长", "missing or too long")
	ErrDays           = apperr.New(apperr.Invalid, "share.duration", "使用期限超出允许范围", "the duration is out of range")
	ErrCommitment     = apperr.New(apperr.Invalid, "share.commitment", "须确认承诺：应用场景真实、合规、安全，数据不提供给第三方（XM27）", "acknowledge the commitment: the scenario is authentic, compliant and secure, and the data goes to no third party (XM27)")
	ErrDuplicate      = apperr.New(apperr.Conflict, "share.duplicate_grant", "本机构已有该资源同一应用场景的有效授权", "your org already holds a usable grant for this resource and scenario")
	ErrNotShareGrant  = apperr.New(apperr.Invalid, "share.not_share_grant", "该授权不是共享授权", "the grant is not a sharing grant")
	ErrNotFound       = apperr.New(apperr.NotFound, "share.not_found", "未找到", "not found")
	ErrDemandState    = apperr.New(apperr.Conflict, "share.demand_state", "需求当前状态不允许此操作", "the demand's state does not allow this")
	ErrSameAttr       = apperr.New(apperr.Invalid, "share.same_attr", "提议的共享属性与目录现有属性相同", "the proposed attribute is the entry's current one")
	ErrBadAttr        = apperr.New(apperr.Invalid, "share.bad_attr", "共享属性须为 unconditional、conditional 或 none", "the sharing attribute must be unconditional, conditional or none")
	ErrMeasure        = apperr.New(apperr.Invalid, "share.bad_measure", "措施须为 suspend（暂停）或 terminate（终止）", "the measure must be suspend or terminate")
	ErrNoCasework     = apperr.New(apperr.Internal, "share.no_casework", "案件引擎未配置", "casework is not configured")
	ErrConsumerTarget = apperr.New(apperr.Invalid, "share.consumer", "须指明使用方机构", "name the consumer org")
)

// CommitmentZH and CommitmentEN are the commitment every conditional
// request acknowledges (XM27, FJ14, SZ13).
const (
	CommitmentZH = "本机构承诺：所述应用场景真实、合规、安全；共享数据仅用于本机构履行法定职责和所述应用场景，按最小够用原则使用；" +
		"不以任何形式提供给第三方，不用于申请时确定的应用场景以外的任何目的；依法处理并保障数据安全；接受数据提供单位和大数据主管部门的监督，违规使用的，同意暂停或者终止数据服务。"
	CommitmentEN = "Our org commits that the stated scenario is authentic, compliant and secure; that the shared data is used only for our statutory duties and this scenario, " +
		"and no more than needed; that it is never passed to a third party in any form nor used for any other purpose; that it is processed lawfully and kept secure; " +
		"and that we accept supervision by the providing org and the authority, and the suspension or termination of the data service on misuse."
)

// Commitment is the full commitment text, Chinese then English.
const Commitment = CommitmentZH + "\n" + CommitmentEN

// system is the sharing service acting on its own: it refuses requests for
// resources the catalog records as not shared (R-SHR-1). Its client id
// cannot be an API client's (those are generated ids).
var system = identity.Principal{ClientID: "system:share", Name: "共享服务"}

// sharingOrg reports whether p acts for an org that may share public data.
func sharingOrg(p identity.Principal) bool {
	return p.OrgKind == identity.KindDepartment || p.OrgKind == identity.KindPublicService
}

// canRequest: an org's admins and data stewards (people or API clients
// created with those roles) request and declare on its behalf.
func canRequest(p identity.Principal) error {
	if !p.Authenticated() {
		return apperr.ErrAuth
	}
	if !sharingOrg(p) {
		return ErrNotSharing
	}
	if !p.HasAny(identity.RoleAdmin, identity.RoleDataSteward) {
		return ErrRole
	}
	return nil
}

// isAuthority: the authority's administrators decide sharing matters; the
// authority's reviewers too, for requests.
func isAuthority(p identity.Principal) bool {
	return p.Has(identity.RoleAuthorityAdmin)
}

func isAuthorityReviewer(p identity.Principal) bool {
	return p.Has(identity.RoleAuthorityAdmin) || (p.OrgKind == identity.KindAuthority && p.Has(identity.RoleReviewer))
}

// isProvider: p speaks for the org that owns the resource.
func isProvider(p identity.Principal, orgID string) bool {
	return p.Authenticated() && orgID != "" && p.OrgID == orgID && p.HasAny(identity.RoleAdmin, identity.RoleDataSteward, identity.RoleChiefDataOfficer)
}

// resource returns a published, local catalog entry by id or code.
func (s *Service) resource(ctx context.Context, idOrCode string) (*catalog.Resource, error) {
	idOrCode = strings.TrimSpace(idOrCode)
	if idOrCode == "" {
		return nil, ErrUnavailable.At("resource_id")
	}
	res, err := s.cat.GetByCode(ctx, catalog.System(""), idOrCode)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.NotFound {
			return nil, ErrUnavailable.At("resource_id")
		}
		return nil, err
	}
	if res.Status != catalog.StatusPublished || res.Remote != nil {
		return nil, ErrUnavailable.At("resource_id")
	}
	return res, nil
}

func text(field, v string, max int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if (required && v == "") || utf8.RuneCountInString(v) > max {
		return "", ErrText.At(field)
	}
	return v, nil
}

// checkFields enforces minimal sufficiency (R-SHR-4): at least one field,
// each an existing data item of the entry, none twice.
func checkFields(field string, res *catalog.Resource, fields []string) ([]string, error) {
	if len(fields) == 0 {
		return nil, ErrFields.At(field)
	}
	have := map[string]bool{}
	for _, f := range res.Fields {
		have[f.Name] = true
	}
	out := make([]string, 0, len(fields))
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if !have[f] {
			e := *ErrFields
			e.ZH += "：数据项 " + f + " 不在目录条目中"
			e.EN += ": data item " + f + " is not in the catalog entry"
			return nil, e.At(field + "[" + itoa(i) + "]")
		}
		if slices.Contains(out, f) {
			e := *ErrFields
			e.ZH += "：数据项 " + f + " 重复"
			e.EN += ": data item " + f + " is listed twice"
			return nil, e.At(field + "[" + itoa(i) + "]")
		}
		out = append(out, f)
	}
	return out, nil
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

func (s *Service) days(field string, d int) (int, error) {
	if d == 0 {
		return s.opts.DefaultGrantDays, nil
	}
	if d < 1 || d > s.opts.MaxGrantDays {
		e := *ErrDays
		e.ZH += "（1 到 " + itoa(s.opts.MaxGrantDays) + " 天）"
		e.EN += " (1 to " + itoa(s.opts.MaxGrantDays) + " days)"
		return 0, e.At(field)
	}
	return d, nil
}

// notShared is the refusal of a not-shared resource, citing its basis.
func notShared(res *catalog.Resource) *apperr.Error {
	e := *ErrNotShared
	e.ZH += "，依据：" + res.Share.Basis
	e.EN += "; legal basis: " + res.Share.Basis
	if res.Share.Reason != "" {
		e.ZH += "；理由：" + res.Share.Reason
		e.EN += "; reason: " + res.Share.Reason
	}
	return e.At("resource_id")
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// expiry is the end of a grant of days days from now.
func (s *Service) expiry(days int) time.Time {
	return s.now().AddDate(0, 0, days)
}

// shareKind reports whether g is a sharing grant.
func shareKind(g *gate.Grant) bool {
	return g.Kind == gate.KindUnconditional || g.Kind == gate.KindConditional
}

// usable reports whether g can still deliver (active and not expired).
func (s *Service) usable(g *gate.Grant) bool {
	return g.State == gate.Active && (g.ExpiresAt.IsZero() || s.clock.Now().Before(g.ExpiresAt))
}
