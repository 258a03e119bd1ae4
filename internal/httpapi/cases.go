package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/identity"
)

// Cases: one engine for every request that someone decides (DESIGN rule 3).
// R-SHR-3, R-GOV-3, R-SEC-11.
func (s *Server) caseRoutes() {
	s.handle("GET /api/v1/case-kinds", s.caseKinds)
	s.handle("POST /api/v1/cases", authed(s.fileCase))
	s.handle("GET /api/v1/cases", authed(s.listCases))
	s.handle("GET /api/v1/cases/{id}", authed(s.getCase))
	s.handle("POST /api/v1/cases/{id}/actions/{action}", authed(s.actOnCase))
	s.handle("POST /api/v1/cases/{id}/comments", authed(s.commentCase))
	s.handle("GET /api/v1/cases/{id}/attachments", authed(s.listAttachments))
	s.handle("GET /api/v1/cases/{id}/attachments/{aid}", authed(s.downloadAttachment))
	// Uploads are bounded by the engine's attachment limit, not MaxBody.
	s.mux.HandleFunc("POST /api/v1/cases/{id}/attachments", func(w http.ResponseWriter, r *http.Request) {
		if err := authed(s.uploadAttachment)(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	s.handle("GET /api/v1/notifications", authed(s.listNotifications))
	s.handle("POST /api/v1/notifications/read", authed(s.markNotificationsRead))
}

func (s *Server) caseKinds(w http.ResponseWriter, r *http.Request) error {
	if _, err := mustAuth(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.Cases.Kinds()})
	return nil
}

func (s *Server) fileCase(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in casework.Filing
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Cases.File(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

var errBadOverdue = apperr.Invalidf("casework.bad_filter", "overdue", "overdue 须为 true 或 false", "overdue must be true or false")

func (s *Server) listCases(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q := casework.Query{
		View: casework.View(qs.Get("view")), Kind: qs.Get("kind"), State: casework.State(qs.Get("state")),
		OrgID: qs.Get("org"), After: cursor, Limit: limit,
	}
	if v := qs.Get("overdue"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errBadOverdue
		}
		q.Overdue = &b
	}
	if org, role, user := qs.Get("assignee_org"), qs.Get("assignee_role"), qs.Get("assignee_user"); org != "" || role != "" || user != "" {
		q.Assignee = &casework.Assignee{OrgID: org, Role: identity.Role(role), UserID: user}
	}
	cases, next, err := s.Cases.List(r.Context(), p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(cases, next))
	return nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	c, err := s.Cases.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) actOnCase(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in casework.ActInput
	// The body is optional: accept, withdraw and the like need none.
	if r.ContentLength != 0 && r.Header.Get("Content-Type") != "" {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	c, err := s.Cases.Act(r.Context(), p, r.PathValue("id"), r.PathValue("action"), in)
	if err != nil {
		return err
	}
	// Show the case as the caller now sees it: history and next actions.
	full, err := s.Cases.Get(r.Context(), p, c.ID)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.NotFound {
			writeJSON(w, http.StatusOK, c)
			return nil
		}
		return err
	}
	writeJSON(w, http.StatusOK, full)
	return nil
}

type commentRequest struct {
	Body string `json:"body"`
}

func (s *Server) commentCase(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in commentRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	e, err := s.Cases.Comment(r.Context(), p, r.PathValue("id"), in.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (s *Server) listAttachments(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	list, err := s.Cases.Attachments(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
	return nil
}

var errUploadForm = apperr.New(apperr.Invalid, "casework.upload_form", "请以 multipart/form-data 上传，文件字段名为 file", "upload as multipart/form-data with the file in a field named file")

// uploadAttachment takes either multipart/form-data with a "file" field, or
// the raw bytes as the body with ?name=<file name> and their Content-Type.
func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	max := s.Cases.MaxAttachment()
	// Room for the multipart framing around the file.
	r.Body = http.MaxBytesReader(w, r.Body, max+64<<10)
	var (
		name, ctype string
		body        io.Reader
	)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		if params["boundary"] == "" {
			return errUploadForm.At("Content-Type")
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return errUploadForm.At("file")
				}
				return uploadErr(err, max)
			}
			if part.FormName() == "file" {
				name, ctype, body = part.FileName(), part.Header.Get("Content-Type"), part
				break
			}
		}
	} else {
		name, ctype, body = r.URL.Query().Get("name"), r.Header.Get("Content-Type"), r.Body
	}
	a, err := s.Cases.Attach(r.Context(), p, r.PathValue("id"), name, ctype, body)
	if err != nil {
		return uploadErr(err, max)
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func uploadErr(err error, max int64) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return casework.ErrAttachmentTooLarge.At(fmt.Sprintf("limit %d bytes", max))
	}
	return err
}

func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	a, err := s.Cases.OpenAttachment(r.Context(), p, r.PathValue("id"), r.PathValue("aid"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(a.Name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Header().Set("X-Content-SHA256", a.SHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.Data)
	return nil
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	unread := false
	if v := r.URL.Query().Get("unread"); v != "" {
		if unread, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return apperr.Invalidf("casework.bad_filter", "unread", "unread 须为 true 或 false", "unread must be true or false")
		}
	}
	list, next, err := s.Cases.Notifications(r.Context(), p, casework.NotificationQuery{UnreadOnly: unread, After: cursor, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(list, next))
	return nil
}

type markReadRequest struct {
	IDs []string `json:"ids"`
}

func (s *Server) markNotificationsRead(w http.ResponseWriter, r *http.Request, p identity.Principal) error {
	var in markReadRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Cases.MarkRead(r.Context(), p, in.IDs); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
