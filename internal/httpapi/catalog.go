package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
)

// maxImport bounds an XLSX import upload.
const maxImport = 20 << 20

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func (s *Server) catalogRoutes() {
	if s.Catalog == nil {
		return
	}
	s.handle("GET /api/v1/catalog/resources", s.catalogList)
	s.handle("POST /api/v1/catalog/resources", authed(s.catalogCreate))
	s.handle("GET /api/v1/catalog/resources/{id}", s.catalogGet)
	s.handle("GET /api/v1/catalog/resources/{id}/draft", authed(s.catalogGetDraft))
	s.handle("PUT /api/v1/catalog/resources/{id}/draft", authed(s.catalogUpdateDraft))
	s.handle("DELETE /api/v1/catalog/resources/{id}/draft", authed(s.catalogDiscardDraft))
	s.handle("POST /api/v1/catalog/resources/{id}/publish", authed(s.catalogPublish))
	s.handle("POST /api/v1/catalog/resources/{id}/withdraw", authed(s.catalogWithdraw))
	s.handle("GET /api/v1/catalog/resources/{id}/versions", s.catalogVersions)
	s.handle("POST /api/v1/catalog/resources/{id}/data-updated", authed(s.catalogDataUpdated))
	s.handle("GET /api/v1/catalog/search", s.catalogSearch)
	s.handle("GET /api/v1/catalog/open-list", s.catalogOpenList)
	s.handle("GET /api/v1/catalog/late", s.catalogLate)
	s.handle("GET /api/v1/catalog/orgs", s.catalogOrgs)
	s.handle("POST /api/v1/catalog/duplicates", authed(s.catalogDuplicates))
	s.handle("GET /api/v1/catalog/config", s.catalogConfig)
	s.handle("PUT /api/v1/catalog/config", authed(s.catalogSetConfig))
	s.handle("GET /api/v1/catalog/rules", s.catalogRules)
	s.handle("GET /api/v1/catalog/template.xlsx", s.catalogTemplate)
	s.handle("GET /api/v1/catalog/export.xlsx", s.catalogExport)
	s.handleLimit("POST /api/v1/catalog/import", maxImport, authed(s.catalogImport))
	s.handle("GET /api/v1/catalog/dcat.jsonld", s.catalogDCAT)
	s.handle("POST /api/v1/catalog/purchases", authed(s.catalogPurchase))
	s.ckanRoutes()
}

// handleLimit is handle with its own body limit, for uploads.
func (s *Server) handleLimit(pattern string, limit int64, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// baseURL is the platform's address as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) catalogList(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := catalog.ListFilter{OrgID: q.Get("org"), Status: catalog.Status(q.Get("status")), Open: q.Get("open") == "true"}
	items, next, err := s.Catalog.List(r.Context(), principalOf(r), f, cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) catalogCreate(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.Entry
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.OrgID == "" {
		in.OrgID = p.OrgID
	}
	d, err := s.Catalog.CreateDraft(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) catalogGet(w http.ResponseWriter, r *http.Request) error {
	res, err := s.Catalog.Get(r.Context(), principalOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) catalogGetDraft(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	d, err := s.Catalog.GetDraft(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) catalogUpdateDraft(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.DraftUpdate
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.Catalog.UpdateDraft(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) catalogDiscardDraft(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	if err := s.Catalog.DiscardDraft(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) catalogPublish(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.PublishInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, err := s.Catalog.Publish(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.ReviewCaseID != "" {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
	return nil
}

func (s *Server) catalogWithdraw(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.WithdrawInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, err := s.Catalog.Withdraw(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) catalogVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.Catalog.Versions(r.Context(), principalOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(vs, ""))
	return nil
}

type dataUpdatedRequest struct {
	At *time.Time `json:"at"`
}

func (s *Server) catalogDataUpdated(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in dataUpdatedRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var at time.Time
	if in.At != nil {
		at = *in.At
		if at.After(s.Clock.Now().Add(time.Minute)) {
			return apperr.Invalidf("catalog.future_time", "at", "更新时间不能晚于现在", "at may not be in the future")
		}
	}
	if err := s.Catalog.MarkDataUpdated(r.Context(), p, r.PathValue("id"), at); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Invalidf("http.bad_param", name, "%s 须为 %d 到 %d 之间的整数", "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// catalogSearch is the public search: ?q= with facet parameters (org,
// theme, level, share, open, format, frequency, …; repeat for several).
func (s *Server) catalogSearch(w http.ResponseWriter, r *http.Request) error {
	offset, err := intParam(r, "offset", 0, 0, catalog.MaxSearchOffset)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	in := catalog.SearchInput{Q: q.Get("q"), Offset: offset, Limit: limit, Filters: map[string][]string{}, OpenOnly: q.Get("open_list") == "true"}
	for _, f := range catalog.Facets {
		if vs := q[f]; len(vs) > 0 {
			in.Filters[f] = vs
		}
	}
	res, err := s.Catalog.Search(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// catalogOpenList is the open list (开放清单, R-CAT-6): published entries
// open to the public, unconditionally or on application.
func (s *Server) catalogOpenList(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.Catalog.List(r.Context(), principalOf(r), catalog.ListFilter{Open: true, OrgID: r.URL.Query().Get("org")}, cursor, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) catalogLate(w http.ResponseWriter, r *http.Request) error {
	if _, err := mustAuth(r); err != nil {
		return err
	}
	items, err := s.Catalog.Late(r.Context(), r.URL.Query().Get("org"), 500)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, ""))
	return nil
}

func (s *Server) catalogOrgs(w http.ResponseWriter, r *http.Request) error {
	orgs, err := s.Catalog.Orgs(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(orgs, ""))
	return nil
}

type duplicatesRequest struct {
	OrgID      string          `json:"org_id"`
	ResourceID string          `json:"resource_id"`
	Fields     []catalog.Field `json:"fields"`
}

// catalogDuplicates checks fields before they are drafted (R-CAT-8).
func (s *Server) catalogDuplicates(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in duplicatesRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.OrgID == "" {
		in.OrgID = p.OrgID
	}
	if len(in.Fields) > 500 {
		return apperr.Invalidf("catalog.invalid", "fields", "数据项不超过 500 个", "at most 500 fields")
	}
	dups, err := s.Catalog.Duplicates(r.Context(), in.OrgID, in.ResourceID, in.Fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(dups, ""))
	return nil
}

func (s *Server) catalogConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Catalog.Config(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) catalogSetConfig(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.Config
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Catalog.SetConfig(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) catalogRules(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Catalog.Config(r.Context())
	if err != nil {
		return err
	}
	type rule struct {
		catalog.Rule
		Enabled bool `json:"enabled"`
	}
	var out []rule
	for _, x := range catalog.Rules {
		on, set := c.Rules[x.ID]
		out = append(out, rule{Rule: x, Enabled: !set || on})
	}
	writeJSON(w, http.StatusOK, newList(out, ""))
	return nil
}

func writeXLSX(w http.ResponseWriter, name string, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", xlsxType)
	w.Header().Set("Content-Disposition", "attachment; filename=\""+name+"\"")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (s *Server) catalogTemplate(w http.ResponseWriter, r *http.Request) error {
	return writeXLSX(w, "shuqiao-catalog-template.xlsx", func(out io.Writer) error { return s.Catalog.Template(r.Context(), out) })
}

// catalogExport exports entries in the import layout: the public gets the
// published catalog (optionally one org's); ?status=draft exports an org's
// drafts to its own people.
func (s *Server) catalogExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := catalog.ListFilter{OrgID: q.Get("org"), Status: catalog.Status(q.Get("status"))}
	var items []*catalog.Resource
	cursor := ""
	for {
		page, next, err := s.Catalog.List(r.Context(), principalOf(r), f, cursor, 500)
		if err != nil {
			return err
		}
		items = append(items, page...)
		if next == "" || len(items) >= 20000 {
			break
		}
		cursor = next
	}
	if f.Status == catalog.StatusDraft {
		p := principalOf(r)
		for i, it := range items {
			if it.HasDraft {
				d, err := s.Catalog.GetDraft(r.Context(), p, it.ID)
				if err != nil {
					return err
				}
				c := *it
				c.Entry = d.Entry
				items[i] = &c
			}
		}
	}
	return writeXLSX(w, "shuqiao-catalog.xlsx", func(out io.Writer) error { return s.Catalog.ExportXLSX(r.Context(), out, items) })
}

var errImportForm = apperr.New(apperr.Unsupported, "catalog.import_form", "请上传 XLSX 文件（请求体为文件本身，或 multipart/form-data 的 file 字段）", "upload an XLSX file (as the body, or as the file field of multipart/form-data)")

func (s *Server) catalogImport(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var body io.Reader
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case xlsxType, "application/octet-stream":
		body = r.Body
	case "multipart/form-data":
		if params["boundary"] == "" {
			return errImportForm
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for body == nil {
			part, err := mr.NextPart()
			if err != nil {
				return importErr(err)
			}
			if part.FormName() == "file" {
				body = part
			}
		}
	default:
		return errImportForm
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return importErr(err)
	}
	q := r.URL.Query()
	res, err := s.Catalog.ImportXLSX(r.Context(), p, bytes.NewReader(data), catalog.ImportOptions{Publish: q.Get("publish") == "true", Reason: q.Get("reason")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func importErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge.At("limit 20 MiB")
	}
	if errors.Is(err, io.EOF) {
		return errImportForm
	}
	return apperr.New(apperr.Invalid, "catalog.import_read", "上传内容读取失败", "the upload could not be read").Wrap(err)
}

// catalogDCAT exports the published catalog as DCAT-AP JSON-LD (R-CAT-4).
func (s *Server) catalogDCAT(w http.ResponseWriter, r *http.Request) error {
	var buf bytes.Buffer
	if err := s.Catalog.WriteDCAT(r.Context(), &buf, baseURL(r), "数桥 Shuqiao 公共数据资源目录"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/ld+json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// catalogPurchase files a purchase request for the caller's org (R-CAT-9).
func (s *Server) catalogPurchase(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in catalog.PurchaseRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Catalog.RequestPurchase(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}
