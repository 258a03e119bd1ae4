package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"shuqiao/internal/apperr"
)

// problem is an RFC 9457 problem details object. Code is stable; clients
// branch on it, never on Title or Detail, which follow Accept-Language.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Unsupported:
		return http.StatusUnsupportedMediaType
	case apperr.TooMany:
		return http.StatusTooManyRequests
	case apperr.Gone:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

var errInternal = apperr.New(apperr.Internal, "internal", "服务器内部错误，请稍后再试或联系平台管理员", "internal error; try again later or contact the platform administrator")

// writeError answers with err as problem+json. Errors that are not
// *apperr.Error are logged and hidden behind a generic internal error, so no
// SQL or stack detail leaks to clients.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, ok := apperr.As(err)
	if !ok || ae.Kind == apperr.Internal {
		s.Log.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path, "request_id", requestID(r.Context()))
		ae = errInternal
	}
	status := statusOf(ae.Kind)
	if ae.Kind == apperr.Invalid && ae.Code == "http.bad_json" {
		status = http.StatusBadRequest
	}
	lang := langOf(r)
	p := problem{
		Type:      "urn:shuqiao:problem:" + ae.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    ae.Message(lang),
		Code:      ae.Code,
		Field:     ae.Field,
		Instance:  r.URL.Path,
		RequestID: requestID(r.Context()),
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shuqiao"`)
	}
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		s.Log.DebugContext(r.Context(), "write problem", slog.Any("err", err))
	}
}
