package casework

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
)

// China Standard Time. Deadlines are counted in whole local days; China has
// no daylight saving, so a fixed zone avoids depending on tzdata.
var cst = time.FixedZone("CST", 8*3600)

//go:embed calendars/*.json
var defaultCalendars embed.FS

// Year is one year of the working-day calendar as the State Council publishes
// it: public holidays (放假) and the weekend days that are worked instead
// (调休上班). Every other Monday to Friday is a working day. See
// docs/calendar.md for the file format.
type Year struct {
	Year     int        `json:"year"`
	Source   string     `json:"source,omitempty"`
	Holidays []DayRange `json:"holidays"`
	Workdays []DayRange `json:"workdays"`
}

// DayRange is a named run of dates, inclusive; To may be omitted for one day.
type DayRange struct {
	Name string `json:"name,omitempty"`
	From string `json:"from"`
	To   string `json:"to,omitempty"`
}

type day struct {
	y int
	m time.Month
	d int
}

func dayOf(t time.Time) day {
	y, m, d := t.In(cst).Date()
	return day{y, m, d}
}

func (d day) time() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, cst) }
func (d day) next() day       { return dayOf(d.time().AddDate(0, 0, 1)) }

// Calendar answers which days are working days. It is immutable once built
// and safe for concurrent use.
type Calendar struct {
	years    map[int]Year
	holidays map[day]string
	workdays map[day]string
}

var errCalendar = apperr.New(apperr.Invalid, "casework.calendar_invalid", "工作日历文件格式错误", "the working-day calendar file is invalid")

// ParseYear reads one year file and checks it: every date parses, lies in
// the year, and no date is both a holiday and a working day.
func ParseYear(b []byte) (Year, error) {
	var y Year
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&y); err != nil {
		return Year{}, errCalendar.Wrap(err)
	}
	if y.Year < 2000 || y.Year > 2200 {
		return Year{}, errCalendar.At("year")
	}
	seen := map[day]string{}
	check := func(list []DayRange, what string) error {
		for i, r := range list {
			days, err := r.days()
			if err != nil {
				return errCalendar.At(fmt.Sprintf("%s[%d]", what, i)).Wrap(err)
			}
			for _, d := range days {
				if d.y != y.Year {
					return errCalendar.At(fmt.Sprintf("%s[%d]", what, i)).Wrap(fmt.Errorf("%04d-%02d-%02d is not in %d", d.y, d.m, d.d, y.Year))
				}
				if prev, ok := seen[d]; ok && prev != what {
					return errCalendar.At(fmt.Sprintf("%s[%d]", what, i)).Wrap(fmt.Errorf("%04d-%02d-%02d is both a holiday and a working day", d.y, d.m, d.d))
				}
				seen[d] = what
			}
		}
		return nil
	}
	if err := check(y.Holidays, "holidays"); err != nil {
		return Year{}, err
	}
	if err := check(y.Workdays, "workdays"); err != nil {
		return Year{}, err
	}
	return y, nil
}

func parseDay(s string) (day, error) {
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), cst)
	if err != nil {
		return day{}, err
	}
	return dayOf(t), nil
}

func (r DayRange) days() ([]day, error) {
	from, err := parseDay(r.From)
	if err != nil {
		return nil, err
	}
	to := from
	if r.To != "" {
		if to, err = parseDay(r.To); err != nil {
			return nil, err
		}
	}
	if to.time().Before(from.time()) || to.time().Sub(from.time()) > 60*24*time.Hour {
		return nil, fmt.Errorf("range %s..%s is reversed or longer than 60 days", r.From, r.To)
	}
	var out []day
	for d := from; !d.time().After(to.time()); d = d.next() {
		out = append(out, d)
	}
	return out, nil
}

// NewCalendar builds a calendar from year files; a later file for the same
// year replaces an earlier one.
func NewCalendar(years ...Year) *Calendar {
	c := &Calendar{years: map[int]Year{}, holidays: map[day]string{}, workdays: map[day]string{}}
	for _, y := range years {
		c.years[y.Year] = y
	}
	for _, y := range c.years {
		for _, r := range y.Holidays {
			ds, _ := r.days()
			for _, d := range ds {
				c.holidays[d] = r.Name
			}
		}
		for _, r := range y.Workdays {
			ds, _ := r.days()
			for _, d := range ds {
				c.workdays[d] = r.Name
			}
		}
	}
	return c
}

// DefaultCalendar is the calendar embedded in the binary (2025 and 2026).
func DefaultCalendar() *Calendar {
	c, err := LoadCalendar("")
	if err != nil {
		panic("casework: embedded calendar: " + err.Error())
	}
	return c
}

// LoadCalendar returns the embedded years overlaid with the files
// <dir>/<year>.json that the authority maintains; a file replaces the
// embedded year of the same number. An empty dir means embedded only.
func LoadCalendar(dir string) (*Calendar, error) {
	years, err := readYears(defaultCalendars, "calendars")
	if err != nil {
		return nil, err
	}
	if dir != "" {
		more, err := readYears(os.DirFS(dir), ".")
		if err != nil {
			return nil, fmt.Errorf("casework: calendar folder %s: %w", dir, err)
		}
		years = append(years, more...)
	}
	return NewCalendar(years...), nil
}

func readYears(fsys fs.FS, dir string) ([]Year, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Year
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, e.Name())))
		if err != nil {
			return nil, err
		}
		y, err := ParseYear(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json")); err == nil && n != y.Year {
			return nil, fmt.Errorf("%s: holds year %d", e.Name(), y.Year)
		}
		out = append(out, y)
	}
	return out, nil
}

// Years lists the years the calendar has published schedules for. Outside
// them only weekends are days off.
func (c *Calendar) Years() []int {
	out := make([]int, 0, len(c.years))
	for y := range c.years {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// IsWorkingDay reports whether the local (China Standard Time) date of t is
// a working day: a Monday to Friday that is not a holiday, or a weekend day
// that the State Council made a working day (调休).
func (c *Calendar) IsWorkingDay(t time.Time) bool { return c.isWorking(dayOf(t)) }

func (c *Calendar) isWorking(d day) bool {
	if _, ok := c.workdays[d]; ok {
		return true
	}
	if _, ok := c.holidays[d]; ok {
		return false
	}
	wd := d.time().Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkingDays returns the deadline n working days after from: the end
// (exclusive, i.e. 00:00 China Standard Time of the next day) of the n-th
// working day after the day of from. As in Chinese administrative practice,
// the day a period starts is not counted. n <= 0 returns the end of the day of
// from.
func (c *Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	d := dayOf(from)
	for n > 0 {
		d = d.next()
		if c.isWorking(d) {
			n--
		}
	}
	return d.next().time().UTC()
}

// WorkingDaysBetween counts the working days after the day of from up to and
// including the day of to: how many working days a case spent paused when it
// was returned at from and resubmitted at to. It is 0 when to is on the same
// day as from or earlier.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	end := dayOf(to).time()
	n := 0
	for d := dayOf(from).next(); !d.time().After(end); d = d.next() {
		if c.isWorking(d) {
			n++
		}
	}
	return n
}

// Extend moves a deadline made by AddWorkingDays n working days later.
func (c *Calendar) Extend(deadline time.Time, n int) time.Time {
	if n <= 0 {
		return deadline
	}
	return c.AddWorkingDays(deadline.Add(-time.Microsecond), n)
}
