// Package ledger is the platform's tamper-evident record of every data
// processing step and every decision (DESIGN.md rule 2). Events are appended in
// the caller's transaction, so an event exists exactly when its change commits.
package ledger

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
)

// Action is the kind of processing an event records: the nine kinds of data
// processing the regulations name, plus decisions on cases and administration.
type Action string

const (
	Collect  Action = "collect"  // 收集
	Store    Action = "store"    // 存储
	Use      Action = "use"      // 使用
	Process  Action = "process"  // 加工
	Transmit Action = "transmit" // 传输
	Provide  Action = "provide"  // 提供
	Disclose Action = "disclose" // 公开
	Delete   Action = "delete"   // 删除
	Destroy  Action = "destroy"  // 销毁
	Decide   Action = "decide"   // decisions on cases
	Admin    Action = "admin"    // configuration changes
)

// Actions lists every valid action.
var Actions = []Action{Collect, Store, Use, Process, Transmit, Provide, Disclose, Delete, Destroy, Decide, Admin}

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	for _, v := range Actions {
		if a == v {
			return true
		}
	}
	return false
}

// ActorKind says who acted.
type ActorKind string

const (
	ActorUser   ActorKind = "user"
	ActorClient ActorKind = "client" // an org's business application (API client)
	ActorSystem ActorKind = "system" // the platform itself: scheduler, demo seeding, migrations
)

// Event is one processing step or decision.
type Event struct {
	// Time is when it happened; Append fills it from the ledger's clock when zero.
	Time      time.Time `json:"time"`
	ActorKind ActorKind `json:"actor_kind"`
	ActorID   string    `json:"actor_id,omitempty"`
	// OrgID is the actor's org.
	OrgID  string `json:"org_id,omitempty"`
	Action Action `json:"action"`
	// Object names what the event is about when it is not a resource:
	// "org/<id>", "user/<id>", "case/<id>", "client/<id>".
	Object     string   `json:"object,omitempty"`
	ResourceID string   `json:"resource_id,omitempty"`
	Fields     []string `json:"fields,omitempty"`
	// Purpose is the application scenario; GrantID the grant it happened under.
	Purpose string `json:"purpose,omitempty"`
	GrantID string `json:"grant_id,omitempty"`
	// Subjects are keyed hashes of data subjects' identifiers (see SubjectHash),
	// never identifiers in clear.
	Subjects    []string `json:"subjects,omitempty"`
	RecordCount int64    `json:"record_count,omitempty"`
	// ContentHash is the hex SHA-256 of what was delivered or stored.
	ContentHash string          `json:"content_hash,omitempty"`
	Detail      json.RawMessage `json:"detail,omitempty"`
}

// maxDetail bounds the JSON detail: the ledger records steps, not payloads.
// maxField bounds each identifier field and maxList the fields and subjects.
const (
	maxDetail = 8 << 10
	maxField  = 512
	maxList   = 1000
)

var errInvalidEvent = apperr.New(apperr.Invalid, "ledger.invalid_event", "账本事件不完整", "ledger event is incomplete")

func (e *Event) validate() error {
	if !e.Action.Valid() {
		return errInvalidEvent.At("action")
	}
	switch e.ActorKind {
	case ActorUser, ActorClient:
		if e.ActorID == "" {
			return errInvalidEvent.At("actor_id")
		}
	case ActorSystem:
	default:
		return errInvalidEvent.At("actor_kind")
	}
	for _, f := range [...]struct{ name, v string }{{"actor_id", e.ActorID}, {"org_id", e.OrgID}, {"object", e.Object},
		{"resource_id", e.ResourceID}, {"purpose", e.Purpose}, {"grant_id", e.GrantID}, {"content_hash", e.ContentHash}} {
		if len(f.v) > maxField || !utf8.ValidString(f.v) {
			return errInvalidEvent.At(f.name)
		}
	}
	if len(e.Fields) > maxList {
		return errInvalidEvent.At("fields")
	}
	if len(e.Subjects) > maxList {
		return errInvalidEvent.At("subjects")
	}
	// Personal identifiers never enter the ledger in clear (R-PRS-6): a
	// subject must be a hash that SubjectHash made.
	for _, s := range e.Subjects {
		if !IsSubjectHash(s) {
			return errInvalidEvent.At("subjects")
		}
	}
	if e.RecordCount < 0 {
		return errInvalidEvent.At("record_count")
	}
	if len(e.Detail) > maxDetail {
		return errInvalidEvent.At("detail")
	}
	if len(e.Detail) > 0 && !json.Valid(e.Detail) {
		return errInvalidEvent.At("detail")
	}
	return nil
}

// DetailOf marshals v as an event detail; it panics only on values that
// cannot be JSON, which is a programming error.
func DetailOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("ledger: detail is not JSON: " + err.Error())
	}
	return b
}
