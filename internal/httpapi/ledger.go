package httpapi

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
)

// The ledger: signed checkpoints, entries, inclusion and consistency proofs,
// and event queries. R-SEC-2, R-SEC-13, R-PRS-6, R-SHR-8.
//
// The checkpoint and the proofs are public: they are hashes and a signature,
// and anyone given an entry must be able to check it. Entries and event
// queries name orgs, people and resources, so they need a sign-in: the
// authority's administrators and security officers see every event, anyone
// else the events of their own org.
func (s *Server) ledgerRoutes() {
	s.handle("GET /api/v1/ledger/checkpoint", s.ledgerCheckpoint)
	s.handle("GET /api/v1/ledger/entries/{seq}", authed(s.ledgerEntry))
	s.handle("GET /api/v1/ledger/proofs/inclusion", s.ledgerInclusion)
	s.handle("GET /api/v1/ledger/proofs/consistency", s.ledgerConsistency)
	s.handle("GET /api/v1/ledger/events", authed(s.ledgerEvents))
}

// seesAllEvents reports whether p may read every org's events.
func seesAllEvents(p identity.Principal) bool {
	return p.HasAny(identity.RoleAuthorityAdmin, identity.RoleSecurityOfficer)
}

func uintParam(r *http.Request, name string, value string, required bool) (uint64, error) {
	if value == "" {
		if required {
			return 0, apperr.Invalidf("ledger.missing_param", name, "缺少参数 %s", "parameter %s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(value, 10, 63)
	if err != nil {
		return 0, apperr.Invalidf("ledger.bad_param", name, "参数 %s 须为非负整数", "parameter %s must be a non-negative integer", name)
	}
	return n, nil
}

// ledgerCheckpoint serves the latest signed checkpoint as the signed note
// itself (text/plain), as C2SP tlog-checkpoint clients expect.
func (s *Server) ledgerCheckpoint(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.Ledger.LatestCheckpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Ledger-Verifier-Key", s.Ledger.VerifierKey())
	_, _ = w.Write(cp.Note)
	return nil
}

// ledgerEntry serves an entry's canonical bytes verbatim (they are JSON), so
// what a client saves is exactly what the leaf hash covers and what
// `shuqiao ledger check-proof --entry` takes.
func (s *Server) ledgerEntry(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	seq, err := uintParam(r, "seq", r.PathValue("seq"), true)
	if err != nil {
		return err
	}
	e, err := s.Ledger.Entry(r.Context(), seq)
	if err != nil {
		return err
	}
	if !seesAllEvents(p) && e.OrgID != p.OrgID {
		// Not found rather than forbidden: do not confirm what exists.
		return apperr.ErrNotFound.At("seq")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Ledger-Leaf-Hash", hex.EncodeToString(e.LeafHash))
	_, _ = w.Write(e.Body)
	return nil
}

// inclusionResponse is the proof plus, when the caller asked for the latest
// size, the checkpoint it leads to, so one request gives all a client needs.
type inclusionResponse struct {
	ledger.InclusionProof
	Checkpoint string `json:"checkpoint,omitempty"`
}

func (s *Server) ledgerInclusion(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	seq, err := uintParam(r, "seq", q.Get("seq"), true)
	if err != nil {
		return err
	}
	size, err := uintParam(r, "size", q.Get("size"), false)
	if err != nil {
		return err
	}
	var resp inclusionResponse
	if size == 0 {
		cp, err := s.Ledger.LatestCheckpoint(r.Context())
		if err != nil {
			return err
		}
		size, resp.Checkpoint = cp.Size, string(cp.Note)
	}
	resp.InclusionProof, err = s.Ledger.InclusionProof(r.Context(), seq, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) ledgerConsistency(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err := uintParam(r, "from", q.Get("from"), true)
	if err != nil {
		return err
	}
	to, err := uintParam(r, "to", q.Get("to"), false)
	if err != nil {
		return err
	}
	p, err := s.Ledger.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func timeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.Invalidf("ledger.bad_time", name, "参数 %s 须为 RFC 3339 时间", "parameter %s must be an RFC 3339 time", name)
	}
	return t, nil
}

// ledgerEvents lists events newest first, filtered and paged.
func (s *Server) ledgerEvents(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := ledger.Filter{
		ResourceID: q.Get("resource"), OrgID: q.Get("org"), GrantID: q.Get("grant"), ActorID: q.Get("actor"),
		Subject: q.Get("subject"), Action: ledger.Action(q.Get("action")), ContentHash: q.Get("content_hash"), After: cursor, Limit: limit,
	}

	if f.Since, err = timeParam("since", q.Get("since")); err != nil {
		return err
	}
	if f.Until, err = timeParam("until", q.Get("until")); err != nil {
		return err
	}
	if !seesAllEvents(p) {
		if f.OrgID != "" && f.OrgID != p.OrgID {
			return apperr.ErrForbidden.At("org")
		}
		f.OrgID = p.OrgID
	}
	es, next, err := s.Ledger.Query(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(es, next))
	return nil
}
