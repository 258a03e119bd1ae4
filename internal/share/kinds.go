package share

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return apperr.Invalidf("share.payload_type", "payload."+typ.Field, "字段 %s 类型错误", "field %s has the wrong type", typ.Field)
		}
		if msg := err.Error(); strings.HasPrefix(msg, `json: unknown field "`) {
			name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
			return apperr.Invalidf("share.payload_unknown_field", "payload."+name, "未知字段 %s", "unknown field %s", name)
		}
		return apperr.Invalidf("share.payload", "payload", "申请内容格式错误", "malformed payload")
	}
	return nil
}

// payloadErr moves an error's field under payload.
func payloadErr(err error) error {
	if ae, ok := apperr.As(err); ok && ae.Field != "" && !strings.HasPrefix(ae.Field, "payload") && ae.Kind == apperr.Invalid {
		c := *ae
		c.Field = "payload." + c.Field
		return &c
	}
	return err
}

// ---- share_request (R-SHR-3, R-SHR-4) ----

// RequestPayload is a share_request case's payload: what a consumer org
// asks of a conditional resource. The platform fills in the fields after
// Commitment at filing.
type RequestPayload struct {
	// Scenario is the application scenario (应用场景) the data is for.
	Scenario string `json:"scenario"`
	// LegalDuty is the statutory duty the scenario serves (FJ14: 依法履行职责的必要范围).
	LegalDuty string `json:"legal_duty"`
	// Fields are the data items needed, and only those (XM27 最小够用).
	Fields []string `json:"fields"`
	// Days is how long access is needed (default Options.DefaultGrantDays).
	Days int `json:"days,omitempty"`
	// Acknowledged must be true: the applicant accepts Commitment.
	Acknowledged bool `json:"acknowledged"`
	// Commitment is the text acknowledged; empty or equal to Commitment.
	Commitment string `json:"commitment,omitempty"`
	// ClientID, when set, binds the grant to one of the org's API clients.
	ClientID string `json:"client_id,omitempty"`

	// Filled in by the platform.
	ResourceCode string       `json:"resource_code,omitempty"`
	ResourceName string       `json:"resource_name,omitempty"`
	Attr         catalog.Attr `json:"attr,omitempty"`
	Conditions   string       `json:"conditions,omitempty"`
	// NotShared carries the recorded legal basis of a not-shared resource;
	// such a request is refused at once.
	NotShared *catalog.Sharing `json:"not_shared,omitempty"`
}

type ctxKey int

const keyAutoRefuse ctxKey = 1

func (s *Service) validateRequest(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
	var in RequestPayload
	if err := decodeStrict(raw, &in); err != nil {
		return nil, err
	}
	res, err := s.resource(ctx, t.ID)
	if err != nil {
		return nil, ErrUnavailable.At("target.id")
	}
	if res.OrgID == p.OrgID {
		return nil, ErrOwnResource.At("target.id")
	}
	in.NotShared = nil
	switch res.Share.Attr {
	case catalog.Unconditional:
		return nil, ErrUseDirect.At("target.id")
	case catalog.None:
		// Through RequestShare the refusal is recorded as a decided case;
		// anywhere else the filing is refused outright. Both cite the basis.
		if ctx.Value(keyAutoRefuse) == nil {
			return nil, notShared(res)
		}
		sh := res.Share
		in.NotShared = &sh
	case catalog.Conditional:
	default:
		return nil, ErrNotShared.At("target.id")
	}
	if in.Scenario, err = text("payload.scenario", in.Scenario, 200, true); err != nil {
		return nil, err
	}
	if in.LegalDuty, err = text("payload.legal_duty", in.LegalDuty, 500, true); err != nil {
		return nil, err
	}
	if in.Fields, err = checkFields("payload.fields", res, in.Fields); err != nil {
		return nil, err
	}
	if in.Days, err = s.days("payload.days", in.Days); err != nil {
		return nil, err
	}
	if in.ClientID, err = text("payload.client_id", in.ClientID, 100, false); err != nil {
		return nil, err
	}
	if c := strings.TrimSpace(in.Commitment); !in.Acknowledged || (c != "" && c != Commitment && c != CommitmentZH) {
		return nil, ErrCommitment.At("payload.acknowledged")
	}
	in.Commitment = Commitment
	in.ResourceCode, in.ResourceName, in.Attr, in.Conditions = res.Code, res.Name, res.Share.Attr, res.Share.Conditions
	t.OrgID = res.OrgID
	return json.Marshal(in)
}

func providerAssignees(c *casework.Case) []casework.Assignee {
	return []casework.Assignee{{OrgID: c.Target.OrgID, Role: identity.RoleDataSteward}, {OrgID: c.Target.OrgID, Role: identity.RoleAdmin}}
}

func authorityAssignees(*casework.Case) []casework.Assignee {
	return []casework.Assignee{{Role: identity.RoleAuthorityAdmin}}
}

func authorityWho() casework.Who {
	return func(p identity.Principal, _ *casework.Case) bool { return isAuthorityReviewer(p) }
}

func providerWho() casework.Who {
	return casework.TargetOrgRole(identity.RoleDataSteward, identity.RoleAdmin)
}

// requestKind: the providing org gives its opinion (concur, or refuse with
// a written reason); then the authority approves — the grant is created in
// the same transaction — or refuses with a written reason (XM26: 市大数据主管
// 部门会同数据提供单位在合理期限内予以答复…拒绝共享的，应当提供书面理由). The
// clock is Options.RequestDays working days from filing; an overdue request
// escalates to the authority's administrators.
func (s *Service) requestKind() casework.Kind {
	return casework.Kind{
		Name: KindRequest, LabelZH: "有条件共享申请", LabelEN: "conditional share request",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		CanFile:       func(p identity.Principal, _ casework.Target) bool { return canRequest(p) == nil },
		// The sharing service sees the requests it refuses on the catalog's word.
		CanView:  func(p identity.Principal, _ *casework.Case) bool { return p.ClientID == system.ClientID },
		Validate: s.validateRequest,
		Initial:  "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: providerAssignees, LabelZH: "待数据提供单位审核", LabelEN: "awaiting the providing org"},
			{Name: "concurred", Assignees: authorityAssignees, LabelZH: "提供单位已同意，待主管部门审核", LabelEN: "providing org concurs; awaiting the authority"},
			{Name: "approved", Terminal: true, LabelZH: "已同意共享，已授权", LabelEN: "approved and granted"},
			{Name: "refused", Terminal: true, LabelZH: "不予共享", LabelEN: "refused"},
		},
		Transitions: []casework.Transition{
			{Action: "concur", From: []casework.State{"submitted"}, To: "concurred", Who: providerWho(),
				LabelZH: "提供单位同意", LabelEN: "providing org concurs"},
			{Action: "refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused,
				Who:     casework.AnyOf(providerWho(), authorityWho()),
				LabelZH: "不予共享", LabelEN: "refused"},
			{Action: "refuse", From: []casework.State{"concurred"}, To: "refused", Outcome: casework.Refused, Who: authorityWho(),
				LabelZH: "不予共享", LabelEN: "refused"},
			{Action: "approve", From: []casework.State{"concurred"}, To: "approved", Outcome: casework.Approved, Who: authorityWho(),
				LabelZH: "同意共享并授权", LabelEN: "approved and granted", Effect: s.grantOnApproval},
			// auto_refuse is how RequestShare records the refusal of a
			// not-shared resource: taken by the platform itself (the
			// ledger names the sharing service, not the applicant), and
			// only on such a request.
			{Action: "auto_refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused,
				Who: func(p identity.Principal, c *casework.Case) bool {
					var in RequestPayload
					return p.ClientID == system.ClientID && json.Unmarshal(c.Payload, &in) == nil && in.NotShared != nil
				},
				LabelZH: "不予共享类资源，依法自动不予共享", LabelEN: "not-shared resource: refused automatically"},
		},
		Deadline: casework.Days(s.opts.RequestDays),
		Escalation: []casework.Level{
			{Name: "authority", Assignees: []casework.Assignee{{Role: identity.RoleAuthorityAdmin}}, Days: 2, LabelZH: "大数据主管部门督办", LabelEN: "the authority"},
		},
	}
}

// grantOnApproval creates the grant in the approval's transaction: bound to
// the applicant org, the scenario, exactly the requested fields and the
// expiry (R-SHR-3, R-SHR-4, R-SHR-5).
func (s *Service) grantOnApproval(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
	var in RequestPayload
	if err := json.Unmarshal(c.Payload, &in); err != nil {
		return fmt.Errorf("share: request payload: %w", err)
	}
	if in.NotShared != nil {
		return ErrNotShared.At("payload")
	}
	res, err := s.resource(ctx, c.Target.ID)
	if err != nil {
		return err
	}
	if res.Share.Attr == catalog.None {
		// The entry became not-shared while the request waited.
		return notShared(res)
	}
	terms := "有条件共享（XM26），案件 " + c.ID + "；应用场景：" + in.Scenario + "；履行职责：" + in.LegalDuty
	if in.Conditions != "" {
		terms += "；共享条件：" + in.Conditions
	}
	terms += "\n" + in.Commitment
	_, err = s.gate.CreateGrant(ctx, tx, a.By, gate.GrantSpec{
		ResourceID: res.ID, GranteeOrgID: c.Applicant.OrgID, GranteeClientID: in.ClientID, Fields: in.Fields,
		Purpose: in.Scenario, Kind: gate.KindConditional, CaseID: c.ID, ExpiresAt: s.expiry(in.Days), Terms: terms,
	})
	return err
}

// ShareRequest is what RequestShare takes: the resource and the payload.
type ShareRequest struct {
	ResourceID string `json:"resource_id"`
	RequestPayload
}

// RequestShare files a share_request case for p's org. A request for a
// not-shared resource is filed and refused at once, the refusal citing the
// entry's recorded legal basis (R-SHR-1, SZ13, XM26); the returned case
// then carries that decision.
func (s *Service) RequestShare(ctx context.Context, p identity.Principal, r ShareRequest) (*casework.Case, error) {
	if err := canRequest(p); err != nil {
		return nil, err
	}
	res, err := s.resource(ctx, r.ResourceID)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(r.RequestPayload)
	if err != nil {
		return nil, err
	}
	c, err := s.cw.File(context.WithValue(ctx, keyAutoRefuse, true), p, casework.Filing{
		Kind: KindRequest, Title: "共享申请：" + res.Name, Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload,
	})
	if err != nil {
		return nil, payloadErr(err)
	}
	if res.Share.Attr != catalog.None {
		return c, nil
	}
	reason := notShared(res)
	return s.cw.Act(ctx, system, c.ID, "auto_refuse", casework.ActInput{Reason: "依据目录记载，该资源为不予（暂不）共享类，申请自动不予共享。" + reason.ZH +
		"\nRefused automatically: the catalog records this resource as not shared. " + reason.EN})
}

// ---- share_dispute (R-SHR-6) ----

// DisputePayload is a share_dispute case's payload: the attribute the
// applicant proposes for an entry, and why.
type DisputePayload struct {
	Proposed catalog.Attr `json:"proposed"`
	Reason   string       `json:"reason"`
	// Filled in by the platform: the entry's attribute when filed.
	Current      catalog.Attr `json:"current,omitempty"`
	ResourceCode string       `json:"resource_code,omitempty"`
	ResourceName string       `json:"resource_name,omitempty"`
}

// DecisionData is the city government's decision on a dispute.
type DecisionData struct {
	Attr catalog.Attr `json:"attr"`
}

func validAttr(a catalog.Attr) bool { return slices.Contains(catalog.Attrs, a) }

// disputeKind: the applicant (the authority, or an org that needs the data)
// disputes an entry's sharing attribute; the providing org consults with it
// and may agree to change the attribute; if they cannot agree (or the
// consultation runs out of time), the dispute goes to the city government,
// which decides (XM26: …经协商不能达成一致意见的，报市人民政府决定).
func (s *Service) disputeKind() casework.Kind {
	cityGov := casework.HasRole(identity.RoleCityGovernment)
	return casework.Kind{
		Name: KindDispute, LabelZH: "共享属性争议", LabelEN: "sharing attribute dispute",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		CanFile: func(p identity.Principal, _ casework.Target) bool {
			return isAuthority(p) || canRequest(p) == nil
		},
		Validate: func(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			var in DisputePayload
			if err := decodeStrict(raw, &in); err != nil {
				return nil, err
			}
			res, err := s.resource(ctx, t.ID)
			if err != nil {
				return nil, ErrUnavailable.At("target.id")
			}
			if res.OrgID == p.OrgID {
				return nil, ErrOwnResource.At("target.id")
			}
			if !validAttr(in.Proposed) {
				return nil, ErrBadAttr.At("payload.proposed")
			}
			if in.Proposed == res.Share.Attr {
				return nil, ErrSameAttr.At("payload.proposed")
			}
			if in.Reason, err = text("payload.reason", in.Reason, 5000, true); err != nil {
				return nil, err
			}
			in.Current, in.ResourceCode, in.ResourceName = res.Share.Attr, res.Code, res.Name
			t.OrgID = res.OrgID
			return json.Marshal(in)
		},
		Initial: "consulting",
		States: []casework.StateSpec{
			{Name: "consulting", Assignees: providerAssignees, LabelZH: "协商中", LabelEN: "in consultation"},
			{Name: "referred", Assignees: func(*casework.Case) []casework.Assignee {
				return []casework.Assignee{{Role: identity.RoleCityGovernment}}
			}, LabelZH: "已报市人民政府决定", LabelEN: "referred to the city government"},
			{Name: "agreed", Terminal: true, LabelZH: "协商一致", LabelEN: "settled by agreement"},
			{Name: "decided", Terminal: true, LabelZH: "市人民政府已决定", LabelEN: "decided by the city government"},
		},
		Transitions: []casework.Transition{
			{Action: "agree", From: []casework.State{"consulting"}, To: "agreed", Outcome: casework.Approved, Who: providerWho(),
				ReasonRequired: true, LabelZH: "提供单位同意调整共享属性", LabelEN: "the providing org agrees to change the attribute"},
			{Action: "refer", From: []casework.State{"consulting"}, To: "referred", ReasonRequired: true,
				Who:      casework.AnyOf(casework.Applicant(), providerWho(), casework.HasRole(identity.RoleAuthorityAdmin)),
				Deadline: casework.Days(s.opts.DecisionDays),
				LabelZH:  "协商不成，报市人民政府决定", LabelEN: "no agreement: referred to the city government"},
			{Action: "decide", From: []casework.State{"referred"}, To: "decided", Outcome: casework.Approved, Who: cityGov,
				ReasonRequired: true, Data: decideData, LabelZH: "市人民政府决定", LabelEN: "decided by the city government"},
			// An overdue consultation escalates to the city government, who
			// may then decide without a referral.
			{Action: "decide", From: []casework.State{"consulting"}, To: "decided", Outcome: casework.Approved,
				Who:            func(p identity.Principal, c *casework.Case) bool { return c.Level >= 1 && cityGov(p, c) },
				ReasonRequired: true, Data: decideData, LabelZH: "市人民政府决定", LabelEN: "decided by the city government"},
		},
		Deadline: casework.Days(s.opts.DisputeDays),
		Escalation: []casework.Level{
			{Name: "city_government", Assignees: []casework.Assignee{{Role: identity.RoleCityGovernment}}, Days: s.opts.DecisionDays,
				LabelZH: "市人民政府", LabelEN: "the city government"},
		},
		NoReturn: true,
	}
}

func decideData(_ *casework.Case, raw json.RawMessage) (json.RawMessage, error) {
	var d DecisionData
	if len(raw) == 0 {
		return nil, ErrBadAttr.At("data.attr")
	}
	if err := json.Unmarshal(raw, &d); err != nil || !validAttr(d.Attr) {
		return nil, ErrBadAttr.At("data.attr")
	}
	return json.Marshal(d)
}

// DisputeInput is what FileDispute takes.
type DisputeInput struct {
	ResourceID string       `json:"resource_id"`
	Proposed   catalog.Attr `json:"proposed"`
	Reason     string       `json:"reason"`
}

// FileDispute opens a share_dispute case over an entry's sharing attribute.
func (s *Service) FileDispute(ctx context.Context, p identity.Principal, in DisputeInput) (*casework.Case, error) {
	res, err := s.resource(ctx, in.ResourceID)
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(DisputePayload{Proposed: in.Proposed, Reason: in.Reason})
	c, err := s.cw.File(ctx, p, casework.Filing{Kind: KindDispute, Title: "共享属性争议：" + res.Name,
		Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload})
	return c, payloadErr(err)
}

// ---- share_suspension (R-SHR-10) ----

// SuspensionPayload is a providing org's report of a consumer's misuse
// asking the authority to suspend or terminate its grant (FJ34: 发现共享数据
// 使用部门有违规、超范围使用数据等情况，应当向同级大数据主管部门通报，要求暂停或者
// 终止对其提供数据服务).
type SuspensionPayload struct {
	Measure Measure `json:"measure"`
	Reason  string  `json:"reason"`
	// Evidence points at what shows the misuse (usage anomalies, ledger entries).
	Evidence string `json:"evidence,omitempty"`
	// Filled in by the platform.
	GrantID    string `json:"grant_id,omitempty"`
	ResourceID string `json:"resource_id,omitempty"`
}

func (s *Service) suspensionKind() casework.Kind {
	return casework.Kind{
		Name: KindSuspension, LabelZH: "暂停或终止数据服务申请", LabelEN: "request to suspend or terminate a data service",
		TargetTypes:   []string{"grant"},
		TargetOrgSees: true,
		Validate: func(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			var in SuspensionPayload
			if err := decodeStrict(raw, &in); err != nil {
				return nil, err
			}
			g, err := s.gate.Grant(ctx, t.ID)
			if err != nil || !shareKind(g) {
				return nil, ErrNotShareGrant.At("target.id")
			}
			sg, err := s.view(ctx, g, map[string]*catalog.Resource{})
			if err != nil {
				return nil, err
			}
			if !isProvider(p, sg.ProviderOrgID) {
				return nil, ErrRole.At("target.id")
			}
			if in.Measure != Suspend && in.Measure != Terminate {
				return nil, ErrMeasure.At("payload.measure")
			}
			if in.Reason, err = text("payload.reason", in.Reason, 5000, true); err != nil {
				return nil, err
			}
			if in.Evidence, err = text("payload.evidence", in.Evidence, 5000, false); err != nil {
				return nil, err
			}
			in.GrantID, in.ResourceID = g.ID, g.ResourceID
			// The consumer is the target: it sees the report and answers for it.
			t.OrgID = g.GranteeOrgID
			return json.Marshal(in)
		},
		Initial: "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: authorityAssignees, LabelZH: "待主管部门决定", LabelEN: "awaiting the authority"},
			{Name: "approved", Terminal: true, LabelZH: "已采取措施", LabelEN: "measure taken"},
			{Name: "refused", Terminal: true, LabelZH: "不予采取措施", LabelEN: "refused"},
		},
		Transitions: []casework.Transition{
			{Action: "approve", From: []casework.State{"submitted"}, To: "approved", Outcome: casework.Approved,
				Who: casework.HasRole(identity.RoleAuthorityAdmin), LabelZH: "同意并采取措施", LabelEN: "approved; measure taken",
				Effect: s.measureOnApproval},
			{Action: "refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused,
				Who: casework.HasRole(identity.RoleAuthorityAdmin), LabelZH: "不予采取措施", LabelEN: "refused"},
		},
		Deadline: casework.Days(s.opts.SuspensionDays),
		NoReturn: true,
	}
}

// measureOnApproval suspends or terminates the grant in the approval's
// transaction. A grant already in the asked state is left as it is.
func (s *Service) measureOnApproval(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
	var in SuspensionPayload
	if err := json.Unmarshal(c.Payload, &in); err != nil {
		return fmt.Errorf("share: suspension payload: %w", err)
	}
	g, err := s.gate.Grant(ctx, in.GrantID)
	if err != nil {
		return err
	}
	reason := in.Reason
	if a.Reason != "" {
		reason = a.Reason
	}
	reason = "案件 " + c.ID + "：" + reason
	switch {
	case g.State == gate.Terminated, in.Measure == Suspend && g.State == gate.Suspended:
		return nil
	case in.Measure == Suspend:
		_, err = s.gate.SuspendGrant(ctx, tx, a.By, g.ID, reason)
	default:
		_, err = s.gate.TerminateGrant(ctx, tx, a.By, g.ID, reason)
	}
	return err
}

// MisuseReport is what ReportMisuse takes.
type MisuseReport struct {
	GrantID  string  `json:"grant_id"`
	Measure  Measure `json:"measure"`
	Reason   string  `json:"reason"`
	Evidence string  `json:"evidence,omitempty"`
}

// ReportMisuse files, for the providing org, a share_suspension case asking
// the authority to suspend or terminate a consumer's grant.
func (s *Service) ReportMisuse(ctx context.Context, p identity.Principal, in MisuseReport) (*casework.Case, error) {
	payload, _ := json.Marshal(SuspensionPayload{Measure: in.Measure, Reason: in.Reason, Evidence: in.Evidence})
	c, err := s.cw.File(ctx, p, casework.Filing{Kind: KindSuspension, Title: "暂停或终止数据服务：授权 " + in.GrantID,
		Target: casework.Target{Type: "grant", ID: in.GrantID}, Payload: payload})
	return c, payloadErr(err)
}

// Requests lists the share requests p may see (newest first): view is a
// casework inbox view ("", "awaiting", "filed", "org").
func (s *Service) Requests(ctx context.Context, p identity.Principal, view casework.View, state casework.State, after string, limit int) ([]*casework.Case, string, error) {
	return s.cw.List(ctx, p, casework.Query{View: view, Kind: KindRequest, State: state, After: after, Limit: limit})
}

// Cases is the casework engine share files its cases with.
func (s *Service) Cases() *casework.Engine { return s.cw }
