package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/open"
)

// The CKAN-compatible read API (R-CAT-4): enough of CKAN's action API for
// open-data harvesters (CKAN's own harvester, DCAT harvesters, another
// Shuqiao) to read the published catalog. It answers in CKAN's envelope,
// not problem+json, because that is what those clients parse.

func (s *Server) ckanRoutes() {
	s.mux.HandleFunc("GET /api/3/action/{action}", s.ckan)
	s.mux.HandleFunc("GET /api/3", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"version": 3})
	})
}

type ckanError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

type ckanResponse struct {
	Help    string     `json:"help"`
	Success bool       `json:"success"`
	Result  any        `json:"result,omitempty"`
	Error   *ckanError `json:"error,omitempty"`
}

func (s *Server) ckan(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	help := baseURL(r) + "/api/3/action/help_show?name=" + action
	result, err := s.ckanAction(r, action)
	if err != nil {
		status, typ := http.StatusConflict, "Validation Error"
		msg := err.Error()
		if ae, ok := apperr.As(err); ok {
			msg = ae.Message(langOf(r))
			switch ae.Kind {
			case apperr.NotFound:
				status, typ = http.StatusNotFound, "Not Found Error"
			case apperr.Internal:
				status, typ = http.StatusInternalServerError, "Internal Error"
			}
		} else {
			s.Log.ErrorContext(r.Context(), "ckan", "err", err)
			status, typ, msg = http.StatusInternalServerError, "Internal Error", "internal error"
		}
		writeJSON(w, status, ckanResponse{Help: help, Success: false, Error: &ckanError{Type: typ, Message: msg}})
		return
	}
	writeJSON(w, http.StatusOK, ckanResponse{Help: help, Success: true, Result: result})
}

var errCKANAction = apperr.New(apperr.NotFound, "ckan.no_action", "不支持该 CKAN 接口", "this CKAN action is not offered")

func ckanInt(r *http.Request, name string, def, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, apperr.Invalidf("ckan.bad_param", name, "参数 %s 无效", "invalid parameter %s", name)
	}
	return min(n, hi), nil
}

func (s *Server) ckanAction(r *http.Request, action string) (any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	cfg, err := s.Catalog.Config(ctx)
	if err != nil {
		return nil, err
	}
	base := baseURL(r)
	switch action {
	case "package_list":
		offset, err := ckanInt(r, "offset", 0, 1<<30)
		if err != nil {
			return nil, err
		}
		limit, err := ckanInt(r, "limit", 1000, 1000)
		if err != nil {
			return nil, err
		}
		return s.Catalog.CKANNames(ctx, offset, limit)
	case "package_show":
		id := q.Get("id")
		if id == "" {
			return nil, apperr.Invalidf("ckan.missing_id", "id", "缺少 id 参数", "missing id")
		}
		res, err := s.Catalog.GetByCode(ctx, principalOf(r), strings.ToUpper(id))
		if errors.Is(err, catalog.ErrNotFound) {
			res, err = s.Catalog.GetByCode(ctx, principalOf(r), id)
		}
		if err != nil {
			return nil, err
		}
		if res.Status != catalog.StatusPublished {
			return nil, catalog.ErrNotFound
		}
		pkg := catalog.ToCKAN(base, res, &cfg.Taxonomy)
		if s.Open != nil && open.Downloadable(res) {
			// Unconditional open data: the resources are the free downloads
			// themselves, so CKAN clients and harvesters fetch the data (R-OPN-1).
			pkg.Resources = pkg.Resources[:0]
			for _, f := range open.Formats {
				pkg.Resources = append(pkg.Resources, catalog.CKANResource{ID: res.ID + "-open-" + f, PackageID: res.ID,
					Name: res.Name + " (" + strings.ToUpper(f) + ")", Format: strings.ToUpper(f), URL: open.DownloadURL(base, res.ID, f),
					Description: "无条件开放数据，免费下载，无需注册 (open data: free download, no account)"})
			}
			pkg.NumResources = len(pkg.Resources)
		}
		return pkg, nil
	case "package_search":
		rows, err := ckanInt(r, "rows", 10, 1000)
		if err != nil {
			return nil, err
		}
		start, err := ckanInt(r, "start", 0, catalog.MaxSearchOffset)
		if err != nil {
			return nil, err
		}
		in := catalog.CKANSearch(q.Get("q"), q.Get("fq"))
		in.Offset, in.Limit = start, rows
		var pkgs []catalog.CKANPackage
		var res *catalog.SearchResult
		// The search pages at 100; a harvester asks for up to 1,000 rows.
		for in.Limit = min(rows, 100); len(pkgs) < rows; in.Offset += in.Limit {
			res, err = s.Catalog.Search(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, it := range res.Items {
				pkgs = append(pkgs, catalog.ToCKAN(base, it, &cfg.Taxonomy))
			}
			if len(res.Items) < in.Limit || rows == 0 || in.Offset+in.Limit > catalog.MaxSearchOffset {
				break
			}
			in.Limit = min(100, rows-len(pkgs))
		}
		if pkgs == nil {
			pkgs = []catalog.CKANPackage{}
		}
		if rows == 0 {
			pkgs = pkgs[:0]
		}
		facets := map[string]any{}
		searchFacets := map[string]any{}
		for ckanName, ours := range map[string]string{"organization": "org", "groups": "theme", "res_format": "format", "tags": ""} {
			if ours == "" {
				continue
			}
			counts := map[string]int{}
			var items []map[string]any
			for _, f := range res.Facets[ours] {
				counts[f.Value] = f.Count
				items = append(items, map[string]any{"name": f.Value, "display_name": f.Label, "count": f.Count})
			}
			if items == nil {
				items = []map[string]any{}
			}
			facets[ckanName] = counts
			searchFacets[ckanName] = map[string]any{"title": ckanName, "items": items}
		}
		return map[string]any{"count": res.Total, "results": pkgs, "facets": facets, "search_facets": searchFacets, "sort": "score desc, metadata_modified desc"}, nil
	case "organization_list":
		orgs, err := s.Catalog.Orgs(ctx)
		if err != nil {
			return nil, err
		}
		if q.Get("all_fields") == "true" {
			out := make([]catalog.CKANOrg, len(orgs))
			for i, o := range orgs {
				out[i] = catalog.CKANOrg{ID: o.ID, Name: o.ID, Title: o.Name, DisplayName: o.Name, Type: "organization", IsOrganization: true, State: "active", PackageCount: o.Count}
			}
			return out, nil
		}
		names := make([]string, len(orgs))
		for i, o := range orgs {
			names[i] = o.ID
		}
		return names, nil
	case "status_show":
		return map[string]any{"ckan_version": "2.10.0", "site_title": "数桥 Shuqiao", "site_url": base, "extensions": []string{"shuqiao"}}, nil
	}
	return nil, errCKANAction
}
