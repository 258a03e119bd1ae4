package httpapi

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/gate"
	"shuqiao/internal/identity"
)

// The gate (DESIGN.md rule 1): the only HTTP exit for record-level data.
// R-SHR-2, R-SHR-4, R-SHR-5, R-SHR-8, R-AGG-2, R-SEC-3.
//
//	GET  /api/v1/data/{resource}       hosted data: JSON page, NDJSON, CSV or XLSX
//	GET  /api/v1/data/{resource}/call  a service-interface resource, proxied
//	POST /api/v1/data/{resource}/call
//	GET  /api/v1/receipts/{delivery}   the signed receipt, with its ledger proof
//	GET  /api/v1/grants                grants the caller holds or provides
//	GET  /api/v1/grants/{id}
//
// Every data response carries the delivery id, the content hash and the
// signed receipt note in headers; the bytes are exactly what the receipt
// names.
func (s *Server) gateRoutes() {
	s.handle("GET /api/v1/data/{resource}", s.gateData)
	s.handle("GET /api/v1/data/{resource}/call", s.gateCall)
	s.handle("POST /api/v1/data/{resource}/call", s.gateCall)
	s.handle("GET /api/v1/receipts/{delivery}", authed(s.gateReceipt))
	s.handle("GET /api/v1/grants", authed(s.gateGrants))
	s.handle("GET /api/v1/grants/{id}", authed(s.gateGrant))
}

// gateParams are the query parameters the gate reads; a proxied call passes
// the others to the upstream.
var gateParams = map[string]bool{"fields": true, "filter": true, "format": true, "cursor": true, "limit": true, "grant": true, "purpose": true}

func gateRequest(r *http.Request) (gate.Request, error) {
	q := r.URL.Query()
	req := gate.Request{
		Principal: principalOf(r), ResourceID: r.PathValue("resource"), GrantID: q.Get("grant"), Purpose: q.Get("purpose"),
		Filter: q.Get("filter"), Format: gate.Format(q.Get("format")), Cursor: q.Get("cursor"),
	}
	if f := strings.TrimSpace(q.Get("fields")); f != "" {
		for _, x := range strings.Split(f, ",") {
			if x = strings.TrimSpace(x); x != "" {
				req.Fields = append(req.Fields, x)
			}
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return req, apperr.Invalidf("gate.bad_limit", "limit", "limit 须为正整数", "limit must be a positive integer")
		}
		req.Limit = n
	}
	return req, nil
}

func (s *Server) writeDelivery(w http.ResponseWriter, d *gate.Delivery) error {
	defer d.Close()
	h := w.Header()
	h.Set("Content-Type", d.ContentType())
	h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	h.Set("Cache-Control", "no-store")
	h.Set("Shuqiao-Delivery-Id", d.ID)
	h.Set("Shuqiao-Content-Sha256", d.ContentHash)
	h.Set("Shuqiao-Grant-Id", d.Decision.Grant.ID)
	h.Set("Shuqiao-Records", strconv.Itoa(d.Records))
	h.Set("Shuqiao-Receipt", base64.StdEncoding.EncodeToString([]byte(d.Receipt.Note)))
	if d.NextCursor != "" {
		h.Set("Shuqiao-Next-Cursor", d.NextCursor)
	}
	if d.Format == gate.CSV || d.Format == gate.XLSX {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.FileName()}))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = d.WriteTo(w)
	return nil
}

func (s *Server) gateData(w http.ResponseWriter, r *http.Request) error {
	req, err := gateRequest(r)
	if err != nil {
		return err
	}
	d, err := s.Gate.Deliver(r.Context(), req)
	if err != nil {
		return err
	}
	return s.writeDelivery(w, d)
}

func (s *Server) gateCall(w http.ResponseWriter, r *http.Request) error {
	req, err := gateRequest(r)
	if err != nil {
		return err
	}
	pr := gate.ProxyRequest{Request: req, Method: r.Method, Query: url.Values{}}
	for k, vs := range r.URL.Query() {
		if !gateParams[k] {
			pr.Query[k] = vs
		}
	}
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return errTooLarge.At("body")
		}
		pr.Body = b
	}
	d, err := s.Gate.Proxy(r.Context(), pr)
	if err != nil {
		return err
	}
	return s.writeDelivery(w, d)
}

// gateReceipt serves a receipt to its recipient org, the providing org's
// people and the authority's administrators and security officers.
func (s *Server) gateReceipt(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	d, err := s.Gate.Delivery(r.Context(), r.PathValue("delivery"))
	if err != nil {
		return err
	}
	if !s.seesGateRecord(r, p, d.Recipient.OrgID, d.ResourceID) {
		return gate.ErrNoDelivery.At("delivery")
	}
	rc, err := s.Gate.Receipt(r.Context(), d.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}

func (s *Server) seesGateRecord(r *http.Request, p identity.Principal, granteeOrg, resourceID string) bool {
	if seesAllEvents(p) || (p.OrgID != "" && p.OrgID == granteeOrg) {
		return true
	}
	if s.Catalog != nil && p.OrgID != "" {
		if res, err := s.Catalog.Get(r.Context(), identity.Principal{}, resourceID); err == nil && res.OrgID == p.OrgID {
			return true
		}
	}
	return false
}

// gateGrants lists grants: the caller's org's own (as grantee), or, with
// resource set, a resource's grants for its providing org and the authority.
func (s *Server) gateGrants(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	q := r.URL.Query()
	f := gate.GrantFilter{ResourceID: q.Get("resource"), State: gate.State(q.Get("state")), Kind: gate.Kind(q.Get("kind"))}
	switch {
	case seesAllEvents(p):
		f.GranteeOrgID = q.Get("org")
	case f.ResourceID != "" && s.seesGateRecord(r, p, "", f.ResourceID):
		f.GranteeOrgID = q.Get("org")
	default:
		f.GranteeOrgID = p.OrgID
		if f.GranteeOrgID == "" {
			return apperr.ErrForbidden
		}
	}
	gs, err := s.Gate.Grants(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(gs, ""))
	return nil
}

func (s *Server) gateGrant(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	g, err := s.Gate.Grant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !s.seesGateRecord(r, p, g.GranteeOrgID, g.ResourceID) {
		return gate.ErrNoGrant.At("id")
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}
