package httpapi

import (
	"net/http"
	"strconv"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
	"shuqiao/internal/share"
)

// Sharing between orgs (R-SHR-1..10). Decisions on share requests,
// disputes and misuse reports are taken with the case API
// (POST /api/v1/cases/{id}/actions/{action}); data is read through the
// gate (GET /api/v1/data/{resource}).
//
//	GET  /api/v1/share/commitment                  the commitment a request acknowledges
//	POST /api/v1/share/grants                      obtain an unconditional resource
//	GET  /api/v1/share/grants                      sharing grants the caller may see
//	GET  /api/v1/share/grants/{id}
//	POST /api/v1/share/grants/{id}/{measure}       suspend | reinstate | terminate (authority)
//	GET  /api/v1/share/grants/{id}/usage           calls, rows, anomalies (provider, authority)
//	POST /api/v1/share/consumers/{org}/{measure}   every grant of a consumer (authority)
//	POST /api/v1/share/requests                    a conditional share request (a case)
//	GET  /api/v1/share/requests
//	POST /api/v1/share/disputes                    a sharing-attribute dispute (a case)
//	POST /api/v1/share/misuse-reports              a providing org's suspension request (a case)
//	GET  /api/v1/share/demands                     the demand list
//	POST /api/v1/share/demands
//	GET  /api/v1/share/demands/{id}
//	POST /api/v1/share/demands/{id}/match|ask|close
func (s *Server) shareRoutes() {
	if s.Share == nil {
		return
	}
	s.handle("GET /api/v1/share/commitment", s.shareCommitment)
	s.handle("POST /api/v1/share/grants", authed(s.shareObtain))
	s.handle("GET /api/v1/share/grants", authed(s.shareGrants))
	s.handle("GET /api/v1/share/grants/{id}", authed(s.shareGrant))
	s.handle("POST /api/v1/share/grants/{id}/{measure}", authed(s.shareMeasure))
	s.handle("GET /api/v1/share/grants/{id}/usage", authed(s.shareUsage))
	s.handle("POST /api/v1/share/consumers/{org}/{measure}", authed(s.shareConsumerMeasure))
	s.handle("POST /api/v1/share/requests", authed(s.shareRequest))
	s.handle("GET /api/v1/share/requests", authed(s.shareRequests))
	s.handle("POST /api/v1/share/disputes", authed(s.shareDispute))
	s.handle("POST /api/v1/share/misuse-reports", authed(s.shareMisuse))
	s.handle("GET /api/v1/share/demands", authed(s.shareDemands))
	s.handle("POST /api/v1/share/demands", authed(s.sharePostDemand))
	s.handle("GET /api/v1/share/demands/{id}", authed(s.shareDemand))
	s.handle("POST /api/v1/share/demands/{id}/{action}", authed(s.shareDemandAction))
}

func (s *Server) shareCommitment(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"text": share.Commitment, "zh": share.CommitmentZH, "en": share.CommitmentEN,
		"request_days": s.Share.Options().RequestDays, "default_days": s.Share.Options().DefaultGrantDays, "max_days": s.Share.Options().MaxGrantDays,
	})
	return nil
}

func (s *Server) shareObtain(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in share.Declaration
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	g, err := s.Share.ObtainUnconditional(r.Context(), p, in)
	if err != nil {
		return err
	}
	sg, err := s.Share.Grant(r.Context(), p, g.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/share/grants/"+g.ID)
	writeJSON(w, http.StatusCreated, sg)
	return nil
}

var errBadView = apperr.Invalidf("share.bad_view", "view", "view 须为 consumer 或 provider", "view must be consumer or provider")

func (s *Server) shareGrants(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	q := r.URL.Query()
	gq := share.GrantQuery{View: share.GrantView(q.Get("view")), ResourceID: q.Get("resource"), State: gate.State(q.Get("state")), OrgID: q.Get("org")}
	switch gq.View {
	case "", "consumer", "provider":
	default:
		return errBadView
	}
	gs, err := s.Share.Grants(r.Context(), p, gq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(gs, ""))
	return nil
}

func (s *Server) shareGrant(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	g, err := s.Share.Grant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

var errBadMeasure = apperr.New(apperr.NotFound, "http.no_route", "接口不存在（措施为 suspend、reinstate 或 terminate）", "no such API endpoint (the measure is suspend, reinstate or terminate)")

func measureOf(r *http.Request) (share.Measure, error) {
	switch m := share.Measure(r.PathValue("measure")); m {
	case share.Suspend, share.Reinstate, share.Terminate:
		return m, nil
	}
	return "", errBadMeasure
}

func (s *Server) shareMeasure(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	m, err := measureOf(r)
	if err != nil {
		return err
	}
	var in reasonBody
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := s.Share.Apply(r.Context(), p, r.PathValue("id"), m, in.Reason); err != nil {
		return err
	}
	g, err := s.Share.Grant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

type consumerMeasureBody struct {
	Reason string `json:"reason"`
	// ProviderOrgID limits the measure to grants on this org's resources.
	ProviderOrgID string `json:"provider_org_id,omitempty"`
}

func (s *Server) shareConsumerMeasure(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	m, err := measureOf(r)
	if err != nil {
		return err
	}
	var in consumerMeasureBody
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	gs, err := s.Share.ConsumerMeasure(r.Context(), p, r.PathValue("org"), in.ProviderOrgID, m, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(gs, ""))
	return nil
}

func (s *Server) shareUsage(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	since, err := timeParam("since", r.URL.Query().Get("since"))
	if err != nil {
		return err
	}
	u, err := s.Share.Usage(r.Context(), p, r.PathValue("id"), since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) writeCase(w http.ResponseWriter, c *casework.Case) {
	w.Header().Set("Location", "/api/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) shareRequest(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in share.ShareRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Share.RequestShare(r.Context(), p, in)
	if err != nil {
		return err
	}
	s.writeCase(w, c)
	return nil
}

func (s *Server) shareRequests(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cs, next, err := s.Share.Requests(r.Context(), p, casework.View(q.Get("view")), casework.State(q.Get("state")), cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(cs, next))
	return nil
}

func (s *Server) shareDispute(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in share.DisputeInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Share.FileDispute(r.Context(), p, in)
	if err != nil {
		return err
	}
	s.writeCase(w, c)
	return nil
}

func (s *Server) shareMisuse(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in share.MisuseReport
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Share.ReportMisuse(r.Context(), p, in)
	if err != nil {
		return err
	}
	s.writeCase(w, c)
	return nil
}

func (s *Server) shareDemands(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	dq := share.DemandQuery{Status: share.DemandStatus(q.Get("status")), OrgID: q.Get("org"), After: cursor, Limit: limit}
	if v := q.Get("asked"); v != "" {
		if dq.Asked, err = strconv.ParseBool(v); err != nil {
			return apperr.Invalidf("share.bad_filter", "asked", "asked 须为 true 或 false", "asked must be true or false")
		}
	}
	ds, next, err := s.Share.Demands(r.Context(), p, dq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(ds, next))
	return nil
}

func (s *Server) sharePostDemand(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in share.DemandInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.Share.PostDemand(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/share/demands/"+d.ID)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) shareDemand(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	d, err := s.Share.Demand(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

type demandActionBody struct {
	ResourceID string `json:"resource_id,omitempty"`
	OrgID      string `json:"org_id,omitempty"`
	Note       string `json:"note,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func (s *Server) shareDemandAction(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in demandActionBody
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	var d *share.Demand
	var err error
	switch r.PathValue("action") {
	case "match":
		d, err = s.Share.MatchDemand(r.Context(), p, id, in.ResourceID, in.Note)
	case "ask":
		d, err = s.Share.AskToCatalog(r.Context(), p, id, in.OrgID, in.Note)
	case "close":
		d, err = s.Share.CloseDemand(r.Context(), p, id, in.Reason)
	default:
		return errNoRoute
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
