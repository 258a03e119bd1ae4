package classify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"shuqiao/internal/privacy/detect"
	"shuqiao/internal/privacy/mask"
	"shuqiao/internal/privacy/table"
)

func sampleTable() *table.Table {
	t := &table.Table{Name: "people.csv", Header: []string{"姓名", "身份证号", "联系电话", "住址", "出生日期", "病情", "备注", "企业信用代码"}}
	ids := []string{"11010519491231002X", "440524188001010014", "350203199003071236", "110105200002291235"}
	names := []string{"张三", "李四", "王建国", "欧阳娜娜"}
	for i := 0; i < 40; i++ {
		t.Rows = append(t.Rows, []string{
			names[i%4], ids[i%4], fmt.Sprintf("1380013%04d", i), fmt.Sprintf("福建省厦门市思明区湖滨南路%d号", i+1),
			fmt.Sprintf("1990-%02d-07", i%12+1), "高血压", "无", "91350200MA2Y0000AJ",
		})
	}
	return t
}

// R-SEC-1, R-PRS-6: columns get a category, level and personal flags, with
// masked evidence.
func TestClassify(t *testing.T) {
	rep := Classify(sampleTable(), Options{})
	want := map[string]struct {
		cat       string
		entity    detect.Entity
		sensitive bool
	}{
		"姓名":     {CatBasic.Code, detect.PersonName, false},
		"身份证号":   {CatIdentity.Code, detect.ResidentID, true},
		"联系电话":   {CatContact.Code, detect.Mobile, false},
		"住址":     {CatBasic.Code, detect.Address, false},
		"出生日期":   {CatBirthDate.Code, "", false},
		"病情":     {CatHealth.Code, "", true},
		"备注":     {CatGeneral.Code, "", false},
		"企业信用代码": {CatOrgIdentity.Code, detect.CreditCode, false},
	}
	for _, c := range rep.Columns {
		w := want[c.Name]
		if c.Category != w.cat || c.Entity != string(w.entity) || c.Sensitive != w.sensitive || c.Level != General {
			t.Errorf("%s: got %+v, want %+v", c.Name, c, w)
		}
		for _, ev := range c.Evidence {
			for _, id := range []string{"11010519491231002X", "13800130000", "张三"} {
				if strings.Contains(ev, id) {
					t.Errorf("%s: evidence %q shows a value in clear", c.Name, ev)
				}
			}
		}
		if c.Confidence <= 0 || c.Confidence > 1 {
			t.Errorf("%s: confidence %v", c.Name, c.Confidence)
		}
	}
	if !rep.Personal || !rep.Sensitive {
		t.Fatal("report flags")
	}
	old := ImportantScale
	ImportantScale = 10
	defer func() { ImportantScale = old }()
	rep = Classify(sampleTable(), Options{})
	if rep.Columns[1].Level != Important || rep.Columns[0].Level != General {
		t.Fatalf("scale: %+v", rep.Columns[:2])
	}
}

func TestClassifyAdult(t *testing.T) {
	tb, err := table.ReadFile(filepath.Join("../../../../shared/datasets/adult", "adult.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rep := Classify(tb, Options{})
	for _, c := range rep.Columns {
		if !c.Personal {
			t.Errorf("Adult column %s should be personal: %+v", c.Name, c)
		}
	}
}

// R-PRS-6, R-SEC-1: core is suggested only for categories the authority's
// configuration designates core; never by default, never for "general".
// The important-data scale is configurable per call.
func TestLevelsCoreAndScale(t *testing.T) {
	levels := func(opt Options) map[string]string {
		out := map[string]string{}
		for _, c := range Classify(sampleTable(), opt).Columns {
			out[c.Name] = string(c.Level)
		}
		return out
	}
	for name, l := range levels(Options{}) {
		if l != string(General) {
			t.Errorf("default: %s is %s", name, l)
		}
	}
	got := levels(Options{CoreCategories: []string{CatHealth.Code, CatIdentity.Code, CatGeneral.Code}})
	for name, want := range map[string]mask.Level{"病情": Core, "身份证号": Core, "备注": General, "姓名": General, "联系电话": General} {
		if got[name] != string(want) {
			t.Errorf("core config: %s is %s, want %s", name, got[name], want)
		}
	}
	// The scale: 40 records of sensitive data are important from 40 on.
	got = levels(Options{ImportantScale: 40, CoreCategories: []string{CatHealth.Code}})
	if got["身份证号"] != string(Important) || got["病情"] != string(Core) || got["姓名"] != string(General) {
		t.Errorf("scale 40: %v", got)
	}
	if got = levels(Options{ImportantScale: 41}); got["身份证号"] != string(General) {
		t.Errorf("scale 41: %v", got)
	}
	rep := Classify(sampleTable(), Options{CoreCategories: []string{CatHealth.Code}})
	if c := rep.Columns[5]; c.Level != Core || !strings.Contains(strings.Join(c.Reasons, ";"), "designated core") {
		t.Errorf("core reason missing: %+v", c)
	}
	if err := CheckCategories([]string{CatHealth.Code, CatLocation.Code}); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]string{{"personal.nope"}, {CatGeneral.Code}, {"personal"}} {
		if CheckCategories(bad) == nil {
			t.Errorf("CheckCategories(%q) accepted", bad)
		}
	}
}
