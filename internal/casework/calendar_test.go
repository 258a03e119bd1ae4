package casework_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"shuqiao/internal/casework"
)

var cst = time.FixedZone("CST", 8*3600)

func at(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, cst) }

// endOf is the deadline instant for a last working day: 00:00 CST next day.
func endOf(y int, m time.Month, d int) time.Time { return time.Date(y, m, d+1, 0, 0, 0, 0, cst) }

func TestCalendarWorkingDays(t *testing.T) {
	cal := casework.DefaultCalendar()
	if got := cal.Years(); len(got) < 2 || got[0] != 2025 || got[1] != 2026 {
		t.Fatalf("embedded years = %v, want 2025 and 2026", got)
	}
	cases := []struct {
		day  time.Time
		want bool
		why  string
	}{
		{at(2026, 3, 6, 12), true, "an ordinary Friday"},
		{at(2026, 3, 7, 12), false, "an ordinary Saturday"},
		{at(2026, 1, 1, 12), false, "New Year's Day (元旦)"},
		{at(2026, 1, 2, 12), false, "a Friday in the New Year holiday"},
		{at(2026, 1, 4, 12), true, "Sunday 4 January 2026 is worked (调休)"},
		{at(2026, 2, 14, 12), true, "Saturday 14 February 2026 is worked (春节调休)"},
		{at(2026, 2, 16, 12), false, "Spring Festival"},
		{at(2026, 2, 23, 12), false, "last day of the Spring Festival holiday (a Monday)"},
		{at(2026, 4, 6, 12), false, "Qingming holiday Monday"},
		{at(2026, 9, 20, 12), true, "Sunday 20 September 2026 is worked (国庆调休)"},
		{at(2025, 1, 26, 12), true, "Sunday 26 January 2025 is worked (春节调休)"},
		{at(2025, 10, 8, 12), false, "National Day holiday 2025"},
		{at(2027, 1, 4, 12), true, "a Monday in a year without a published schedule"},
		// 2026-01-03 16:30 UTC is already Sunday 4 January in China.
		{time.Date(2026, 1, 3, 16, 30, 0, 0, time.UTC), true, "dates are China Standard Time"},
	}
	for _, c := range cases {
		if got := cal.IsWorkingDay(c.day); got != c.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v: %s", c.day.Format(time.DateTime), got, c.want, c.why)
		}
	}
}

func TestCalendarAddWorkingDays(t *testing.T) {
	cal := casework.DefaultCalendar()
	cases := []struct {
		from time.Time
		n    int
		want time.Time
		why  string
	}{
		{at(2026, 3, 4, 10), 1, endOf(2026, 3, 5), "the filing day does not count"},
		{at(2026, 3, 6, 10), 1, endOf(2026, 3, 9), "across a weekend"},
		{at(2026, 3, 6, 23), 2, endOf(2026, 3, 10), "late on Friday"},
		{at(2026, 4, 2, 10), 2, endOf(2026, 4, 7), "across the Qingming holiday (4–6 April)"},
		{at(2025, 12, 31, 10), 1, endOf(2026, 1, 4), "across New Year to the 调休 working Sunday"},
		{at(2025, 12, 31, 10), 3, endOf(2026, 1, 6), "New Year, then 调休 Sunday, Monday, Tuesday"},
		{at(2026, 2, 13, 10), 1, endOf(2026, 2, 14), "the 调休 working Saturday before Spring Festival"},
		{at(2026, 2, 13, 10), 2, endOf(2026, 2, 24), "across the whole Spring Festival holiday"},
		{at(2026, 3, 2, 10), 15, endOf(2026, 3, 23), "fifteen working days"},
	}
	for _, c := range cases {
		if got := cal.AddWorkingDays(c.from, c.n); !got.Equal(c.want) {
			t.Errorf("AddWorkingDays(%s, %d) = %s, want %s: %s", c.from.Format(time.DateTime), c.n,
				got.In(cst).Format(time.DateTime), c.want.Format(time.DateTime), c.why)
		}
	}
	// Pause accounting: returned on Tuesday, resubmitted on Friday, the
	// case lost Wednesday, Thursday and Friday.
	if got := cal.WorkingDaysBetween(at(2026, 3, 3, 10), at(2026, 3, 6, 15)); got != 3 {
		t.Errorf("WorkingDaysBetween = %d, want 3", got)
	}
	if got := cal.WorkingDaysBetween(at(2026, 3, 3, 10), at(2026, 3, 3, 17)); got != 0 {
		t.Errorf("same-day pause = %d, want 0", got)
	}
	if got := cal.WorkingDaysBetween(at(2026, 2, 13, 10), at(2026, 2, 24, 10)); got != 2 {
		t.Errorf("pause over Spring Festival = %d, want 2 (14 Feb and 24 Feb)", got)
	}
	if got := cal.Extend(endOf(2026, 3, 23), 3); !got.Equal(endOf(2026, 3, 26)) {
		t.Errorf("Extend = %s, want end of 26 March", got.In(cst))
	}
}

func TestCalendarFilesOverride(t *testing.T) {
	dir := t.TempDir()
	// The authority declares 9 March 2026 a holiday and Saturday 14 March a
	// working day: the file replaces the embedded 2026.
	if err := os.WriteFile(filepath.Join(dir, "2026.json"), []byte(`{
		"year": 2026,
		"holidays": [{"name": "test holiday", "from": "2026-03-09"}],
		"workdays": [{"name": "test workday", "from": "2026-03-14"}]
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cal, err := casework.LoadCalendar(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cal.IsWorkingDay(at(2026, 3, 9, 12)) || !cal.IsWorkingDay(at(2026, 3, 14, 12)) {
		t.Error("override file not applied")
	}
	if !cal.IsWorkingDay(at(2026, 1, 2, 12)) {
		t.Error("the override replaces the whole embedded year, so 2 January is an ordinary Friday")
	}
	if cal.IsWorkingDay(at(2025, 10, 1, 12)) {
		t.Error("the embedded 2025 must survive an override of 2026")
	}

	bad := []struct{ name, body string }{
		{"2026.json", `{"year": 2026, "holidays": [{"from": "2026-02-30"}], "workdays": []}`},
		{"2026.json", `{"year": 2026, "holidays": [{"from": "2025-12-31"}], "workdays": []}`},
		{"2026.json", `{"year": 2026, "holidays": [{"from": "2026-03-02"}], "workdays": [{"from": "2026-03-02"}]}`},
		{"2026.json", `{"year": 2026, "holidayz": []}`},
		{"2027.json", `{"year": 2026, "holidays": [], "workdays": []}`},
		{"2026.json", `{"year": 2026, "holidays": [{"from": "2026-03-10", "to": "2026-03-01"}], "workdays": []}`},
	}
	for _, b := range bad {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, b.name), []byte(b.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := casework.LoadCalendar(d); err == nil {
			t.Errorf("LoadCalendar accepted %s: %s", b.name, b.body)
		}
	}
}
