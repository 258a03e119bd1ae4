package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// Casework kinds the catalog registers.
const (
	KindReview   = "catalog_review"
	KindPurchase = "purchase_request"
)

// UseCasework registers the catalog's case kinds (catalog_review and
// purchase_request) with the engine, which Publish then uses when the
// authority requires review.
func (s *Service) UseCasework(e *casework.Engine) error {
	if err := e.Register(s.reviewKind()); err != nil {
		return err
	}
	if err := e.Register(s.purchaseKind()); err != nil {
		return err
	}
	s.cw = e
	return nil
}

// authorityReviewer is who decides catalog cases: the authority's admins
// and reviewers.
func authorityReviewer() casework.Who {
	return func(p identity.Principal, _ *casework.Case) bool {
		return p.Has(identity.RoleAuthorityAdmin) || (p.OrgKind == identity.KindAuthority && p.Has(identity.RoleReviewer))
	}
}

func authorityAssignees(*casework.Case) []casework.Assignee {
	return []casework.Assignee{{Role: identity.RoleAuthorityAdmin}}
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, `json: unknown field "`) {
			name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
			return invalid("payload."+name, "未知字段 %s", "unknown field %s", name)
		}
		return invalid("payload", "申请内容格式错误：%v", "malformed payload: %v", err)
	}
	return nil
}

// reviewPayload is a catalog_review case's payload.
type reviewPayload struct {
	Reason              string `json:"reason"`
	AcknowledgeBreaking bool   `json:"acknowledge_breaking,omitempty"`
	// Rev is the draft revision under review, filled in at filing.
	Rev  int    `json:"rev,omitempty"`
	Code string `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
}

func principalOfParty(a casework.Party) identity.Principal {
	p := identity.Principal{OrgID: a.OrgID}
	if a.Kind == "client" {
		p.ClientID = a.ID
	} else {
		p.UserID = a.ID
	}
	return p
}

// reviewKind is the authority's review of a publication (R-CAT-3): an org's
// steward asks to publish a draft; the authority approves (the draft is
// published as the steward's version, approved by the reviewer) or refuses
// with a reason. The draft is checked in full at filing, so an approval
// does not fail on rules the steward could have seen.
func (s *Service) reviewKind() casework.Kind {
	clear := func(ctx context.Context, tx *store.Tx, c *casework.Case, _ casework.Act) error {
		_, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET review_case_id = '' WHERE id = $1 AND review_case_id = $2`, c.Target.ID, c.ID)
		return err
	}
	return casework.Kind{
		Name: KindReview, LabelZH: "目录发布审核", LabelEN: "catalog publication review",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		Validate: func(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			var in reviewPayload
			if err := decodeStrict(raw, &in); err != nil {
				return nil, err
			}
			in.Reason = strings.TrimSpace(in.Reason)
			if err := textOK("payload.reason", in.Reason, 1000, true); err != nil {
				return nil, err
			}
			r, err := s.loadRow(ctx, s.db, s.db.Dialect, t.ID, false)
			if err != nil {
				return nil, err
			}
			if r.RemoteSource != "" {
				return nil, ErrRemote
			}
			if _, err := s.checkOrg(ctx, p, r.OrgID); err != nil {
				return nil, err
			}
			if r.ReviewCaseID != "" {
				return nil, ErrReviewPending.At(r.ReviewCaseID)
			}
			e, err := decodeEntry(r.Draft)
			if err != nil {
				return nil, err
			}
			if e == nil {
				return nil, ErrNoDraft.At(t.ID)
			}
			e.Code, e.OrgID = r.Code, r.OrgID
			cfg, err := s.config(ctx, s.db)
			if err != nil {
				return nil, err
			}
			if err := validate(e, &cfg); err != nil {
				return nil, err
			}
			prev, err := decodeEntry(r.Doc)
			if err != nil {
				return nil, err
			}
			if b := breakingOf(diff(prev, e)); len(b) > 0 && !in.AcknowledgeBreaking {
				return nil, breakingError(b)
			}
			t.OrgID = r.OrgID
			in.Rev, in.Code, in.Name = r.DraftRev, r.Code, e.Name
			return json.Marshal(in)
		},
		Initial: "pending",
		States: []casework.StateSpec{
			{Name: "pending", Assignees: authorityAssignees, LabelZH: "待审核", LabelEN: "awaiting review"},
			{Name: "approved", Terminal: true, LabelZH: "审核通过，已发布", LabelEN: "approved and published"},
			{Name: "refused", Terminal: true, LabelZH: "审核不通过", LabelEN: "refused"},
		},
		Transitions: []casework.Transition{
			{Action: "approve", From: []casework.State{"pending"}, To: "approved", Outcome: casework.Approved, Who: authorityReviewer(),
				LabelZH: "审核通过并发布", LabelEN: "approve and publish",
				Effect: func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
					var in reviewPayload
					if err := json.Unmarshal(c.Payload, &in); err != nil {
						return fmt.Errorf("catalog: review payload: %w", err)
					}
					approver := a.By
					return s.publishTx(ctx, tx, principalOfParty(c.Applicant), &approver, c.Target.ID,
						PublishInput{Reason: in.Reason, AcknowledgeBreaking: in.AcknowledgeBreaking, Rev: in.Rev}, c.ID)
				}},
			{Action: "refuse", From: []casework.State{"pending"}, To: "refused", Outcome: casework.Refused, Who: authorityReviewer(),
				ReasonRequired: true, LabelZH: "审核不通过", LabelEN: "refuse", Effect: clear},
		},
		Deadline:   casework.Days(5),
		OnWithdraw: clear,
		NoReturn:   true,
	}
}

// requestReview files a catalog_review case for id's draft.
func (s *Service) requestReview(ctx context.Context, p identity.Principal, id string, in PublishInput) (*PublishResult, error) {
	if s.cw == nil {
		return nil, ErrNoCasework
	}
	payload, _ := json.Marshal(reviewPayload{Reason: in.Reason, AcknowledgeBreaking: in.AcknowledgeBreaking})
	c, err := s.cw.File(ctx, p, casework.Filing{Kind: KindReview, Title: "目录发布审核", Target: casework.Target{Type: "resource", ID: id}, Payload: payload})
	if err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE catalog_resources SET review_case_id = $1 WHERE id = $2 AND review_case_id = ''`, c.ID, id); err != nil {
		return nil, fmt.Errorf("catalog: mark review: %w", err)
	}
	res, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return &PublishResult{Resource: res, ReviewCaseID: c.ID}, nil
}

// PurchaseRequest is a purchase_request case's payload (R-CAT-9, SZ11,
// XM22): the non-public data an org needs to buy, described as the catalog
// entry it becomes, with the supplier and the purpose.
type PurchaseRequest struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Supplier    string    `json:"supplier"`
	Purpose     string    `json:"purpose"`
	Budget      string    `json:"budget,omitempty"`
	LegalBasis  string    `json:"legal_basis"`
	Themes      []string  `json:"themes"`
	Industry    string    `json:"industry,omitempty"`
	Frequency   Frequency `json:"frequency"`
	Formats     []string  `json:"formats"`
	Level       Level     `json:"level"`
	// Share is how the bought data may be shared with other orgs; default
	// conditional, within the purchase contract.
	Share   *Sharing `json:"share,omitempty"`
	Contact Contact  `json:"contact"`
	Tags    []string `json:"tags,omitempty"`
	Fields  []Field  `json:"fields"`
}

// entry is the catalog entry an approved purchase becomes: purchased
// non-public data, not open.
func (pr *PurchaseRequest) entry(orgID string) Entry {
	share := Sharing{Attr: Conditional, Conditions: "仅在采购合同约定的范围和期限内共享 (shared only within the purchase contract's scope and term)"}
	if pr.Share != nil {
		share = *pr.Share
	}
	return Entry{
		Name: pr.Name, Description: pr.Description, OrgID: orgID, DataClass: ClassPurchased,
		Themes: pr.Themes, Industry: pr.Industry, Frequency: pr.Frequency, Formats: pr.Formats,
		LegalBasis: pr.LegalBasis, Level: pr.Level, Share: share,
		Open: Sharing{Attr: None, Basis: "《厦门经济特区数据条例》第二十二条；采购合同 " + pr.Supplier,
			Reason: "依法采购的非公共数据，受采购合同约束，不向社会开放"},
		Delivery: Delivery{Mode: Hosted}, Contact: pr.Contact, Tags: append(pr.Tags, "采购数据"), Fields: pr.Fields,
	}
}

// purchaseKind is a department's request to buy non-public data through the
// authority (R-CAT-9): the authority reviews it centrally; on approval the
// data enters the catalog as a published purchased entry of the requesting
// org, in the same transaction as the decision.
func (s *Service) purchaseKind() casework.Kind {
	return casework.Kind{
		Name: KindPurchase, LabelZH: "非公共数据采购申请", LabelEN: "non-public data purchase request",
		TargetTypes:   []string{"org"},
		TargetOrgSees: true,
		CanFile: func(p identity.Principal, t casework.Target) bool {
			return t.ID == p.OrgID && p.HasAny(identity.RoleDataSteward, identity.RoleAdmin)
		},
		Validate: func(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			var pr PurchaseRequest
			if err := decodeStrict(raw, &pr); err != nil {
				return nil, err
			}
			for _, f := range []struct{ p, v string }{{"supplier", pr.Supplier}, {"purpose", pr.Purpose}, {"legal_basis", pr.LegalBasis}} {
				if err := textOK("payload."+f.p, strings.TrimSpace(f.v), 1000, true); err != nil {
					return nil, err
				}
			}
			org, err := s.checkOrg(ctx, p, t.ID)
			if err != nil {
				return nil, err
			}
			if org.Kind != identity.KindDepartment {
				return nil, apperr.New(apperr.Forbidden, "catalog.purchase_department_only", "只有政务部门可以申请采购非公共数据（XM22）", "only government departments request purchases of non-public data (XM22)")
			}
			e := pr.entry(t.ID)
			cfg, err := s.config(ctx, s.db)
			if err != nil {
				return nil, err
			}
			if err := validate(&e, &cfg); err != nil {
				if ae, ok := apperr.As(err); ok {
					c := *ae
					c.Field = "payload." + c.Field
					return nil, &c
				}
				return nil, err
			}
			return json.Marshal(pr)
		},
		Initial: "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: authorityAssignees, LabelZH: "待主管部门审核", LabelEN: "awaiting the authority"},
			{Name: "approved", Terminal: true, LabelZH: "已批准，已纳入目录", LabelEN: "approved and cataloged"},
			{Name: "refused", Terminal: true, LabelZH: "不予批准", LabelEN: "refused"},
		},
		Transitions: []casework.Transition{
			{Action: "approve", From: []casework.State{"submitted"}, To: "approved", Outcome: casework.Approved, Who: authorityReviewer(),
				LabelZH: "批准采购", LabelEN: "approve the purchase",
				Effect: func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
					var pr PurchaseRequest
					if err := json.Unmarshal(c.Payload, &pr); err != nil {
						return fmt.Errorf("catalog: purchase payload: %w", err)
					}
					sys := System(a.By.OrgID)
					d, err := s.createDraftTx(ctx, tx, sys, pr.entry(c.Target.OrgID))
					if err != nil {
						return err
					}
					approver := a.By
					return s.publishTx(ctx, tx, principalOfParty(c.Applicant), &approver, d.ResourceID,
						PublishInput{Reason: "采购申请获批，纳入目录 (purchase approved)"}, c.ID)
				}},
			{Action: "refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused, Who: authorityReviewer(),
				ReasonRequired: true, LabelZH: "不予批准", LabelEN: "refuse"},
		},
		Deadline: casework.Days(15),
	}
}

// RequestPurchase files a purchase request for p's org.
func (s *Service) RequestPurchase(ctx context.Context, p identity.Principal, pr PurchaseRequest) (*casework.Case, error) {
	if s.cw == nil {
		return nil, ErrNoCasework
	}
	payload, err := json.Marshal(pr)
	if err != nil {
		return nil, err
	}
	return s.cw.File(ctx, p, casework.Filing{Kind: KindPurchase, Title: "采购申请：" + pr.Name, Target: casework.Target{Type: "org", ID: p.OrgID}, Payload: payload})
}

// Cases gives the catalog's case engine (nil if none) to callers that act on cases.
func (s *Service) Cases() *casework.Engine { return s.cw }
