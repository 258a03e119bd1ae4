package mask

import (
	"slices"
)

// Level is a data security level under GB/T 43697-2024 (数据安全技术 数据分类
// 分级规则): general (一般数据), important (重要数据), core (核心数据).
type Level string

const (
	General   Level = "general"
	Important Level = "important"
	Core      Level = "core"
)

// Field is what a rule is matched against: a field's classification. The
// gate fills it from the catalog's field metadata (or classify's suggestion).
type Field struct {
	Name      string `json:"name"`
	Level     Level  `json:"level"`
	Category  string `json:"category,omitempty"`
	Personal  bool   `json:"personal"`
	Sensitive bool   `json:"sensitive"`
	// Entity is the detected identifier kind, e.g. "CN_RESIDENT_ID".
	Entity string `json:"entity,omitempty"`
}

// Match says which fields a rule applies to. Empty lists and nil flags
// match anything.
type Match struct {
	Fields     []string `json:"fields,omitempty"`
	Levels     []Level  `json:"levels,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Entities   []string `json:"entities,omitempty"`
	Personal   *bool    `json:"personal,omitempty"`
	Sensitive  *bool    `json:"sensitive,omitempty"`
}

func (m Match) matches(f Field) bool {
	if len(m.Fields) > 0 && !slices.Contains(m.Fields, f.Name) {
		return false
	}
	if len(m.Levels) > 0 && !slices.Contains(m.Levels, f.Level) {
		return false
	}
	if len(m.Categories) > 0 && !slices.Contains(m.Categories, f.Category) {
		return false
	}
	if len(m.Entities) > 0 && !slices.Contains(m.Entities, f.Entity) {
		return false
	}
	if m.Personal != nil && *m.Personal != f.Personal {
		return false
	}
	if m.Sensitive != nil && *m.Sensitive != f.Sensitive {
		return false
	}
	return true
}

// Rule applies Spec to the fields Match selects.
type Rule struct {
	Name  string `json:"name"`
	Match Match  `json:"match"`
	Spec  Spec   `json:"spec"`
}

// Policy is an ordered list of rules; the first matching rule wins, and a
// field no rule matches is kept as it is.
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Select returns the rule for f (nil if none matches).
func (p *Policy) Select(f Field) *Rule {
	for i := range p.Rules {
		if p.Rules[i].Match.matches(f) {
			return &p.Rules[i]
		}
	}
	return nil
}

// Compiled is a Policy with its transforms built, ready for many rows.
type Compiled struct {
	policy *Policy
	tf     []Transform
}

// Compile builds every rule's transform once.
func (p *Policy) Compile(keys *KeyRing) (*Compiled, error) {
	c := &Compiled{policy: p}
	for _, r := range p.Rules {
		t, err := Compile(r.Spec, keys)
		if err != nil {
			return nil, errSpec.At("rule " + r.Name).Wrap(err)
		}
		c.tf = append(c.tf, t)
	}
	return c, nil
}

// For returns the transform and rule name for f; fields no rule matches get
// the identity transform and rule "".
func (c *Compiled) For(f Field) (Transform, string) {
	for i := range c.policy.Rules {
		if c.policy.Rules[i].Match.matches(f) {
			return c.tf[i], c.policy.Rules[i].Name
		}
	}
	return keep{}, ""
}

// Plan returns one transform per field, in order.
func (c *Compiled) Plan(fields []Field) []Transform {
	out := make([]Transform, len(fields))
	for i, f := range fields {
		out[i], _ = c.For(f)
	}
	return out
}

// ApplyRow masks row in place with plan.
func ApplyRow(plan []Transform, row []string) {
	for i, t := range plan {
		if i < len(row) {
			row[i] = t.Apply(row[i])
		}
	}
}

func ptr(b bool) *bool { return &b }

// DefaultPolicy is the platform's default, by classification level and
// personal-data flags (R-SEC-1, R-SEC-3, R-PRS-6):
//
//   - core data never leaves: suppressed;
//   - important data is pseudonymised with the platform key;
//   - identifiers get partial masks (ID 110105********002X, mobile
//     138****8000, bank card last four, names keep the surname);
//   - birth dates go to the month, addresses to the district;
//   - other sensitive personal fields are pseudonymised; other personal
//     fields and general data pass.
//
// keyName names the pseudonymisation key in the KeyRing.
func DefaultPolicy(keyName string) *Policy {
	return &Policy{Rules: []Rule{
		{Name: "core-suppress", Match: Match{Levels: []Level{Core}}, Spec: Spec{Op: OpSuppress}},
		{Name: "important-pseudonym", Match: Match{Levels: []Level{Important}}, Spec: Spec{Op: OpPseudonym, Key: keyName}},
		{Name: "id-partial", Match: Match{Entities: []string{"CN_RESIDENT_ID"}}, Spec: Spec{Op: OpPartial, KeepPrefix: 6, KeepSuffix: 4}},
		{Name: "mobile-partial", Match: Match{Entities: []string{"CN_MOBILE"}}, Spec: Spec{Op: OpPartial, KeepPrefix: 3, KeepSuffix: 4}},
		{Name: "card-partial", Match: Match{Entities: []string{"BANK_CARD"}}, Spec: Spec{Op: OpPartial, KeepSuffix: 4}},
		{Name: "permit-partial", Match: Match{Entities: []string{"CN_PASSPORT", "CN_HK_MACAO_PERMIT", "CN_TAIWAN_PERMIT", "CN_VEHICLE_PLATE"}}, Spec: Spec{Op: OpPartial, KeepPrefix: 2, KeepSuffix: 2}},
		{Name: "email-partial", Match: Match{Entities: []string{"EMAIL"}}, Spec: Spec{Op: OpPartial, KeepPrefix: 1, KeepSuffix: 0}},
		{Name: "name-partial", Match: Match{Entities: []string{"CN_PERSON_NAME"}}, Spec: Spec{Op: OpPartial, KeepPrefix: 1}},
		{Name: "address-district", Match: Match{Entities: []string{"CN_ADDRESS"}}, Spec: Spec{Op: OpGeneralize, To: GenDistrict}},
		{Name: "birth-month", Match: Match{Categories: []string{"personal.birth_date"}}, Spec: Spec{Op: OpGeneralize, To: GenMonth}},
		{Name: "age-range", Match: Match{Categories: []string{"personal.age"}}, Spec: Spec{Op: OpGeneralize, To: GenAgeRange, Width: 10}},
		{Name: "sensitive-pseudonym", Match: Match{Sensitive: ptr(true)}, Spec: Spec{Op: OpPseudonym, Key: keyName}},
	}}
}
