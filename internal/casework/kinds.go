package casework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
)

// Names of the built-in kinds.
const (
	KindRectification = "rectification_order"
	KindComplaint     = "complaint"
)

// decodeStrict decodes a payload object into v, rejecting unknown fields and
// naming the offending field as payload.<name>.
func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return apperr.Invalidf("casework.payload_type", "payload."+typ.Field, "字段 %s 类型错误", "field %s has the wrong type", typ.Field)
		}
		if msg := err.Error(); strings.HasPrefix(msg, `json: unknown field "`) {
			name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
			return apperr.Invalidf("casework.payload_unknown_field", "payload."+name, "未知字段 %s", "unknown field %s", name)
		}
		return ErrBadPayload.At("payload").Wrap(err)
	}
	return nil
}

func requireText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.Invalidf("casework.payload_required", "payload."+field, "请填写 %s", "%s is required", field)
	}
	if utf8.RuneCountInString(s) > max {
		return "", apperr.Invalidf("casework.payload_too_long", "payload."+field, "%s 过长（最多 %d 字）", "%s is too long (at most %d characters)", field, max)
	}
	return s, nil
}

func optionalText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", apperr.Invalidf("casework.payload_too_long", "payload."+field, "%s 过长（最多 %d 字）", "%s is too long (at most %d characters)", field, max)
	}
	return s, nil
}

func oneOf(field, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return apperr.Invalidf("casework.payload_choice", "payload."+field, "%s 须为以下之一：%s", "%s must be one of: %s", field, strings.Join(allowed, ", "))
}

// RectificationPayload is the payload of a rectification order (XM63): which
// duty the org failed, what it must fix, and in how many working days.
type RectificationPayload struct {
	// Failing is the ground in XM63: unauthorised_platform (一),
	// catalog (二), procurement (三), quality (四), collect_share_open (五),
	// other (六).
	Failing      string `json:"failing"`
	Description  string `json:"description"`
	Requirements string `json:"requirements,omitempty"`
	Basis        string `json:"basis,omitempty"`
	// WorkingDays is the time allowed to rectify and report back
	// (default 20, at most 120).
	WorkingDays int `json:"working_days"`
}

// RectificationFailings lists the grounds of XM63 (厦门经济特区数据条例第六十三条).
var RectificationFailings = []string{"unauthorised_platform", "catalog", "procurement", "quality", "collect_share_open", "other"}

func rectificationDays(c *Case) int {
	var p RectificationPayload
	_ = json.Unmarshal(c.Payload, &p)
	if p.WorkingDays <= 0 {
		return 20
	}
	return p.WorkingDays
}

// RectificationOrder is the kind for R-GOV-3 (XM63): the authority
// (authority_admin) orders an org to fix a failing within a deadline; the
// org's admin or chief data officer reports back; the authority accepts the
// report (closing the order) or sends it back (reopening it with a fresh
// deadline). Overdue orders escalate to all of the authority's
// administrators and then to the city government, who may hold the org
// accountable (效能问责). reviewDays is the authority's time to review a
// report (default 10 working days).
func RectificationOrder(reviewDays int) Kind {
	if reviewDays <= 0 {
		reviewDays = 10
	}
	orgResponders := func(c *Case) []Assignee {
		return []Assignee{{OrgID: c.Target.OrgID, Role: identity.RoleAdmin}, {OrgID: c.Target.OrgID, Role: identity.RoleChiefDataOfficer}}
	}
	authority := func(c *Case) []Assignee { return []Assignee{{Role: identity.RoleAuthorityAdmin}} }
	return Kind{
		Name: KindRectification, LabelZH: "整改通知", LabelEN: "rectification order",
		TargetTypes:   []string{"org"},
		TargetOrgSees: true,
		CanFile: func(p identity.Principal, t Target) bool {
			return p.Has(identity.RoleAuthorityAdmin) && p.UserID != "" && t.OrgID != p.OrgID
		},
		Validate: func(_ context.Context, _ identity.Principal, _ *Target, raw json.RawMessage) (json.RawMessage, error) {
			var p RectificationPayload
			if err := decodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if err := oneOf("failing", p.Failing, RectificationFailings); err != nil {
				return nil, err
			}
			var err error
			if p.Description, err = requireText("description", p.Description, 5000); err != nil {
				return nil, err
			}
			if p.Requirements, err = optionalText("requirements", p.Requirements, 5000); err != nil {
				return nil, err
			}
			if p.Basis, err = optionalText("basis", p.Basis, 500); err != nil {
				return nil, err
			}
			if p.Basis == "" {
				p.Basis = "《厦门经济特区数据条例》第六十三条"
			}
			if p.WorkingDays == 0 {
				p.WorkingDays = 20
			}
			if p.WorkingDays < 1 || p.WorkingDays > 120 {
				return nil, apperr.Invalidf("casework.payload_range", "payload.working_days", "整改期限须为 1 到 120 个工作日", "working_days must be from 1 to 120")
			}
			return json.Marshal(p)
		},
		Initial: "ordered",
		States: []StateSpec{
			{Name: "ordered", Assignees: orgResponders, LabelZH: "待整改", LabelEN: "ordered"},
			{Name: "reported", Assignees: authority, LabelZH: "已反馈待审核", LabelEN: "reported, awaiting review"},
			{Name: "reopened", Assignees: orgResponders, LabelZH: "退回重新整改", LabelEN: "sent back for further rectification"},
			{Name: "closed", Terminal: true, LabelZH: "整改完成", LabelEN: "closed"},
		},
		Transitions: []Transition{
			{Action: "report", From: []State{"ordered", "reopened"}, To: "reported",
				Who:            TargetOrgRole(identity.RoleAdmin, identity.RoleChiefDataOfficer),
				ReasonRequired: true, Deadline: Days(reviewDays),
				LabelZH: "反馈整改情况", LabelEN: "reported back"},
			{Action: "accept", From: []State{"reported"}, To: "closed", Outcome: Approved,
				Who:     HasRole(identity.RoleAuthorityAdmin),
				LabelZH: "整改验收通过", LabelEN: "report accepted"},
			{Action: "reopen", From: []State{"reported"}, To: "reopened",
				Who:            HasRole(identity.RoleAuthorityAdmin),
				ReasonRequired: true, Deadline: rectificationDays,
				LabelZH: "退回重新整改", LabelEN: "sent back"},
		},
		Deadline: rectificationDays,
		Escalation: []Level{
			{Name: "authority", Assignees: []Assignee{{Role: identity.RoleAuthorityAdmin}}, Days: 5, LabelZH: "大数据主管部门督办", LabelEN: "the authority"},
			{Name: "city_government", Assignees: []Assignee{{Role: identity.RoleCityGovernment}}, Days: 10, LabelZH: "市人民政府（效能问责）", LabelEN: "the city government"},
		},
		NoReturn: true,
	}
}

// ComplaintPayload is the payload of a complaint or report about data
// handling (XM61).
type ComplaintPayload struct {
	// Category: personal_information, data_security, data_quality,
	// sharing_opening, market, other.
	Category    string `json:"category"`
	Description string `json:"description"`
	// OccurredOn is the date it happened (YYYY-MM-DD), if known.
	OccurredOn string `json:"occurred_on,omitempty"`
	// Contact is how the complainant wishes to be reached, if not through
	// the platform.
	Contact string `json:"contact,omitempty"`
}

// ComplaintCategories lists the complaint categories.
var ComplaintCategories = []string{"personal_information", "data_security", "data_quality", "sharing_opening", "market", "other"}

// Complaint is the kind for R-SEC-11 (XM61): anyone signed in files a
// complaint or report about data handling, optionally about an org or a
// resource; the authority's security officer accepts it and resolves it with
// a written reply, or refuses it with a written reason, within days working
// days (default 15). The officer may return it for more information, which
// pauses the clock. Overdue complaints escalate to the authority's
// administrators and then to the city government. Neither the target org
// nor the complainant's colleagues see a complaint.
func Complaint(days int) Kind {
	if days <= 0 {
		days = 15
	}
	officer := func(c *Case) []Assignee { return []Assignee{{Role: identity.RoleSecurityOfficer}} }
	return Kind{
		Name: KindComplaint, LabelZH: "投诉举报", LabelEN: "complaint or report",
		ApplicantOnly: true,
		Validate: func(_ context.Context, _ identity.Principal, t *Target, raw json.RawMessage) (json.RawMessage, error) {
			var p ComplaintPayload
			if err := decodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if err := oneOf("category", p.Category, ComplaintCategories); err != nil {
				return nil, err
			}
			var err error
			if p.Description, err = requireText("description", p.Description, 10000); err != nil {
				return nil, err
			}
			if p.Contact, err = optionalText("contact", p.Contact, 200); err != nil {
				return nil, err
			}
			if p.OccurredOn != "" {
				if _, err := time.Parse(time.DateOnly, p.OccurredOn); err != nil {
					return nil, apperr.Invalidf("casework.payload_date", "payload.occurred_on", "日期格式须为 YYYY-MM-DD", "the date must be YYYY-MM-DD")
				}
			}
			switch t.Type {
			case "", "org", "resource", "listing", "product":
			default:
				return nil, ErrBadTarget.At("target.type")
			}
			if t.Type != "" && t.ID == "" {
				return nil, ErrBadTarget.At("target.id")
			}
			return json.Marshal(p)
		},
		Initial: "submitted",
		States: []StateSpec{
			{Name: "submitted", Assignees: officer, LabelZH: "已提交待受理", LabelEN: "submitted"},
			{Name: "accepted", Assignees: officer, LabelZH: "已受理处理中", LabelEN: "accepted, being handled"},
			{Name: "resolved", Terminal: true, LabelZH: "已办结", LabelEN: "resolved"},
			{Name: "refused", Terminal: true, LabelZH: "不予受理", LabelEN: "refused"},
		},
		Transitions: []Transition{
			{Action: "accept", From: []State{"submitted"}, To: "accepted", Who: Assigned(),
				LabelZH: "受理", LabelEN: "accepted"},
			{Action: "resolve", From: []State{"submitted", "accepted"}, To: "resolved", Who: Assigned(),
				Outcome: Approved, ReasonRequired: true, LabelZH: "办结答复", LabelEN: "resolved with a reply"},
			{Action: "refuse", From: []State{"submitted", "accepted"}, To: "refused", Who: Assigned(),
				Outcome: Refused, LabelZH: "不予受理", LabelEN: "refused"},
		},
		Deadline: Days(days),
		Escalation: []Level{
			{Name: "authority", Assignees: []Assignee{{Role: identity.RoleAuthorityAdmin}}, Days: 5, LabelZH: "大数据主管部门督办", LabelEN: "the authority"},
			{Name: "city_government", Assignees: []Assignee{{Role: identity.RoleCityGovernment}}, Days: 10, LabelZH: "市人民政府", LabelEN: "the city government"},
		},
	}
}
