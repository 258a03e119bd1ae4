package catalog

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"shuqiao/internal/apperr"
)

// Rule is an attribute rule an entry must satisfy before it is saved. Rules
// are configurable: the authority may turn one off (Config.Rules), and the
// refusal always names the rule and the requirement behind it.
type Rule struct {
	ID  string `json:"id"`
	Req string `json:"req"`
	ZH  string `json:"zh"`
	EN  string `json:"en"`
	// check returns a violation message (zh, en) and the attribute path, or ok.
	check func(e *Entry) (path, zh, en string, bad bool)
}

// Rules are the built-in attribute rules.
var Rules = []Rule{
	{ID: "level_covers_fields", Req: "R-SEC-1",
		ZH: "资源安全等级不得低于其数据项的最高等级", EN: "an entry's level is at least its highest field's level",
		check: func(e *Entry) (string, string, string, bool) {
			for i, f := range e.Fields {
				if f.Level.Rank() > e.Level.Rank() {
					return fmt.Sprintf("fields[%d].level", i),
						fmt.Sprintf("数据项 %s 的等级为 %s，高于资源等级 %s", f.Name, f.Level, e.Level),
						fmt.Sprintf("field %s is %s, above the entry's level %s", f.Name, f.Level, e.Level), true
				}
			}
			return "", "", "", false
		}},
	{ID: "none_share_needs_basis", Req: "R-CAT-5",
		ZH: "不予共享须说明法律法规或国家政策依据和理由", EN: "\"not shared\" needs a legal basis and a reason",
		check: func(e *Entry) (string, string, string, bool) {
			if e.Share.Attr == None && strings.TrimSpace(e.Share.Basis) == "" {
				return "share.basis", "不予共享的依据为空", "the basis for not sharing is empty", true
			}
			if e.Share.Attr == None && strings.TrimSpace(e.Share.Reason) == "" {
				return "share.reason", "不予共享的理由为空", "the reason for not sharing is empty", true
			}
			return "", "", "", false
		}},
	{ID: "none_open_needs_basis", Req: "R-CAT-5",
		ZH: "不予开放须说明依据和理由", EN: "\"not open\" needs a legal basis and a reason",
		check: func(e *Entry) (string, string, string, bool) {
			if e.Open.Attr == None && strings.TrimSpace(e.Open.Basis) == "" {
				return "open.basis", "不予开放的依据为空", "the basis for not opening is empty", true
			}
			if e.Open.Attr == None && strings.TrimSpace(e.Open.Reason) == "" {
				return "open.reason", "不予开放的理由为空", "the reason for not opening is empty", true
			}
			return "", "", "", false
		}},
	{ID: "sensitive_not_open_unconditional", Req: "R-SEC-1",
		ZH: "含敏感个人信息的资源不得无条件开放", EN: "an entry with sensitive personal information may not be open unconditionally",
		check: func(e *Entry) (string, string, string, bool) {
			if e.Open.Attr != Unconditional {
				return "", "", "", false
			}
			for _, f := range e.Fields {
				if f.Sensitive {
					return "open.attr", fmt.Sprintf("数据项 %s 为敏感个人信息", f.Name),
						fmt.Sprintf("field %s is sensitive personal information", f.Name), true
				}
			}
			return "", "", "", false
		}},
	{ID: "core_not_shared_unconditional", Req: "R-SEC-1",
		ZH: "核心数据不得无条件共享", EN: "core data may not be shared unconditionally",
		check: func(e *Entry) (string, string, string, bool) {
			if e.Share.Attr != Unconditional {
				return "", "", "", false
			}
			if e.Level == LevelCore {
				return "share.attr", "资源等级为核心数据", "the entry's level is core", true
			}
			for _, f := range e.Fields {
				if f.Level == LevelCore {
					return "share.attr", fmt.Sprintf("数据项 %s 为核心数据", f.Name), fmt.Sprintf("field %s is core data", f.Name), true
				}
			}
			return "", "", "", false
		}},
	{ID: "conditional_needs_conditions", Req: "R-SHR-3",
		ZH: "有条件共享或开放须写明条件", EN: "conditional sharing or opening must state its conditions",
		check: func(e *Entry) (string, string, string, bool) {
			if e.Share.Attr == Conditional && strings.TrimSpace(e.Share.Conditions) == "" {
				return "share.conditions", "有条件共享的条件为空", "the sharing conditions are empty", true
			}
			if e.Open.Attr == Conditional && strings.TrimSpace(e.Open.Conditions) == "" {
				return "open.conditions", "有条件开放的条件为空", "the open conditions are empty", true
			}
			return "", "", "", false
		}},
}

// ruleError is the refusal of an entry by rule r.
func ruleError(r Rule, path, zh, en string) *apperr.Error {
	return &apperr.Error{Kind: apperr.Invalid, Code: "catalog.rule." + r.ID, Field: path,
		ZH: fmt.Sprintf("违反目录规则 %s（%s，%s）：%s", r.ID, r.ZH, r.Req, zh),
		EN: fmt.Sprintf("violates catalog rule %s (%s, %s): %s", r.ID, r.EN, r.Req, en)}
}

// checkRules applies every enabled rule; the first violation is returned.
func checkRules(e *Entry, enabled map[string]bool) error {
	for _, r := range Rules {
		if on, set := enabled[r.ID]; set && !on {
			continue
		}
		if path, zh, en, bad := r.check(e); bad {
			return ruleError(r, path, zh, en)
		}
	}
	return nil
}

var (
	fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	codeRE      = regexp.MustCompile(`^[0-9A-Z]{6,18}-[0-9]{5}$`)
)

func invalid(path, zh, en string, args ...any) *apperr.Error {
	return apperr.Invalidf("catalog.invalid", path, zh, en, args...)
}

func oneOf[T ~string](v T, all []T) bool { return slices.Contains(all, v) }

func names[T ~string](all []T) string {
	s := make([]string, len(all))
	for i, v := range all {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func termCodes(ts []Term) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Code
	}
	return strings.Join(s, ", ")
}

func textOK(path, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return invalid(path, "%s 不能为空", "%s is required", path)
	}
	if !utf8.ValidString(s) {
		return invalid(path, "%s 不是有效的 UTF-8 文本", "%s is not valid UTF-8", path)
	}
	if utf8.RuneCountInString(s) > max {
		return invalid(path, "%s 超过 %d 个字符", "%s is longer than %d characters", path, max)
	}
	return nil
}

// normalize trims text, lower-cases codes and sorts out implied flags.
func normalize(e *Entry) {
	e.Code = strings.ToUpper(strings.TrimSpace(e.Code))
	e.Name = strings.TrimSpace(e.Name)
	e.Description = strings.TrimSpace(e.Description)
	e.Industry = strings.TrimSpace(e.Industry)
	e.LegalBasis = strings.TrimSpace(e.LegalBasis)
	e.Themes = cleanList(e.Themes, false)
	e.Formats = cleanList(e.Formats, true)
	e.Tags = cleanList(e.Tags, false)
	for _, s := range []*Sharing{&e.Share, &e.Open} {
		s.Conditions = strings.TrimSpace(s.Conditions)
		s.Basis = strings.TrimSpace(s.Basis)
		s.Reason = strings.TrimSpace(s.Reason)
	}
	if e.Delivery.Mode == "" {
		e.Delivery.Mode = Hosted
	}
	e.Delivery.Endpoint = strings.TrimSpace(e.Delivery.Endpoint)
	for i := range e.Fields {
		f := &e.Fields[i]
		f.Name = strings.TrimSpace(f.Name)
		f.Label = strings.TrimSpace(f.Label)
		f.Description = strings.TrimSpace(f.Description)
		f.CodeList = strings.TrimSpace(f.CodeList)
		f.Category = strings.TrimSpace(f.Category)
		if f.Level == "" {
			f.Level = LevelGeneral
		}
		if f.Sensitive {
			f.Personal = true
		}
	}
	if e.Themes == nil {
		e.Themes = []string{}
	}
	if e.Formats == nil {
		e.Formats = []string{}
	}
	if e.Tags == nil {
		e.Tags = []string{}
	}
	if e.Fields == nil {
		e.Fields = []Field{}
	}
}

func cleanList(in []string, lower bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if lower {
			s = strings.ToLower(s)
		}
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// validate checks an entry's shape against the taxonomy, then its rules.
// Errors name the attribute path ("fields[2].type").
func validate(e *Entry, cfg *Config) error {
	normalize(e)
	tx := &cfg.Taxonomy
	if e.Code != "" && !codeRE.MatchString(e.Code) {
		return invalid("code", "目录代码 %q 格式错误，应为机构代码-五位顺序号", "code %q is malformed; want <org code>-<five-digit sequence>", e.Code)
	}
	if err := textOK("name", e.Name, 200, true); err != nil {
		return err
	}
	if err := textOK("description", e.Description, 4000, false); err != nil {
		return err
	}
	if e.OrgID == "" {
		return invalid("org_id", "须指定提供机构", "org_id is required")
	}
	if !oneOf(e.DataClass, DataClasses) {
		return invalid("data_class", "数据类别 %q 无效，应为 %s 之一", "data_class %q is not one of %s", e.DataClass, names(DataClasses))
	}
	if len(e.Themes) == 0 {
		return invalid("themes", "至少选择一个主题分类", "at least one theme is required")
	}
	for i, t := range e.Themes {
		if !has(tx.Themes, t) {
			return invalid(fmt.Sprintf("themes[%d]", i), "主题分类 %q 不在分类表中", "theme %q is not in the taxonomy", t)
		}
	}
	if e.Industry != "" && !has(tx.Industries, e.Industry) {
		return invalid("industry", "行业分类 %q 不在分类表中", "industry %q is not in the taxonomy", e.Industry)
	}
	switch e.Library.Kind {
	case "":
		if e.Library.Code != "" {
			return invalid("library.kind", "指定库代码时须说明是基础库(base)还是主题库(theme)", "library.kind must be base or theme when a code is given")
		}
	case "base":
		if !has(tx.BaseLibraries, e.Library.Code) {
			return invalid("library.code", "基础库 %q 不存在，应为 %s 之一", "base library %q is not one of %s", e.Library.Code, termCodes(tx.BaseLibraries))
		}
	case "theme":
		if !has(tx.ThemeLibraries, e.Library.Code) {
			return invalid("library.code", "主题库 %q 不存在，应为 %s 之一", "theme library %q is not one of %s", e.Library.Code, termCodes(tx.ThemeLibraries))
		}
	default:
		return invalid("library.kind", "库类型 %q 无效，应为 base 或 theme", "library.kind %q: want base or theme", e.Library.Kind)
	}
	if !oneOf(e.Frequency, Frequencies) {
		return invalid("frequency", "更新频率 %q 无效，应为 %s 之一", "frequency %q is not one of %s", e.Frequency, names(Frequencies))
	}
	if len(e.Formats) == 0 {
		return invalid("formats", "至少填写一种数据格式", "at least one format is required")
	}
	for i, f := range e.Formats {
		if !has(tx.Formats, f) {
			return invalid(fmt.Sprintf("formats[%d]", i), "数据格式 %q 不受支持，应为 %s 之一", "format %q is not one of %s", f, termCodes(tx.Formats))
		}
	}
	if err := textOK("legal_basis", e.LegalBasis, 1000, false); err != nil {
		return err
	}
	if !oneOf(e.Level, Levels) {
		return invalid("level", "安全等级 %q 无效，应为 %s 之一", "level %q is not one of %s", e.Level, names(Levels))
	}
	for _, s := range []struct {
		p string
		v *Sharing
	}{{"share", &e.Share}, {"open", &e.Open}} {
		if !oneOf(s.v.Attr, Attrs) {
			return invalid(s.p+".attr", "%s 属性 %q 无效，应为 %s 之一", "%s attribute %q is not one of %s", s.p, s.v.Attr, names(Attrs))
		}
		for _, t := range []struct{ p, v string }{{".conditions", s.v.Conditions}, {".basis", s.v.Basis}, {".reason", s.v.Reason}} {
			if err := textOK(s.p+t.p, t.v, 1000, false); err != nil {
				return err
			}
		}
	}
	switch e.Delivery.Mode {
	case Hosted:
		if e.Delivery.Endpoint != "" {
			return invalid("delivery.endpoint", "汇聚托管的资源不填写服务接口地址", "a hosted entry has no service endpoint")
		}
	case ServiceAPI:
		u, err := url.Parse(e.Delivery.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("delivery.endpoint", "服务接口须填写有效的 http(s) 地址", "a service interface needs a valid http(s) endpoint")
		}
	default:
		return invalid("delivery.mode", "交付方式 %q 无效，应为 hosted 或 service", "delivery.mode %q: want hosted or service", e.Delivery.Mode)
	}
	if err := textOK("contact.name", e.Contact.Name, 100, false); err != nil {
		return err
	}
	if err := textOK("contact.phone", e.Contact.Phone, 40, false); err != nil {
		return err
	}
	if e.Contact.Email != "" {
		if _, err := mail.ParseAddress(e.Contact.Email); err != nil {
			return invalid("contact.email", "联系邮箱 %q 无效", "contact.email %q is not an address", e.Contact.Email)
		}
	}
	if len(e.Tags) > 30 {
		return invalid("tags", "标签不超过 30 个", "at most 30 tags")
	}
	for i, t := range e.Tags {
		if err := textOK(fmt.Sprintf("tags[%d]", i), t, 40, false); err != nil {
			return err
		}
	}
	if len(e.Fields) == 0 {
		return invalid("fields", "至少登记一个数据项", "at least one field (data item) is required")
	}
	if len(e.Fields) > 500 {
		return invalid("fields", "数据项不超过 500 个", "at most 500 fields")
	}
	seen := map[string]int{}
	for i, f := range e.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if !fieldNameRE.MatchString(f.Name) {
			return invalid(p+".name", "数据项名 %q 须以小写字母开头，只含小写字母、数字和下划线", "field name %q must start with a lower-case letter and hold only a-z, 0-9 and _", f.Name)
		}
		if j, dup := seen[f.Name]; dup {
			return invalid(p+".name", "数据项名 %q 与第 %d 个数据项重复", "field name %q repeats field %d", f.Name, j+1)
		}
		seen[f.Name] = i
		if err := textOK(p+".label", f.Label, 100, true); err != nil {
			return err
		}
		if !oneOf(f.Type, FieldTypes) {
			return invalid(p+".type", "数据项类型 %q 无效，应为 %s 之一", "field type %q is not one of %s", f.Type, names(FieldTypes))
		}
		if !oneOf(f.Level, Levels) {
			return invalid(p+".level", "数据项等级 %q 无效，应为 %s 之一", "field level %q is not one of %s", f.Level, names(Levels))
		}
		for _, t := range []struct{ p, v string }{{".description", f.Description}, {".code_list", f.CodeList}, {".category", f.Category}} {
			if err := textOK(p+t.p, t.v, 500, false); err != nil {
				return err
			}
		}
	}
	return checkRules(e, cfg.Rules)
}
