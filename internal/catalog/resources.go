package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

const resourceCols = `id, code, org_id, org_name, status, remote_source, remote_url, remote_at,
	draft, draft_rev, draft_by, draft_at, review_case_id, doc, major, minor,
	published_at, data_updated_at, created_at, updated_at`

// row is a catalog_resources row as stored.
type row struct {
	ID, Code, OrgID, OrgName string
	Status                   Status
	RemoteSource, RemoteURL  string
	RemoteAt                 int64
	Draft                    sql.NullString
	DraftRev                 int
	DraftBy                  string
	DraftAt                  int64
	ReviewCaseID             string
	Doc                      sql.NullString
	Major, Minor             int
	PublishedAt, DataAt      int64
	CreatedAt, UpdatedAt     int64
}

type scanner interface{ Scan(dest ...any) error }

func scanRow(sc scanner) (*row, error) {
	var r row
	err := sc.Scan(&r.ID, &r.Code, &r.OrgID, &r.OrgName, &r.Status, &r.RemoteSource, &r.RemoteURL, &r.RemoteAt,
		&r.Draft, &r.DraftRev, &r.DraftBy, &r.DraftAt, &r.ReviewCaseID, &r.Doc, &r.Major, &r.Minor,
		&r.PublishedAt, &r.DataAt, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *Service) loadRow(ctx context.Context, q store.Queryer, dialect store.Dialect, id string, forUpdate bool) (*row, error) {
	query := `SELECT ` + resourceCols + ` FROM catalog_resources WHERE id = $1`
	if forUpdate && dialect == store.Postgres {
		query += ` FOR UPDATE`
	}
	r, err := scanRow(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound.At(id)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: load %s: %w", id, err)
	}
	return r, nil
}

func decodeEntry(s sql.NullString) (*Entry, error) {
	if !s.Valid {
		return nil, nil
	}
	var e Entry
	if err := json.Unmarshal([]byte(s.String), &e); err != nil {
		return nil, fmt.Errorf("catalog: stored entry: %w", err)
	}
	normalize(&e)
	return &e, nil
}

func encodeEntry(e *Entry) string {
	b, _ := json.Marshal(e)
	return string(b)
}

func microsPtr(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// view turns a row into the Resource people see: the published content, or
// the draft of an entry never published.
func (s *Service) view(r *row) (*Resource, error) {
	e, err := decodeEntry(r.Doc)
	if err != nil {
		return nil, err
	}
	if e == nil {
		if e, err = decodeEntry(r.Draft); err != nil {
			return nil, err
		}
	}
	if e == nil {
		e = &Entry{}
		normalize(e)
	}
	e.Code, e.OrgID = r.Code, r.OrgID
	res := &Resource{ID: r.ID, Entry: *e, OrgName: r.OrgName, Status: r.Status, Version: versionString(r.Major, r.Minor),
		HasDraft: r.Draft.Valid, ReviewCaseID: r.ReviewCaseID, PublishedAt: microsPtr(r.PublishedAt),
		DataUpdatedAt: microsPtr(r.DataAt), CreatedAt: store.FromMicros(r.CreatedAt), UpdatedAt: store.FromMicros(r.UpdatedAt)}
	res.Timeliness = timeliness(e.Frequency, r.DataAt, s.clock.Now())
	if r.RemoteSource != "" {
		res.Remote = &Remote{Source: r.RemoteSource, URL: r.RemoteURL, HarvestedAt: store.FromMicros(r.RemoteAt)}
	}
	return res, nil
}

// timeliness says whether data of frequency f last updated at us (micros)
// is on time at now: "ok", "late" or "unknown" (never updated, or irregular).
func timeliness(f Frequency, us int64, now time.Time) string {
	p := f.Period()
	if us == 0 || p == 0 {
		return "unknown"
	}
	if now.Sub(time.UnixMicro(us)) > p {
		return "late"
	}
	return "ok"
}

// checkOrg resolves the providing org and checks that p may edit for it.
func (s *Service) checkOrg(ctx context.Context, p identity.Principal, orgID string) (Org, error) {
	if !p.Authenticated() && !isAuthority(p) {
		return Org{}, apperr.ErrAuth
	}
	if !canEdit(p, orgID) {
		return Org{}, apperr.ErrForbidden.At("org_id")
	}
	org, err := s.orgs(ctx, orgID)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind != apperr.NotFound && ae.Kind != apperr.Invalid {
			return Org{}, err
		}
		return Org{}, ErrUnknownOrg.At("org_id").Wrap(err)
	}
	switch org.Kind {
	case identity.KindAuthority, identity.KindDepartment, identity.KindPublicService:
	default:
		return Org{}, ErrOrgKind.At("org_id")
	}
	if org.Code == "" {
		return Org{}, ErrUnknownOrg.At("org_id")
	}
	return org, nil
}

// nextSeq returns the org's next entry sequence number.
func nextSeq(ctx context.Context, tx *store.Tx, orgID string) (int, error) {
	var n sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM catalog_resources WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		return 0, fmt.Errorf("catalog: next sequence: %w", err)
	}
	return int(n.Int64) + 1, nil
}

// codeSeq checks an explicit code against the org and returns its sequence.
func codeSeq(code string, org Org) (int, error) {
	prefix := org.Code + "-"
	if !strings.HasPrefix(code, prefix) {
		return 0, invalid("code", "目录代码 %s 须以提供机构代码 %s 开头", "code %s must begin with the providing org's code %s", code, prefix)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(code, prefix))
	if err != nil || n < 1 {
		return 0, invalid("code", "目录代码 %s 的顺序号无效", "code %s has an invalid sequence", code)
	}
	return n, nil
}

// CreateDraft registers a new entry as a draft of e.OrgID. The code is
// assigned when e.Code is empty. The returned draft lists the published
// entries of other orgs that already provide its data items (R-CAT-8).
func (s *Service) CreateDraft(ctx context.Context, p identity.Principal, e Entry) (*Draft, error) {
	var d *Draft
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		d, err = s.createDraftTx(ctx, tx, p, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	dups, err := s.Duplicates(ctx, d.OrgID, d.ResourceID, d.Fields)
	if err != nil {
		return nil, err
	}
	d.Duplicates = dups
	return d, nil
}

func (s *Service) createDraftTx(ctx context.Context, tx *store.Tx, p identity.Principal, e Entry) (*Draft, error) {
	org, err := s.checkOrg(ctx, p, e.OrgID)
	if err != nil {
		return nil, err
	}
	cfg, err := s.config(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := validate(&e, &cfg); err != nil {
		return nil, err
	}
	var seq int
	if e.Code != "" {
		if seq, err = codeSeq(e.Code, org); err != nil {
			return nil, err
		}
	} else {
		if seq, err = nextSeq(ctx, tx, org.ID); err != nil {
			return nil, err
		}
		e.Code = fmt.Sprintf("%s-%05d", org.Code, seq)
	}
	if seq > 99999 {
		return nil, invalid("code", "机构目录顺序号已用尽", "the org has used up its sequence numbers")
	}
	if err := s.codeFree(ctx, tx, e.Code, org.ID, seq); err != nil {
		return nil, err
	}
	id := store.NewID()
	now := s.clock.Now()
	by, actor := actorOf(p)
	_, err = tx.ExecContext(ctx, `INSERT INTO catalog_resources (id, code, org_id, org_name, seq, status, draft, draft_rev, draft_by, draft_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9, $9)`,
		id, e.Code, org.ID, org.Name, seq, StatusDraft, encodeEntry(&e), by+":"+actor, store.Micros(now))
	if store.IsUniqueViolation(err) {
		return nil, ErrDuplicateCode.At("code").Wrap(err)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: insert: %w", err)
	}
	if err := s.led.Append(ctx, tx, s.event(p, ledger.Admin, id, "catalog.draft.create", map[string]any{"code": e.Code})); err != nil {
		return nil, err
	}
	return &Draft{ResourceID: id, Entry: e, Rev: 1, UpdatedBy: by + ":" + actor, UpdatedAt: now, Duplicates: []Duplicate{}, Breaking: []Change{}}, nil
}

// codeFree reports a taken code as a conflict naming the entry that holds it.
func (s *Service) codeFree(ctx context.Context, q store.Queryer, code, orgID string, seq int) error {
	var id, name string
	err := q.QueryRowContext(ctx, `SELECT id, name FROM catalog_resources WHERE code = $1 OR (org_id = $2 AND seq = $3)`, code, orgID, seq).Scan(&id, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog: check code: %w", err)
	}
	e := ErrDuplicateCode.At("code")
	e.ZH = fmt.Sprintf("目录代码 %s 已被条目 %s（%s）占用", code, id, name)
	e.EN = fmt.Sprintf("code %s is already taken by entry %s (%s)", code, id, name)
	return e
}

// DraftUpdate is a new draft content with the revision it was edited from.
type DraftUpdate struct {
	Entry
	// Rev is the draft revision the edit started from; 0 skips the check.
	Rev int `json:"rev"`
}

// UpdateDraft replaces an entry's draft (creating one from the published
// content's edit). The code and org cannot change.
func (s *Service) UpdateDraft(ctx context.Context, p identity.Principal, id string, u DraftUpdate) (*Draft, error) {
	var d *Draft
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		d, err = s.updateDraftTx(ctx, tx, p, id, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Duplicates, err = s.Duplicates(ctx, d.OrgID, id, d.Fields); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Service) updateDraftTx(ctx context.Context, tx *store.Tx, p identity.Principal, id string, u DraftUpdate) (*Draft, error) {
	r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
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
	if u.Rev != 0 && u.Rev != r.DraftRev {
		return nil, ErrStaleDraft.At("rev")
	}
	e := u.Entry
	if e.OrgID == "" {
		e.OrgID = r.OrgID
	}
	if e.OrgID != r.OrgID {
		return nil, invalid("org_id", "不能更改条目的提供机构", "the providing org of an entry cannot change")
	}
	if e.Code != "" && !strings.EqualFold(strings.TrimSpace(e.Code), r.Code) {
		return nil, invalid("code", "不能更改目录代码", "the code of an entry cannot change")
	}
	e.Code = r.Code
	cfg, err := s.config(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := validate(&e, &cfg); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	k, a := actorOf(p)
	rev := r.DraftRev + 1
	if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET draft = $1, draft_rev = $2, draft_by = $3, draft_at = $4, updated_at = $4 WHERE id = $5`,
		encodeEntry(&e), rev, k+":"+a, store.Micros(now), id); err != nil {
		return nil, fmt.Errorf("catalog: update draft: %w", err)
	}
	if err := s.led.Append(ctx, tx, s.event(p, ledger.Admin, id, "catalog.draft.update", map[string]any{"code": r.Code, "rev": rev})); err != nil {
		return nil, err
	}
	prev, err := decodeEntry(r.Doc)
	if err != nil {
		return nil, err
	}
	return &Draft{ResourceID: id, Entry: e, Rev: rev, UpdatedBy: k + ":" + a, UpdatedAt: now, Breaking: breakingOf(diff(prev, &e)), Duplicates: []Duplicate{}}, nil
}

// GetDraft returns an entry's draft, with its duplicates and breaking changes.
func (s *Service) GetDraft(ctx context.Context, p identity.Principal, id string) (*Draft, error) {
	r, err := s.loadRow(ctx, s.db, s.db.Dialect, id, false)
	if err != nil {
		return nil, err
	}
	if !canSeeDrafts(p, r.OrgID) {
		return nil, ErrNotFound.At(id)
	}
	e, err := decodeEntry(r.Draft)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, ErrNoDraft.At(id)
	}
	e.Code, e.OrgID = r.Code, r.OrgID
	prev, err := decodeEntry(r.Doc)
	if err != nil {
		return nil, err
	}
	d := &Draft{ResourceID: id, Entry: *e, Rev: r.DraftRev, UpdatedBy: r.DraftBy, UpdatedAt: store.FromMicros(r.DraftAt), Breaking: breakingOf(diff(prev, e))}
	if d.Duplicates, err = s.Duplicates(ctx, r.OrgID, id, e.Fields); err != nil {
		return nil, err
	}
	return d, nil
}

// DiscardDraft drops an entry's draft; an entry never published goes with it.
func (s *Service) DiscardDraft(ctx context.Context, p identity.Principal, id string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
		if err != nil {
			return err
		}
		if r.RemoteSource != "" {
			return ErrRemote
		}
		if _, err := s.checkOrg(ctx, p, r.OrgID); err != nil {
			return err
		}
		if !r.Draft.Valid {
			return ErrNoDraft.At(id)
		}
		if r.ReviewCaseID != "" {
			return ErrReviewPending.At(r.ReviewCaseID)
		}
		if r.Status == StatusDraft {
			_, err = tx.ExecContext(ctx, `DELETE FROM catalog_resources WHERE id = $1`, id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE catalog_resources SET draft = NULL, draft_at = $1, updated_at = $1 WHERE id = $2`, store.Micros(s.clock.Now()), id)
		}
		if err != nil {
			return fmt.Errorf("catalog: discard draft: %w", err)
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, id, "catalog.draft.discard", map[string]any{"code": r.Code}))
	})
}

// Get returns an entry. The public sees published entries; the org and the
// authority also see drafts and withdrawn entries.
func (s *Service) Get(ctx context.Context, p identity.Principal, id string) (*Resource, error) {
	r, err := s.loadRow(ctx, s.db, s.db.Dialect, id, false)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusPublished && !canSeeDrafts(p, r.OrgID) {
		return nil, ErrNotFound.At(id)
	}
	return s.view(r)
}

// GetByCode returns a published entry by its code (or id).
func (s *Service) GetByCode(ctx context.Context, p identity.Principal, code string) (*Resource, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM catalog_resources WHERE code = $1 OR id = $1`, code).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound.At(code)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: find %s: %w", code, err)
	}
	return s.Get(ctx, p, id)
}

// ListFilter selects entries for List.
type ListFilter struct {
	OrgID  string
	Status Status
	// Open lists only entries open to the public (the open list, R-CAT-6).
	Open bool
}

// List pages through entries by id. The public sees published entries; with
// OrgID and Status set, the org's people see its drafts and withdrawn ones.
func (s *Service) List(ctx context.Context, p identity.Principal, f ListFilter, cursor string, limit int) ([]*Resource, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	status := f.Status
	if status == "" {
		status = StatusPublished
	}
	if status != StatusPublished && status != StatusDraft && status != StatusWithdrawn && status != "any" {
		return nil, "", invalid("status", "状态 %q 无效", "status %q is not draft, published, withdrawn or any", status)
	}
	if status != StatusPublished && (f.OrgID == "" || !canSeeDrafts(p, f.OrgID)) {
		if !isAuthority(p) {
			return nil, "", apperr.ErrForbidden.At("status")
		}
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if status == "any" {
		where = append(where, "1=1")
	} else if status == StatusDraft {
		where = append(where, "(status = "+arg(StatusDraft)+" OR draft IS NOT NULL)")
	} else {
		where = append(where, "status = "+arg(status))
	}
	if f.OrgID != "" {
		where = append(where, "org_id = "+arg(f.OrgID))
	}
	if f.Open {
		where = append(where, "open_attr <> "+arg(string(None)))
	}
	if cursor != "" {
		where = append(where, "id > "+arg(cursor))
	}
	q := `SELECT ` + resourceCols + ` FROM catalog_resources WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("catalog: list: %w", err)
	}
	defer rows.Close()
	var out []*Resource
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, "", fmt.Errorf("catalog: list: %w", err)
		}
		v, err := s.view(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("catalog: list: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// Versions returns an entry's published versions and withdrawals, newest
// first, each with who, when, why and the diff against the one before.
func (s *Service) Versions(ctx context.Context, p identity.Principal, id string) ([]Version, error) {
	r, err := s.loadRow(ctx, s.db, s.db.Dialect, id, false)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusPublished && !canSeeDrafts(p, r.OrgID) {
		return nil, ErrNotFound.At(id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT major, minor, action, doc, diff, breaking, reason, actor_kind, actor_id, approver, case_id, at
		FROM catalog_versions WHERE resource_id = $1 ORDER BY id DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("catalog: versions: %w", err)
	}
	defer rows.Close()
	out := []Version{}
	for rows.Next() {
		var v Version
		var doc sql.NullString
		var diffJSON string
		var breaking int
		var at int64
		if err := rows.Scan(&v.Major, &v.Minor, &v.Action, &doc, &diffJSON, &breaking, &v.Reason, &v.ByKind, &v.By, &v.Approver, &v.CaseID, &at); err != nil {
			return nil, fmt.Errorf("catalog: versions: %w", err)
		}
		v.ResourceID, v.Version, v.Breaking, v.At = id, versionString(v.Major, v.Minor), breaking != 0, store.FromMicros(at)
		if v.Entry, err = decodeEntry(doc); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(diffJSON), &v.Diff); err != nil {
			return nil, fmt.Errorf("catalog: version diff: %w", err)
		}
		if v.Diff == nil {
			v.Diff = []Change{}
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// MarkDataUpdated records that an entry's data was updated at t (ingest
// calls it on each load), which the timeliness check reads.
func (s *Service) MarkDataUpdated(ctx context.Context, p identity.Principal, id string, t time.Time) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
		if err != nil {
			return err
		}
		if !canEdit(p, r.OrgID) {
			return apperr.ErrForbidden
		}
		if t.IsZero() {
			t = s.clock.Now()
		}
		if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET data_updated_at = $1 WHERE id = $2`, store.Micros(t), id); err != nil {
			return fmt.Errorf("catalog: mark updated: %w", err)
		}
		return nil
	})
}

// Late lists published hosted entries whose data is overdue for their
// update frequency (the timeliness check), optionally of one org.
func (s *Service) Late(ctx context.Context, orgID string, limit int) ([]*Resource, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	now := s.clock.Now()
	var clauses []string
	args := []any{StatusPublished}
	for _, f := range Frequencies {
		if f.Period() == 0 {
			continue
		}
		args = append(args, string(f), store.Micros(now.Add(-f.Period())))
		clauses = append(clauses, fmt.Sprintf("(frequency = $%d AND data_updated_at < $%d)", len(args)-1, len(args)))
	}
	q := `SELECT ` + resourceCols + ` FROM catalog_resources WHERE status = $1 AND remote_source = '' AND data_updated_at > 0 AND (` + strings.Join(clauses, " OR ") + `)`
	if orgID != "" {
		args = append(args, orgID)
		q += fmt.Sprintf(" AND org_id = $%d", len(args))
	}
	q += " ORDER BY id LIMIT " + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: late: %w", err)
	}
	defer rows.Close()
	out := []*Resource{}
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		v, err := s.view(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
