package open

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// Evidence is what a review case carries about an entry (R-OPN-3).
type Evidence struct {
	ResourceID   string     `json:"resource_id"`
	ResourceCode string     `json:"resource_code"`
	ResourceName string     `json:"resource_name"`
	OrgID        string     `json:"org_id"`
	Since        time.Time  `json:"since"`
	Downloads    int        `json:"downloads"`
	Applications int        `json:"applications"`
	Requests     int        `json:"requests"`
	Risk         *RiskScan  `json:"risk,omitempty"`
	LastReview   *time.Time `json:"last_review,omitempty"`
}

// allOpen lists every published open entry (either attribute).
func (s *Service) allOpen(ctx context.Context) ([]*catalog.Resource, error) {
	var out []*catalog.Resource
	cursor := ""
	for {
		rs, next, err := s.cat.List(ctx, identity.Principal{}, catalog.ListFilter{Open: true}, cursor, 500)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Remote == nil {
				out = append(out, r)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

func (s *Service) counts(ctx context.Context, resourceID string, since time.Time) (dl, apps, reqs int, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, count(*) FROM open_demand WHERE resource_id = $1 AND created_at >= $2 GROUP BY kind`,
		resourceID, store.Micros(since))
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return 0, 0, 0, err
		}
		switch k {
		case "download":
			dl = n
		case "application":
			apps = n
		case "request":
			reqs = n
		}
	}
	return dl, apps, reqs, rows.Err()
}

// DueReviews lists the conditional-open entries whose last review (or
// publication) is at least Options.ReviewPeriod ago and that have no
// review case open, with their usage and risk evidence (R-OPN-3).
func (s *Service) DueReviews(ctx context.Context) ([]Evidence, error) {
	all, err := s.allOpen(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []Evidence
	for _, r := range all {
		if r.Open.Attr != catalog.Conditional || PurposeLocked(r) {
			continue
		}
		var reviewed int64
		var caseID string
		err := s.db.QueryRowContext(ctx, `SELECT reviewed_at, case_id FROM open_reviews WHERE resource_id = $1`, r.ID).Scan(&reviewed, &caseID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if caseID != "" && !strings.HasPrefix(caseID, "claim:") {
			continue
		}
		since := r.CreatedAt
		if r.PublishedAt != nil {
			since = *r.PublishedAt
		}
		ev := Evidence{ResourceID: r.ID, ResourceCode: r.Code, ResourceName: r.Name, OrgID: r.OrgID}
		if reviewed > 0 {
			t := store.FromMicros(reviewed)
			since, ev.LastReview = t, &t
		}
		if now.Sub(since) < s.opts.ReviewPeriod {
			continue
		}
		ev.Since = since
		if ev.Downloads, ev.Applications, ev.Requests, err = s.counts(ctx, r.ID, since); err != nil {
			return nil, err
		}
		if ev.Risk, err = s.LatestRisk(ctx, r.ID); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// RunReviews files an open_review case for each entry DueReviews lists and
// returns the cases. The scheduler calls it daily; the authority decides
// each case.
func (s *Service) RunReviews(ctx context.Context) ([]*casework.Case, error) {
	due, err := s.DueReviews(ctx)
	if err != nil {
		return nil, err
	}
	var out []*casework.Case
	for _, ev := range due {
		c, err := s.fileReview(ctx, ev)
		if err != nil {
			return out, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// reviewClaimTTL is how long a replica's claim on filing a review holds
// before another may take over (the first crashed between claim and file).
const reviewClaimTTL = 10 * time.Minute

// fileReview files ev's review case unless another run (another replica,
// or a run by hand) already has: the entry is claimed first, with one
// conditional upsert, and only the claimant files. nil, nil: claimed
// elsewhere.
func (s *Service) fileReview(ctx context.Context, ev Evidence) (*casework.Case, error) {
	claim := "claim:" + store.NewID()
	now := s.now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO open_reviews (resource_id, case_id, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (resource_id) DO UPDATE SET case_id = excluded.case_id, updated_at = excluded.updated_at
		WHERE open_reviews.case_id = '' OR (open_reviews.case_id LIKE 'claim:%' AND open_reviews.updated_at < $4)`,
		ev.ResourceID, claim, store.Micros(now), store.Micros(now.Add(-reviewClaimTTL)))
	if err != nil {
		return nil, fmt.Errorf("open: claim review of %s: %w", ev.ResourceID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return nil, err
	}
	payload, _ := json.Marshal(ev)
	c, err := s.cw.File(ctx, system, casework.Filing{Kind: KindReview, Title: "有条件开放定期评估：" + ev.ResourceName,
		Target: casework.Target{Type: "resource", ID: ev.ResourceID}, Payload: payload})
	if err != nil {
		_, _ = s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE open_reviews SET case_id = '' WHERE resource_id = $1 AND case_id = $2`, ev.ResourceID, claim)
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE open_reviews SET case_id = $1, updated_at = $2 WHERE resource_id = $3 AND case_id = $4`,
		c.ID, store.Micros(s.now()), ev.ResourceID, claim); err != nil {
		return c, err
	}
	return c, nil
}

// reviewKind: the authority decides whether a conditional entry becomes
// unconditional (approve: "make_unconditional") or stays conditional
// (refuse, with the reason). The outcome and the review date are recorded;
// the providing org then changes the catalog entry's open attribute
// (catalog changes go through catalog's own publication, docs/open-data.md).
func (s *Service) reviewKind() casework.Kind {
	done := func(outcome string) casework.Effect {
		return func(ctx context.Context, tx *store.Tx, c *casework.Case, a casework.Act) error {
			now := store.Micros(s.now())
			_, err := tx.ExecContext(ctx, `UPDATE open_reviews SET reviewed_at = $1, case_id = '', outcome = $2, updated_at = $1 WHERE resource_id = $3`,
				now, outcome, c.Target.ID)
			return err
		}
	}
	return casework.Kind{
		Name: KindReview, LabelZH: "有条件开放定期评估", LabelEN: "periodic review of conditional open data",
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
		Initial: "pending",
		States: []casework.StateSpec{
			{Name: "pending", Assignees: authorityAssignees, LabelZH: "待主管部门评估", LabelEN: "awaiting the authority"},
			{Name: "unconditional", Terminal: true, LabelZH: "转为无条件开放", LabelEN: "to be opened unconditionally"},
			{Name: "kept", Terminal: true, LabelZH: "维持有条件开放", LabelEN: "stays conditional"},
		},
		Transitions: []casework.Transition{
			{Action: "make_unconditional", From: []casework.State{"pending"}, To: "unconditional", Outcome: casework.Approved, Who: authorityWho(),
				ReasonRequired: true, Effect: done("unconditional"), LabelZH: "转为无条件开放", LabelEN: "make unconditional"},
			{Action: "keep_conditional", From: []casework.State{"pending"}, To: "kept", Outcome: casework.Refused, Who: authorityWho(),
				Effect: done("kept"), LabelZH: "维持有条件开放", LabelEN: "keep conditional"},
		},
		Deadline: casework.Days(s.opts.ReviewDays),
	}
}
