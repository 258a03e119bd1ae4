package share

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
)

// UsageOptions tune anomaly detection on a grant's use.
type UsageOptions struct {
	// SpikeFactor: a day is a volume spike when its calls (or rows) exceed
	// SpikeFactor times the median of the previous BaselineDays days
	// (default 3 and 7).
	SpikeFactor  float64
	BaselineDays int
	// SpikeMinCalls and SpikeMinRows keep small absolute numbers from
	// counting as spikes (defaults 20 calls, 1,000 rows).
	SpikeMinCalls int64
	SpikeMinRows  int64
	// MaxEntries bounds the ledger entries read for one report (default
	// 100,000); a report that hit it says Truncated.
	MaxEntries int
}

func (o *UsageOptions) defaults() {
	if o.SpikeFactor <= 0 {
		o.SpikeFactor = 3
	}
	if o.BaselineDays <= 0 {
		o.BaselineDays = 7
	}
	if o.SpikeMinCalls <= 0 {
		o.SpikeMinCalls = 20
	}
	if o.SpikeMinRows <= 0 {
		o.SpikeMinRows = 1000
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
}

// Usage is how a sharing grant has been used: calls, rows, refusals and
// anomalies, read from the ledger (every delivery and every refusal under
// a grant is a ledger event with the grant's id).
type Usage struct {
	GrantID       string    `json:"grant_id"`
	ResourceID    string    `json:"resource_id"`
	GranteeOrgID  string    `json:"grantee_org_id"`
	ProviderOrgID string    `json:"provider_org_id"`
	Since         time.Time `json:"since"`
	Until         time.Time `json:"until"`
	// Calls are deliveries (ledger provide and transmit events); Rows the
	// records they carried; Denied the calls the gate refused under the grant.
	Calls        int64            `json:"calls"`
	Rows         int64            `json:"rows"`
	Denied       int64            `json:"denied"`
	DeniedByCode map[string]int64 `json:"denied_by_code"`
	// OutsideFields counts calls that asked for data items outside the grant.
	OutsideFields int64      `json:"outside_fields"`
	LastCall      *time.Time `json:"last_call,omitempty"`
	Days          []DayUsage `json:"days"`
	Anomalies     []Anomaly  `json:"anomalies"`
	// Truncated says the report read Options.Usage.MaxEntries entries and stopped.
	Truncated bool `json:"truncated"`
}

// DayUsage is one day's use (days in China Standard Time).
type DayUsage struct {
	Day    string `json:"day"`
	Calls  int64  `json:"calls"`
	Rows   int64  `json:"rows"`
	Denied int64  `json:"denied"`
}

// Anomaly is something in a grant's use that the providing org and the
// authority should look at.
type Anomaly struct {
	// Kind: volume_spike (calls), rows_spike, fields_outside_grant,
	// purpose_mismatch.
	Kind  string `json:"kind"`
	Day   string `json:"day"`
	Count int64  `json:"count"`
	// Baseline is the median daily figure the spike is measured against.
	Baseline float64  `json:"baseline,omitempty"`
	Fields   []string `json:"fields,omitempty"`
	ZH       string   `json:"zh"`
	EN       string   `json:"en"`
}

var cst = time.FixedZone("CST", 8*3600)

// Usage reports a sharing grant's use from since (zero: 30 days ago) to
// now, for the providing org and the authority (R-SHR-5, R-SHR-10,
// FJ33). The figures come from integrated ledger entries, so the latest
// calls appear once the ledger has integrated them (normally within a
// second).
func (s *Service) Usage(ctx context.Context, p identity.Principal, grantID string, since time.Time) (*Usage, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	sg, err := s.Grant(ctx, p, grantID)
	if err != nil {
		return nil, err
	}
	if !(isAuthority(p) || p.Has(identity.RoleSecurityOfficer) || isProvider(p, sg.ProviderOrgID)) {
		return nil, ErrRole
	}
	now := s.clock.Now().UTC()
	if since.IsZero() {
		since = now.AddDate(0, 0, -30)
	}
	if since.Before(sg.CreatedAt) {
		since = sg.CreatedAt
	}
	u := &Usage{GrantID: sg.ID, ResourceID: sg.ResourceID, GranteeOrgID: sg.GranteeOrgID, ProviderOrgID: sg.ProviderOrgID,
		Since: since, Until: now, DeniedByCode: map[string]int64{}, Days: []DayUsage{}, Anomalies: []Anomaly{}}
	// One bucket per calendar day of the window, so quiet days count as zero.
	dayIdx := map[string]int{}
	startDay, endDay := dayStart(since), dayStart(now)
	for d := startDay; !d.After(endDay) && len(u.Days) < 3700; d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		dayIdx[key] = len(u.Days)
		u.Days = append(u.Days, DayUsage{Day: key})
	}
	bucket := func(t time.Time) *DayUsage {
		key := t.In(cst).Format(time.DateOnly)
		i, ok := dayIdx[key]
		if !ok {
			dayIdx[key] = len(u.Days)
			u.Days = append(u.Days, DayUsage{Day: key})
			i = len(u.Days) - 1
		}
		return &u.Days[i]
	}
	outside := map[string]map[string]bool{} // day → fields
	outsideN := map[string]int64{}
	purposeN := map[string]int64{}
	read := 0
	after := ""
	for {
		entries, next, err := s.led.Query(ctx, ledger.Filter{GrantID: sg.ID, Since: since, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			read++
			switch e.Action {
			case ledger.Provide, ledger.Transmit:
				u.Calls++
				u.Rows += e.RecordCount
				b := bucket(e.Time)
				b.Calls++
				b.Rows += e.RecordCount
				if u.LastCall == nil || e.Time.After(*u.LastCall) {
					t := e.Time
					u.LastCall = &t
				}
			case ledger.Decide:
				var d struct {
					Outcome string `json:"outcome"`
					Code    string `json:"code"`
				}
				_ = json.Unmarshal(e.Detail, &d)
				if d.Outcome != "deny" {
					continue // grant changes, not calls
				}
				u.Denied++
				u.DeniedByCode[d.Code]++
				b := bucket(e.Time)
				b.Denied++
				switch d.Code {
				case "gate.field_not_granted", "gate.filter_field_not_granted":
					u.OutsideFields++
					outsideN[b.Day]++
					if outside[b.Day] == nil {
						outside[b.Day] = map[string]bool{}
					}
					for _, f := range e.Fields {
						if !slices.Contains(sg.Fields, f) {
							outside[b.Day][f] = true
						}
					}
				case "gate.purpose_mismatch":
					purposeN[b.Day]++
				}
			}
		}
		if next == "" || read >= s.opts.Usage.MaxEntries {
			u.Truncated = next != ""
			break
		}
		after = next
	}
	sort.Slice(u.Days, func(i, j int) bool { return u.Days[i].Day < u.Days[j].Day })
	u.Anomalies = append(u.Anomalies, s.spikes(u.Days)...)
	for _, day := range sortedKeys(outsideN) {
		var fs []string
		for f := range outside[day] {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		n := outsideN[day]
		u.Anomalies = append(u.Anomalies, Anomaly{Kind: "fields_outside_grant", Day: day, Count: n, Fields: fs,
			ZH: "请求授权范围以外的数据项 " + strconv.FormatInt(n, 10) + " 次",
			EN: strconv.FormatInt(n, 10) + " calls asked for data items outside the grant"})
	}
	for _, day := range sortedKeys(purposeN) {
		n := purposeN[day]
		u.Anomalies = append(u.Anomalies, Anomaly{Kind: "purpose_mismatch", Day: day, Count: n,
			ZH: "以授权场景以外的用途调用 " + strconv.FormatInt(n, 10) + " 次",
			EN: strconv.FormatInt(n, 10) + " calls stated a purpose other than the grant's scenario"})
	}
	sort.SliceStable(u.Anomalies, func(i, j int) bool { return u.Anomalies[i].Day < u.Anomalies[j].Day })
	return u, nil
}

func dayStart(t time.Time) time.Time {
	t = t.In(cst)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, cst)
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func median(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return float64(c[n/2])
	}
	return float64(c[n/2-1]+c[n/2]) / 2
}

// spikes finds days whose calls or rows exceed SpikeFactor times the median
// of the previous BaselineDays days. The first day has no baseline.
func (s *Service) spikes(days []DayUsage) []Anomaly {
	o := s.opts.Usage
	var out []Anomaly
	for i := 1; i < len(days); i++ {
		lo := max(0, i-o.BaselineDays)
		var calls, rows []int64
		for _, d := range days[lo:i] {
			calls = append(calls, d.Calls)
			rows = append(rows, d.Rows)
		}
		d := days[i]
		if base := median(calls); d.Calls >= o.SpikeMinCalls && float64(d.Calls) > o.SpikeFactor*max(base, 1) {
			out = append(out, Anomaly{Kind: "volume_spike", Day: d.Day, Count: d.Calls, Baseline: base,
				ZH: "调用量突增：" + strconv.FormatInt(d.Calls, 10) + " 次，此前日中位数 " + strconv.FormatFloat(base, 'f', -1, 64),
				EN: "call volume spike: " + strconv.FormatInt(d.Calls, 10) + " calls against a daily median of " + strconv.FormatFloat(base, 'f', -1, 64)})
		}
		if base := median(rows); d.Rows >= o.SpikeMinRows && float64(d.Rows) > o.SpikeFactor*max(base, 1) {
			out = append(out, Anomaly{Kind: "rows_spike", Day: d.Day, Count: d.Rows, Baseline: base,
				ZH: "数据量突增：" + strconv.FormatInt(d.Rows, 10) + " 条，此前日中位数 " + strconv.FormatFloat(base, 'f', -1, 64),
				EN: "row volume spike: " + strconv.FormatInt(d.Rows, 10) + " rows against a daily median of " + strconv.FormatFloat(base, 'f', -1, 64)})
		}
	}
	return out
}
