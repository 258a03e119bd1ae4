package open

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// Applicant is a verified applicant for conditional open data (R-OPN-2).
type Applicant struct {
	// Type is "person" (a user with a checked resident ID) or "enterprise"
	// (an org with a unified social credit code).
	Type string `json:"type"`
	Name string `json:"name"`
	// Credential is the masked resident ID or the credit code.
	Credential string `json:"credential"`
}

// Verifier returns p's verified identity, or ErrNotVerified.
type Verifier func(ctx context.Context, p identity.Principal) (Applicant, error)

// IdentityVerifier verifies applicants against identity: a person whose
// account carries a checked resident ID (identity keeps only its hash and
// masked form), or an enterprise (or other non-government org) with a
// unified social credit code, for its API clients and people.
func IdentityVerifier(ids *identity.Service) Verifier {
	return func(ctx context.Context, p identity.Principal) (Applicant, error) {
		if !p.Authenticated() {
			return Applicant{}, apperr.ErrAuth
		}
		if p.UserID != "" {
			if u, err := ids.GetUser(ctx, p.UserID); err == nil && u.IDNumberMasked != "" {
				return Applicant{Type: "person", Name: u.DisplayName, Credential: u.IDNumberMasked}, nil
			}
		}
		if p.OrgID != "" {
			if o, err := ids.GetOrg(ctx, p.OrgID); err == nil && o.CreditCode != "" && o.Kind != identity.KindAuthority {
				return Applicant{Type: "enterprise", Name: o.Name, Credential: o.CreditCode}, nil
			}
		}
		return Applicant{}, ErrNotVerified
	}
}

// Commitments are what an applicant acknowledges, each one separately.
type Commitments struct {
	Authenticity bool `json:"authenticity"`   // 申请材料和应用场景真实
	Compliance   bool `json:"compliance"`     // 依法合规使用
	Security     bool `json:"security"`       // 保障数据安全
	NoThirdParty bool `json:"no_third_party"` // 不向第三方提供
}

// CommitmentText is the text of the four commitments, Chinese then English.
const CommitmentText = "申请人承诺：一、申请材料及所述应用场景真实；二、依法合规使用开放数据，仅用于所述场景；三、采取必要措施保障数据安全；四、不以任何形式向第三方提供。" +
	"\nThe applicant commits: (1) the application and its scenario are authentic; (2) the data is used lawfully and only for this scenario; " +
	"(3) it is kept secure; (4) it is never passed to a third party in any form."

// ApplicationPayload is an open_application case's payload.
type ApplicationPayload struct {
	Scenario    string      `json:"scenario"`
	Fields      []string    `json:"fields"`
	Days        int         `json:"days,omitempty"`
	Commitments Commitments `json:"commitments"`

	// Filled in by the platform.
	Applicant    *Applicant `json:"applicant,omitempty"`
	Commitment   string     `json:"commitment_text,omitempty"`
	ResourceCode string     `json:"resource_code,omitempty"`
	ResourceName string     `json:"resource_name,omitempty"`
	Conditions   string     `json:"conditions,omitempty"`
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Invalidf("open.payload", "payload", "申请内容格式错误：%s", "malformed payload: %s", err.Error())
	}
	return nil
}

func text(field, v string, max int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if (required && v == "") || utf8.RuneCountInString(v) > max {
		return "", ErrText.At(field)
	}
	return v, nil
}

func (s *Service) validateApplication(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
	var in ApplicationPayload
	if err := decodeStrict(raw, &in); err != nil {
		return nil, err
	}
	res, err := s.resource(ctx, t.ID)
	if err != nil {
		return nil, ErrUnavailable.At("target.id")
	}
	if PurposeLocked(res) {
		return nil, ErrPurposeLocked.At("target.id")
	}
	switch res.Open.Attr {
	case catalog.Conditional:
	case catalog.Unconditional:
		return nil, ErrUseDownload.At("target.id")
	default:
		return nil, ErrNotOpen.At("target.id")
	}
	if s.opts.Verify == nil {
		return nil, ErrNotVerified
	}
	a, err := s.opts.Verify(ctx, p)
	if err != nil {
		return nil, err
	}
	in.Applicant = &a
	if in.Scenario, err = text("payload.scenario", in.Scenario, 200, true); err != nil {
		return nil, err
	}
	if len(in.Fields) == 0 {
		return nil, ErrFields.At("payload.fields")
	}
	seen := map[string]bool{}
	for i, f := range in.Fields {
		if seen[f] || !slices.ContainsFunc(res.Fields, func(x catalog.Field) bool { return x.Name == f }) {
			return nil, ErrFields.At(fmt.Sprintf("payload.fields[%d]", i))
		}
		seen[f] = true
	}
	if in.Days == 0 {
		in.Days = s.opts.DefaultGrantDays
	}
	if in.Days < 1 || in.Days > s.opts.MaxGrantDays {
		return nil, ErrDays.At("payload.days")
	}
	c := in.Commitments
	for _, x := range []struct {
		ok   bool
		name string
	}{{c.Authenticity, "authenticity"}, {c.Compliance, "compliance"}, {c.Security, "security"}, {c.NoThirdParty, "no_third_party"}} {
		if !x.ok {
			return nil, ErrCommitments.At("payload.commitments." + x.name)
		}
	}
	in.Commitment, in.ResourceCode, in.ResourceName, in.Conditions = CommitmentText, res.Code, res.Name, res.Open.Conditions
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
	return func(p identity.Principal, _ *casework.Case) bool { return isAuthority(p) }
}

func providerWho() casework.Who {
	return casework.TargetOrgRole(identity.RoleDataSteward, identity.RoleAdmin, identity.RoleChiefDataOfficer)
}

// applicationKind: the providing org reviews first (concur, or refuse with a
// reason), then the authority approves — the grant is created in the same
// transaction — or refuses with a reason, which the applicant reads on the
// case (R-OPN-2). Options.ApplicationDays working days; an overdue
// application escalates to the authority.
func (s *Service) applicationKind() casework.Kind {
	return casework.Kind{
		Name: KindApplication, LabelZH: "有条件开放申请", LabelEN: "conditional open data application",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		ApplicantOnly: true,
		CanFile:       func(p identity.Principal, _ casework.Target) bool { return p.Authenticated() },
		Validate:      s.validateApplication,
		Initial:       "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: providerAssignees, LabelZH: "待数据提供单位审核", LabelEN: "awaiting the providing org"},
			{Name: "concurred", Assignees: authorityAssignees, LabelZH: "提供单位已同意，待主管部门审核", LabelEN: "providing org concurs; awaiting the authority"},
			{Name: "approved", Terminal: true, LabelZH: "已同意开放，已授权", LabelEN: "approved and granted"},
			{Name: "refused", Terminal: true, LabelZH: "不予开放", LabelEN: "refused"},
		},
		Transitions: []casework.Transition{
			{Action: "concur", From: []casework.State{"submitted"}, To: "concurred", Who: providerWho(), LabelZH: "提供单位同意", LabelEN: "providing org concurs"},
			{Action: "refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused,
				Who: casework.AnyOf(providerWho(), authorityWho()), LabelZH: "不予开放", LabelEN: "refused"},
			{Action: "refuse", From: []casework.State{"concurred"}, To: "refused", Outcome: casework.Refused, Who: authorityWho(), LabelZH: "不予开放", LabelEN: "refused"},
			{Action: "approve", From: []casework.State{"concurred"}, To: "approved", Outcome: casework.Approved, Who: authorityWho(),
				LabelZH: "同意开放并授权", LabelEN: "approved and granted", Effect: s.grantOnApproval},
		},
		Deadline: casework.Days(s.opts.ApplicationDays),
		Escalation: []casework.Level{
			{Name: "authority", Assignees: []casework.Assignee{{Role: identity.RoleAuthorityAdmin}}, Days: 2, LabelZH: "大数据主管部门督办", LabelEN: "the authority"},
		},
	}
}

// grantOnApproval creates the applicant's grant in the approval's
// transaction: kind open, the applicant's org (and API client, if a client
// applied), the scenario, exactly the fields applied for, the expiry and the
// commitments as terms. Deliveries under it carry gate's fingerprint. The
// grant is the applicant's alone: gate binds it to the org and, for a
// client, to the client; open's download path binds it to the person who
// applied (applicantGrant), since gate grants name no user.
func (s *Service) grantOnApproval(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
	var in ApplicationPayload
	if err := json.Unmarshal(c.Payload, &in); err != nil {
		return fmt.Errorf("open: application payload: %w", err)
	}
	res, err := s.resource(ctx, c.Target.ID)
	if err != nil {
		return err
	}
	if PurposeLocked(res) {
		return ErrPurposeLocked.At("target.id")
	}
	if res.Open.Attr != catalog.Conditional && res.Open.Attr != catalog.Unconditional {
		return ErrNotOpen.At("target.id")
	}
	if c.Applicant.OrgID == "" || c.Applicant.ID == "" {
		// A grant of kind open without an org would be public.
		return fmt.Errorf("open: application %s has no applicant org: %w", c.ID, ErrNotVerified)
	}
	client, user := "", ""
	switch c.Applicant.Kind {
	case "client":
		client = c.Applicant.ID
	case "user":
		user = c.Applicant.ID
	}
	terms := "有条件开放（R-OPN-2），案件 " + c.ID + "；应用场景：" + in.Scenario
	if in.Applicant != nil {
		terms += "；仅限申请人" + in.Applicant.Name + "（提出申请的账户）本人使用，同一单位的其他人员或应用须自行申请"
	}
	if in.Conditions != "" {
		terms += "；开放条件：" + in.Conditions
	}
	terms += "\n" + CommitmentText
	_, err = s.gate.CreateGrant(ctx, tx, a.By, gate.GrantSpec{
		ResourceID: res.ID, GranteeOrgID: c.Applicant.OrgID, GranteeClientID: client, GranteeUserID: user, Fields: in.Fields,
		Purpose: in.Scenario, Kind: gate.KindOpen, CaseID: c.ID, ExpiresAt: s.now().Add(time.Duration(in.Days) * 24 * time.Hour), Terms: terms,
	})
	return err
}

// Application is what Apply takes.
type Application struct {
	ResourceID string `json:"resource_id"`
	ApplicationPayload
}

// Apply files an open_application case for p and counts it as demand.
func (s *Service) Apply(ctx context.Context, p identity.Principal, a Application) (*casework.Case, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	res, err := s.resource(ctx, a.ResourceID)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(a.ApplicationPayload)
	if err != nil {
		return nil, err
	}
	c, err := s.cw.File(ctx, p, casework.Filing{Kind: KindApplication, Title: "开放申请：" + res.Name,
		Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload})
	if err != nil {
		return nil, err
	}
	_, _ = s.db.ExecContext(ctx, `INSERT INTO open_demand (id, resource_id, kind, note, created_at) VALUES ($1,$2,'application',$3,$4)`,
		store.NewID(), res.ID, c.ID, store.Micros(s.now()))
	return c, nil
}

// applicantGrant chooses the open grant through which p downloads a
// conditional entry: one approved on p's own application (R-OPN-2). Gate
// binds grants made since to the applying person or client itself; open
// checks the person too, for grants made before: the grant's case must be
// an application p filed (the case is ApplicantOnly, so a colleague cannot
// even read it). grantID, when
// given, must be such a grant. Among several, an active unexpired one wins;
// otherwise the newest of p's own, for gate to say why it is unusable. When
// the org holds only colleagues' grants, ErrNotApplicant; when it holds
// none, grantID is passed on for gate to refuse.
func (s *Service) applicantGrant(ctx context.Context, p identity.Principal, resourceID, grantID string) (string, error) {
	if p.OrgID == "" {
		return grantID, nil
	}
	gs, err := s.gate.Grants(ctx, gate.GrantFilter{ResourceID: resourceID, GranteeOrgID: p.OrgID, Kind: gate.KindOpen})
	if err != nil {
		return "", fmt.Errorf("open: grants of %s: %w", resourceID, err)
	}
	now := s.now()
	others, fallback := false, ""
	for _, g := range gs {
		if grantID != "" && g.ID != grantID {
			continue
		}
		mine, err := s.heldBy(ctx, p, g)
		if err != nil {
			return "", err
		}
		if !mine {
			others = true
			continue
		}
		if g.State == gate.Active && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt)) {
			return g.ID, nil
		}
		if fallback == "" {
			fallback = g.ID
		}
	}
	if fallback != "" {
		return fallback, nil
	}
	if others {
		return "", ErrNotApplicant.At("grant")
	}
	return grantID, nil
}

// heldBy reports whether p may use the org grant g: g was approved on an
// application p itself filed (person or API client), or g decided no
// application at all.
func (s *Service) heldBy(ctx context.Context, p identity.Principal, g *gate.Grant) (bool, error) {
	if g.CaseID == "" {
		return true, nil
	}
	c, err := s.cw.Get(ctx, p, g.CaseID)
	if err != nil {
		if ae, ok := apperr.As(err); ok && (ae.Kind == apperr.NotFound || ae.Kind == apperr.Forbidden) {
			return false, nil
		}
		return false, fmt.Errorf("open: case %s of grant %s: %w", g.CaseID, g.ID, err)
	}
	if c.Kind != KindApplication {
		return true, nil
	}
	id := p.UserID
	if id == "" {
		id = p.ClientID
	}
	return id != "" && c.Applicant.ID == id, nil
}
