package catalog

import (
	"time"
)

// DataClass says where an entry's data comes from (R-CAT-2, XM16).
type DataClass string

const (
	ClassGovernment    DataClass = "government"     // 政务数据
	ClassPublicService DataClass = "public_service" // 公共服务数据
	ClassPurchased     DataClass = "purchased"      // 依法采购的非公共数据
)

// DataClasses lists every data class.
var DataClasses = []DataClass{ClassGovernment, ClassPublicService, ClassPurchased}

// Level is a classification grade (GB/T 43697-2024 数据安全技术 数据分类分级规则):
// general < important < core. Fields and resources use the same scale.
type Level string

const (
	LevelGeneral   Level = "general"   // 一般数据
	LevelImportant Level = "important" // 重要数据
	LevelCore      Level = "core"      // 核心数据
)

// Levels lists every level, lowest first.
var Levels = []Level{LevelGeneral, LevelImportant, LevelCore}

// Rank orders levels; an unknown level ranks 0.
func (l Level) Rank() int {
	for i, v := range Levels {
		if v == l {
			return i + 1
		}
	}
	return 0
}

// Attr is a sharing or open attribute (共享属性 / 开放属性).
type Attr string

const (
	Unconditional Attr = "unconditional" // 无条件
	Conditional   Attr = "conditional"   // 有条件
	None          Attr = "none"          // 不予(暂不)
)

// Attrs lists every attribute value.
var Attrs = []Attr{Unconditional, Conditional, None}

// Frequency is how often an entry's data is updated.
type Frequency string

const (
	RealTime  Frequency = "realtime"
	Daily     Frequency = "daily"
	Weekly    Frequency = "weekly"
	Monthly   Frequency = "monthly"
	Quarterly Frequency = "quarterly"
	Yearly    Frequency = "yearly"
	Irregular Frequency = "irregular"
)

// Frequencies lists every update frequency.
var Frequencies = []Frequency{RealTime, Daily, Weekly, Monthly, Quarterly, Yearly, Irregular}

// Period is how long data of frequency f may go without an update before
// it is late: one period plus a grace. Irregular has none (0).
func (f Frequency) Period() time.Duration {
	const day = 24 * time.Hour
	switch f {
	case RealTime:
		return time.Hour
	case Daily:
		return 2 * day
	case Weekly:
		return 8 * day
	case Monthly:
		return 35 * day
	case Quarterly:
		return 100 * day
	case Yearly:
		return 380 * day
	}
	return 0
}

// DeliveryMode says how data reaches consumers: hosted on the platform, or
// a service interface the org keeps and the platform proxies (XM24).
type DeliveryMode string

const (
	Hosted     DeliveryMode = "hosted"
	ServiceAPI DeliveryMode = "service"
)

// FieldType is a data item's type.
type FieldType string

// FieldTypes lists every field type.
var FieldTypes = []FieldType{"string", "integer", "decimal", "boolean", "date", "datetime", "binary", "geometry"}

// Status is where an entry is in its life.
type Status string

const (
	StatusDraft     Status = "draft"     // never published
	StatusPublished Status = "published" // in the public catalog
	StatusWithdrawn Status = "withdrawn" // taken out of the public catalog
)

// Library is the base-library or theme-library grouping of an entry (R-CAT-7, XM17).
type Library struct {
	// Kind is "base" (基础库) or "theme" (主题库); empty for neither.
	Kind string `json:"kind,omitempty"`
	// Code is a library code from the taxonomy.
	Code string `json:"code,omitempty"`
}

// Sharing is a sharing or open attribute with what goes with it.
type Sharing struct {
	Attr Attr `json:"attr"`
	// Conditions state what a conditional consumer must meet.
	Conditions string `json:"conditions,omitempty"`
	// Basis is the law, regulation or policy for "none"; Reason says why (R-CAT-5).
	Basis  string `json:"basis,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Delivery is how the data is delivered.
type Delivery struct {
	Mode DeliveryMode `json:"mode"`
	// Endpoint is the service interface's address for Mode service.
	Endpoint string `json:"endpoint,omitempty"`
}

// Contact is who answers questions about an entry.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Field is a data item (数据项) of an entry.
type Field struct {
	// Name is the machine name: lower-case letters, digits and _.
	Name string `json:"name"`
	// Label is the Chinese label people read.
	Label       string    `json:"label"`
	Type        FieldType `json:"type"`
	Description string    `json:"description,omitempty"`
	Required    bool      `json:"required,omitempty"`
	// CodeList names the code list values come from (e.g. "GB/T 2261.1-2003").
	CodeList string `json:"code_list,omitempty"`
	// Category is the classification category (e.g. "个人信息/身份信息").
	Category string `json:"category,omitempty"`
	Level    Level  `json:"level"`
	// Personal marks personal information; Sensitive sensitive personal
	// information (PIPL art. 28). Sensitive implies Personal.
	Personal  bool `json:"personal,omitempty"`
	Sensitive bool `json:"sensitive,omitempty"`
}

// Entry is the editable content of a catalog entry: what a draft holds and
// what each published version records.
type Entry struct {
	// Code is the catalog code: the org's code, "-" and a five-digit sequence.
	// Empty on a new draft asks the platform to assign the next one.
	Code        string    `json:"code,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	OrgID       string    `json:"org_id"`
	DataClass   DataClass `json:"data_class"`
	Themes      []string  `json:"themes"`
	Industry    string    `json:"industry,omitempty"`
	Library     Library   `json:"library"`
	Frequency   Frequency `json:"frequency"`
	Formats     []string  `json:"formats"`
	LegalBasis  string    `json:"legal_basis,omitempty"`
	Level       Level     `json:"level"`
	Share       Sharing   `json:"share"`
	Open        Sharing   `json:"open"`
	Delivery    Delivery  `json:"delivery"`
	Contact     Contact   `json:"contact"`
	Tags        []string  `json:"tags"`
	Fields      []Field   `json:"fields"`
}

// Remote marks an entry harvested from another catalog: read-only here.
type Remote struct {
	Source string `json:"source"`
	URL    string `json:"url,omitempty"`
	// HarvestedAt is when it was last read.
	HarvestedAt time.Time `json:"harvested_at"`
}

// Resource is a catalog entry (公共数据资源目录条目) as people see it: the
// published content (or, for an entry never published, its draft) and its state.
type Resource struct {
	ID string `json:"id"`
	Entry
	OrgName string `json:"org_name"`
	Status  Status `json:"status"`
	// Version is "major.minor" of the latest published version, "" if none.
	Version string `json:"version,omitempty"`
	// HasDraft says a draft with unpublished changes exists.
	HasDraft bool `json:"has_draft"`
	// ReviewCaseID is the authority review case a draft waits on, if any.
	ReviewCaseID  string     `json:"review_case_id,omitempty"`
	PublishedAt   *time.Time `json:"published_at,omitempty"`
	DataUpdatedAt *time.Time `json:"data_updated_at,omitempty"`
	// Timeliness is "ok", "late" or "unknown" (R-AGG-4's timeliness, by frequency).
	Timeliness string    `json:"timeliness"`
	Remote     *Remote   `json:"remote,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Draft is an entry's draft with what the platform found in it.
type Draft struct {
	ResourceID string `json:"resource_id"`
	Entry
	Rev       int       `json:"rev"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
	// Duplicates are published entries of other orgs that already provide
	// this draft's data items (R-CAT-8).
	Duplicates []Duplicate `json:"duplicates"`
	// Breaking lists changes against the published version that break its
	// consumers (a removed or retyped field); publishing them needs
	// acknowledgement and makes a new major version.
	Breaking []Change `json:"breaking"`
}

// Change is one difference between two versions of an entry.
type Change struct {
	// Path is the attribute ("share.attr", "fields.id_card.type", "fields.x").
	Path string `json:"path"`
	// Op is "add", "remove" or "change".
	Op   string `json:"op"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
	// Breaking marks a change that breaks consumers of the earlier version.
	Breaking bool `json:"breaking,omitempty"`
}

// Version is one published version of an entry, kept forever (R-CAT-3).
type Version struct {
	ResourceID string `json:"resource_id"`
	Version    string `json:"version"`
	Major      int    `json:"major"`
	Minor      int    `json:"minor"`
	// Action is "publish" or "withdraw".
	Action   string    `json:"action"`
	Entry    *Entry    `json:"entry,omitempty"`
	Diff     []Change  `json:"diff"`
	Breaking bool      `json:"breaking"`
	Reason   string    `json:"reason"`
	By       string    `json:"by"`
	ByKind   string    `json:"by_kind"`
	Approver string    `json:"approver,omitempty"`
	CaseID   string    `json:"case_id,omitempty"`
	At       time.Time `json:"at"`
}

// Duplicate is a published entry that already provides a drafted field.
type Duplicate struct {
	// Field is the drafted field's name.
	Field string `json:"field"`
	// MatchedBy is "name", "label", "code_list" or "similar".
	MatchedBy    string `json:"matched_by"`
	ResourceID   string `json:"resource_id"`
	ResourceCode string `json:"resource_code"`
	ResourceName string `json:"resource_name"`
	OrgID        string `json:"org_id"`
	OrgName      string `json:"org_name"`
	TheirField   string `json:"their_field"`
	TheirLabel   string `json:"their_label"`
	Share        Attr   `json:"share"`
	// How says how to obtain the data instead of collecting it again.
	How string `json:"how"`
}
