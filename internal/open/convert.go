package open

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/privacy/anon"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/privacy/table"
	"shuqiao/internal/store"
)

// From not open to open (R-OPN-4). A providing org turns not-open data into
// open data by one of two paths, each an open_conversion case the authority
// approves or refuses, with a ledger trail:
//
//   - PathDerivative: Derive reads the not-open entry through the gate,
//     masks direct identifiers and generalises the quasi-identifiers to
//     k-anonymity (privacy/anon), and measures the result's
//     re-identification risk (anon.Risk). The org loads the derivative into
//     its own catalog entry (through ingest, like any data) and proposes
//     opening that entry, the derivation and its risk report attached.
//   - PathConsent: the org proposes opening the entry itself on the right
//     holder's recorded consent: who consented, when, to which fields and
//     use, until when, and the evidence.
//
// Approval records the opening (open_conversions); the org then changes the
// entry's open attribute through catalog publication, as after a review.
const KindConversion = "open_conversion"

// Conversion paths.
const (
	PathDerivative = "derivative"
	PathConsent    = "consent"
)

// DerivationKey is the first column of every derivative: a row number
// (1…n, zero-padded) over the rows in random order. Generalised rows repeat, so the
// derivative needs a key of its own for ingest to load it; a number
// assigned after shuffling carries nothing of the source's keys or order
// (docs/decisions/0104).
const DerivationKey = "row_no"

var (
	ErrNotProvider     = apperr.New(apperr.Forbidden, "open.not_provider", "只有数据提供单位可以办理", "only the providing org may do this")
	ErrAlreadyOpen     = apperr.New(apperr.Invalid, "open.already_open", "该数据资源已开放，无需转换", "the resource is already open")
	ErrDerivation      = apperr.New(apperr.Invalid, "open.derivation", "匿名化参数无效或衍生数据不可用", "invalid anonymisation parameters or derivation")
	ErrRiskTooHigh     = apperr.New(apperr.Invalid, "open.risk_too_high", "衍生数据重识别风险超过阈值，不能申请开放", "the derivative's re-identification risk is above the threshold")
	ErrDerivativeEntry = apperr.New(apperr.Invalid, "open.derivative_entry", "拟开放的目录条目须包含衍生数据的全部数据项及记录序号 row_no", "the entry to open must have the derivative's data items and its row_no key")
	ErrConsent         = apperr.New(apperr.Invalid, "open.consent", "权利人同意记录不完整或已失效", "the right holder's consent record is incomplete or no longer valid")
)

// DeriveSpec is how to make an anonymised derivative of a not-open entry.
type DeriveSpec struct {
	SourceID string `json:"source_id"`
	// Fields are the fields released (the QIs included); others are dropped.
	Fields []string `json:"fields"`
	// QIs are generalised to K-anonymity with their hierarchies (ARX text:
	// "value;level1;…;*" per line), suppressing at most MaxSuppression.
	QIs            []string          `json:"qis"`
	Hierarchies    map[string]string `json:"hierarchies"`
	K              int               `json:"k"`
	MaxSuppression float64           `json:"max_suppression"`
	// Masks transform released fields (partial, generalize, suppress); on a
	// QI, before it is generalised (e.g. a birth date to its year, which the
	// hierarchy then generalises further).
	Masks map[string]mask.Spec `json:"masks,omitempty"`
}

// Derivation is a derivative made by Derive.
type Derivation struct {
	ID          string           `json:"id"`
	SourceID    string           `json:"source_id"`
	OrgID       string           `json:"org_id"`
	Spec        DeriveSpec       `json:"spec"`
	Result      *anon.Result     `json:"result"`
	Report      *anon.RiskReport `json:"report"`
	DeliveryID  string           `json:"delivery_id"`
	ContentHash string           `json:"content_hash"`
	At          time.Time        `json:"at"`
	// CSV is the derivative, for the org to load: a header of DerivationKey
	// and the field names, the rows in random order, numbered.
	CSV []byte `json:"-"`
}

// Derive makes an anonymised derivative of a not-open hosted entry of p's
// org (R-OPN-4): it reads the released fields through the gate (a service
// grant to the org, recorded like any delivery), applies the masks,
// generalises the QIs to k-anonymity and computes the risk report. The
// derivation is recorded; the caller loads CSV into the derivative entry.
func (s *Service) Derive(ctx context.Context, p identity.Principal, spec DeriveSpec) (*Derivation, error) {
	res, err := s.resource(ctx, spec.SourceID)
	if err != nil {
		return nil, err
	}
	if !isProvider(p, res.OrgID) {
		return nil, ErrNotProvider
	}
	if PurposeLocked(res) {
		return nil, ErrPurposeLocked.At("source_id")
	}
	if res.Open.Attr != catalog.None {
		return nil, ErrAlreadyOpen.At("source_id")
	}
	if res.Delivery.Mode == catalog.ServiceAPI {
		return nil, ErrServiceAPI.At("source_id")
	}
	if spec.K < 2 || spec.MaxSuppression < 0 || spec.MaxSuppression > 0.5 || len(spec.QIs) == 0 || len(spec.Fields) == 0 {
		return nil, ErrDerivation.At("k")
	}
	has := func(f string) bool {
		return slices.ContainsFunc(res.Fields, func(x catalog.Field) bool { return x.Name == f })
	}
	for i, f := range spec.Fields {
		if !has(f) || slices.Index(spec.Fields, f) != i || f == DerivationKey {
			return nil, ErrFields.At(fmt.Sprintf("fields[%d]", i))
		}
	}
	hs := map[string]*anon.Hierarchy{}
	for _, q := range spec.QIs {
		if !slices.Contains(spec.Fields, q) || spec.Hierarchies[q] == "" {
			return nil, ErrDerivation.At("qis." + q)
		}
		h, err := anon.ParseHierarchy(q, q, strings.NewReader(spec.Hierarchies[q]))
		if err != nil {
			return nil, err
		}
		hs[q] = h
	}
	plan := map[string]mask.Transform{}
	for f, ms := range spec.Masks {
		if !slices.Contains(spec.Fields, f) {
			return nil, ErrDerivation.At("masks." + f)
		}
		tr, err := mask.Compile(ms, nil)
		if err != nil {
			return nil, err
		}
		plan[f] = tr
	}
	// Read through the gate.
	var g *gate.Grant
	by := identity.Principal{ClientID: system.ClientID, OrgID: res.OrgID}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		g, err = s.gate.CreateGrant(ctx, tx, system, gate.GrantSpec{ResourceID: res.ID, GranteeOrgID: res.OrgID, GranteeClientID: system.ClientID,
			Fields: spec.Fields, Purpose: "开放数据匿名化衍生 (R-OPN-4)", Kind: gate.KindService, RowLimit: s.opts.RiskSampleRows * 10,
			ExpiresAt: s.now().Add(time.Hour), Terms: "仅用于制作拟开放的匿名化衍生数据，原始数据不对外提供。"})
		return err
	})
	if err != nil {
		return nil, err
	}
	d, err := s.gate.Prepare(ctx, gate.Request{Principal: by, ResourceID: res.ID, GrantID: g.ID, Fields: spec.Fields, Format: gate.CSV, Limit: s.opts.RiskSampleRows * 10})
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
	for f, tr := range plan {
		c := t.Col(f)
		for _, row := range t.Rows {
			row[c] = tr.Apply(row[c])
		}
	}
	result, err := anon.Anonymize(ctx, t, anon.Config{K: spec.K, QIs: spec.QIs, Hierarchies: hs, MaxSuppression: spec.MaxSuppression})
	if err != nil {
		return nil, err
	}
	if result.Output == nil {
		return nil, anon.ErrNoResult
	}
	rep, err := anon.Risk(result.Output, spec.QIs, nil, s.opts.RiskThreshold)
	if err != nil {
		return nil, err
	}
	keyed, err := numbered(result.Output)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := table.WriteCSV(&out, keyed, ','); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(out.Bytes())
	dv := &Derivation{ID: store.NewID(), SourceID: res.ID, OrgID: res.OrgID, Spec: spec, Result: result, Report: rep, DeliveryID: d.ID,
		ContentHash: hex.EncodeToString(sum[:]), At: s.now(), CSV: out.Bytes()}
	sj, _ := json.Marshal(spec)
	rj, _ := json.Marshal(result)
	pj, _ := json.Marshal(rep)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO open_derivations (id, source_id, org_id, spec, result, report, delivery_id, content_hash, created_by, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, dv.ID, res.ID, res.OrgID, string(sj), string(rj), string(pj), d.ID, dv.ContentHash,
			p.UserID+p.ClientID, store.Micros(dv.At)); err != nil {
			return err
		}
		return s.led.Append(ctx, tx, ledger.Event{ActorKind: actorKind(p), ActorID: p.UserID + p.ClientID, OrgID: p.OrgID, Action: ledger.Process,
			Object: "open/derivation/" + dv.ID, ResourceID: res.ID, Fields: spec.Fields, RecordCount: int64(len(result.Output.Rows)), ContentHash: dv.ContentHash,
			Detail: ledger.DetailOf(map[string]any{"delivery_id": d.ID, "k": spec.K, "transformation": result.Transformation(), "suppressed": result.Suppressed,
				"prosecutor_max": rep.ProsecutorMax, "prosecutor_at_risk": rep.ProsecutorAtRisk})})
	})
	if err != nil {
		return nil, err
	}
	return dv, nil
}

// numbered returns t's rows in random order behind a DerivationKey column
// numbering them 1…n, zero-padded to one width so that text order (how the
// gate pages by key) is numeric order: the derivative's key for ingest,
// which tells nothing of the source (its rows come from the gate in key
// order, so they are shuffled first).
func numbered(t *table.Table) (*table.Table, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("open: shuffle seed: %w", err)
	}
	rows := slices.Clone(t.Rows)
	rand.New(rand.NewChaCha8(seed)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	out := &table.Table{Name: t.Name, Header: append([]string{DerivationKey}, t.Header...), Rows: make([][]string, len(rows)),
		Encoding: t.Encoding, Delimiter: t.Delimiter}
	width := len(strconv.Itoa(len(rows)))
	for i, r := range rows {
		out.Rows[i] = append([]string{fmt.Sprintf("%0*d", width, i+1)}, r...)
	}
	return out, nil
}

func actorKind(p identity.Principal) ledger.ActorKind {
	if p.UserID != "" {
		return ledger.ActorUser
	}
	if p.ClientID != "" {
		return ledger.ActorClient
	}
	return ledger.ActorSystem
}

// derivation reads a recorded derivation (without its CSV).
func (s *Service) derivation(ctx context.Context, id string) (*Derivation, error) {
	var dv Derivation
	var sj, rj, pj string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT id, source_id, org_id, spec, result, report, delivery_id, content_hash, created_at FROM open_derivations WHERE id = $1`, id).
		Scan(&dv.ID, &dv.SourceID, &dv.OrgID, &sj, &rj, &pj, &dv.DeliveryID, &dv.ContentHash, &at)
	if err != nil {
		return nil, ErrDerivation.At("derivation_id")
	}
	if json.Unmarshal([]byte(sj), &dv.Spec) != nil || json.Unmarshal([]byte(rj), &dv.Result) != nil || json.Unmarshal([]byte(pj), &dv.Report) != nil {
		return nil, ErrDerivation.At("derivation_id")
	}
	dv.At = store.FromMicros(at)
	return &dv, nil
}

// Consent is the right holder's recorded consent to open an entry.
type Consent struct {
	Holder     string    `json:"holder"`     // who consented (a person or an org)
	Credential string    `json:"credential"` // masked resident ID or credit code
	GivenAt    time.Time `json:"given_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	Fields     []string  `json:"fields"` // scope: the fields consented to
	Use        string    `json:"use"`    // scope: the opening consented to
	Evidence   string    `json:"evidence"`
}

// OpeningPayload is an open_conversion case's payload.
type OpeningPayload struct {
	Path string `json:"path"`
	// Attr is the open attribute proposed: unconditional or conditional
	// (with Conditions).
	Attr         catalog.Attr `json:"attr"`
	Conditions   string       `json:"conditions,omitempty"`
	Reason       string       `json:"reason"`
	DerivationID string       `json:"derivation_id,omitempty"`
	Consent      *Consent     `json:"consent,omitempty"`

	// Filled in by the platform.
	ResourceCode string      `json:"resource_code,omitempty"`
	ResourceName string      `json:"resource_name,omitempty"`
	Derivation   *Derivation `json:"derivation,omitempty"`
	SourceCode   string      `json:"source_code,omitempty"`
	SourceName   string      `json:"source_name,omitempty"`
	MaxAtRisk    float64     `json:"max_at_risk,omitempty"`
}

// ProposeOpening files an open_conversion case for resourceID (R-OPN-4).
func (s *Service) ProposeOpening(ctx context.Context, p identity.Principal, resourceID string, in OpeningPayload) (*casework.Case, error) {
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return s.cw.File(ctx, p, casework.Filing{Kind: KindConversion, Title: "申请转为开放：" + res.Name,
		Target: casework.Target{Type: "resource", ID: res.ID}, Payload: payload})
}

func (s *Service) validateOpening(ctx context.Context, p identity.Principal, t *casework.Target, raw json.RawMessage) (json.RawMessage, error) {
	var in OpeningPayload
	if err := decodeStrict(raw, &in); err != nil {
		return nil, err
	}
	in.ResourceCode, in.ResourceName, in.Derivation, in.SourceCode, in.SourceName, in.MaxAtRisk = "", "", nil, "", "", 0
	res, err := s.resource(ctx, t.ID)
	if err != nil {
		return nil, ErrUnavailable.At("target.id")
	}
	if !isProvider(p, res.OrgID) {
		return nil, ErrNotProvider
	}
	if PurposeLocked(res) {
		return nil, ErrPurposeLocked.At("target.id")
	}
	switch in.Attr {
	case catalog.Unconditional:
		in.Conditions = ""
	case catalog.Conditional:
		if in.Conditions, err = text("payload.conditions", in.Conditions, 500, true); err != nil {
			return nil, err
		}
	default:
		return nil, ErrText.At("payload.attr")
	}
	if in.Reason, err = text("payload.reason", in.Reason, 1000, true); err != nil {
		return nil, err
	}
	switch in.Path {
	case PathDerivative:
		in.Consent = nil
		dv, err := s.derivation(ctx, in.DerivationID)
		if err != nil {
			return nil, err
		}
		if dv.OrgID != res.OrgID || dv.SourceID == res.ID {
			return nil, ErrDerivation.At("payload.derivation_id")
		}
		// The entry holds the derivative: its key and every released field.
		for _, f := range append([]string{DerivationKey}, dv.Spec.Fields...) {
			if !slices.ContainsFunc(res.Fields, func(x catalog.Field) bool { return x.Name == f }) {
				return nil, ErrDerivativeEntry.At("target.id")
			}
		}
		if in.Attr == catalog.Unconditional {
			for _, f := range res.Fields {
				if f.Sensitive {
					return nil, ErrDerivation.At("target.id")
				}
			}
		}
		if dv.Result.MinClass < dv.Spec.K || dv.Report.ProsecutorAtRisk > s.opts.MaxAtRisk {
			return nil, ErrRiskTooHigh.At("payload.derivation_id")
		}
		src, err := s.cat.Get(ctx, catalog.System(""), dv.SourceID)
		if err != nil {
			return nil, ErrDerivation.At("payload.derivation_id")
		}
		in.Derivation, in.SourceCode, in.SourceName, in.MaxAtRisk = dv, src.Code, src.Name, s.opts.MaxAtRisk
	case PathConsent:
		in.DerivationID = ""
		if res.Open.Attr != catalog.None {
			return nil, ErrAlreadyOpen.At("target.id")
		}
		c := in.Consent
		if c == nil {
			return nil, ErrConsent.At("payload.consent")
		}
		if c.Holder, err = text("payload.consent.holder", c.Holder, 100, true); err != nil {
			return nil, err
		}
		if c.Credential, err = text("payload.consent.credential", c.Credential, 40, true); err != nil {
			return nil, err
		}
		if c.Use, err = text("payload.consent.use", c.Use, 500, true); err != nil {
			return nil, err
		}
		if c.Evidence, err = text("payload.consent.evidence", c.Evidence, 500, true); err != nil {
			return nil, err
		}
		now := s.now()
		if c.GivenAt.IsZero() || c.GivenAt.After(now) {
			return nil, ErrConsent.At("payload.consent.given_at")
		}
		if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(now) {
			return nil, ErrConsent.At("payload.consent.expires_at")
		}
		if len(c.Fields) == 0 {
			return nil, ErrConsent.At("payload.consent.fields")
		}
		for i, f := range c.Fields {
			if slices.Index(c.Fields, f) != i || !slices.ContainsFunc(res.Fields, func(x catalog.Field) bool { return x.Name == f }) {
				return nil, ErrConsent.At(fmt.Sprintf("payload.consent.fields[%d]", i))
			}
		}
	default:
		return nil, ErrText.At("payload.path")
	}
	in.ResourceCode, in.ResourceName = res.Code, res.Name
	t.OrgID = res.OrgID
	return json.Marshal(in)
}

// conversionKind: the providing org files; the authority approves (the
// opening is recorded, with a ledger decide event) or refuses with a reason.
func (s *Service) conversionKind() casework.Kind {
	approve := func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
		var in OpeningPayload
		if err := json.Unmarshal(c.Payload, &in); err != nil {
			return fmt.Errorf("open: conversion payload: %w", err)
		}
		if in.Path == PathConsent && in.Consent != nil && !in.Consent.ExpiresAt.IsZero() && !in.Consent.ExpiresAt.After(s.now()) {
			return ErrConsent.At("payload.consent.expires_at")
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO open_conversions (case_id, resource_id, path, attr, derivation_id, approved_at) VALUES ($1,$2,$3,$4,$5,$6)`,
			c.ID, c.Target.ID, in.Path, string(in.Attr), in.DerivationID, store.Micros(now)); err != nil {
			return err
		}
		detail := map[string]any{"case_id": c.ID, "path": in.Path, "attr": in.Attr}
		var fields []string
		if in.Derivation != nil {
			detail["derivation_id"], detail["source_id"], detail["content_hash"] = in.Derivation.ID, in.Derivation.SourceID, in.Derivation.ContentHash
			detail["prosecutor_at_risk"] = in.Derivation.Report.ProsecutorAtRisk
			fields = in.Derivation.Spec.Fields
		}
		if in.Consent != nil {
			detail["consent_holder"], detail["consent_given_at"], detail["consent_use"] = in.Consent.Holder, in.Consent.GivenAt, in.Consent.Use
			fields = in.Consent.Fields
		}
		return s.led.Append(ctx, tx, ledger.Event{ActorKind: actorKind(a.By), ActorID: a.By.UserID + a.By.ClientID, OrgID: a.By.OrgID, Action: ledger.Decide,
			Object: "open/conversion/" + c.ID, ResourceID: c.Target.ID, Fields: fields, Purpose: "不予开放转为开放 (R-OPN-4)", Detail: ledger.DetailOf(detail)})
	}
	return casework.Kind{
		Name: KindConversion, LabelZH: "不予开放数据转为开放", LabelEN: "opening not-open data",
		TargetTypes:   []string{"resource"},
		TargetOrgSees: true,
		CanFile:       func(p identity.Principal, t casework.Target) bool { return p.Authenticated() },
		Validate:      s.validateOpening,
		Initial:       "submitted",
		States: []casework.StateSpec{
			{Name: "submitted", Assignees: authorityAssignees, LabelZH: "待主管部门审核", LabelEN: "awaiting the authority"},
			{Name: "approved", Terminal: true, LabelZH: "同意转为开放", LabelEN: "opening approved"},
			{Name: "refused", Terminal: true, LabelZH: "不同意转为开放", LabelEN: "opening refused"},
		},
		Transitions: []casework.Transition{
			{Action: "approve", From: []casework.State{"submitted"}, To: "approved", Outcome: casework.Approved, Who: authorityWho(),
				Effect: approve, LabelZH: "同意转为开放", LabelEN: "approve the opening"},
			{Action: "refuse", From: []casework.State{"submitted"}, To: "refused", Outcome: casework.Refused, Who: authorityWho(),
				LabelZH: "不同意转为开放", LabelEN: "refuse the opening"},
		},
		Deadline: casework.Days(s.opts.ApplicationDays),
	}
}

// Opening is an approved opening of a not-open entry (R-OPN-4).
type Opening struct {
	CaseID       string       `json:"case_id"`
	ResourceID   string       `json:"resource_id"`
	Path         string       `json:"path"`
	Attr         catalog.Attr `json:"attr"`
	DerivationID string       `json:"derivation_id,omitempty"`
	ApprovedAt   time.Time    `json:"approved_at"`
}

// Openings lists the approved openings of an entry, newest first.
func (s *Service) Openings(ctx context.Context, resourceID string) ([]Opening, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT case_id, resource_id, path, attr, derivation_id, approved_at FROM open_conversions WHERE resource_id = $1 ORDER BY approved_at DESC`, resourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Opening
	for rows.Next() {
		var o Opening
		var attr string
		var at int64
		if err := rows.Scan(&o.CaseID, &o.ResourceID, &o.Path, &attr, &o.DerivationID, &at); err != nil {
			return nil, err
		}
		o.Attr, o.ApprovedAt = catalog.Attr(attr), store.FromMicros(at)
		out = append(out, o)
	}
	return out, rows.Err()
}
