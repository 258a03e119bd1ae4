package catalog

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// The spreadsheet layout orgs fill in: one sheet of entries (目录), one of
// data items (数据项) keyed to their entry by 序号, and a sheet of the
// vocabulary (说明). Enumerated cells take the Chinese label or the code.
const (
	SheetEntries = "目录"
	SheetFields  = "数据项"
	SheetHelp    = "说明"
	// MaxImportEntries bounds one import.
	MaxImportEntries = 5000
	maxImportFields  = 100000
)

type column struct {
	header string
	// path is the attribute path validation errors name.
	path string
	get  func(e *Entry, tx *Taxonomy) string
	set  func(e *Entry, v string, tx *Taxonomy) error
}

var (
	classLabels    = map[string]string{"government": "政务数据", "public_service": "公共服务数据", "purchased": "采购数据"}
	levelLabels    = map[string]string{"general": "一般", "important": "重要", "core": "核心"}
	attrLabels     = map[string]string{"unconditional": "无条件", "conditional": "有条件", "none": "不予"}
	freqLabels     = map[string]string{"realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月", "quarterly": "每季度", "yearly": "每年", "irregular": "不定期"}
	deliveryLabels = map[string]string{"hosted": "汇聚托管", "service": "服务接口"}
	libKindLabels  = map[string]string{"base": "基础库", "theme": "主题库"}
	typeLabels     = map[string]string{"string": "字符串", "integer": "整数", "decimal": "小数", "boolean": "布尔", "date": "日期", "datetime": "日期时间", "binary": "二进制", "geometry": "空间"}
)

// fromLabel maps a cell to a code: the code itself or its Chinese label.
// An unknown value is passed through for validation to name.
func fromLabel(labels map[string]string, v string) string {
	v = strings.TrimSpace(v)
	if _, ok := labels[v]; ok {
		return v
	}
	for code, l := range labels {
		if l == v {
			return code
		}
	}
	return v
}

func termFromLabel(terms []Term, v string) string {
	v = strings.TrimSpace(v)
	for _, t := range terms {
		if t.Code == v || t.ZH == v {
			return t.Code
		}
	}
	return v
}

var listSep = regexp.MustCompile(`[,，、;；\n]+`)

func splitList(v string) []string {
	var out []string
	for _, s := range listSep.Split(v, -1) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func yes(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "否", "no", "false", "n", "0":
		return false, nil
	case "是", "yes", "true", "y", "1":
		return true, nil
	}
	return false, fmt.Errorf("want 是 or 否")
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func textCol(header, path string, ptr func(e *Entry) *string) column {
	return column{header: header, path: path,
		get: func(e *Entry, _ *Taxonomy) string { return *ptr(e) },
		set: func(e *Entry, v string, _ *Taxonomy) error { *ptr(e) = v; return nil }}
}

func enumCol(header, path string, labels map[string]string, ptr func(e *Entry) *string) column {
	return column{header: header, path: path,
		get: func(e *Entry, _ *Taxonomy) string {
			if l, ok := labels[*ptr(e)]; ok {
				return l
			}
			return *ptr(e)
		},
		set: func(e *Entry, v string, _ *Taxonomy) error { *ptr(e) = fromLabel(labels, v); return nil }}
}

func strDataClass(p *DataClass) *string { return (*string)(p) }
func strFrequency(p *Frequency) *string { return (*string)(p) }
func strLevel(p *Level) *string         { return (*string)(p) }
func strAttr(p *Attr) *string           { return (*string)(p) }
func strDelivery(p *DeliveryMode) *string {
	return (*string)(p)
}

// entryColumns is the 目录 sheet's layout. Column A is 序号, the row key
// that the 数据项 sheet refers to.
var entryColumns = []column{
	textCol("目录代码", "code", func(e *Entry) *string { return &e.Code }),
	textCol("资源名称*", "name", func(e *Entry) *string { return &e.Name }),
	textCol("资源摘要", "description", func(e *Entry) *string { return &e.Description }),
	textCol("提供机构ID", "org_id", func(e *Entry) *string { return &e.OrgID }),
	enumCol("数据类别*", "data_class", classLabels, func(e *Entry) *string { return strDataClass(&e.DataClass) }),
	{header: "主题分类*", path: "themes",
		get: func(e *Entry, tx *Taxonomy) string {
			ls := make([]string, len(e.Themes))
			for i, t := range e.Themes {
				ls[i] = label(tx.Themes, t)
			}
			return strings.Join(ls, "、")
		},
		set: func(e *Entry, v string, tx *Taxonomy) error {
			e.Themes = nil
			for _, t := range splitList(v) {
				e.Themes = append(e.Themes, termFromLabel(tx.Themes, t))
			}
			return nil
		}},
	{header: "行业分类", path: "industry",
		get: func(e *Entry, tx *Taxonomy) string { return e.Industry },
		set: func(e *Entry, v string, tx *Taxonomy) error { e.Industry = termFromLabel(tx.Industries, v); return nil }},
	enumCol("库类型", "library.kind", libKindLabels, func(e *Entry) *string { return &e.Library.Kind }),
	{header: "库代码", path: "library.code",
		get: func(e *Entry, tx *Taxonomy) string { return e.Library.Code },
		set: func(e *Entry, v string, tx *Taxonomy) error {
			e.Library.Code = termFromLabel(append(append([]Term{}, tx.BaseLibraries...), tx.ThemeLibraries...), v)
			return nil
		}},
	enumCol("更新频率*", "frequency", freqLabels, func(e *Entry) *string { return strFrequency(&e.Frequency) }),
	{header: "数据格式*", path: "formats",
		get: func(e *Entry, _ *Taxonomy) string { return strings.Join(e.Formats, "、") },
		set: func(e *Entry, v string, _ *Taxonomy) error { e.Formats = splitList(v); return nil }},
	textCol("法律依据", "legal_basis", func(e *Entry) *string { return &e.LegalBasis }),
	enumCol("安全等级*", "level", levelLabels, func(e *Entry) *string { return strLevel(&e.Level) }),
	enumCol("共享属性*", "share.attr", attrLabels, func(e *Entry) *string { return strAttr(&e.Share.Attr) }),
	textCol("共享条件", "share.conditions", func(e *Entry) *string { return &e.Share.Conditions }),
	textCol("不予共享依据", "share.basis", func(e *Entry) *string { return &e.Share.Basis }),
	textCol("不予共享理由", "share.reason", func(e *Entry) *string { return &e.Share.Reason }),
	enumCol("开放属性*", "open.attr", attrLabels, func(e *Entry) *string { return strAttr(&e.Open.Attr) }),
	textCol("开放条件", "open.conditions", func(e *Entry) *string { return &e.Open.Conditions }),
	textCol("不予开放依据", "open.basis", func(e *Entry) *string { return &e.Open.Basis }),
	textCol("不予开放理由", "open.reason", func(e *Entry) *string { return &e.Open.Reason }),
	enumCol("交付方式*", "delivery.mode", deliveryLabels, func(e *Entry) *string { return strDelivery(&e.Delivery.Mode) }),
	textCol("服务接口地址", "delivery.endpoint", func(e *Entry) *string { return &e.Delivery.Endpoint }),
	textCol("联系人", "contact.name", func(e *Entry) *string { return &e.Contact.Name }),
	textCol("联系电话", "contact.phone", func(e *Entry) *string { return &e.Contact.Phone }),
	textCol("联系邮箱", "contact.email", func(e *Entry) *string { return &e.Contact.Email }),
	{header: "标签", path: "tags",
		get: func(e *Entry, _ *Taxonomy) string { return strings.Join(e.Tags, "、") },
		set: func(e *Entry, v string, _ *Taxonomy) error { e.Tags = splitList(v); return nil }},
}

type fieldColumn struct {
	header string
	path   string
	get    func(f *Field) string
	set    func(f *Field, v string) error
}

var fieldColumns = []fieldColumn{
	{"数据项名*", "name", func(f *Field) string { return f.Name }, func(f *Field, v string) error { f.Name = v; return nil }},
	{"中文名称*", "label", func(f *Field) string { return f.Label }, func(f *Field, v string) error { f.Label = v; return nil }},
	{"类型*", "type", func(f *Field) string { return typeLabels[string(f.Type)] }, func(f *Field, v string) error { f.Type = FieldType(fromLabel(typeLabels, v)); return nil }},
	{"说明", "description", func(f *Field) string { return f.Description }, func(f *Field, v string) error { f.Description = v; return nil }},
	{"必填", "required", func(f *Field) string { return yesNo(f.Required) }, func(f *Field, v string) (err error) { f.Required, err = yes(v); return }},
	{"代码集", "code_list", func(f *Field) string { return f.CodeList }, func(f *Field, v string) error { f.CodeList = v; return nil }},
	{"分类", "category", func(f *Field) string { return f.Category }, func(f *Field, v string) error { f.Category = v; return nil }},
	{"分级*", "level", func(f *Field) string { return levelLabels[string(f.Level)] }, func(f *Field, v string) error { f.Level = Level(fromLabel(levelLabels, v)); return nil }},
	{"个人信息", "personal", func(f *Field) string { return yesNo(f.Personal) }, func(f *Field, v string) (err error) { f.Personal, err = yes(v); return }},
	{"敏感个人信息", "sensitive", func(f *Field) string { return yesNo(f.Sensitive) }, func(f *Field, v string) (err error) { f.Sensitive, err = yes(v); return }},
}

// Imported is one entry read from a spreadsheet, with where it came from.
type Imported struct {
	Entry
	// Row is the entry's row on the 目录 sheet (1-based, as spreadsheets count).
	Row int
	// FieldRows are the rows of its fields on the 数据项 sheet.
	FieldRows []int
}

var errXLSX = apperr.New(apperr.Invalid, "catalog.xlsx", "", "")

// xlsxError names the sheet, row and column of a problem.
func xlsxError(sheet string, row, col int, header, zh, en string) *apperr.Error {
	cell := sheet
	where, whereEN := "工作表“"+sheet+"”", "sheet "+sheet
	if row > 0 {
		name, _ := excelize.CoordinatesToCellName(max(col, 1), row)
		if col <= 0 {
			name = strconv.Itoa(row)
		}
		cell = sheet + "!" + name
		where += fmt.Sprintf("第 %d 行", row)
		whereEN += fmt.Sprintf(" row %d", row)
		if col > 0 {
			colName, _ := excelize.ColumnNumberToName(col)
			where += fmt.Sprintf(" %s 列（%s）", colName, header)
			whereEN += fmt.Sprintf(" column %s (%s)", colName, header)
		}
	}
	e := errXLSX.At(cell)
	e.ZH, e.EN = where+"："+zh, whereEN+": "+en
	return e
}

// ParseXLSX reads entries from a spreadsheet in the template's layout. It
// checks the layout and cell formats; attribute rules are checked on import.
// Entries without 提供机构ID get defaultOrg.
func ParseXLSX(r io.Reader, tx *Taxonomy, defaultOrg string) ([]Imported, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: 64 << 20, UnzipXMLSizeLimit: 32 << 20})
	if err != nil {
		e := errXLSX.At("file")
		e.ZH, e.EN = "无法读取 XLSX 文件："+err.Error(), "cannot read the XLSX file: "+err.Error()
		return nil, e
	}
	defer f.Close()
	rows, err := sheetRows(f, SheetEntries)
	if err != nil {
		return nil, err
	}
	fieldRows, err := sheetRows(f, SheetFields)
	if err != nil {
		return nil, err
	}
	// Header rows: 序号 then the columns, in this order.
	if err := checkHeader(SheetEntries, rows, append([]string{"序号*"}, headersOf(entryColumns)...)); err != nil {
		return nil, err
	}
	fh := []string{"序号*"}
	for _, c := range fieldColumns {
		fh = append(fh, c.header)
	}
	if err := checkHeader(SheetFields, fieldRows, fh); err != nil {
		return nil, err
	}
	var out []Imported
	byKey := map[string]int{}
	for i := 1; i < len(rows); i++ {
		row := rows[i]
		if blank(row) {
			continue
		}
		rn := i + 1
		key := strings.TrimSpace(cell(row, 0))
		if key == "" {
			return nil, xlsxError(SheetEntries, rn, 1, "序号", "序号为空", "序号 (row key) is empty")
		}
		if j, dup := byKey[key]; dup {
			return nil, xlsxError(SheetEntries, rn, 1, "序号", fmt.Sprintf("序号 %s 与第 %d 行重复", key, out[j].Row), fmt.Sprintf("序号 %s repeats row %d", key, out[j].Row))
		}
		if len(out) >= MaxImportEntries {
			return nil, xlsxError(SheetEntries, rn, 0, "", fmt.Sprintf("一次最多导入 %d 个条目", MaxImportEntries), fmt.Sprintf("at most %d entries per import", MaxImportEntries))
		}
		var e Entry
		for c, col := range entryColumns {
			v := strings.TrimSpace(cell(row, c+1))
			if err := col.set(&e, v, tx); err != nil {
				return nil, xlsxError(SheetEntries, rn, c+2, col.header, err.Error(), err.Error())
			}
		}
		if e.OrgID == "" {
			e.OrgID = defaultOrg
		}
		e.Delivery.Mode = DeliveryMode(strings.TrimSpace(string(e.Delivery.Mode)))
		byKey[key] = len(out)
		out = append(out, Imported{Entry: e, Row: rn})
	}
	if len(out) == 0 {
		return nil, xlsxError(SheetEntries, 0, 0, "", "没有可导入的条目", "no entries to import")
	}
	nf := 0
	for i := 1; i < len(fieldRows); i++ {
		row := fieldRows[i]
		if blank(row) {
			continue
		}
		rn := i + 1
		nf++
		if nf > maxImportFields {
			return nil, xlsxError(SheetFields, rn, 0, "", "数据项过多", "too many fields")
		}
		key := strings.TrimSpace(cell(row, 0))
		j, ok := byKey[key]
		if !ok {
			return nil, xlsxError(SheetFields, rn, 1, "序号", fmt.Sprintf("序号 %q 在“目录”工作表中不存在", key), fmt.Sprintf("序号 %q is not on the 目录 sheet", key))
		}
		var fld Field
		for c, col := range fieldColumns {
			v := strings.TrimSpace(cell(row, c+1))
			if err := col.set(&fld, v); err != nil {
				return nil, xlsxError(SheetFields, rn, c+2, col.header, fmt.Sprintf("取值 %q 无效，应为“是”或“否”", v), fmt.Sprintf("value %q: %v", v, err))
			}
		}
		out[j].Fields = append(out[j].Fields, fld)
		out[j].FieldRows = append(out[j].FieldRows, rn)
	}
	return out, nil
}

func headersOf(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.header
	}
	return out
}

func sheetRows(f *excelize.File, sheet string) ([][]string, error) {
	found := false
	for _, s := range f.GetSheetList() {
		found = found || s == sheet
	}
	if !found {
		return nil, xlsxError(sheet, 0, 0, "", "缺少该工作表（请使用平台提供的模板）", "the sheet is missing (use the platform's template)")
	}
	rows, err := f.GetRows(sheet)
	if err != nil {
		return nil, xlsxError(sheet, 0, 0, "", "无法读取："+err.Error(), "cannot read: "+err.Error())
	}
	return rows, nil
}

func checkHeader(sheet string, rows [][]string, want []string) error {
	if len(rows) == 0 {
		return xlsxError(sheet, 1, 0, "", "缺少表头行", "the header row is missing")
	}
	for i, h := range want {
		got := strings.TrimSpace(cell(rows[0], i))
		if strings.TrimSuffix(got, "*") != strings.TrimSuffix(h, "*") {
			return xlsxError(sheet, 1, i+1, h, fmt.Sprintf("表头应为“%s”，实为“%s”（请使用平台提供的模板）", h, got), fmt.Sprintf("header should be %q, is %q (use the platform's template)", h, got))
		}
	}
	return nil
}

func cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

func blank(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// locate turns a validation error's attribute path into the cell it came
// from: "fields[2].type" → 数据项!D17, "share.basis" → 目录!Q5.
func locate(im *Imported, err error) error {
	ae, ok := apperr.As(err)
	if !ok {
		return err
	}
	path := ae.Field
	var loc *apperr.Error
	if strings.HasPrefix(path, "fields[") {
		end := strings.Index(path, "]")
		n, convErr := strconv.Atoi(path[len("fields["):max(end, len("fields["))])
		attr := strings.TrimPrefix(path[end+1:], ".")
		if convErr == nil && n >= 0 && n < len(im.FieldRows) {
			for c, col := range fieldColumns {
				if col.path == attr {
					loc = xlsxError(SheetFields, im.FieldRows[n], c+2, col.header, ae.ZH, ae.EN)
				}
			}
			if loc == nil {
				loc = xlsxError(SheetFields, im.FieldRows[n], 0, "", ae.ZH, ae.EN)
			}
		}
	}
	if loc == nil {
		base := path
		if i := strings.Index(base, "["); i >= 0 {
			base = base[:i]
		}
		for c, col := range entryColumns {
			if col.path == base {
				loc = xlsxError(SheetEntries, im.Row, c+2, col.header, ae.ZH, ae.EN)
			}
		}
		if loc == nil {
			loc = xlsxError(SheetEntries, im.Row, 0, "", ae.ZH, ae.EN)
		}
	}
	loc.Kind, loc.Code, loc.Err = ae.Kind, ae.Code, ae.Err
	return loc
}

// ImportResult reports an import.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	// Published counts entries published by the import (ImportOptions.Publish).
	Published int `json:"published"`
	// Drafts are the drafts written, in sheet order, with their duplicates.
	Drafts []*Draft `json:"drafts"`
}

// ImportOptions tune an import.
type ImportOptions struct {
	// Publish publishes every imported entry with Reason.
	Publish bool
	Reason  string
}

// ImportXLSX imports entries from a spreadsheet as drafts (new codes
// create entries; an existing code of the same org updates its draft), all
// in one transaction: one bad cell and nothing is saved. Errors name the
// sheet, row and column.
func (s *Service) ImportXLSX(ctx context.Context, p identity.Principal, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	if opts.Publish && strings.TrimSpace(opts.Reason) == "" {
		opts.Reason = "XLSX 批量导入发布"
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Publish && cfg.RequireReview && !isAuthority(p) {
		return nil, apperr.New(apperr.Forbidden, "catalog.import_publish_review", "主管部门要求发布前审核，导入后请逐条提交发布", "the authority reviews publications; publish imported drafts one by one")
	}
	items, err := ParseXLSX(r, &cfg.Taxonomy, p.OrgID)
	if err != nil {
		return nil, err
	}
	codes := map[string]int{}
	for i := range items {
		c := strings.ToUpper(strings.TrimSpace(items[i].Code))
		if c == "" {
			continue
		}
		if j, dup := codes[c]; dup {
			e := ErrDuplicateCode.At("")
			return nil, locate(&items[i], &apperr.Error{Kind: e.Kind, Code: e.Code, Field: "code",
				ZH: fmt.Sprintf("目录代码 %s 与第 %d 行重复", c, items[j].Row), EN: fmt.Sprintf("code %s repeats row %d", c, items[j].Row)})
		}
		codes[c] = i
	}
	res := &ImportResult{Drafts: []*Draft{}}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		for i := range items {
			im := &items[i]
			var d *Draft
			var err error
			existing := ""
			if im.Code != "" {
				_ = tx.QueryRowContext(ctx, `SELECT id FROM catalog_resources WHERE code = $1`, strings.ToUpper(strings.TrimSpace(im.Code))).Scan(&existing)
			}
			if existing != "" {
				d, err = s.updateDraftTx(ctx, tx, p, existing, DraftUpdate{Entry: im.Entry})
				res.Updated++
			} else {
				d, err = s.createDraftTx(ctx, tx, p, im.Entry)
				res.Created++
			}
			if err != nil {
				return locate(im, err)
			}
			if opts.Publish {
				if err := s.publishTx(ctx, tx, p, nil, d.ResourceID, PublishInput{Reason: opts.Reason, AcknowledgeBreaking: false}, ""); err != nil {
					return locate(im, err)
				}
				res.Published++
			}
			res.Drafts = append(res.Drafts, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range res.Drafts {
		if d.Duplicates, err = s.Duplicates(ctx, d.OrgID, d.ResourceID, d.Fields); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Template writes the empty spreadsheet orgs fill in, with one example
// entry, drop-down lists and the vocabulary sheet.
func (s *Service) Template(ctx context.Context, w io.Writer) error {
	cfg, err := s.Config(ctx)
	if err != nil {
		return err
	}
	ex := Entry{Name: "示例：常住人口基本信息（导入前请删除本行）", Description: "全市常住人口的基本信息", DataClass: ClassGovernment,
		Themes: []string{cfg.Taxonomy.Themes[0].Code}, Frequency: Daily, Formats: []string{"csv"}, Level: LevelImportant,
		LegalBasis: "《中华人民共和国户口登记条例》", Library: Library{Kind: "base", Code: "population"},
		Share: Sharing{Attr: Conditional, Conditions: "用于履行法定职责"}, Open: Sharing{Attr: None, Basis: "《中华人民共和国个人信息保护法》", Reason: "含个人信息"},
		Delivery: Delivery{Mode: Hosted}, Contact: Contact{Name: "张三", Phone: "0592-0000000"}, Tags: []string{"人口"},
		Fields: []Field{{Name: "id_card", Label: "公民身份号码", Type: "string", Required: true, CodeList: "GB 11643-1999", Category: "个人信息/身份信息", Level: LevelImportant, Personal: true, Sensitive: true}}}
	return writeXLSX(w, []*Resource{{Entry: ex}}, &cfg.Taxonomy, true)
}

// ExportXLSX writes entries in the import layout, so an org can export,
// edit and import again.
func (s *Service) ExportXLSX(ctx context.Context, w io.Writer, items []*Resource) error {
	cfg, err := s.Config(ctx)
	if err != nil {
		return err
	}
	return writeXLSX(w, items, &cfg.Taxonomy, false)
}

func writeXLSX(w io.Writer, items []*Resource, tx *Taxonomy, template bool) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetEntries); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetFields); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetHelp); err != nil {
		return err
	}
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	eh := append([]any{"序号*"}, anySlice(headersOf(entryColumns))...)
	if err := f.SetSheetRow(SheetEntries, "A1", &eh); err != nil {
		return err
	}
	fh := []any{"序号*"}
	for _, c := range fieldColumns {
		fh = append(fh, c.header)
	}
	if err := f.SetSheetRow(SheetFields, "A1", &fh); err != nil {
		return err
	}
	lastE, _ := excelize.ColumnNumberToName(len(eh))
	lastF, _ := excelize.ColumnNumberToName(len(fh))
	_ = f.SetCellStyle(SheetEntries, "A1", lastE+"1", head)
	_ = f.SetCellStyle(SheetFields, "A1", lastF+"1", head)
	_ = f.SetColWidth(SheetEntries, "A", lastE, 16)
	_ = f.SetColWidth(SheetFields, "A", lastF, 14)
	_ = f.SetPanes(SheetEntries, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	_ = f.SetPanes(SheetFields, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	fr := 2
	for i, it := range items {
		row := []any{i + 1}
		for _, c := range entryColumns {
			row = append(row, c.get(&it.Entry, tx))
		}
		if err := f.SetSheetRow(SheetEntries, fmt.Sprintf("A%d", i+2), &row); err != nil {
			return err
		}
		for _, fld := range it.Fields {
			frow := []any{i + 1}
			for _, c := range fieldColumns {
				frow = append(frow, c.get(&fld))
			}
			if err := f.SetSheetRow(SheetFields, fmt.Sprintf("A%d", fr), &frow); err != nil {
				return err
			}
			fr++
		}
	}
	if template {
		lists := map[int][]string{}
		for c, col := range entryColumns {
			switch col.path {
			case "data_class":
				lists[c+2] = values(classLabels, DataClasses)
			case "frequency":
				lists[c+2] = values(freqLabels, Frequencies)
			case "level":
				lists[c+2] = values(levelLabels, Levels)
			case "share.attr", "open.attr":
				lists[c+2] = values(attrLabels, Attrs)
			case "delivery.mode":
				lists[c+2] = []string{"汇聚托管", "服务接口"}
			case "library.kind":
				lists[c+2] = []string{"基础库", "主题库"}
			}
		}
		for col, vals := range lists {
			name, _ := excelize.ColumnNumberToName(col)
			dv := excelize.NewDataValidation(true)
			dv.SetSqref(fmt.Sprintf("%s2:%s5000", name, name))
			if err := dv.SetDropList(vals); err == nil {
				_ = f.AddDataValidation(SheetEntries, dv)
			}
		}
		for c, col := range fieldColumns {
			var vals []string
			switch col.path {
			case "type":
				for _, t := range FieldTypes {
					vals = append(vals, typeLabels[string(t)])
				}
			case "level":
				vals = values(levelLabels, Levels)
			case "required", "personal", "sensitive":
				vals = []string{"是", "否"}
			default:
				continue
			}
			name, _ := excelize.ColumnNumberToName(c + 2)
			dv := excelize.NewDataValidation(true)
			dv.SetSqref(fmt.Sprintf("%s2:%s50000", name, name))
			if err := dv.SetDropList(vals); err == nil {
				_ = f.AddDataValidation(SheetFields, dv)
			}
		}
	}
	// The vocabulary sheet.
	hr := 1
	put := func(vals ...any) {
		_ = f.SetSheetRow(SheetHelp, fmt.Sprintf("A%d", hr), &vals)
		hr++
	}
	put("填写说明：带 * 的列必填；多个取值用顿号或逗号分隔；枚举列填写中文名称或代码均可；数据项工作表以“序号”对应目录行。")
	put("")
	for _, g := range []struct {
		name  string
		terms []Term
	}{{"主题分类", tx.Themes}, {"行业分类", tx.Industries}, {"基础库", tx.BaseLibraries}, {"主题库", tx.ThemeLibraries}, {"数据格式", tx.Formats}} {
		put(g.name, "代码", "英文")
		for _, t := range g.terms {
			put(t.ZH, t.Code, t.EN)
		}
		put("")
	}
	_ = f.SetColWidth(SheetHelp, "A", "C", 30)
	f.SetActiveSheet(0)
	_, err := f.WriteTo(w)
	return err
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func values[T ~string](labels map[string]string, all []T) []string {
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = labels[string(v)]
	}
	return out
}
