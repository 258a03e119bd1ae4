package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
)

// Demo hosted datasets (R-AGG-1): four of the catalog demo's hosted entries
// get data items that fit realistic synthetic records, a dataset each, and
// their records loaded as a CSV through the same load path as any org's file. The
// residents' entry leaves the phone field unclassified on purpose, so the
// load raises a dsPersonal-data hint for the police's data stewards (R-SEC-1).

// DemoDatasets is how many records each demo dataset gets.
var DemoDatasets = map[string]int{"residents": 2000, "enterprises": 800, "bus_lines": 60, "hospitals": 36}

type demoDataset struct {
	slug, subject, name, desc string
	freq                      catalog.Frequency
	key                       []string
	fields                    []catalog.Field
	rows                      func(r *rand.Rand, n int) [][]string
	rules                     []ingest.Rule
}

func dsField(name, label string, typ catalog.FieldType, opts ...func(*catalog.Field)) catalog.Field {
	fl := catalog.Field{Name: name, Label: label, Type: typ, Level: catalog.LevelGeneral}
	for _, o := range opts {
		o(&fl)
	}
	return fl
}

func dsRequired(fl *catalog.Field) { fl.Required = true }
func dsPersonal(fl *catalog.Field) { fl.Personal = true; fl.Category = "个人信息/基本信息" }
func dsSensitive(fl *catalog.Field) {
	fl.Personal, fl.Sensitive, fl.Level, fl.Category = true, true, catalog.LevelImportant, "个人信息/身份信息"
}
func dsCodes(list string) func(*catalog.Field) { return func(fl *catalog.Field) { fl.CodeList = list } }

var (
	dsSurnames = []string{"陈", "林", "黄", "张", "李", "王", "吴", "刘", "蔡", "杨", "郑", "许", "洪", "曾", "苏"}
	dsGiven    = []string{"伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "婷", "鑫", "涛", "明", "华", "雪"}
	dsStreets  = []string{"湖滨南路", "厦禾路", "莲前西路", "仙岳路", "嘉禾路", "湖里大道", "集美大道", "海沧大道", "同集路", "翔安南路"}
	districtsC = []string{"350203", "350206", "350211", "350205", "350212", "350213"}
	districtsN = map[string]string{"350203": "思明区", "350206": "湖里区", "350211": "集美区", "350205": "海沧区", "350212": "同安区", "350213": "翔安区"}
)

func dsPersonName(r *rand.Rand) string {
	n := dsSurnames[r.IntN(len(dsSurnames))] + dsGiven[r.IntN(len(dsGiven))]
	if r.IntN(2) == 0 {
		n += dsGiven[r.IntN(len(dsGiven))]
	}
	return n
}

func dsAddress(r *rand.Rand, d string) string {
	return fmt.Sprintf("厦门市%s%s%d号", districtsN[d], dsStreets[r.IntN(len(dsStreets))], 1+r.IntN(999))
}

func dsMobile(r *rand.Rand) string {
	prefixes := []string{"138", "139", "150", "151", "158", "186", "187", "135", "177", "199"}
	return fmt.Sprintf("%s%08d", prefixes[r.IntN(len(prefixes))], r.IntN(100000000))
}

var demoDatasets = []demoDataset{
	{
		slug: "residents", subject: "户籍人口|流动人口|社会保险参保", name: "常住人口基本信息（演示）",
		desc: "本市常住人口的身份、性别、民族、出生日期与住址，按日全量汇聚（演示数据，号码均为合成）。",
		freq: catalog.Daily, key: []string{"id_card"},
		fields: []catalog.Field{
			dsField("id_card", "公民身份号码", "string", dsRequired, dsSensitive, dsCodes("GB 11643-1999")),
			dsField("full_name", "姓名", "string", dsRequired, dsPersonal),
			dsField("gender", "性别", "string", dsCodes("GB/T 2261.1-2003")),
			dsField("ethnicity", "民族", "string", dsCodes("GB/T 3304-1991")),
			dsField("birth_date", "出生日期", "date", dsPersonal),
			dsField("district", "行政区划", "string", dsCodes("GB/T 2260-2007")),
			dsField("address", "住址", "string", dsPersonal),
			// Left unclassified on purpose: the load flags it (R-SEC-1).
			dsField("phone", "联系电话", "string"),
		},
		rows: func(r *rand.Rand, n int) [][]string {
			out := make([][]string, n)
			for i := range out {
				d := districtsC[r.IntN(len(districtsC))]
				birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(365*80))
				sex := 1 + r.IntN(2)
				// The 17th digit is odd for men and even for women (GB 11643).
				seq := (r.IntN(100)*10 + (i%5)*2 + sex%2) % 1000
				id := identity.MakeResidentID(fmt.Sprintf("%s%s%03d", d, birth.Format("20060102"), seq))
				eth := "01"
				if r.IntN(20) == 0 {
					eth = []string{"03", "08", "11", "22"}[r.IntN(4)]
				}
				out[i] = []string{id, dsPersonName(r), fmt.Sprint(sex), eth, birth.Format(time.DateOnly), d, dsAddress(r, d), dsMobile(r)}
			}
			return out
		},
		rules: []ingest.Rule{{Kind: ingest.RuleRange, Field: "birth_date", Min: "1900-01-01", Max: "2026-12-31", Message: "出生日期须在合理范围内"}},
	},
	{
		slug: "enterprises", subject: "市场主体登记|食品经营许可|行政许可公示", name: "市场主体登记信息（演示）",
		desc: "企业的统一社会信用代码、名称、类型、注册资本、成立日期与住所，按日增量汇聚（演示数据）。",
		freq: catalog.Daily, key: []string{"credit_code"},
		fields: []catalog.Field{
			dsField("credit_code", "统一社会信用代码", "string", dsRequired, dsCodes("GB 32100-2015")),
			dsField("ent_name", "企业名称", "string", dsRequired),
			dsField("econ_type", "经济类型", "string", dsCodes("GB/T 12402-2000")),
			dsField("registered_capital", "注册资本（万元）", "decimal"),
			dsField("established_on", "成立日期", "date"),
			dsField("district", "登记机关辖区", "string", dsCodes("GB/T 2260-2007")),
			dsField("address", "住所", "string"),
			dsField("in_business", "是否存续", "boolean"),
		},
		rows: func(r *rand.Rand, n int) [][]string {
			words := []string{"海峡", "鹭岛", "嘉庚", "五缘", "筼筜", "环岛", "东渡", "天竺", "同安", "翔鹭"}
			trades := []string{"科技", "贸易", "物流", "餐饮管理", "建筑工程", "软件", "文化传媒", "新能源", "医疗器械", "电子商务"}
			types := []string{"150", "150", "150", "160", "171", "110", "200"}
			out := make([][]string, n)
			for i := range out {
				d := districtsC[r.IntN(len(districtsC))]
				code := identity.MakeCreditCode(fmt.Sprintf("91%sMA%07d", d, 3000000+i*7+r.IntN(7)))
				est := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(365*30))
				out[i] = []string{code, fmt.Sprintf("厦门%s%s有限公司", words[r.IntN(len(words))]+words[r.IntN(len(words))], trades[r.IntN(len(trades))]),
					types[r.IntN(len(types))], fmt.Sprintf("%d.%02d", 10+r.IntN(5000), r.IntN(100)), est.Format(time.DateOnly), d, dsAddress(r, d),
					[]string{"是", "是", "是", "否"}[r.IntN(4)]}
			}
			return out
		},
		rules: []ingest.Rule{{Kind: ingest.RulePattern, Field: "credit_code", Pattern: `^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$`, Message: "GB 32100 字符集"}},
	},
	{
		slug: "bus_lines", subject: "公交线路|公交站点|道路运输许可", name: "公交线路信息（演示）",
		desc: "常规公交线路的起讫站、首末班时间、线路长度、站点数与票价，按月更新（演示数据）。",
		freq: catalog.Monthly, key: []string{"line_no"},
		fields: []catalog.Field{
			dsField("line_no", "线路编号", "string", dsRequired),
			dsField("line_name", "线路名称", "string", dsRequired),
			dsField("first_stop", "起点站", "string"),
			dsField("last_stop", "终点站", "string"),
			dsField("first_bus", "首班时间", "string"),
			dsField("last_bus", "末班时间", "string"),
			dsField("length_km", "线路长度（公里）", "decimal"),
			dsField("stops", "站点数", "integer"),
			dsField("fare", "票价（元）", "decimal"),
			dsField("air_conditioned", "空调车", "boolean"),
		},
		rows: func(r *rand.Rand, n int) [][]string {
			stops := []string{"第一码头", "火车站", "厦门大学", "轮渡", "软件园", "集美学村", "高崎机场", "五缘湾", "海沧湾公园", "同安汽车站", "翔安隧道口", "SM广场", "中山公园", "会展中心"}
			out := make([][]string, n)
			for i := range out {
				a, b := r.IntN(len(stops)), r.IntN(len(stops)-1)
				if b >= a {
					b++
				}
				no := fmt.Sprint(1 + i)
				if i >= n-6 {
					no = fmt.Sprintf("BRT%d", i-n+7)
				}
				out[i] = []string{no, no + "路", stops[a], stops[b], fmt.Sprintf("%02d:%02d", 5+r.IntN(2), r.IntN(4)*15),
					fmt.Sprintf("%02d:%02d", 21+r.IntN(3), r.IntN(4)*15), fmt.Sprintf("%d.%d", 8+r.IntN(30), r.IntN(10)),
					fmt.Sprint(12 + r.IntN(30)), []string{"1", "1", "2"}[r.IntN(3)], "是"}
			}
			return out
		},
		rules: []ingest.Rule{
			{Kind: ingest.RuleCross, Field: "first_bus", Op: "<", Other: "last_bus", Message: "首班须早于末班"},
			{Kind: ingest.RuleRange, Field: "stops", Min: "2", Max: "120"},
		},
	},
	{
		slug: "hospitals", subject: "医疗机构|门诊诊疗|疫苗接种点|执业医师|便民服务网点|", name: "医疗机构信息（演示）",
		desc: "医疗机构的名称、等级、类别、床位数、地址与急诊服务，按季度更新（演示数据）。",
		freq: catalog.Quarterly, key: []string{"org_code"},
		fields: []catalog.Field{
			dsField("org_code", "机构统一社会信用代码", "string", dsRequired),
			dsField("org_name", "机构名称", "string", dsRequired),
			dsField("grade", "医院等级", "string", dsCodes("WS/T hospital-grade")),
			dsField("kind", "机构类别", "string"),
			dsField("beds", "核定床位数", "integer"),
			dsField("district", "所在区", "string", dsCodes("GB/T 2260-2007")),
			dsField("address", "地址", "string"),
			dsField("tel", "咨询电话", "string"),
			dsField("emergency", "提供急诊", "boolean"),
		},
		rows: func(r *rand.Rand, n int) [][]string {
			names := []string{"第一医院", "中山医院", "中医院", "妇幼保健院", "儿童医院", "眼科中心", "口腔医院", "心血管病医院", "仙岳医院", "第三医院", "第五医院", "社区卫生服务中心"}
			kinds := []string{"综合医院", "中医医院", "专科医院", "妇幼保健院", "基层医疗卫生机构"}
			grades := []string{"3A", "3A", "3B", "2A", "2B", "1A", "NA"}
			out := make([][]string, n)
			for i := range out {
				d := districtsC[i%len(districtsC)]
				out[i] = []string{identity.MakeCreditCode(fmt.Sprintf("12%sMB%07d", d, 1000000+i)),
					fmt.Sprintf("厦门市%s%s", districtsN[d], names[i%len(names)]), grades[r.IntN(len(grades))], kinds[r.IntN(len(kinds))],
					fmt.Sprint(50 + r.IntN(2000)), d, dsAddress(r, d), fmt.Sprintf("0592-%07d", 2000000+r.IntN(7999999)), []string{"是", "否"}[r.IntN(2)]}
			}
			return out
		},
	},
}

// seedDatasets gives four of the catalog demo's hosted entries (found by
// subject) a new version whose data items fit the demo records, creates
// their datasets and rules, and loads their records through ingest.Load.
func seedDatasets(ctx context.Context, a *app.App) error {
	if a.Ingest == nil || a.Catalog == nil {
		return nil
	}
	var all []*catalog.Resource
	cursor := ""
	for {
		page, next, err := a.Catalog.List(ctx, catalog.System(""), catalog.ListFilter{}, cursor, 500)
		if err != nil {
			return fmt.Errorf("demo: datasets: list entries: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	used := map[string]bool{}
	r := rand.New(rand.NewPCG(2026, 6))
	for _, d := range demoDatasets {
		var res *catalog.Resource
		// The first subject that a hosted entry has; "" takes any hosted entry
		// (every entry of a theme may be a service interface).
		for _, subj := range strings.Split(d.subject, "|") {
			for _, c := range all {
				if res == nil && !used[c.ID] && c.Delivery.Mode == catalog.Hosted && c.Remote == nil && strings.Contains(c.Name, subj) {
					res = c
				}
			}
		}
		if res == nil {
			return fmt.Errorf("demo: datasets: no hosted catalog entry about %s", d.subject)
		}
		used[res.ID] = true
		p := ingest.System(res.OrgID)
		en := res.Entry
		en.Fields = d.fields
		en.Frequency = d.freq
		for _, fl := range d.fields {
			if fl.Level.Rank() > en.Level.Rank() {
				en.Level = fl.Level
			}
			if fl.Sensitive && en.Open.Attr != catalog.None {
				en.Open = catalog.Sharing{Attr: catalog.None, Basis: "《中华人民共和国个人信息保护法》", Reason: "含个人敏感信息"}
			}
			if fl.Sensitive && en.Share.Attr == catalog.Unconditional {
				en.Share = catalog.Sharing{Attr: catalog.Conditional, Conditions: "仅用于履行法定职责，按最小必要原则申请数据项"}
			}
		}
		en.Description = d.desc
		if _, err := a.Catalog.UpdateDraft(ctx, p, res.ID, catalog.DraftUpdate{Entry: en}); err != nil {
			return fmt.Errorf("demo: datasets: %s: %w", res.Name, err)
		}
		pub, err := a.Catalog.Publish(ctx, p, res.ID, catalog.PublishInput{Reason: "调整数据项以汇聚" + d.name, AcknowledgeBreaking: true})
		if err != nil {
			return fmt.Errorf("demo: datasets: publish %s: %w", res.Name, err)
		}
		if pub.Resource == nil {
			return fmt.Errorf("demo: datasets: %s waits for review", res.Name)
		}
		if _, err := a.Ingest.CreateDataset(ctx, p, res.ID, ingest.DatasetInput{Key: d.key}); err != nil {
			return fmt.Errorf("demo: datasets: %s: %w", res.Name, err)
		}
		for _, rule := range d.rules {
			if _, err := a.Ingest.AddRule(ctx, p, res.ID, rule); err != nil {
				return fmt.Errorf("demo: datasets: rule on %s: %w", res.Name, err)
			}
		}
		var b strings.Builder
		names := make([]string, len(d.fields))
		for i, fl := range d.fields {
			names[i] = fl.Label // headers by Chinese label, as orgs' files have them
		}
		b.WriteString(strings.Join(names, ",") + "\n")
		for _, row := range d.rows(r, DemoDatasets[d.slug]) {
			b.WriteString(strings.Join(row, ",") + "\n")
		}
		batch, err := a.Ingest.Load(ctx, p, res.ID, strings.NewReader(b.String()), ingest.LoadInput{
			Mode: ingest.Replace, Policy: ingest.AcceptValid, Format: ingest.CSV, Source: d.slug + ".csv"})
		if err != nil {
			return fmt.Errorf("demo: datasets: load %s: %w", res.Name, err)
		}
		if batch.Status != ingest.BatchApplied || batch.RowsStaged == 0 {
			return fmt.Errorf("demo: datasets: load %s: %s %s", res.Name, batch.Status, batch.Reason)
		}
	}
	return nil
}
