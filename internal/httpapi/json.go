package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"shuqiao/internal/apperr"
)

var (
	errContentType = apperr.New(apperr.Unsupported, "http.unsupported_media_type", "请求体须为 JSON（Content-Type: application/json）", "the request body must be JSON (Content-Type: application/json)")
	errTooLarge    = apperr.New(apperr.TooLarge, "http.body_too_large", "请求体过大", "the request body is too large")
	errBadJSON     = apperr.New(apperr.Invalid, "http.bad_json", "请求体不是有效的 JSON", "the request body is not valid JSON")
	errBadCursor   = apperr.New(apperr.Invalid, "http.bad_cursor", "分页参数无效", "invalid pagination parameter")
)

// decodeJSON reads one JSON object into v. It insists on a JSON content type,
// rejects unknown fields (a typo must not be silently ignored) and trailing
// data, and names the offending field or byte offset.
func decodeJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return errContentType
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return errTooLarge.At(fmt.Sprintf("limit %d bytes", maxErr.Limit))
		case errors.As(err, &syn):
			return errBadJSON.At("offset " + strconv.FormatInt(syn.Offset, 10)).Wrap(err)
		case errors.As(err, &typ):
			return apperr.Invalidf("http.bad_json_type", typ.Field, "字段 %s 类型错误，应为 %s", "field %s has the wrong type; want %s", typ.Field, typ.Type.String())
		case errors.Is(err, io.EOF):
			return errBadJSON.At("body").Wrap(err)
		default:
			if name, ok := unknownField(err); ok {
				return apperr.Invalidf("http.unknown_field", name, "未知字段 %s", "unknown field %s", name)
			}
			return errBadJSON.Wrap(err)
		}
	}
	if dec.More() {
		return errBadJSON.At("trailing data")
	}
	return nil
}

// unknownField extracts the name from encoding/json's unknown-field error,
// which has no type of its own.
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	msg := err.Error()
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix) : len(msg)-1], true
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is the envelope of every paged collection.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}

// pageParams reads cursor and limit (default 50, at most 500).
func pageParams(r *http.Request) (cursor string, limit int, err error) {
	q := r.URL.Query()
	cursor = q.Get("cursor")
	if len(cursor) > 200 {
		return "", 0, errBadCursor.At("cursor")
	}
	limit = 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return "", 0, apperr.Invalidf("http.bad_limit", "limit", "limit 须为 1 到 500 之间的整数", "limit must be an integer from 1 to 500")
		}
		limit = n
	}
	return cursor, limit, nil
}
