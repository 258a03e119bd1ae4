package ingest

import (
	"context"
	"fmt"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// Code is one value of a code list.
type Code struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// builtinCodeLists are national standard code lists the platform knows out
// of the box; the authority adds others (PutCodeList).
var builtinCodeLists = map[string][]Code{
	// GB/T 2261.1-2003 个人基本信息分类与代码 第1部分：人的性别代码
	"GB/T 2261.1-2003": {{"0", "未知的性别"}, {"1", "男"}, {"2", "女"}, {"9", "未说明的性别"}},
	// GB/T 4761-2008 家庭关系代码 (the common ones)
	"GB/T 4761-2008": {{"01", "本人"}, {"02", "户主"}, {"10", "配偶"}, {"20", "子"}, {"30", "女"}, {"50", "父母"}, {"99", "其他"}},
	// GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码 (the first ones)
	"GB/T 3304-1991": {{"01", "汉族"}, {"02", "蒙古族"}, {"03", "回族"}, {"04", "藏族"}, {"05", "维吾尔族"}, {"06", "苗族"}, {"07", "彝族"}, {"08", "壮族"}, {"09", "布依族"}, {"10", "朝鲜族"}, {"11", "满族"}, {"12", "侗族"}, {"13", "瑶族"}, {"14", "白族"}, {"15", "土家族"}, {"16", "哈尼族"}, {"17", "哈萨克族"}, {"18", "傣族"}, {"19", "黎族"}, {"22", "畲族"}, {"98", "外国血统中国籍人士"}, {"99", "其他"}},
	// GB/T 2260 行政区划代码: the demo city (厦门市) and its districts.
	"GB/T 2260-2007": {{"350200", "厦门市"}, {"350203", "思明区"}, {"350205", "海沧区"}, {"350206", "湖里区"}, {"350211", "集美区"}, {"350212", "同安区"}, {"350213", "翔安区"}},
	// 医疗机构等级 (卫生部《医院分级管理办法》)
	"WS/T hospital-grade": {{"3A", "三级甲等"}, {"3B", "三级乙等"}, {"2A", "二级甲等"}, {"2B", "二级乙等"}, {"1A", "一级甲等"}, {"NA", "未定级"}},
	// GB/T 12402-2000 经济类型 (the common ones)
	"GB/T 12402-2000": {{"110", "国有全资"}, {"120", "集体全资"}, {"130", "股份合作"}, {"150", "有限责任（公司）"}, {"160", "股份有限（公司）"}, {"171", "私有独资"}, {"190", "其他内资"}, {"200", "港澳台投资"}, {"300", "国外投资"}},
}

func (s *Service) seedCodeLists(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		for name, codes := range builtinCodeLists {
			for _, c := range codes {
				if _, err := tx.ExecContext(ctx, `INSERT INTO ingest_code_lists (name, code, label) VALUES ($1, $2, $3) ON CONFLICT (name, code) DO NOTHING`, name, c.Code, c.Label); err != nil {
					return fmt.Errorf("ingest: seed code lists: %w", err)
				}
			}
		}
		return nil
	})
}

// codeLists loads the code lists fields name: for each, a map from code and
// from label to code. A list the platform does not know is not checked.
func (s *Service) codeLists(ctx context.Context, fields []catalog.Field) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, f := range fields {
		if f.CodeList == "" || out[f.CodeList] != nil {
			continue
		}
		codes, err := s.CodeList(ctx, f.CodeList)
		if err != nil {
			return nil, err
		}
		if len(codes) == 0 {
			continue
		}
		m := map[string]string{}
		for _, c := range codes {
			m[c.Code] = c.Code
		}
		for _, c := range codes {
			if _, ok := m[c.Label]; !ok && c.Label != "" {
				m[c.Label] = c.Code
			}
		}
		out[f.CodeList] = m
	}
	return out, nil
}

// CodeList returns a code list's values (empty if unknown).
func (s *Service) CodeList(ctx context.Context, name string) ([]Code, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT code, label FROM ingest_code_lists WHERE name = $1 ORDER BY code`, name)
	if err != nil {
		return nil, fmt.Errorf("ingest: code list: %w", err)
	}
	defer rows.Close()
	out := []Code{}
	for rows.Next() {
		var c Code
		if err := rows.Scan(&c.Code, &c.Label); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CodeLists names the known code lists.
func (s *Service) CodeLists(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT name FROM ingest_code_lists ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// PutCodeList sets a code list's values (authority admins only).
func (s *Service) PutCodeList(ctx context.Context, p identity.Principal, name string, codes []Code) error {
	if !isAuthority(p) {
		return apperr.ErrForbidden
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return apperr.Invalidf("ingest.bad_code_list", "name", "代码表名称须为 1 到 100 字节", "a code list name is 1 to 100 bytes")
	}
	if len(codes) == 0 || len(codes) > 100000 {
		return apperr.Invalidf("ingest.bad_code_list", "codes", "代码表须有 1 到 100000 个代码", "a code list has 1 to 100,000 codes")
	}
	seen := map[string]bool{}
	for i, c := range codes {
		c.Code = strings.TrimSpace(c.Code)
		if c.Code == "" || len(c.Code) > 100 || len(c.Label) > 200 || seen[c.Code] {
			return apperr.Invalidf("ingest.bad_code_list", fmt.Sprintf("codes[%d]", i), "代码为空、过长或重复", "the code is empty, too long or repeated")
		}
		seen[c.Code] = true
		codes[i] = c
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ingest_code_lists WHERE name = $1`, name); err != nil {
			return err
		}
		ins := newInserter(tx.Dialect, "ingest_code_lists", []string{"name", "code", "label"}, "")
		for _, c := range codes {
			if err := ins.add(ctx, tx, []any{name, c.Code, strings.TrimSpace(c.Label)}); err != nil {
				return err
			}
		}
		if err := ins.flush(ctx, tx); err != nil {
			return err
		}
		ins.release()
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, "", map[string]any{"what": "ingest.code_list.put", "name": name, "codes": len(codes)}))
	})
}
