package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"shuqiao/internal/app"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
)

// CatalogEntryCount is how many catalog entries the demo city gets.
const CatalogEntryCount = 1000

// subjects per theme: what the demo entries are about.
var subjects = map[string][]string{
	"economy":         {"固定资产投资", "地区生产总值", "重点项目", "招商引资项目", "产业园区"},
	"finance":         {"财政预算执行", "政府采购", "非税收入", "专项资金", "税收征管"},
	"environment":     {"空气质量监测", "水环境质量", "排污许可", "固体废物", "噪声监测"},
	"housing":         {"商品房预售许可", "保障性住房", "建设工程规划许可", "物业服务企业", "城市更新项目"},
	"transport":       {"公交线路", "公交站点", "道路运输许可", "停车场", "出租车运营"},
	"education":       {"中小学校", "学位供给", "教师资格", "科技项目", "高新技术企业"},
	"culture":         {"公共图书馆", "文物保护单位", "体育场馆", "文化活动", "非物质文化遗产"},
	"health":          {"医疗机构", "执业医师", "疫苗接种点", "门诊诊疗", "药品零售企业"},
	"social_security": {"社会保险参保", "养老保险待遇", "医疗保险结算", "失业保险", "工伤认定"},
	"employment":      {"招聘岗位", "职业技能培训", "就业登记", "人力资源服务机构", "创业补贴"},
	"agriculture":     {"农产品质量", "农业合作社", "耕地保护", "渔船登记", "动物防疫"},
	"work_safety":     {"安全生产许可", "危险化学品企业", "应急避难场所", "事故隐患", "特种设备"},
	"market":          {"市场主体登记", "食品经营许可", "行政处罚", "产品质量抽检", "商标注册"},
	"relief":          {"最低生活保障", "特困人员", "临时救助", "残疾人补贴", "孤儿基本生活费"},
	"legal":           {"律师事务所", "公证机构", "法律援助", "人民调解组织", "司法鉴定机构"},
	"living":          {"供水用户", "用电报装", "燃气用户", "垃圾分类投放点", "便民服务网点"},
	"weather":         {"气象观测", "天气预报", "台风路径", "降水量", "气象灾害预警"},
	"geo":             {"地名地址", "行政区划", "基础测绘成果", "不动产单元", "国土空间规划"},
	"organisations":   {"机关事业单位", "社会组织", "基层群众自治组织", "宗教活动场所", "群团组织"},
	"credit":          {"信用承诺", "失信被执行人", "行政许可公示", "信用评价", "守信激励名单"},
	"public_security": {"户籍人口", "流动人口", "机动车登记", "驾驶人", "出入境证件"},
	"commerce":        {"外贸企业", "商业网点", "单用途预付卡", "进出口统计", "会展活动"},
	"tourism":         {"旅游景区", "旅行社", "星级饭店", "游客接待", "导游"},
	"government":      {"政务服务事项", "办件信息", "电子证照", "好差评", "政务热线工单"},
}

var suffixes = []string{"基本信息", "登记信息", "统计数据", "名录", "变更记录", "年度报告", "许可信息", "监测数据"}
var districts = []string{"全市", "思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"}

type fieldTpl struct {
	name, label string
	typ         catalog.FieldType
	codeList    string
	category    string
	level       catalog.Level
	personal    bool
	sensitive   bool
}

var commonFields = []fieldTpl{
	{"record_id", "记录编号", "string", "", "业务数据/标识", catalog.LevelGeneral, false, false},
	{"org_name", "单位名称", "string", "", "业务数据/主体", catalog.LevelGeneral, false, false},
	{"credit_code", "统一社会信用代码", "string", "GB 32100-2015", "法人信息/标识", catalog.LevelGeneral, false, false},
	{"address", "地址", "string", "", "地理信息/地址", catalog.LevelGeneral, false, false},
	{"district_code", "行政区划代码", "string", "GB/T 2260-2007", "地理信息/区划", catalog.LevelGeneral, false, false},
	{"longitude", "经度", "decimal", "", "地理信息/坐标", catalog.LevelGeneral, false, false},
	{"latitude", "纬度", "decimal", "", "地理信息/坐标", catalog.LevelGeneral, false, false},
	{"valid_from", "有效期起", "date", "", "业务数据/时间", catalog.LevelGeneral, false, false},
	{"valid_to", "有效期止", "date", "", "业务数据/时间", catalog.LevelGeneral, false, false},
	{"status_code", "状态代码", "string", "", "业务数据/状态", catalog.LevelGeneral, false, false},
	{"amount", "金额", "decimal", "", "业务数据/数值", catalog.LevelImportant, false, false},
	{"count_total", "数量", "integer", "", "业务数据/数值", catalog.LevelGeneral, false, false},
	{"updated_at", "更新时间", "datetime", "", "业务数据/时间", catalog.LevelGeneral, false, false},
	{"is_valid", "是否有效", "boolean", "", "业务数据/状态", catalog.LevelGeneral, false, false},
	{"geometry", "空间范围", "geometry", "", "地理信息/空间", catalog.LevelImportant, false, false},
	{"attachment", "附件", "binary", "", "业务数据/附件", catalog.LevelGeneral, false, false},
}

var personFields = []fieldTpl{
	{"full_name", "姓名", "string", "", "个人信息/基本信息", catalog.LevelGeneral, true, false},
	{"gender", "性别", "string", "GB/T 2261.1-2003", "个人信息/基本信息", catalog.LevelGeneral, true, false},
	{"birth_date", "出生日期", "date", "", "个人信息/基本信息", catalog.LevelGeneral, true, false},
	{"phone", "联系电话", "string", "", "个人信息/联系方式", catalog.LevelImportant, true, false},
	{"id_card", "公民身份号码", "string", "GB 11643-1999", "个人信息/身份信息", catalog.LevelImportant, true, true},
	{"health_status", "健康状况", "string", "", "个人信息/健康生理", catalog.LevelImportant, true, true},
	{"bank_account", "银行账号", "string", "", "个人信息/金融账户", catalog.LevelCore, true, true},
}

// CatalogEntries generates n varied, valid catalog entries across orgs and
// the default taxonomy, deterministically from seed. Every attribute value
// (data class, each of 24 themes and 20 industries, base and theme
// libraries, every frequency, format, level, sharing and open attribute,
// hosted and service delivery) is represented once n ≥ 200.
func CatalogEntries(orgs []catalog.Org, n int, seed uint64) []catalog.Entry {
	tx := catalog.DefaultTaxonomy()
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	out := make([]catalog.Entry, 0, n)
	for i := 0; i < n; i++ {
		org := orgs[i%len(orgs)]
		theme := tx.Themes[i%len(tx.Themes)].Code
		subj := subjects[theme][(i/len(tx.Themes))%len(subjects[theme])]
		suffix := suffixes[rng.IntN(len(suffixes))]
		name := districts[rng.IntN(len(districts))] + subj + suffix
		e := catalog.Entry{
			Name:        name,
			Description: fmt.Sprintf("%s汇总的%s%s，供各部门共享使用。", org.Name, subj, suffix),
			OrgID:       org.ID,
			DataClass:   catalog.ClassGovernment,
			Themes:      []string{theme},
			Industry:    tx.Industries[i%len(tx.Industries)].Code,
			Frequency:   catalog.Frequencies[(i/3)%len(catalog.Frequencies)],
			LegalBasis:  "《厦门经济特区数据条例》第十六条",
			Contact:     catalog.Contact{Name: "数据专员", Phone: fmt.Sprintf("0592-%07d", 2000000+i%9000000), Email: "data@example.gov.cn"},
			Tags:        []string{subj, strings.TrimSuffix(suffix, "信息")},
			Delivery:    catalog.Delivery{Mode: catalog.Hosted},
		}
		if org.Kind == identity.KindPublicService {
			e.DataClass = catalog.ClassPublicService
		} else if i%53 == 7 {
			e.DataClass = catalog.ClassPurchased
		}
		if i%5 == 2 {
			e.Themes = append(e.Themes, tx.Themes[(i+7)%len(tx.Themes)].Code)
		}
		switch i % 6 {
		case 0:
			e.Library = catalog.Library{Kind: "base", Code: tx.BaseLibraries[(i/6)%len(tx.BaseLibraries)].Code}
		case 1:
			e.Library = catalog.Library{Kind: "theme", Code: tx.ThemeLibraries[(i/6)%len(tx.ThemeLibraries)].Code}
		}
		e.Formats = []string{tx.Formats[i%len(tx.Formats)].Code}
		if i%3 == 0 {
			e.Formats = append(e.Formats, tx.Formats[(i+4)%len(tx.Formats)].Code)
		}
		if i%4 == 3 {
			e.Delivery = catalog.Delivery{Mode: catalog.ServiceAPI, Endpoint: fmt.Sprintf("https://api.example.gov.cn/%s/v1/%d", strings.ToLower(org.Code[len(org.Code)-6:]), i)}
		}
		// Fields: common ones, and personal ones for about a third.
		nf := 3 + rng.IntN(6)
		perm := rng.Perm(len(commonFields))
		top := catalog.LevelGeneral
		add := func(f fieldTpl) {
			e.Fields = append(e.Fields, catalog.Field{Name: f.name, Label: f.label, Type: f.typ, CodeList: f.codeList, Category: f.category,
				Level: f.level, Personal: f.personal, Sensitive: f.sensitive, Required: f.name == "record_id", Description: f.label})
			if f.level.Rank() > top.Rank() {
				top = f.level
			}
		}
		for _, j := range perm[:nf] {
			add(commonFields[j])
		}
		sensitive := false
		if i%3 == 1 {
			for _, j := range rng.Perm(len(personFields))[:1+rng.IntN(3)] {
				add(personFields[j])
				sensitive = sensitive || personFields[j].sensitive
			}
		}
		// Level: at least the highest field's; some entries are graded up.
		e.Level = top
		if i%17 == 5 && top != catalog.LevelCore {
			e.Level = catalog.Levels[top.Rank()]
		}
		if i%97 == 11 {
			e.Level = catalog.LevelCore
		}
		switch {
		case e.Level == catalog.LevelCore || i%10 == 9:
			if i%2 == 0 || e.Level == catalog.LevelCore {
				e.Share = catalog.Sharing{Attr: catalog.None, Basis: "《中华人民共和国数据安全法》第二十一条", Reason: "涉及核心或重要数据，暂不共享"}
			} else {
				e.Share = catalog.Sharing{Attr: catalog.Conditional, Conditions: "须经提供单位审核，限履行法定职责使用"}
			}
		case i%10 < 5:
			e.Share = catalog.Sharing{Attr: catalog.Unconditional}
		default:
			e.Share = catalog.Sharing{Attr: catalog.Conditional, Conditions: "限履行法定职责或提供公共服务使用"}
		}
		switch {
		case e.DataClass == catalog.ClassPurchased || e.Level == catalog.LevelCore || i%7 == 6:
			e.Open = catalog.Sharing{Attr: catalog.None, Basis: "《中华人民共和国个人信息保护法》《数据安全法》", Reason: "涉及个人信息、重要数据或采购合同限制"}
		case sensitive || i%7 >= 3:
			e.Open = catalog.Sharing{Attr: catalog.Conditional, Conditions: "须提交开放申请，说明应用场景并承诺安全使用"}
		default:
			e.Open = catalog.Sharing{Attr: catalog.Unconditional}
		}
		out = append(out, e)
	}
	return out
}

// seedCatalog gives the demo city about a thousand published entries across
// its departments and public service orgs, in batched transactions.
func seedCatalog(ctx context.Context, a *app.App, authorityID string) error {
	if a.Catalog == nil {
		return nil
	}
	var orgs []catalog.Org
	after := ""
	for {
		page, next, err := a.Identity.ListOrgs(ctx, identity.OrgFilter{}, after, 200)
		if err != nil {
			return fmt.Errorf("demo: list orgs: %w", err)
		}
		for _, o := range page {
			if o.Kind == identity.KindDepartment || o.Kind == identity.KindPublicService {
				orgs = append(orgs, catalog.Org{ID: o.ID, Name: o.Name, Code: o.CreditCode, Kind: o.Kind})
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(orgs) == 0 {
		return nil
	}
	entries := CatalogEntries(orgs, CatalogEntryCount, 2026)
	if _, err := a.Catalog.BulkPublish(ctx, catalog.System(authorityID), entries, "演示数据初始化", 500, nil); err != nil {
		return fmt.Errorf("demo: catalog: %w", err)
	}
	return nil
}
