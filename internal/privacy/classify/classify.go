// Package classify suggests, for each column of a table, a data category, a
// security level under GB/T 43697-2024 (general / important / core) and
// whether it holds personal or sensitive personal information (PIPL art.
// 28; GB/T 35273-2020 annex B), with a confidence and masked example
// evidence (R-SEC-1, R-PRS-6). Suggestions are for a data steward to
// confirm in the catalog, not decisions.
package classify

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/privacy/detect"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/privacy/table"
)

// Category is a data category with its Chinese label.
type Category struct {
	Code      string `json:"code"`
	ZH        string `json:"zh"`
	Personal  bool   `json:"personal"`
	Sensitive bool   `json:"sensitive"`
}

// Categories known to the classifier. Personal ones follow GB/T 35273-2020
// annex A/B; sensitive ones are PIPL art. 28's 敏感个人信息.
var (
	CatIdentity    = Category{"personal.identity", "个人身份信息", true, true}
	CatBasic       = Category{"personal.basic", "个人基本资料", true, false}
	CatContact     = Category{"personal.contact", "个人通信信息", true, false}
	CatBirthDate   = Category{"personal.birth_date", "出生日期", true, false}
	CatAge         = Category{"personal.age", "年龄", true, false}
	CatEduWork     = Category{"personal.education_work", "个人教育工作信息", true, false}
	CatProperty    = Category{"personal.property", "个人财产信息", true, true}
	CatHealth      = Category{"personal.health", "个人健康生理信息", true, true}
	CatBiometric   = Category{"personal.biometric", "个人生物识别信息", true, true}
	CatLocation    = Category{"personal.location", "个人位置信息与行踪轨迹", true, true}
	CatBelief      = Category{"personal.belief", "宗教信仰等特定身份", true, true}
	CatCredential  = Category{"personal.credential", "鉴别信息", true, true}
	CatNetwork     = Category{"personal.network", "网络身份标识与设备信息", true, false}
	CatVehicle     = Category{"personal.vehicle", "车辆信息", true, false}
	CatCriminal    = Category{"personal.criminal", "违法犯罪记录", true, true}
	CatOrgIdentity = Category{"organisation.identity", "组织身份信息", false, false}
	CatGeneral     = Category{"general", "一般业务数据", false, false}
)

// Categories lists every category the classifier suggests.
var Categories = []Category{
	CatIdentity, CatBasic, CatContact, CatBirthDate, CatAge, CatEduWork, CatProperty, CatHealth, CatBiometric,
	CatLocation, CatBelief, CatCredential, CatNetwork, CatVehicle, CatCriminal, CatOrgIdentity, CatGeneral,
}

// CheckCategories reports the first code that is not a category the
// classifier suggests, or that cannot be designated core ("general" means
// no evidence was found) — for validating an authority's configuration.
func CheckCategories(codes []string) error {
	for _, c := range codes {
		known := false
		for _, k := range Categories {
			known = known || k.Code == c
		}
		if !known || c == CatGeneral.Code {
			return apperr.Invalidf("privacy.unknown_category", "core_categories", "未知的或不能指定为核心数据的数据类别 %q",
				"%q is not a data category that can be designated core", c)
		}
	}
	return nil
}

// byEntity maps a detected identifier to its category.
var byEntity = map[detect.Entity]Category{
	detect.ResidentID: CatIdentity, detect.Passport: CatIdentity, detect.HKMacaoPermit: CatIdentity, detect.TaiwanPermit: CatIdentity,
	detect.BankCard: CatProperty, detect.Mobile: CatContact, detect.Email: CatContact, detect.IPAddress: CatNetwork,
	detect.VehiclePlate: CatVehicle, detect.PersonName: CatBasic, detect.Address: CatBasic, detect.CreditCode: CatOrgIdentity,
}

// headerHints: lower-case substrings of a column name and what they suggest.
var headerHints = []struct {
	words  []string
	cat    Category
	entity detect.Entity
}{
	{[]string{"身份证", "证件号", "公民身份", "id_card", "idcard", "id_no", "sfz"}, CatIdentity, detect.ResidentID},
	{[]string{"护照", "passport", "通行证", "permit"}, CatIdentity, detect.Passport},
	{[]string{"信用代码", "uscc", "credit_code"}, CatOrgIdentity, detect.CreditCode},
	{[]string{"姓名", "名字", "联系人", "户主", "name"}, CatBasic, detect.PersonName},
	{[]string{"手机", "电话", "phone", "mobile", "tel"}, CatContact, detect.Mobile},
	{[]string{"邮箱", "email", "e-mail"}, CatContact, detect.Email},
	{[]string{"地址", "住址", "住所", "address"}, CatBasic, detect.Address},
	{[]string{"出生", "生日", "birth", "dob"}, CatBirthDate, ""},
	{[]string{"年龄", "age"}, CatAge, ""},
	{[]string{"银行", "卡号", "账号", "account", "card", "收入", "工资", "薪", "存款", "salary", "income"}, CatProperty, detect.BankCard},
	{[]string{"病", "诊断", "健康", "医疗", "health", "diagnos", "medical", "disease"}, CatHealth, ""},
	{[]string{"指纹", "人脸", "面部", "虹膜", "声纹", "fingerprint", "face", "biometric"}, CatBiometric, ""},
	{[]string{"位置", "经纬度", "轨迹", "经度", "纬度", "gps", "location", "latitude", "longitude"}, CatLocation, ""},
	{[]string{"宗教", "信仰", "religion"}, CatBelief, ""},
	{[]string{"密码", "口令", "password", "passwd"}, CatCredential, ""},
	{[]string{"犯罪", "违法", "刑事", "criminal", "conviction"}, CatCriminal, ""},
	{[]string{"ip地址", "ip_addr", "ipaddr", "mac", "设备号", "imei"}, CatNetwork, detect.IPAddress},
	{[]string{"车牌", "号牌", "plate"}, CatVehicle, detect.VehiclePlate},
	{[]string{"性别", "sex", "gender", "民族", "ethnic", "race", "婚姻", "marital", "国籍", "籍贯", "native", "country"}, CatBasic, ""},
	{[]string{"学历", "教育", "education", "职业", "occupation", "工作", "work", "workclass", "单位", "employer"}, CatEduWork, ""},
}

// Level names, as in mask.
const (
	General   = mask.General
	Important = mask.Important
	Core      = mask.Core
)

// ImportantScale is the number of records of sensitive personal information
// from which a column is suggested as important data. GB/T 43697-2024
// annex G (normative, 重要数据识别指南) counts personal information reaching
// a certain scale among the factors for important data but sets no number
// for every sector; 1,000,000 is this platform's default, not a figure from
// the standard, and the authority sets its own with Options.ImportantScale
// (decision 0044).
var ImportantScale = 1_000_000

// Column is the suggestion for one column.
type Column struct {
	Name       string     `json:"name"`
	Index      int        `json:"index"`
	Category   string     `json:"category"`
	CategoryZH string     `json:"category_zh"`
	Level      mask.Level `json:"level"`
	Personal   bool       `json:"personal"`
	Sensitive  bool       `json:"sensitive"`
	// Entity is the identifier most cells hold, if any.
	Entity     string  `json:"entity,omitempty"`
	Confidence float64 `json:"confidence"`
	// Sampled non-empty cells and how many held Entity.
	Sampled int `json:"sampled"`
	Matched int `json:"matched"`
	// Evidence are masked example values.
	Evidence []string `json:"evidence,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
}

// Field returns the column as a mask.Field for rule selection.
func (c Column) Field() mask.Field {
	return mask.Field{Name: c.Name, Level: c.Level, Category: c.Category, Personal: c.Personal, Sensitive: c.Sensitive, Entity: c.Entity}
}

// Report is the classification of a table.
type Report struct {
	File      string   `json:"file"`
	Encoding  string   `json:"encoding"`
	Rows      int      `json:"rows"`
	Columns   []Column `json:"columns"`
	Personal  bool     `json:"personal"`
	Sensitive bool     `json:"sensitive"`
}

// Options tune Classify.
type Options struct {
	// Sample is how many rows to inspect (default 2000).
	Sample   int
	Analyzer *detect.Analyzer
	// Progress, if set, is called with rows done and rows to do.
	Progress func(done, total int)
	// CoreCategories are the category codes (see Categories) that the
	// authority's configuration designates core data (核心数据). A column
	// suggested in one of them is suggested core; with the default, empty,
	// core is never suggested, since only the authority designates core
	// data (decision 0043). Validate the list with
	// CheckCategories; "general" never matches.
	CoreCategories []string
	// ImportantScale, when > 0, replaces the package default ImportantScale
	// (records of sensitive personal information from which a column is
	// suggested important).
	ImportantScale int
}

// Classify suggests a classification for every column of t.
func Classify(t *table.Table, opt Options) *Report {
	if opt.Sample <= 0 {
		opt.Sample = 2000
	}
	a := opt.Analyzer
	if a == nil {
		a = detect.NewAnalyzer()
	}
	rows := t.Rows
	if len(rows) > opt.Sample {
		// Spread the sample over the file, not just its head.
		step := float64(len(rows)) / float64(opt.Sample)
		s := make([][]string, opt.Sample)
		for i := range s {
			s[i] = rows[int(float64(i)*step)]
		}
		rows = s
	}
	rep := &Report{File: t.Name, Encoding: t.Encoding, Rows: len(t.Rows)}
	scale := ImportantScale
	if opt.ImportantScale > 0 {
		scale = opt.ImportantScale
	}
	type stat struct {
		nonEmpty int
		hits     map[detect.Entity]int
		score    map[detect.Entity]float64
		examples map[detect.Entity][]string
		numeric  int
		ages     int
		dates    int
		samples  []string
	}
	stats := make([]stat, len(t.Header))
	for i := range stats {
		stats[i] = stat{hits: map[detect.Entity]int{}, score: map[detect.Entity]float64{}, examples: map[detect.Entity][]string{}}
	}
	for ri, r := range rows {
		for c := range t.Header {
			v := strings.TrimSpace(r[c])
			if v == "" {
				continue
			}
			st := &stats[c]
			st.nonEmpty++
			if len(st.samples) < 3 {
				st.samples = append(st.samples, v)
			}
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				st.numeric++
				if f >= 0 && f <= 120 && f == float64(int(f)) {
					st.ages++
				}
			}
			if (mask.DateTo{Unit: mask.GenMonth}).Apply(v) != "*" {
				st.dates++
			}
			for _, f := range a.Analyze(v) {
				// The finding must be (nearly) the whole cell.
				if (f.End-f.Start)*10 >= len(v)*8 {
					st.hits[f.Entity]++
					st.score[f.Entity] += f.Score
					if len(st.examples[f.Entity]) < 3 {
						st.examples[f.Entity] = append(st.examples[f.Entity], v)
					}
					break
				}
			}
		}
		if opt.Progress != nil && (ri%500 == 0 || ri == len(rows)-1) {
			opt.Progress(ri+1, len(rows))
		}
	}
	for c, name := range t.Header {
		st := stats[c]
		col := Column{Name: name, Index: c, Sampled: st.nonEmpty}
		cat := CatGeneral
		conf := 0.5
		// Value evidence: the entity most cells hold.
		var best detect.Entity
		for e, n := range st.hits {
			if best == "" || n > st.hits[best] || n == st.hits[best] && e < best {
				best = e
			}
		}
		share := 0.0
		if best != "" && st.nonEmpty > 0 {
			share = float64(st.hits[best]) / float64(st.nonEmpty)
		}
		lname := strings.ToLower(name)
		var hintCat *Category
		var hintEntity detect.Entity
		var hintWord string
	hints:
		for _, h := range headerHints {
			for _, w := range h.words {
				if headerHas(lname, w) {
					hc := h.cat
					hintCat, hintEntity, hintWord = &hc, h.entity, w
					break hints
				}
			}
		}
		valueWins := share >= 0.5
		if valueWins && hintCat != nil && hintEntity != best && hintCat.Code != byEntity[best].Code &&
			st.score[best]/float64(st.hits[best]) < 0.7 {
			// A weak heuristic match (a name-like word) loses to the
			// column name: 高血压 in a 病情 column is not a person.
			valueWins = false
		}
		switch {
		case valueWins:
			cat = byEntity[best]
			col.Entity = string(best)
			col.Matched = st.hits[best]
			avg := st.score[best] / float64(st.hits[best])
			conf = share * avg
			col.Reasons = append(col.Reasons, fmt.Sprintf("%d/%d values look like %s (avg score %.2f)", st.hits[best], st.nonEmpty, best, avg))
			if hintCat != nil && (hintEntity == best || hintCat.Code == cat.Code) {
				conf = min(1, conf+0.2)
				col.Reasons = append(col.Reasons, fmt.Sprintf("column name contains %q", hintWord))
			}
			col.Evidence = maskAll(string(best), st.examples[best])
		case hintCat != nil:
			cat = *hintCat
			conf = 0.6
			if hintEntity != "" && share > 0 && best == hintEntity {
				conf = 0.6 + 0.3*share
			}
			switch cat.Code {
			case CatAge.Code:
				if st.nonEmpty > 0 && st.ages == st.nonEmpty {
					conf = 0.85
				} else {
					cat, conf = CatGeneral, 0.4
				}
			case CatBirthDate.Code:
				if st.nonEmpty > 0 && st.dates*10 >= st.nonEmpty*8 {
					conf = 0.85
				}
			}
			if cat.Code != CatGeneral.Code {
				col.Reasons = append(col.Reasons, fmt.Sprintf("column name contains %q", hintWord))
				col.Entity = string(hintEntity)
				if hintEntity != "" && best != hintEntity {
					col.Entity = ""
				}
			}
			col.Evidence = maskAll(col.Entity, st.samples)
		default:
			conf = 0.5
			if st.nonEmpty > 0 && best != "" {
				conf = 1 - share
				col.Reasons = append(col.Reasons, fmt.Sprintf("only %d/%d values look like %s", st.hits[best], st.nonEmpty, best))
			}
			col.Evidence = maskAll("", st.samples)
		}
		col.Category, col.CategoryZH = cat.Code, cat.ZH
		col.Personal, col.Sensitive = cat.Personal, cat.Sensitive
		col.Level = General
		switch {
		case cat.Code != CatGeneral.Code && slices.Contains(opt.CoreCategories, cat.Code):
			col.Level = Core
			col.Reasons = append(col.Reasons, fmt.Sprintf("category %s is designated core data by the authority's configuration", cat.Code))
		case col.Sensitive && len(t.Rows) >= scale:
			col.Level = Important
			col.Reasons = append(col.Reasons, fmt.Sprintf("sensitive personal information of %d records (>= %d, the configured scale): important data, GB/T 43697-2024 annex G", len(t.Rows), scale))
		}
		col.Confidence = float64(int(conf*100+0.5)) / 100
		rep.Personal = rep.Personal || col.Personal
		rep.Sensitive = rep.Sensitive || col.Sensitive
		rep.Columns = append(rep.Columns, col)
	}
	sort.SliceStable(rep.Columns, func(i, j int) bool { return rep.Columns[i].Index < rep.Columns[j].Index })
	return rep
}

// headerHas reports whether a column name contains a hint word. Short
// ASCII words ("age", "tel", "mac") must stand alone (split on _ - space),
// so "page" or "hotel" do not match.
func headerHas(name, w string) bool {
	if w[0] >= 0x80 || len(w) > 4 {
		return strings.Contains(name, w)
	}
	for _, tok := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == ' ' || r == '.' }) {
		if tok == w {
			return true
		}
	}
	return false
}

func maskAll(entity string, vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40])
		}
		out = append(out, mask.Evidence(entity, v))
	}
	return out
}
