package open

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"sort"

	"strings"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/store"
)

// RequestOpen records a public "please open this" request for an entry
// (R-OPN-5): anyone may ask, without an account; one request per
// requester fingerprint and entry a day counts.
func (s *Service) RequestOpen(ctx context.Context, resourceID, note string, r Requester) error {
	res, err := s.resource(ctx, resourceID)
	if err != nil {
		return err
	}
	if note, err = text("note", note, 500, false); err != nil {
		return err
	}
	fp := s.Fingerprint(r)
	if !s.limits.allow("req:"+fp, s.opts.AnonPerMinute) {
		return ErrRateLimited
	}
	var n int
	day := s.now().Truncate(24 * time.Hour)
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM open_demand WHERE resource_id = $1 AND kind = 'request' AND fingerprint = $2 AND created_at >= $3`,
		res.ID, fp, store.Micros(day)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO open_demand (id, resource_id, kind, fingerprint, note, created_at) VALUES ($1,$2,'request',$3,$4,$5)`,
		store.NewID(), res.ID, fp, note, store.Micros(s.now()))
	return err
}

// Demand is one entry's measured demand (R-OPN-5).
type Demand struct {
	ResourceID   string       `json:"resource_id"`
	ResourceCode string       `json:"resource_code"`
	ResourceName string       `json:"resource_name"`
	OrgName      string       `json:"org_name"`
	Open         catalog.Attr `json:"open"`
	Downloads    int          `json:"downloads"`
	Previews     int          `json:"previews"`
	Applications int          `json:"applications"`
	Requests     int          `json:"requests"`
	// Score = downloads + 5 × applications + 10 × requests.
	Score int `json:"score"`
}

// Ranking ranks entries by demand since a time (R-OPN-5). With notOpen, it
// is the open-priority list: entries not yet unconditionally open, by
// demand, so the most wanted are opened first (FJ15).
func (s *Service) Ranking(ctx context.Context, since time.Time, notOpen bool, limit int) ([]Demand, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT resource_id, kind, count(*) FROM open_demand WHERE created_at >= $1 GROUP BY resource_id, kind`, store.Micros(since))
	if err != nil {
		return nil, err
	}
	m := map[string]*Demand{}
	for rows.Next() {
		var id, kind string
		var n int
		if err := rows.Scan(&id, &kind, &n); err != nil {
			rows.Close()
			return nil, err
		}
		d := m[id]
		if d == nil {
			d = &Demand{ResourceID: id}
			m[id] = d
		}
		switch kind {
		case "download":
			d.Downloads = n
		case "preview":
			d.Previews = n
		case "application":
			d.Applications = n
		case "request":
			d.Requests = n
		}
	}
	rows.Close()
	var out []Demand
	for id, d := range m {
		res, err := s.resource(ctx, id)
		if err != nil {
			continue // withdrawn since
		}
		if notOpen && (res.Open.Attr == catalog.Unconditional || PurposeLocked(res)) {
			continue
		}
		d.ResourceCode, d.ResourceName, d.OrgName, d.Open = res.Code, res.Name, res.OrgName, res.Open.Attr
		d.Score = d.Downloads + 5*d.Applications + 10*d.Requests
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ResourceID < out[j].ResourceID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Listing is one entry of the open catalog's bulk download.
type Listing struct {
	ID         string            `json:"id"`
	Code       string            `json:"code"`
	Name       string            `json:"name"`
	Org        string            `json:"org"`
	Open       catalog.Attr      `json:"open"`
	Conditions string            `json:"conditions,omitempty"`
	Frequency  string            `json:"frequency"`
	Fields     []string          `json:"fields"`
	Updated    *time.Time        `json:"data_updated_at,omitempty"`
	Downloads  map[string]string `json:"downloads,omitempty"`
	ApplyURL   string            `json:"apply_url,omitempty"`
}

// Formats offered for download.
var Formats = []string{"csv", "xlsx", "json", "ndjson"}

// DownloadURL is the download path of an entry in a format.
func DownloadURL(base, resourceID, format string) string {
	return strings.TrimRight(base, "/") + "/api/v1/open/data/" + resourceID + "?format=" + format
}

// Downloadable reports whether anyone may download r, free and without an
// account: a published local entry, open unconditionally, hosted (not a
// service interface) and not purpose-locked (R-OPN-1, R-PRS-7).
func Downloadable(r *catalog.Resource) bool {
	return r != nil && r.Status == catalog.StatusPublished && r.Remote == nil && r.Open.Attr == catalog.Unconditional &&
		r.Delivery.Mode != catalog.ServiceAPI && !PurposeLocked(r)
}

// Catalog lists the open catalog (purpose-locked entries never appear), with
// download URLs of unconditional entries under base.
func (s *Service) Catalog(ctx context.Context, base string) ([]Listing, error) {
	all, err := s.allOpen(ctx)
	if err != nil {
		return nil, err
	}
	var out []Listing
	for _, r := range all {
		if PurposeLocked(r) {
			continue
		}
		l := Listing{ID: r.ID, Code: r.Code, Name: r.Name, Org: r.OrgName, Open: r.Open.Attr, Conditions: r.Open.Conditions,
			Frequency: string(r.Frequency), Updated: r.DataUpdatedAt}
		for _, f := range r.Fields {
			l.Fields = append(l.Fields, f.Name)
		}
		if Downloadable(r) {
			l.Downloads = map[string]string{}
			for _, f := range Formats {
				l.Downloads[f] = DownloadURL(base, r.ID, f)
			}
		} else {
			l.ApplyURL = strings.TrimRight(base, "/") + "/api/v1/open/applications"
		}
		out = append(out, l)
	}
	return out, nil
}

// WriteCatalog writes the open catalog in bulk as CSV (UTF-8 with BOM) or JSON.
func (s *Service) WriteCatalog(ctx context.Context, w io.Writer, base, format string) error {
	ls, err := s.Catalog(ctx, base)
	if err != nil {
		return err
	}
	if format != "csv" {
		if ls == nil {
			ls = []Listing{}
		}
		return json.NewEncoder(w).Encode(map[string]any{"count": len(ls), "items": ls})
	}
	_, _ = io.WriteString(w, "\ufeff")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "code", "name", "org", "open", "conditions", "frequency", "fields", "csv_url", "json_url", "xlsx_url"})
	for _, l := range ls {
		_ = cw.Write([]string{l.ID, l.Code, l.Name, l.Org, string(l.Open), l.Conditions, l.Frequency, strings.Join(l.Fields, ";"),
			l.Downloads["csv"], l.Downloads["json"], l.Downloads["xlsx"]})
	}
	cw.Flush()
	return cw.Error()
}

// DownloadCount is how many times an entry was downloaded since a time.
func (s *Service) DownloadCount(ctx context.Context, resourceID string, since time.Time) (int, error) {
	dl, _, _, err := s.counts(ctx, resourceID, since)
	return dl, err
}
