package httpapi

import (
	"net/http"

	"shuqiao/internal/scorecard"
)

// Org scorecards (R-GOV-1, R-GOV-3, R-QLT-2): GET /api/v1/scorecards gives
// the authority every org's card, worst first; an org's own people get
// their org's card. ?org= picks one org.
func (s *Server) scorecardRoutes() {
	if s.Catalog == nil || s.Cases == nil || s.Identity == nil {
		return
	}
	var agg scorecard.Aggregation
	if s.Ingest != nil {
		agg = s.Ingest
	}
	sc := scorecard.New(s.Catalog, agg, s.Cases, s.Identity, s.Clock.Now, scorecard.Options{})
	s.handle("GET /api/v1/scorecards", func(w http.ResponseWriter, r *http.Request) error {
		p, err := mustAuth(r)
		if err != nil {
			return err
		}
		rep, err := sc.Cards(r.Context(), p, r.URL.Query().Get("org"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rep)
		return nil
	})
}
