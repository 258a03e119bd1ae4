package open

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/privacy/anon"
	"shuqiao/internal/privacy/table"
	"shuqiao/internal/store"
)

// RiskScan is one re-identification risk scan of an opened entry (R-OPN-6).
type RiskScan struct {
	ID         string           `json:"id"`
	ResourceID string           `json:"resource_id"`
	DeliveryID string           `json:"delivery_id,omitempty"`
	Report     *anon.RiskReport `json:"report"`
	Flagged    bool             `json:"flagged"`
	CaseID     string           `json:"case_id,omitempty"`
	At         time.Time        `json:"at"`
}

// quasiWords mark a field as a quasi-identifier by its name or label:
// attributes that, combined, single people out (age, sex, birth, place,
// postcode, occupation, ethnicity, education, marital status…).
var quasiWords = []string{"age", "年龄", "gender", "sex", "性别", "birth", "出生", "生日", "district", "区", "县", "街道", "zip", "postcode", "邮编",
	"occupation", "职业", "ethnic", "民族", "education", "学历", "marital", "婚姻", "race", "nationality", "国籍", "籍贯"}

// QuasiIdentifiers are the fields of r the risk scan groups records by.
func QuasiIdentifiers(r *catalog.Resource) []string {
	var out []string
	for _, f := range r.Fields {
		n := strings.ToLower(f.Name + " " + f.Label)
		for _, w := range quasiWords {
			if strings.Contains(n, w) {
				out = append(out, f.Name)
				break
			}
		}
	}
	return out
}

// ScanRisk scans every opened hosted entry (R-OPN-6) and returns the scans.
func (s *Service) ScanRisk(ctx context.Context) ([]*RiskScan, error) {
	all, err := s.allOpen(ctx)
	if err != nil {
		return nil, err
	}
	var out []*RiskScan
	for _, r := range all {
		if r.Delivery.Mode == catalog.ServiceAPI || PurposeLocked(r) || len(QuasiIdentifiers(r)) == 0 {
			continue
		}
		sc, err := s.ScanResource(ctx, r.ID)
		if err != nil {
			return out, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// ScanResource measures the re-identification risk of what an entry
// releases: it reads up to Options.RiskSampleRows rows through the gate
// (masked exactly as recipients get them; a service grant to the authority,
// recorded like any delivery), computes anon.Risk over the entry's
// quasi-identifiers, and when the share of records at risk exceeds
// Options.MaxAtRisk files an open_risk case to the providing org and the
// authority.
func (s *Service) ScanResource(ctx context.Context, resourceID string) (*RiskScan, error) {
	if s.opts.AuthorityOrgID == "" {
		return nil, ErrNoRiskScanning
	}
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	qis := QuasiIdentifiers(res)
	g, err := s.scanGrant(ctx, res)
	if err != nil {
		return nil, err
	}
	by := identity.Principal{ClientID: system.ClientID, OrgID: s.opts.AuthorityOrgID}
	d, err := s.gate.Prepare(ctx, gate.Request{Principal: by, ResourceID: res.ID, GrantID: g.ID, Fields: qis, Format: gate.CSV, Limit: s.opts.RiskSampleRows})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.gate.RecordTx(ctx, tx, d) }); err != nil {
		return nil, err
	}
	b, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	t, err := table.ParseCSV(res.Code+".csv", b)
	if err != nil {
		return nil, err
	}
	rep, err := anon.Risk(t, qis, nil, s.opts.RiskThreshold)
	if err != nil {
		return nil, err
	}
	sc := &RiskScan{ID: store.NewID(), ResourceID: res.ID, DeliveryID: d.ID, Report: rep, At: s.now(),
		Flagged: rep.Records > 0 && rep.ProsecutorAtRisk > s.opts.MaxAtRisk}
	if sc.Flagged {
		payload, _ := json.Marshal(map[string]any{"scan_id": sc.ID, "report": rep, "max_at_risk": s.opts.MaxAtRisk,
			"resource_code": res.Code, "resource_name": res.Name})
		c, err := s.cw.File(ctx, system, casework.Filing{Kind: KindRisk, Title: "开放数据重识别风险：" + res.Name,
			Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload})
		if err != nil {
			return nil, err
		}
		sc.CaseID = c.ID
	}
	rj, _ := json.Marshal(rep)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO open_risk_scans (id, resource_id, delivery_id, report, flagged, case_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		sc.ID, sc.ResourceID, sc.DeliveryID, string(rj), boolInt(sc.Flagged), sc.CaseID, store.Micros(sc.At)); err != nil {
		return nil, err
	}
	return sc, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanGrant returns the service grant through which the scan reads res.
func (s *Service) scanGrant(ctx context.Context, res *catalog.Resource) (*gate.Grant, error) {
	var gid string
	err := s.db.QueryRowContext(ctx, `SELECT grant_id FROM open_scan_grants WHERE resource_id = $1`, res.ID).Scan(&gid)
	if err == nil {
		if g, err := s.gate.Grant(ctx, gid); err == nil && g.State == gate.Active && sameFields(g.Fields, res.Fields) {
			return g, nil
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var g *gate.Grant
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var fields []string
		for _, f := range res.Fields {
			fields = append(fields, f.Name)
		}
		var err error
		g, err = s.gate.CreateGrant(ctx, tx, system, gate.GrantSpec{ResourceID: res.ID, GranteeOrgID: s.opts.AuthorityOrgID, GranteeClientID: system.ClientID,
			Fields: fields, Purpose: "开放数据重识别风险评估 (R-OPN-6)", Kind: gate.KindService, RowLimit: s.opts.RiskSampleRows,
			Terms: "仅用于开放数据定期风险评估，不对外提供。"})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO open_scan_grants (resource_id, grant_id) VALUES ($1,$2)
			ON CONFLICT (resource_id) DO UPDATE SET grant_id = excluded.grant_id`, res.ID, g.ID)
		return err
	})
	return g, err
}

// LatestRisk returns an entry's latest scan, or nil.
func (s *Service) LatestRisk(ctx context.Context, resourceID string) (*RiskScan, error) {
	var sc RiskScan
	var rep string
	var flagged int
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT id, resource_id, delivery_id, report, flagged, case_id, created_at FROM open_risk_scans
		WHERE resource_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, resourceID).Scan(&sc.ID, &sc.ResourceID, &sc.DeliveryID, &rep, &flagged, &sc.CaseID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc.Flagged, sc.At = flagged == 1, store.FromMicros(at)
	if err := json.Unmarshal([]byte(rep), &sc.Report); err != nil {
		return nil, err
	}
	return &sc, nil
}

// riskKind: a flagged entry goes to the providing org and the authority,
// who resolve it with a written account of what was done (re-anonymise,
// narrow the fields, withdraw the opening).
func (s *Service) riskKind() casework.Kind {
	return casework.Kind{
		Name: KindRisk, LabelZH: "开放数据重识别风险", LabelEN: "open data re-identification risk",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		NoReturn:      true,
		NoWithdraw:    true,
		CanFile: func(p identity.Principal, _ casework.Target) bool {
			return p.ClientID == system.ClientID || isAuthority(p)
		},
		Validate: func(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
			res, err := s.resource(ctx, t.ID)
			if err != nil {
				return nil, ErrUnavailable.At("target.id")
			}
			t.OrgID = res.OrgID
			return raw, nil
		},
		Initial: "flagged",
		States: []casework.StateSpec{
			{Name: "flagged", Assignees: func(c *casework.Case) []casework.Assignee {
				return append(providerAssignees(c), casework.Assignee{Role: identity.RoleAuthorityAdmin})
			}, LabelZH: "风险待处置", LabelEN: "risk to be handled"},
			{Name: "resolved", Terminal: true, LabelZH: "已处置", LabelEN: "resolved"},
		},
		Transitions: []casework.Transition{
			{Action: "resolve", From: []casework.State{"flagged"}, To: "resolved", ReasonRequired: true,
				Who: casework.AnyOf(providerWho(), authorityWho()), LabelZH: "处置完毕", LabelEN: "resolved"},
		},
		Deadline: casework.Days(s.opts.RiskDays),
	}
}
