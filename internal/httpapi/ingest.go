package httpapi

import (
	"encoding/csv"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
)

// maxLoad bounds one load's request body. Loads stream, so the limit is a
// guard against runaway uploads, not a memory bound.
const maxLoad = 4 << 30

func (s *Server) ingestRoutes() {
	if s.Ingest == nil {
		return
	}
	s.handle("GET /api/v1/ingest/datasets", authed(s.ingestDatasets))
	s.handle("POST /api/v1/ingest/datasets", authed(s.ingestCreateDataset))
	s.handle("GET /api/v1/ingest/datasets/{id}", authed(s.ingestDataset))
	s.handle("POST /api/v1/ingest/datasets/{id}/sync", authed(s.ingestSync))
	s.handleLimit("POST /api/v1/ingest/datasets/{id}/loads", maxLoad, authed(s.ingestLoad))
	s.handle("GET /api/v1/ingest/datasets/{id}/loads", authed(s.ingestBatches))
	s.handle("GET /api/v1/ingest/datasets/{id}/record-key", s.ingestRecordKey)
	s.handle("GET /api/v1/ingest/datasets/{id}/lineage", authed(s.ingestLineage))
	s.handle("GET /api/v1/ingest/datasets/{id}/rules", authed(s.ingestRules))
	s.handle("POST /api/v1/ingest/datasets/{id}/rules", authed(s.ingestAddRule))
	s.handle("DELETE /api/v1/ingest/rules/{id}", authed(s.ingestDeleteRule))
	s.handle("GET /api/v1/ingest/loads/{id}", authed(s.ingestBatch))
	s.handle("DELETE /api/v1/ingest/loads/{id}", authed(s.ingestAbort))
	s.handle("GET /api/v1/ingest/loads/{id}/errors", authed(s.ingestErrors))
	s.handle("GET /api/v1/ingest/quality/scores", authed(s.ingestScores))
	s.handle("GET /api/v1/ingest/quality/laggards", authed(s.ingestLaggards))
	s.handle("GET /api/v1/ingest/pii-hints", authed(s.ingestHints))
	s.handle("POST /api/v1/ingest/pii-hints/{id}", authed(s.ingestDecideHint))
	s.handle("GET /api/v1/ingest/code-lists", s.ingestCodeLists)
	s.handle("PUT /api/v1/ingest/code-lists", authed(s.ingestPutCodeList))
	s.handle("GET /api/v1/ingest/services/{id}", authed(s.ingestUpstream))
	s.handle("PUT /api/v1/ingest/services/{id}", authed(s.ingestRegisterService))
	s.handle("POST /api/v1/ingest/services/{id}/health", authed(s.ingestHealth))
}

func (s *Server) ingestDatasets(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.Ingest.Datasets(r.Context(), p, r.URL.Query().Get("org"), cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) ingestCreateDataset(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in struct {
		Resource string   `json:"resource"`
		Key      []string `json:"key"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ds, err := s.Ingest.CreateDataset(r.Context(), p, in.Resource, ingest.DatasetInput{Key: in.Key})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ds)
	return nil
}

func (s *Server) ingestDataset(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	ds, err := s.Ingest.Dataset(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ds)
	return nil
}

// ingestRecordKey is public: the key's data items are names from the
// public catalog entry, and the objection form needs them before sign-in.
func (s *Server) ingestRecordKey(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.Ingest.RecordKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"resource_id": ds.ResourceID, "resource_code": ds.ResourceCode, "key": ds.Key})
	return nil
}

func (s *Server) ingestSync(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	ch, err := s.Ingest.SyncSchema(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

// loadFormat picks the input format: the format parameter, else the media
// type, else the file name.
func loadFormat(r *http.Request, source string) ingest.Format {
	if f := r.URL.Query().Get("format"); f != "" {
		return ingest.Format(strings.ToLower(f))
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		if f := ingest.FormatOf(mt); f != "" {
			return f
		}
	}
	return ingest.FormatOf(source)
}

// ingestLoad streams the request body into a load: JSON (an array or
// {"records": [...]}), NDJSON, CSV or XLSX, chosen by the format parameter
// or the Content-Type.
func (s *Server) ingestLoad(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	q := r.URL.Query()
	source := q.Get("source")
	if source == "" {
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			source = params["filename"]
		}
	}
	in := ingest.LoadInput{
		Mode: ingest.Mode(q.Get("mode")), Policy: ingest.Policy(q.Get("policy")), Format: loadFormat(r, source),
		Source: source, Encoding: q.Get("encoding"), Delimiter: q.Get("delimiter"), Sheet: q.Get("sheet"),
	}
	b, err := s.Ingest.Load(r.Context(), p, r.PathValue("id"), r.Body, in)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return errTooLarge.At("limit " + strconv.FormatInt(maxErr.Limit, 10) + " bytes")
		}
		return err
	}
	w.Header().Set("Location", "/api/v1/ingest/loads/"+b.ID)
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) ingestBatches(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.Ingest.Batches(r.Context(), p, r.PathValue("id"), cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) ingestBatch(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	b, err := s.Ingest.Batch(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) ingestAbort(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	if err := s.Ingest.Abort(r.Context(), p, r.PathValue("id"), r.URL.Query().Get("reason")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ingestErrors downloads a batch's error report: CSV (UTF-8 with a BOM, so
// spreadsheets read the Chinese) or, with format=json, JSON lines.
func (s *Server) ingestErrors(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	id := r.PathValue("id")
	if _, err := s.Ingest.Batch(r.Context(), p, id); err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "json" {
		var lines []ingest.ReportLine
		if err := s.Ingest.ErrorReport(r.Context(), p, id, func(l ingest.ReportLine) error { lines = append(lines, l); return nil }); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(lines, ""))
		return nil
	}
	started := false
	var cw *csv.Writer
	err := s.Ingest.ErrorReport(r.Context(), p, id, func(l ingest.ReportLine) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="errors-`+id+`.csv"`)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("\xEF\xBB\xBF"))
			cw = csv.NewWriter(w)
			_ = cw.Write([]string{"行号 row", "列号 column", "数据项 field", "代码 code", "原因", "reason", "值 value"})
		}
		return cw.Write([]string{strconv.FormatInt(l.Row, 10), strconv.Itoa(l.Column), l.Field, l.Code, l.ZH, l.EN, l.Value})
	})
	if err != nil && !started {
		return err
	}
	if !started {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="errors-`+id+`.csv"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("\xEF\xBB\xBF行号 row,列号 column,数据项 field,代码 code,原因,reason,值 value\n"))
		return nil
	}
	cw.Flush()
	return nil
}

func (s *Server) ingestLineage(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	key := map[string]string{}
	for k, v := range r.URL.Query() {
		if name, ok := strings.CutPrefix(k, "key."); ok && len(v) > 0 {
			key[name] = v[0]
		}
	}
	l, err := s.Ingest.Lineage(r.Context(), p, r.PathValue("id"), key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) ingestRules(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	rules, err := s.Ingest.Rules(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(rules, ""))
	return nil
}

func (s *Server) ingestAddRule(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in struct {
		Kind     ingest.RuleKind `json:"kind"`
		Field    string          `json:"field"`
		Min      string          `json:"min"`
		Max      string          `json:"max"`
		Pattern  string          `json:"pattern"`
		Op       string          `json:"op"`
		Other    string          `json:"other"`
		Severity ingest.Severity `json:"severity"`
		Message  string          `json:"message"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rule, err := s.Ingest.AddRule(r.Context(), p, r.PathValue("id"), ingest.Rule{Kind: in.Kind, Field: in.Field, Min: in.Min, Max: in.Max,
		Pattern: in.Pattern, Op: in.Op, Other: in.Other, Severity: in.Severity, Message: in.Message})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (s *Server) ingestDeleteRule(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	if err := s.Ingest.DeleteRule(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func parseTime(q, name string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, q); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, q)
	if err != nil {
		return time.Time{}, apperr.Invalidf("http.bad_time", name, "%s 须为日期（YYYY-MM-DD）或 RFC 3339 时间", "%s must be a date (YYYY-MM-DD) or an RFC 3339 time", name)
	}
	return t, nil
}

func (s *Server) ingestScores(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	q := r.URL.Query()
	from, err := parseTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := parseTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	pts, err := s.Ingest.Scores(r.Context(), p, ingest.ScoreQuery{OrgID: q.Get("org"), ResourceID: q.Get("resource"), From: from, To: to})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(pts, ""))
	return nil
}

func (s *Server) ingestLaggards(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	rep, err := s.Ingest.Laggards(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) ingestHints(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	hints, err := s.Ingest.PIIHints(r.Context(), p, r.URL.Query().Get("org"), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(hints, ""))
	return nil
}

func (s *Server) ingestDecideHint(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in struct {
		Status string `json:"status"`
		Note   string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	h, err := s.Ingest.DecideHint(r.Context(), p, r.PathValue("id"), in.Status, in.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) ingestCodeLists(w http.ResponseWriter, r *http.Request) error {
	if _, err := mustAuth(r); err != nil {
		return err
	}
	if name := r.URL.Query().Get("name"); name != "" {
		codes, err := s.Ingest.CodeList(r.Context(), name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "codes": codes})
		return nil
	}
	names, err := s.Ingest.CodeLists(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(names, ""))
	return nil
}

func (s *Server) ingestPutCodeList(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in struct {
		Name  string        `json:"name"`
		Codes []ingest.Code `json:"codes"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Ingest.PutCodeList(r.Context(), p, in.Name, in.Codes); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) ingestUpstream(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	u, err := s.Ingest.Upstream(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) ingestRegisterService(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in ingest.ServiceInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	u, err := s.Ingest.RegisterService(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) ingestHealth(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	u, err := s.Ingest.CheckHealth(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}
