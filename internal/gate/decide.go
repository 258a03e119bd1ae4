package gate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate/filter"
	"shuqiao/internal/identity"
	"shuqiao/internal/privacy/mask"
)

// Request is one call for data.
type Request struct {
	Principal  identity.Principal
	ResourceID string
	// GrantID names the grant to use; empty picks the caller's one usable grant.
	GrantID string
	// Purpose, when set, must be the grant's scenario (R-SHR-5).
	Purpose string
	// Fields are the data items wanted; empty means every granted field.
	Fields []string
	// Filter is a filter-language condition on granted fields.
	Filter string
	Format Format
	// Cursor continues a previous page; Limit bounds this page's rows.
	Cursor string
	Limit  int
}

// Obligations are what an allowed call must do with the data.
type Obligations struct {
	// Fields to project, in order.
	Fields []string `json:"fields"`
	// Masks say how each projected field is transformed (rule "" = as is).
	Masks []FieldMask `json:"masks"`
	// RowLimit caps this delivery; RatePerMinute the grant's calls.
	RowLimit      int       `json:"row_limit"`
	RatePerMinute int       `json:"rate_per_minute"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	// Fingerprint says how the delivery is marked for its recipient.
	Fingerprint string `json:"fingerprint"`
	// Filter is the grant's row filter AND the caller's filter, as checked.
	Filter string `json:"filter,omitempty"`
}

// FieldMask is the transform of one field.
type FieldMask struct {
	Field string `json:"field"`
	Level string `json:"level"`
	Rule  string `json:"rule,omitempty"`
	// Transform names it, e.g. "partial(6,4)", "pseudonym+fingerprint".
	Transform string `json:"transform"`
}

// Decision is decide's answer. A refusal carries the reason in Chinese and
// English as an *apperr.Error with a stable code; the same reason is
// written to the ledger.
type Decision struct {
	Allow    bool
	Reason   *apperr.Error
	Grant    *Grant
	Resource *catalog.Resource
	Obl      Obligations

	plan     []fieldPlan
	filter   *filter.Expr
	readCols []string
	types    map[string]filter.Type
}

type fieldPlan struct {
	name  string
	tf    mask.Transform // nil: as is
	fp    bool           // pseudonym with fingerprint
	typ   catalog.FieldType
	level catalog.Level
}

func deny(kind apperr.Kind, code, zh, en, field string) *apperr.Error {
	return &apperr.Error{Kind: kind, Code: code, ZH: zh, EN: en, Field: field}
}

// Deny reasons (stable codes).
var (
	ErrUnavailable     = apperr.New(apperr.NotFound, "gate.resource_unavailable", "该数据资源不存在或未发布", "the resource does not exist or is not published")
	ErrNoGrantForYou   = apperr.New(apperr.Forbidden, "gate.no_grant", "您（或您的机构）没有该数据资源的有效授权，请先提出共享或开放申请", "you (or your org) hold no grant for this resource; apply for sharing or opening first")
	ErrAmbiguous       = apperr.New(apperr.Invalid, "gate.grant_ambiguous", "您对该资源有多个授权，请用 grant 参数指明使用哪一个", "you hold several grants for this resource; name one with the grant parameter")
	ErrClient          = apperr.New(apperr.Forbidden, "gate.client_not_granted", "该授权限定由另一个应用客户端使用", "the grant is bound to another API client")
	ErrUser            = apperr.New(apperr.Forbidden, "gate.user_not_granted", "该授权仅限申请人本人使用，同单位其他人员不能使用", "the grant is bound to the person who applied; colleagues cannot use it")
	ErrSuspended       = apperr.New(apperr.Forbidden, "gate.grant_suspended", "授权已暂停", "the grant is suspended")
	ErrTerminated      = apperr.New(apperr.Forbidden, "gate.grant_terminated", "授权已终止", "the grant is terminated")
	ErrExpired         = apperr.New(apperr.Forbidden, "gate.grant_expired", "授权已过期", "the grant has expired")
	ErrPurpose         = apperr.New(apperr.Forbidden, "gate.purpose_mismatch", "所述用途与授权的应用场景不符", "the stated purpose is not the grant's scenario")
	ErrField           = apperr.New(apperr.Forbidden, "gate.field_not_granted", "请求了授权范围以外的数据项", "a requested data item is outside the grant")
	ErrFilterField     = apperr.New(apperr.Forbidden, "gate.filter_field_not_granted", "筛选条件使用了授权范围以外的数据项", "the filter uses a data item outside the grant")
	ErrBadFilter       = apperr.New(apperr.Invalid, "gate.bad_filter", "筛选条件无效", "invalid filter")
	ErrRateLimited     = apperr.New(apperr.TooMany, "gate.rate_limited", "调用过于频繁，超出授权的频率限制", "too many calls: the grant's rate limit is exceeded")
	ErrWrongDelivery   = apperr.New(apperr.Invalid, "gate.delivery_mode", "该资源的交付方式不支持此调用（托管数据用数据接口，服务接口用代理调用）", "this call does not fit the resource's delivery mode (hosted data: data endpoint; service interface: proxy)")
	ErrNotForAnonymous = apperr.New(apperr.Unauthenticated, "gate.sign_in", "该数据资源须登录后按授权获取", "sign in to get this resource under a grant")
)

func withDetail(e *apperr.Error, zh, en string) *apperr.Error {
	c := *e
	if zh != "" {
		c.ZH += "：" + zh
	}
	if en != "" {
		c.EN += ": " + en
	}
	return &c
}

// Decide answers whether req may be served, and how. It does not record;
// Deliver and Proxy record both answers. An error is returned only when the
// gate itself fails.
func (s *Service) Decide(ctx context.Context, req Request) (*Decision, error) {
	d := &Decision{}
	refuse := func(e *apperr.Error) (*Decision, error) {
		d.Allow, d.Reason = false, e
		return d, nil
	}
	res, err := s.resources.Resource(ctx, req.ResourceID)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.NotFound {
			return refuse(ErrUnavailable.At(req.ResourceID))
		}
		return nil, err
	}
	if res.Status != catalog.StatusPublished || res.Remote != nil {
		return refuse(ErrUnavailable.At(req.ResourceID))
	}
	d.Resource = res
	p := req.Principal
	cands, err := s.candidateGrants(ctx, p, res.ID)
	if err != nil {
		return nil, err
	}
	g, reason, about := s.pick(p, req, cands)
	if reason != nil {
		// The refused grant, if one was meant, so the refusal is on its record.
		d.Grant = about
		return refuse(reason)
	}
	d.Grant = g
	// The purpose lock holds for grants made before the entry was tagged
	// too: CreateGrant checks new grants, and every call is checked here
	// (R-PRS-7).
	if PurposeLocked(res) && (g.Kind == KindOpen || !IsPublicSecurityPurpose(g.Purpose)) {
		return refuse(ErrPurposeLocked.At("grant_id"))
	}
	if req.Purpose != "" && strings.TrimSpace(req.Purpose) != g.Purpose {
		return refuse(withDetail(ErrPurpose, "授权场景为「"+g.Purpose+"」", "the grant's scenario is "+g.Purpose).At("purpose"))
	}
	// Fields: only granted ones (R-SHR-4).
	fields := req.Fields
	if len(fields) == 0 {
		fields = g.Fields
	}
	var outside []string
	seen := map[string]bool{}
	for _, f := range fields {
		if !slices.Contains(g.Fields, f) {
			outside = append(outside, f)
		}
		if seen[f] {
			return refuse(withDetail(ErrField, "数据项 "+f+" 重复", "data item "+f+" is listed twice").At("fields"))
		}
		seen[f] = true
	}
	if len(outside) > 0 {
		list := strings.Join(outside, ", ")
		return refuse(withDetail(ErrField, list, list).At("fields"))
	}
	byName := map[string]catalog.Field{}
	allTypes := map[string]filter.Type{}
	for _, f := range res.Fields {
		byName[f.Name] = f
		allTypes[f.Name] = filter.Type(f.Type)
	}
	granted := map[string]filter.Type{}
	for _, f := range g.Fields {
		if t, ok := allTypes[f]; ok {
			granted[f] = t
		}
	}
	// Filters: the caller's may name granted fields only; the grant's own
	// row filter may name any field of the entry.
	var user, scope *filter.Expr
	if req.Filter != "" {
		user, err = filter.Parse(req.Filter)
		if err != nil {
			return refuse(withDetail(ErrBadFilter, err.Error(), err.Error()).At("filter"))
		}
		if err := filter.Check(user, granted); err != nil {
			var fe *filter.FieldError
			if errors.As(err, &fe) {
				return refuse(withDetail(ErrFilterField, fe.Field, fe.Field).At("filter"))
			}
			return refuse(withDetail(ErrBadFilter, err.Error(), err.Error()).At("filter"))
		}
	}
	if g.RowFilter != "" {
		if scope, err = filter.Parse(g.RowFilter); err == nil {
			err = filter.Check(scope, allTypes)
		}
		if err != nil {
			// The entry changed under the grant: refuse rather than widen.
			return refuse(withDetail(ErrBadFilter, "授权的行范围条件已失效", "the grant's row filter no longer applies").At("row_filter"))
		}
	}
	switch {
	case user != nil && scope != nil:
		d.filter = &filter.Expr{Op: filter.OpAnd, Kids: []*filter.Expr{scope, user}}
	case scope != nil:
		d.filter = scope
	default:
		d.filter = user
	}
	d.types = allTypes
	d.readCols = slices.Clone(fields)
	if d.filter != nil {
		for _, f := range d.filter.Fields() {
			if !slices.Contains(d.readCols, f) {
				d.readCols = append(d.readCols, f)
			}
		}
		d.Obl.Filter = d.filter.String()
	}
	// Masking by classification level (R-SEC-1, R-SEC-3, R-PRS-6).
	fp := false
	for _, name := range fields {
		cf := byName[name]
		tf, rule := s.policy.For(maskField(cf))
		pl := fieldPlan{name: name, typ: cf.Type, level: cf.Level}
		fm := FieldMask{Field: name, Level: string(cf.Level), Rule: rule, Transform: "keep"}
		if rule != "" {
			pl.tf = tf
			fm.Transform = tf.Name()
			if _, ok := tf.(*mask.Pseudonym); ok {
				pl.fp, fp = true, true
				fm.Transform = "pseudonym+fingerprint(" + string(s.opts.MaskAlgorithm) + ")"
			}
		}
		d.plan = append(d.plan, pl)
		d.Obl.Masks = append(d.Obl.Masks, fm)
	}
	d.Obl.Fields = fields
	d.Obl.RowLimit = min(g.RowLimit, s.opts.MaxRows)
	d.Obl.RatePerMinute = g.RatePerMinute
	d.Obl.ExpiresAt = g.ExpiresAt
	if fp {
		d.Obl.Fingerprint = "keyed pseudonyms tagged for grant " + g.ID + "; receipt " + "signed"
	} else {
		d.Obl.Fingerprint = "none in values (no pseudonymised field); content hash and receipt only"
	}
	d.Allow = true
	return d, nil
}

// pick chooses the grant for req among the candidates, or says why none fits.
func (s *Service) pick(p identity.Principal, req Request, cands []*Grant) (*Grant, *apperr.Error, *Grant) {
	now := s.clock.Now()
	mine := func(g *Grant) bool {
		if g.Public() {
			return true
		}
		return p.Authenticated() && p.OrgID != "" && g.GranteeOrgID == p.OrgID
	}
	usable := func(g *Grant) *apperr.Error {
		if !mine(g) {
			return ErrNoGrantForYou
		}
		if g.GranteeClientID != "" && p.ClientID != g.GranteeClientID {
			return ErrClient
		}
		if g.GranteeUserID != "" && p.UserID != g.GranteeUserID {
			return ErrUser
		}
		switch g.State {
		case Suspended:
			return withDetail(ErrSuspended, g.StateReason, g.StateReason)
		case Terminated:
			return withDetail(ErrTerminated, g.StateReason, g.StateReason)
		}
		if !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt) {
			at := g.ExpiresAt.Format(time.RFC3339)
			return withDetail(ErrExpired, at, at)
		}
		return nil
	}
	if req.GrantID != "" {
		for _, g := range cands {
			if g.ID == req.GrantID {
				if e := usable(g); e != nil {
					if e.Code == ErrNoGrantForYou.Code {
						return nil, e.At("grant"), nil
					}
					return nil, e.At("grant"), g
				}
				return g, nil, nil
			}
		}
		return nil, ErrNoGrantForYou.At("grant"), nil
	}
	var ok []*Grant
	var why *apperr.Error
	var whyGrant *Grant
	for _, g := range cands {
		if req.Purpose != "" && g.Purpose != strings.TrimSpace(req.Purpose) {
			continue
		}
		if e := usable(g); e != nil {
			if why == nil || e.Code != ErrNoGrantForYou.Code {
				why = e
				if e.Code != ErrNoGrantForYou.Code {
					whyGrant = g
				}
			}
			continue
		}
		ok = append(ok, g)
	}
	if len(ok) > 1 {
		// The org's own grants come before public ones.
		var own []*Grant
		for _, g := range ok {
			if !g.Public() {
				own = append(own, g)
			}
		}
		if len(own) == 1 {
			return own[0], nil, nil
		}
		if len(own) == 0 && len(ok) > 0 {
			return ok[0], nil, nil
		}
		return nil, ErrAmbiguous.At("grant"), nil
	}
	if len(ok) == 1 {
		return ok[0], nil, nil
	}
	if req.Purpose != "" && why == nil {
		// A usable grant exists, but for another scenario (R-SHR-5).
		for _, g := range cands {
			if usable(g) == nil {
				return nil, withDetail(ErrPurpose, "授权场景为「"+g.Purpose+"」", "the grant's scenario is "+g.Purpose).At("purpose"), g
			}
		}
	}
	if why != nil {
		return nil, why.At("grant"), whyGrant
	}
	if !p.Authenticated() {
		return nil, ErrNotForAnonymous, nil
	}
	return nil, ErrNoGrantForYou.At("grant"), nil
}

// maskField turns a catalog field into what masking rules match on. The
// catalog records level, category and personal flags; the identifier kind
// is inferred from the field's name and label for personal fields.
func maskField(f catalog.Field) mask.Field {
	mf := mask.Field{Name: f.Name, Level: mask.Level(f.Level), Category: f.Category, Personal: f.Personal || f.Sensitive, Sensitive: f.Sensitive}
	if mf.Level == "" {
		mf.Level = mask.General
	}
	if !mf.Personal {
		return mf
	}
	n := strings.ToLower(f.Name + " " + f.Label)
	has := func(ws ...string) bool {
		for _, w := range ws {
			if strings.Contains(n, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("身份证", "证件号", "id_card", "idcard", "id_no", "sfz"):
		mf.Entity = "CN_RESIDENT_ID"
	case has("手机", "电话", "phone", "mobile", "tel"):
		mf.Entity = "CN_MOBILE"
	case has("邮箱", "email"):
		mf.Entity = "EMAIL"
	case has("银行卡", "卡号", "bank_card", "card_no"):
		mf.Entity = "BANK_CARD"
	case has("车牌", "plate"):
		mf.Entity = "CN_VEHICLE_PLATE"
	case has("出生", "生日", "birth", "dob"):
		if mf.Category == "" || !strings.HasPrefix(mf.Category, "personal.") {
			mf.Category = "personal.birth_date"
		}
	case has("地址", "住址", "address", "addr"):
		mf.Entity = "CN_ADDRESS"
	case has("姓名", "name"):
		mf.Entity = "CN_PERSON_NAME"
	}
	return mf
}
