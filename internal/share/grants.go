package share

import (
	"context"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// Declaration is what a consumer org declares to obtain an unconditional
// resource (R-SHR-2, R-SHR-4): the scenario, the fields it needs and, if it
// wishes, the duty the scenario serves, one API client the grant is bound
// to, and a duration.
type Declaration struct {
	ResourceID string   `json:"resource_id"`
	Scenario   string   `json:"scenario"`
	LegalDuty  string   `json:"legal_duty,omitempty"`
	Fields     []string `json:"fields"`
	// ClientID, when set, binds the grant to one of the org's API clients.
	ClientID string `json:"client_id,omitempty"`
	// Days is the grant's duration (default Options.DefaultGrantDays).
	Days int `json:"days,omitempty"`
}

// ObtainUnconditional gives p's org a grant on an unconditional resource at
// once (XM26: 无条件共享类公共数据…通过公共数据资源平台获取), bound to the
// declared scenario and exactly the declared fields. Conditional resources
// answer ErrNeedsRequest, not-shared ones ErrNotShared with their legal
// basis.
func (s *Service) ObtainUnconditional(ctx context.Context, p identity.Principal, d Declaration) (*gate.Grant, error) {
	if err := canRequest(p); err != nil {
		return nil, err
	}
	res, err := s.resource(ctx, d.ResourceID)
	if err != nil {
		return nil, err
	}
	if res.OrgID == p.OrgID {
		return nil, ErrOwnResource.At("resource_id")
	}
	switch res.Share.Attr {
	case catalog.Conditional:
		return nil, ErrNeedsRequest.At("resource_id")
	case catalog.None:
		return nil, notShared(res)
	case catalog.Unconditional:
	default:
		return nil, ErrNotShared.At("resource_id")
	}
	scenario, err := text("scenario", d.Scenario, 200, true)
	if err != nil {
		return nil, err
	}
	duty, err := text("legal_duty", d.LegalDuty, 500, false)
	if err != nil {
		return nil, err
	}
	fields, err := checkFields("fields", res, d.Fields)
	if err != nil {
		return nil, err
	}
	days, err := s.days("days", d.Days)
	if err != nil {
		return nil, err
	}
	client, err := text("client_id", d.ClientID, 100, false)
	if err != nil {
		return nil, err
	}
	if err := s.noDuplicate(ctx, p.OrgID, res.ID, scenario); err != nil {
		return nil, err
	}
	terms := "无条件共享（XM26），应用场景：" + scenario
	if duty != "" {
		terms += "；履行职责：" + duty
	}
	terms += "\n" + Commitment
	var g *gate.Grant
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		g, err = s.gate.CreateGrant(ctx, tx, p, gate.GrantSpec{
			ResourceID: res.ID, GranteeOrgID: p.OrgID, GranteeClientID: client, Fields: fields,
			Purpose: scenario, Kind: gate.KindUnconditional, ExpiresAt: s.expiry(days), Terms: terms,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// noDuplicate refuses a second usable grant of the same org, resource and
// scenario: the gate could not tell them apart.
func (s *Service) noDuplicate(ctx context.Context, orgID, resourceID, scenario string) error {
	gs, err := s.gate.Grants(ctx, gate.GrantFilter{ResourceID: resourceID, GranteeOrgID: orgID})
	if err != nil {
		return err
	}
	for _, g := range gs {
		if shareKind(g) && g.Purpose == scenario && s.usable(g) {
			return ErrDuplicate.At(g.ID)
		}
	}
	return nil
}

// GrantView is who may see which grants: "consumer" (grants to p's org),
// "provider" (grants on p's org's resources) or "" (both; the authority
// sees every sharing grant).
type GrantView string

// GrantQuery selects sharing grants.
type GrantQuery struct {
	View       GrantView
	ResourceID string
	State      gate.State
	// OrgID (authority only) keeps grants to this consumer org.
	OrgID string
}

// SharedGrant is a sharing grant with the entry it is on.
type SharedGrant struct {
	*gate.Grant
	ResourceCode  string `json:"resource_code"`
	ResourceName  string `json:"resource_name"`
	ProviderOrgID string `json:"provider_org_id"`
	// Usable says the grant can deliver now (active and not expired).
	Usable bool `json:"usable"`
}

// Grants lists the sharing grants (unconditional and conditional) p may
// see, newest first.
func (s *Service) Grants(ctx context.Context, p identity.Principal, q GrantQuery) ([]*SharedGrant, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	all := isAuthority(p) || p.Has(identity.RoleSecurityOfficer)
	var out []*SharedGrant
	owners := map[string]*catalog.Resource{}
	for _, kind := range []gate.Kind{gate.KindUnconditional, gate.KindConditional} {
		f := gate.GrantFilter{Kind: kind, ResourceID: q.ResourceID, State: q.State}
		if q.View == "consumer" || (q.OrgID != "" && all) {
			f.GranteeOrgID = p.OrgID
			if q.OrgID != "" && all {
				f.GranteeOrgID = q.OrgID
			}
		}
		gs, err := s.gate.Grants(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			sg, err := s.view(ctx, g, owners)
			if err != nil {
				return nil, err
			}
			consumer := g.GranteeOrgID == p.OrgID
			provider := sg.ProviderOrgID == p.OrgID
			switch {
			case q.View == "consumer" && !consumer, q.View == "provider" && !provider:
				continue
			case all, consumer, provider:
				out = append(out, sg)
			}
		}
	}
	// Newest first across both kinds.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].CreatedAt.After(out[j-1].CreatedAt) || (out[j].CreatedAt.Equal(out[j-1].CreatedAt) && out[j].ID > out[j-1].ID)); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func (s *Service) view(ctx context.Context, g *gate.Grant, cache map[string]*catalog.Resource) (*SharedGrant, error) {
	res, ok := cache[g.ResourceID]
	if !ok {
		r, err := s.cat.Get(ctx, catalog.System(""), g.ResourceID)
		if err != nil {
			if ae, ok := apperr.As(err); !ok || ae.Kind != apperr.NotFound {
				return nil, err
			}
			r = nil
		}
		cache[g.ResourceID], res = r, r
	}
	sg := &SharedGrant{Grant: g, Usable: s.usable(g)}
	if res != nil {
		sg.ResourceCode, sg.ResourceName, sg.ProviderOrgID = res.Code, res.Name, res.OrgID
	}
	return sg, nil
}

// Grant returns one sharing grant to its consumer org, the providing org
// or the authority.
func (s *Service) Grant(ctx context.Context, p identity.Principal, id string) (*SharedGrant, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	g, err := s.gate.Grant(ctx, id)
	if err != nil {
		return nil, err
	}
	if !shareKind(g) {
		return nil, ErrNotFound.At(id)
	}
	sg, err := s.view(ctx, g, map[string]*catalog.Resource{})
	if err != nil {
		return nil, err
	}
	if isAuthority(p) || p.Has(identity.RoleSecurityOfficer) || p.OrgID == g.GranteeOrgID || (p.OrgID != "" && p.OrgID == sg.ProviderOrgID) {
		return sg, nil
	}
	return nil, ErrNotFound.At(id)
}

// Measure is what is done to a consumer's grant (R-SHR-10, FJ33, FJ34).
type Measure string

const (
	Suspend   Measure = "suspend"   // 暂停提供数据服务
	Reinstate Measure = "reinstate" // 恢复
	Terminate Measure = "terminate" // 终止提供数据服务
)

// Apply takes measure m on sharing grant id, as the authority, with a
// reason the consumer sees in every refused call (FJ33: the authority
// orders a correction and suspends the data service; if the consumer does
// not correct, it may terminate it).
func (s *Service) Apply(ctx context.Context, p identity.Principal, id string, m Measure, reason string) (*gate.Grant, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	if !isAuthority(p) {
		return nil, ErrRole
	}
	var g *gate.Grant
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		g, err = s.applyTx(ctx, tx, p, id, m, reason)
		return err
	})
	return g, err
}

func (s *Service) applyTx(ctx context.Context, tx *store.Tx, p identity.Principal, id string, m Measure, reason string) (*gate.Grant, error) {
	cur, err := s.gate.Grant(ctx, id)
	if err != nil {
		return nil, err
	}
	if !shareKind(cur) {
		return nil, ErrNotShareGrant.At(id)
	}
	switch m {
	case Suspend:
		return s.gate.SuspendGrant(ctx, tx, p, id, reason)
	case Reinstate:
		return s.gate.ReinstateGrant(ctx, tx, p, id, reason)
	case Terminate:
		return s.gate.TerminateGrant(ctx, tx, p, id, reason)
	}
	return nil, ErrMeasure.At("measure")
}

// ConsumerMeasure suspends or terminates, as the authority, every usable
// (for termination: every not yet terminated) sharing grant of a consumer
// org, optionally only those on the resources of one providing org, in one
// transaction. It returns the grants changed.
func (s *Service) ConsumerMeasure(ctx context.Context, p identity.Principal, consumerOrgID, providerOrgID string, m Measure, reason string) ([]*gate.Grant, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	if !isAuthority(p) {
		return nil, ErrRole
	}
	consumerOrgID = strings.TrimSpace(consumerOrgID)
	if consumerOrgID == "" {
		return nil, ErrConsumerTarget.At("org_id")
	}
	if m != Suspend && m != Terminate && m != Reinstate {
		return nil, ErrMeasure.At("measure")
	}
	var ids []string
	cache := map[string]*catalog.Resource{}
	for _, kind := range []gate.Kind{gate.KindUnconditional, gate.KindConditional} {
		gs, err := s.gate.Grants(ctx, gate.GrantFilter{GranteeOrgID: consumerOrgID, Kind: kind})
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			switch {
			case m == Suspend && g.State != gate.Active,
				m == Reinstate && g.State != gate.Suspended,
				m == Terminate && g.State == gate.Terminated:
				continue
			}
			if providerOrgID != "" {
				sg, err := s.view(ctx, g, cache)
				if err != nil {
					return nil, err
				}
				if sg.ProviderOrgID != providerOrgID {
					continue
				}
			}
			ids = append(ids, g.ID)
		}
	}
	var out []*gate.Grant
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		out = out[:0]
		for _, id := range ids {
			g, err := s.applyTx(ctx, tx, p, id, m, reason)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
