package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// KindObjection is the casework kind of an objection to a record (异议).
const KindObjection = "objection"

// ObjectionPayload is what an objector files: which record (by key) and
// which field, what is wrong, and the evidence. Evidence files attach to the
// case through casework's attachments.
type ObjectionPayload struct {
	Key      map[string]string `json:"key"`
	Field    string            `json:"field"`
	Problem  string            `json:"problem"`
	Proposed string            `json:"proposed,omitempty"`
	Evidence string            `json:"evidence,omitempty"`
	// ResourceCode and FieldLabel are filled in at filing.
	ResourceCode string `json:"resource_code,omitempty"`
	FieldLabel   string `json:"field_label,omitempty"`
}

// Correction is the data of an objection's "correct" action: the corrected
// values by field. The correction is applied as an incremental update
// linked to the case (R-QLT-2).
type Correction struct {
	Values map[string]string `json:"values"`
	// BatchID is filled in with the correction's batch.
	BatchID string `json:"batch_id,omitempty"`
}

func objInvalid(field, zh, en string, args ...any) error {
	return apperr.Invalidf("ingest.bad_objection", field, zh, en, args...)
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, `json: unknown field "`) {
			name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
			return objInvalid("payload."+name, "未知字段 %s", "unknown field %s", name)
		}
		return objInvalid("payload", "内容格式错误：%v", "malformed payload: %v", err)
	}
	return nil
}

func text(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", objInvalid(field, "请填写 %s", "%s is required", field)
	}
	if utf8.RuneCountInString(s) > max {
		return "", objInvalid(field, "%s 过长（最多 %d 字）", "%s is too long (at most %d characters)", field, max)
	}
	return s, nil
}

// UseCasework registers the objection kind with the engine.
func (s *Service) UseCasework(e *casework.Engine) error {
	if err := e.Register(s.objectionKind()); err != nil {
		return err
	}
	s.cw = e
	return nil
}

// objectionKind is R-QLT-2 (SZ16, XM23): anyone signed in objects to a
// hosted record; the providing org's data stewards verify it within the
// deadline and either correct the record (an incremental update linked to
// the case: approved) or explain why it stands (refused, with the written
// explanation). The objector is notified of each step by casework; overdue
// objections escalate to the authority. The case history and the ledger's
// decide, collect and store events show the whole chain. Filing does not
// say whether the record exists, so objections cannot probe a dataset.
func (s *Service) objectionKind() casework.Kind {
	stewards := func(c *casework.Case) []casework.Assignee {
		return []casework.Assignee{{OrgID: c.Target.OrgID, Role: identity.RoleDataSteward}, {OrgID: c.Target.OrgID, Role: identity.RoleAdmin}}
	}
	orgActs := casework.AnyOf(casework.TargetOrgRole(identity.RoleDataSteward, identity.RoleAdmin), casework.HasRole(identity.RoleAuthorityAdmin))
	return casework.Kind{
		Name: KindObjection, LabelZH: "数据异议", LabelEN: "objection to a record",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		ApplicantOnly: true,
		Validate: func(ctx context.Context, _ identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			var in ObjectionPayload
			if err := decodeStrict(raw, &in); err != nil {
				return nil, err
			}
			r, err := s.resource(ctx, t.ID)
			if err != nil || r.Status != catalog.StatusPublished {
				return nil, casework.ErrBadTarget.At("target.id")
			}
			ds, err := s.loadDataset(ctx, s.db, s.db.Dialect, r.ID, false)
			if err != nil {
				return nil, err
			}
			fi := slices.IndexFunc(ds.Fields, func(f catalog.Field) bool { return f.Name == in.Field })
			if fi < 0 {
				return nil, objInvalid("payload.field", "数据项 %q 不存在", "field %q does not exist", in.Field)
			}
			if _, err := keyArgs(ds, s.db.Dialect, in.Key); err != nil {
				var ae *apperr.Error
				if errors.As(err, &ae) {
					return nil, ae.At("payload." + ae.Field)
				}
				return nil, err
			}
			if in.Problem, err = text("payload.problem", in.Problem, 2000, true); err != nil {
				return nil, err
			}
			if in.Proposed, err = text("payload.proposed", in.Proposed, 1000, false); err != nil {
				return nil, err
			}
			if in.Evidence, err = text("payload.evidence", in.Evidence, 5000, false); err != nil {
				return nil, err
			}
			in.ResourceCode, in.FieldLabel = r.Code, ds.Fields[fi].Label
			t.ID, t.OrgID = r.ID, r.OrgID
			return json.Marshal(in)
		},
		Initial: "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: stewards, LabelZH: "已提交待核查", LabelEN: "submitted, awaiting verification"},
			{Name: "verifying", Assignees: stewards, LabelZH: "核查中", LabelEN: "being verified"},
			{Name: "corrected", Terminal: true, LabelZH: "已更正", LabelEN: "corrected"},
			{Name: "explained", Terminal: true, LabelZH: "经核查不予更正（已说明）", LabelEN: "verified, not corrected (explained)"},
		},
		Transitions: []casework.Transition{
			{Action: "verify", From: []casework.State{"submitted"}, To: "verifying", Who: orgActs,
				LabelZH: "受理核查", LabelEN: "start verification"},
			{Action: "correct", From: []casework.State{"submitted", "verifying"}, To: "corrected", Outcome: casework.Approved, Who: orgActs,
				ReasonRequired: true, LabelZH: "核查属实并更正", LabelEN: "verified and corrected",
				Data: func(c *casework.Case, raw json.RawMessage) (json.RawMessage, error) {
					var in Correction
					if len(raw) == 0 {
						return nil, objInvalid("data.values", "须给出更正后的值", "give the corrected values")
					}
					if err := decodeStrict(raw, &in); err != nil {
						return nil, err
					}
					if len(in.Values) == 0 || len(in.Values) > 100 {
						return nil, objInvalid("data.values", "须给出更正后的值", "give the corrected values")
					}
					in.BatchID = ""
					return json.Marshal(in)
				},
				Effect: func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
					var in ObjectionPayload
					if err := json.Unmarshal(c.Payload, &in); err != nil {
						return fmt.Errorf("ingest: objection payload: %w", err)
					}
					var corr Correction
					if err := json.Unmarshal(a.Data, &corr); err != nil {
						return fmt.Errorf("ingest: correction: %w", err)
					}
					_, err := s.correct(ctx, tx, a.By, c.Target.ID, in.Key, corr.Values, c.ID)
					return err
				}},
			{Action: "explain", From: []casework.State{"submitted", "verifying"}, To: "explained", Outcome: casework.Refused, Who: orgActs,
				ReasonRequired: true, LabelZH: "核查不属实，说明理由", LabelEN: "verified, explain why it stands"},
		},
		Deadline: casework.Days(s.opts.ObjectionDays),
		Escalation: []casework.Level{
			{Name: "authority", Assignees: []casework.Assignee{{Role: identity.RoleAuthorityAdmin}}, Days: 5, LabelZH: "大数据主管部门督办", LabelEN: "the authority"},
		},
		NoReturn: true,
	}
}

// FileObjection files an objection (a convenience over the casework engine).
func (s *Service) FileObjection(ctx context.Context, p identity.Principal, resource string, in ObjectionPayload) (*casework.Case, error) {
	if s.cw == nil {
		return nil, errors.New("ingest: no casework engine")
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return s.cw.File(ctx, p, casework.Filing{Kind: KindObjection, Title: "数据异议：" + clip(in.Problem, 40), Target: casework.Target{Type: "resource", ID: resource}, Payload: raw})
}
