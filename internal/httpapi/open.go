package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"

	"shuqiao/internal/apperr"
	"shuqiao/internal/open"
)

// Open data (R-OPN-1..6, R-DEV-6, R-PRS-7). Free of charge throughout.
//
//	GET  /api/v1/open/catalog?format=json|csv     the open catalog in bulk, with download URLs
//	GET  /api/v1/open/data/{resource}             download (anyone for unconditional; grant holders for conditional)
//	POST /api/v1/open/keys                        a free API key (shown once)
//	POST /api/v1/open/applications                file a conditional open application (signed in, verified)
//	POST /api/v1/open/requests                    "please open this" (anyone)
//	GET  /api/v1/open/demand?not_open=1&days=N    demand ranking / open-priority list
//	GET  /api/v1/open/reviews/due                 conditional entries due for review (authority)
//	POST /api/v1/open/reviews/run                 file the due review cases (authority)
//	POST /api/v1/open/risk/scan                   run the re-identification risk scan (authority)
//	GET  /api/v1/open/risk/{resource}             an entry's latest risk scan (authority, providing org)
//	POST /api/v1/open/derivations                 an anonymised derivative of a not-open entry (providing org; R-OPN-4)
//	POST /api/v1/open/conversions                 propose opening by derivative or consent (an open_conversion case; R-OPN-4)
//	GET  /api/v1/open/openings?resource=ID        an entry's approved openings (R-OPN-4)
//
// Application, review, risk and conversion cases are decided through /api/v1/cases.
func (s *Server) openRoutes() {
	if s.Open == nil {
		return
	}
	s.handle("GET /api/v1/open/catalog", s.openCatalog)
	s.handle("GET /api/v1/open/data/{resource}", s.openData)
	s.handle("POST /api/v1/open/keys", s.openIssueKey)
	s.handle("POST /api/v1/open/applications", authed(s.openApply))
	s.handle("POST /api/v1/open/requests", s.openRequest)
	s.handle("GET /api/v1/open/demand", s.openDemand)
	s.handle("GET /api/v1/open/reviews/due", s.openDue)
	s.handle("POST /api/v1/open/reviews/run", s.openRunReviews)
	s.handle("POST /api/v1/open/risk/scan", s.openScan)
	s.handle("GET /api/v1/open/risk/{resource}", authed(s.openRisk))
	s.handle("POST /api/v1/open/derivations", authed(s.openDerive))
	s.handle("POST /api/v1/open/conversions", authed(s.openPropose))
	s.handle("GET /api/v1/open/openings", s.openOpenings)
}

func openRequester(r *http.Request) open.Requester {
	key := r.Header.Get("X-Open-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	return open.Requester{IP: clientIP(r), UserAgent: r.UserAgent(), APIKey: key}
}

func (s *Server) openCatalog(w http.ResponseWriter, r *http.Request) error {
	format := r.URL.Query().Get("format")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="open-catalog.csv"`)
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	return s.Open.WriteCatalog(r.Context(), w, baseURL(r), format)
}

func (s *Server) openData(w http.ResponseWriter, r *http.Request) error {
	req, err := gateRequest(r)
	if err != nil {
		return err
	}
	d, err := s.Open.Download(r.Context(), open.DownloadRequest{Principal: req.Principal, Requester: openRequester(r), ResourceID: req.ResourceID,
		Format: req.Format, Fields: req.Fields, Filter: req.Filter, Cursor: req.Cursor, Limit: req.Limit, GrantID: req.GrantID,
		Preview: r.URL.Query().Get("preview") == "true"})
	if err != nil {
		return err
	}
	return s.writeDelivery(w, d)
}

func (s *Server) openIssueKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name    string `json:"name"`
		Contact string `json:"contact"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	k, err := s.Open.IssueKey(r.Context(), in.Name, in.Contact)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *Server) openApply(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in open.Application
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Open.Apply(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) openRequest(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceID string `json:"resource_id"`
		Note       string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Open.RequestOpen(r.Context(), in.ResourceID, in.Note, openRequester(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "recorded"})
	return nil
}

func (s *Server) openDemand(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	days := 365
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return apperr.Invalidf("open.bad_days", "days", "days 须为 1 到 3650", "days must be 1 to 3650")
		}
		days = n
	}
	notOpen := q.Get("not_open") == "1" || q.Get("not_open") == "true"
	limit, _ := strconv.Atoi(q.Get("limit"))
	items, err := s.Open.Ranking(r.Context(), s.Clock.Now().Add(-time.Duration(days)*24*time.Hour), notOpen, limit)
	if err != nil {
		return err
	}
	if items == nil {
		items = []open.Demand{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) openAuthority(r *http.Request) error {
	p, err := mustAuth(r)
	if err != nil {
		return err
	}
	if !p.Has("authority_admin") {
		return open.ErrForbidden
	}
	return nil
}

func (s *Server) openDue(w http.ResponseWriter, r *http.Request) error {
	if err := s.openAuthority(r); err != nil {
		return err
	}
	due, err := s.Open.DueReviews(r.Context())
	if err != nil {
		return err
	}
	if due == nil {
		due = []open.Evidence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": due})
	return nil
}

func (s *Server) openRunReviews(w http.ResponseWriter, r *http.Request) error {
	if err := s.openAuthority(r); err != nil {
		return err
	}
	cases, err := s.Open.RunReviews(r.Context())
	if err != nil {
		return err
	}
	ids := []string{}
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": ids})
	return nil
}

func (s *Server) openScan(w http.ResponseWriter, r *http.Request) error {
	if err := s.openAuthority(r); err != nil {
		return err
	}
	scans, err := s.Open.ScanRisk(r.Context())
	if err != nil {
		return err
	}
	if scans == nil {
		scans = []*open.RiskScan{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": scans})
	return nil
}

func (s *Server) openRisk(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	res, err := s.Catalog.Get(r.Context(), p, r.PathValue("resource"))
	if err != nil {
		return err
	}
	if !p.Has("authority_admin") && p.OrgID != res.OrgID {
		return open.ErrForbidden
	}
	sc, err := s.Open.LatestRisk(r.Context(), res.ID)
	if err != nil {
		return err
	}
	if sc == nil {
		return open.ErrNotFound.At("resource")
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

// openDerive makes an anonymised derivative of a not-open hosted entry
// (R-OPN-4). Open keeps the derivation record, not the rows (decision 0103),
// so the CSV comes back once, with the record: inline in the JSON answer
// (field csv), or as the body with format=csv (the derivation id, content
// hash and risk figures in headers), ready to load through ingest.
func (s *Server) openDerive(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		return apperr.Invalidf("open.bad_format", "format", "format 须为 json 或 csv", "format must be json or csv")
	}
	var spec open.DeriveSpec
	if err := decodeJSON(r, &spec); err != nil {
		return err
	}
	dv, err := s.Open.Derive(r.Context(), p, spec)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Shuqiao-Derivation-Id", dv.ID)
	h.Set("Shuqiao-Content-Sha256", dv.ContentHash)
	if format == "csv" {
		h.Set("Shuqiao-Records", strconv.Itoa(dv.Report.Records))
		h.Set("Shuqiao-Min-Class", strconv.Itoa(dv.Result.MinClass))
		h.Set("Shuqiao-At-Risk", strconv.FormatFloat(dv.Report.ProsecutorAtRisk, 'f', -1, 64))
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="derivation-`+dv.ID+`.csv"`)
		w.WriteHeader(http.StatusCreated)
		_, err := w.Write(dv.CSV)
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		*open.Derivation
		CSV string `json:"csv"`
	}{dv, string(dv.CSV)})
	return nil
}

// openPropose files an open_conversion case (R-OPN-4): opening resource_id,
// either the derivative entry holding a derivation's rows (path derivative)
// or the not-open entry itself on the right holder's consent (path consent).
func (s *Server) openPropose(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in struct {
		ResourceID   string        `json:"resource_id"`
		Path         string        `json:"path"`
		Attr         catalog.Attr  `json:"attr"`
		Conditions   string        `json:"conditions"`
		Reason       string        `json:"reason"`
		DerivationID string        `json:"derivation_id"`
		Consent      *open.Consent `json:"consent"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.ResourceID == "" {
		return open.ErrUnavailable.At("resource_id")
	}
	c, err := s.Open.ProposeOpening(r.Context(), p, in.ResourceID, open.OpeningPayload{Path: in.Path, Attr: in.Attr, Conditions: in.Conditions,
		Reason: in.Reason, DerivationID: in.DerivationID, Consent: in.Consent})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// openOpenings lists an entry's approved openings (R-OPN-4) to whoever may
// see the entry in the catalog.
func (s *Server) openOpenings(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("resource")
	if id == "" {
		return apperr.Invalidf("open.resource_required", "resource", "须指定数据资源", "resource is required")
	}
	res, err := s.Catalog.Get(r.Context(), principalOf(r), id)
	if err != nil {
		return err
	}
	ops, err := s.Open.Openings(r.Context(), res.ID)
	if err != nil {
		return err
	}
	if ops == nil {
		ops = []open.Opening{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ops})
	return nil
}
