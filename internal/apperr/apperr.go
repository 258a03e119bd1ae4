// Package apperr is the platform's error vocabulary: a kind that decides the
// HTTP status, a stable code, and a message in Chinese and English. Services
// return these; httpapi turns them into RFC 9457 problem+json.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the API.
type Kind int

const (
	Internal        Kind = iota
	Invalid              // 400/422: the input is wrong
	Unauthenticated      // 401
	Forbidden            // 403
	NotFound             // 404
	Conflict             // 409
	TooLarge             // 413
	Unsupported          // 415
	TooMany              // 429
	Gone                 // 410: expired or revoked
)

// Error is an error people can act on: what went wrong, where, in their language.
type Error struct {
	Kind Kind
	// Code is stable across releases, e.g. "identity.credit_code_checksum".
	Code string
	ZH   string
	EN   string
	// Field says where: a JSON field, "file.csv:12:3", a rule name.
	Field string
	Err   error
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.EN
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Message returns the message in lang ("zh" or "en").
func (e *Error) Message(lang string) string {
	if lang == "en" || e.ZH == "" {
		return e.EN
	}
	return e.ZH
}

// New builds an Error.
func New(kind Kind, code, zh, en string) *Error {
	return &Error{Kind: kind, Code: code, ZH: zh, EN: en}
}

// At returns a copy of e that names where the error is.
func (e *Error) At(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// Wrap returns a copy of e that wraps cause.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// Is matches errors by code, so callers can test errors.Is(err, ErrX).
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Invalidf is a shorthand for an input error at field with formatted messages.
func Invalidf(code, field, zh, en string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, ZH: fmt.Sprintf(zh, args...), EN: fmt.Sprintf(en, args...)}
}

// As finds an *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Common errors shared by every package.
var (
	ErrNotFound  = New(NotFound, "not_found", "未找到该对象", "not found")
	ErrForbidden = New(Forbidden, "forbidden", "无权执行该操作", "you are not allowed to do this")
	ErrAuth      = New(Unauthenticated, "unauthenticated", "请先登录或提供有效令牌", "sign in or present a valid token")
)
