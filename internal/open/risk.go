package open

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"shuqiao/internal/apperr"
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
	ID         string `json:"id"`
	ResourceID string `json:"resource_id"`
	// Version is the catalog version scanned; DataHash the SHA-256 of the
	// quasi-identifier data read. Together they are the dataset version a
	// flag is raised for, once.
	Version    string           `json:"version,omitempty"`
	DataHash   string           `json:"data_hash,omitempty"`
	DeliveryID string           `json:"delivery_id,omitempty"`
	Report     *anon.RiskReport `json:"report"`
	Flagged    bool             `json:"flagged"`
	// CaseID is the open_risk case of a flagged scan; AlreadyFlagged says
	// it was filed by an earlier scan of the same dataset version.
	CaseID         string    `json:"case_id,omitempty"`
	AlreadyFlagged bool      `json:"already_flagged,omitempty"`
	At             time.Time `json:"at"`
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
		if !scannable(r) {
			continue
		}
		sc, err := s.ScanResource(ctx, r.ID)
		if err != nil {
			if noData(err) {
				continue
			}
			return out, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// scannable: a hosted, not purpose-locked entry with quasi-identifiers
// whose data has been loaded (ingest marks each load; an entry never
// loaded releases nothing, and the scan makes no grant for it).
func scannable(r *catalog.Resource) bool {
	return r.Delivery.Mode != catalog.ServiceAPI && !PurposeLocked(r) && len(QuasiIdentifiers(r)) > 0 && r.DataUpdatedAt != nil
}

// noData tells a read of an entry that has no rows to read.
func noData(err error) bool {
	ae, ok := apperr.As(err)
	return ok && ae.Kind == apperr.NotFound
}

// RunRiskScans is the scheduled risk scan (R-OPN-6; the server runs it
// periodically, docs/open-data.md). It scans each opened hosted entry that
// is due: never scanned, last scanned at least Options.RiskScanEvery ago
// (by the service's clock), republished since (another catalog version), or
// given new data since (DataUpdatedAt after the scan). An entry whose data
// was never loaded, or cannot be found, is skipped; other failures do not stop
// the run and are returned joined. A dataset version above the threshold is
// flagged once (ScanResource). Without an authority org it does nothing.
func (s *Service) RunRiskScans(ctx context.Context) ([]*RiskScan, error) {
	if _, err := s.authorityOrg(ctx); err != nil {
		return nil, nil
	}
	all, err := s.allOpen(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []*RiskScan
	var errs []error
	for _, r := range all {
		if !scannable(r) {
			continue
		}
		last, err := s.LatestRisk(ctx, r.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if last != nil && now.Sub(last.At) < s.opts.RiskScanEvery && last.Version == r.Version &&
			(r.DataUpdatedAt == nil || !r.DataUpdatedAt.After(last.At)) {
			continue
		}
		sc, err := s.ScanResource(ctx, r.ID)
		if err != nil {
			if noData(err) {
				continue // no data loaded yet: nothing is released
			}
			errs = append(errs, fmt.Errorf("open: risk scan of %s: %w", r.ID, err))
			continue
		}
		out = append(out, sc)
	}
	return out, errors.Join(errs...)
}

// authorityOrg is the org the scan reads as: Options.AuthorityOrgID, else
// what Options.Authority finds (the authority may be bootstrapped after the
// server starts).
func (s *Service) authorityOrg(ctx context.Context) (string, error) {
	if s.opts.AuthorityOrgID != "" {
		return s.opts.AuthorityOrgID, nil
	}
	if s.opts.Authority != nil {
		if id, err := s.opts.Authority(ctx); err == nil && id != "" {
			return id, nil
		}
	}
	return "", ErrNoRiskScanning
}

// ScanResource measures the re-identification risk of what an entry
// releases: it reads up to Options.RiskSampleRows rows through the gate
// (masked exactly as recipients get them; a service grant to the authority,
// recorded like any delivery), computes anon.Risk over the entry's
// quasi-identifiers, and when the share of records at risk exceeds
// Options.MaxAtRisk flags it to the providing org and the authority with an
// open_risk case — once per dataset version (catalog version and hash of
// the data read): a later scan of the same version refers to that case.
func (s *Service) ScanResource(ctx context.Context, resourceID string) (*RiskScan, error) {
	authOrg, err := s.authorityOrg(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	qis := QuasiIdentifiers(res)
	g, err := s.scanGrant(ctx, res, authOrg)
	if err != nil {
		return nil, err
	}
	by := identity.Principal{ClientID: system.ClientID, OrgID: authOrg}
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
	sum := sha256.Sum256(b)
	sc := &RiskScan{ID: store.NewID(), ResourceID: res.ID, Version: res.Version, DataHash: hex.EncodeToString(sum[:]), DeliveryID: d.ID, Report: rep, At: s.now(),
		Flagged: rep.Records > 0 && rep.ProsecutorAtRisk > s.opts.MaxAtRisk}
	if sc.Flagged {
		if err := s.flag(ctx, res, sc); err != nil {
			return nil, err
		}
	}
	rj, _ := json.Marshal(rep)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO open_risk_scans (id, resource_id, delivery_id, report, flagged, case_id, created_at, version, data_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		sc.ID, sc.ResourceID, sc.DeliveryID, string(rj), boolInt(sc.Flagged), sc.CaseID, store.Micros(sc.At), sc.Version, sc.DataHash); err != nil {
		return nil, fmt.Errorf("open: record risk scan: %w", err)
	}
	return sc, nil
}

// flag files the open_risk case of a flagged scan, unless its dataset
// version was flagged before: the flag row is reserved first (its primary
// key is the version), so neither a rerun nor a second replica files twice.
func (s *Service) flag(ctx context.Context, res *catalog.Resource, sc *RiskScan) error {
	r, err := s.db.ExecContext(ctx, `INSERT INTO open_risk_flags (resource_id, version, data_hash, scan_id, created_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (resource_id, version, data_hash) DO NOTHING`, res.ID, sc.Version, sc.DataHash, sc.ID, store.Micros(sc.At))
	if err != nil {
		return fmt.Errorf("open: reserve risk flag: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		sc.AlreadyFlagged = true
		return s.db.QueryRowContext(ctx, `SELECT case_id FROM open_risk_flags WHERE resource_id = $1 AND version = $2 AND data_hash = $3`,
			res.ID, sc.Version, sc.DataHash).Scan(&sc.CaseID)
	}
	payload, _ := json.Marshal(map[string]any{"scan_id": sc.ID, "report": sc.Report, "max_at_risk": s.opts.MaxAtRisk,
		"resource_code": res.Code, "resource_name": res.Name, "version": sc.Version, "data_hash": sc.DataHash})
	c, err := s.cw.File(ctx, system, casework.Filing{Kind: KindRisk, Title: "开放数据重识别风险：" + res.Name,
		Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload})
	if err != nil {
		_, _ = s.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM open_risk_flags WHERE resource_id = $1 AND version = $2 AND data_hash = $3 AND scan_id = $4`,
			res.ID, sc.Version, sc.DataHash, sc.ID)
		return err
	}
	sc.CaseID = c.ID
	_, err = s.db.ExecContext(ctx, `UPDATE open_risk_flags SET case_id = $1 WHERE resource_id = $2 AND version = $3 AND data_hash = $4`,
		c.ID, res.ID, sc.Version, sc.DataHash)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanGrant returns the service grant through which the scan reads res.
func (s *Service) scanGrant(ctx context.Context, res *catalog.Resource, authOrg string) (*gate.Grant, error) {
	var gid string
	err := s.db.QueryRowContext(ctx, `SELECT grant_id FROM open_scan_grants WHERE resource_id = $1`, res.ID).Scan(&gid)
	if err == nil {
		if g, err := s.gate.Grant(ctx, gid); err == nil && g.State == gate.Active && g.GranteeOrgID == authOrg && sameFields(g.Fields, res.Fields) {
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
		g, err = s.gate.CreateGrant(ctx, tx, system, gate.GrantSpec{ResourceID: res.ID, GranteeOrgID: authOrg, GranteeClientID: system.ClientID,
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
	err := s.db.QueryRowContext(ctx, `SELECT id, resource_id, delivery_id, report, flagged, case_id, created_at, version, data_hash FROM open_risk_scans
		WHERE resource_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, resourceID).Scan(&sc.ID, &sc.ResourceID, &sc.DeliveryID, &rep, &flagged, &sc.CaseID, &at, &sc.Version, &sc.DataHash)
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
	if sc.Flagged {
		var first string
		err := s.db.QueryRowContext(ctx, `SELECT scan_id FROM open_risk_flags WHERE resource_id = $1 AND version = $2 AND data_hash = $3`,
			sc.ResourceID, sc.Version, sc.DataHash).Scan(&first)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		sc.AlreadyFlagged = first != "" && first != sc.ID
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
