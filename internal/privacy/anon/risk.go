package anon

import (
	"strings"

	"shuqiao/internal/privacy/table"
)

// RiskReport measures re-identification risk from the equivalence classes
// of a table over its quasi-identifiers, in the three attacker models GB/T
// 42460-2023 (and ARX, El Emam) use:
//
//   - prosecutor: the attacker knows the target is in the data set; a record
//     in a class of size f is re-identified with probability 1/f;
//   - journalist: the attacker does not know whether the target is in it,
//     and matches against the population: 1/F with F the size of the
//     matching class in the population (equal to the prosecutor figures
//     when no population table is given, i.e. the data set is the
//     population);
//   - marketer: the attacker wants to re-identify as many records as
//     possible: the expected share re-identified.
type RiskReport struct {
	QIs     []string `json:"qis"`
	Records int      `json:"records"`
	Classes int      `json:"classes"`
	// Uniques is the number of records alone in their class; UniqueShare
	// the share of records that are unique (样本唯一率).
	Uniques     int     `json:"uniques"`
	UniqueShare float64 `json:"unique_share"`
	MinClass    int     `json:"min_class"`
	AvgClass    float64 `json:"avg_class"`
	// Threshold is the per-record risk above which a record counts as at risk.
	Threshold float64 `json:"threshold"`

	ProsecutorMax     float64 `json:"prosecutor_max"`
	ProsecutorAvg     float64 `json:"prosecutor_avg"`
	ProsecutorAtRisk  float64 `json:"prosecutor_at_risk"` // share of records with risk > Threshold
	JournalistMax     float64 `json:"journalist_max"`
	JournalistAvg     float64 `json:"journalist_avg"`
	JournalistAtRisk  float64 `json:"journalist_at_risk"`
	Marketer          float64 `json:"marketer"`
	PopulationRecords int     `json:"population_records,omitempty"`
	// Histogram counts records by class size: 1, 2, 3-4, 5-9, 10-19, 20+.
	Histogram map[string]int `json:"class_size_histogram"`
}

func groupKey(row []string, cols []int, sb *strings.Builder) string {
	sb.Reset()
	for i, c := range cols {
		if i > 0 {
			sb.WriteByte(0x1f)
		}
		sb.WriteString(row[c])
	}
	return sb.String()
}

// Risk computes the report for t over qis. population, if not nil, is the
// population table for the journalist model (it must have the qis too).
// threshold <= 0
// means 0.2 (a class smaller than 5), the figure commonly used with GB/T
// 42460 and ARX's defaults.
func Risk(t *table.Table, qis []string, population *table.Table, threshold float64) (*RiskReport, error) {
	if threshold <= 0 {
		threshold = 0.2
	}
	cols, err := t.Cols(qis)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	size := map[string]int{}
	n := 0
	for _, r := range t.Rows {
		size[groupKey(r, cols, &sb)]++
		n++
	}
	rep := &RiskReport{QIs: qis, Records: n, Classes: len(size), Threshold: threshold, Histogram: map[string]int{}}
	if n == 0 {
		return rep, nil
	}
	var pop map[string]int
	if population != nil {
		pc, err := population.Cols(qis)
		if err != nil {
			return nil, err
		}
		pop = map[string]int{}
		for _, r := range population.Rows {
			pop[groupKey(r, pc, &sb)]++
		}
		rep.PopulationRecords = len(population.Rows)
	}
	rep.MinClass = n
	for key, f := range size {
		if f == 1 {
			rep.Uniques++
		}
		rep.MinClass = min(rep.MinClass, f)
		rep.Histogram[bucket(f)] += f
		pr := 1 / float64(f)
		rep.ProsecutorMax = max(rep.ProsecutorMax, pr)
		if pr > threshold {
			rep.ProsecutorAtRisk += float64(f)
		}
		F := f
		if pop != nil {
			// A sample class absent from the population (or smaller there)
			// cannot be larger in the population than in the sample.
			F = max(pop[key], f)
		}
		jr := 1 / float64(F)
		rep.JournalistMax = max(rep.JournalistMax, jr)
		rep.JournalistAvg += float64(f) * jr
		if jr > threshold {
			rep.JournalistAtRisk += float64(f)
		}
	}
	fn := float64(n)
	rep.UniqueShare = float64(rep.Uniques) / fn
	rep.AvgClass = fn / float64(rep.Classes)
	// Each record's prosecutor risk is 1/f; averaged over records that is
	// classes/n, which is also the marketer's expected share.
	rep.ProsecutorAvg = float64(rep.Classes) / fn
	rep.Marketer = rep.JournalistAvg / fn
	rep.JournalistAvg /= fn
	rep.ProsecutorAtRisk /= fn
	rep.JournalistAtRisk /= fn
	if pop == nil {
		rep.Marketer = rep.ProsecutorAvg
	}
	return rep, nil
}

func bucket(f int) string {
	switch {
	case f == 1:
		return "1"
	case f == 2:
		return "2"
	case f <= 4:
		return "3-4"
	case f <= 9:
		return "5-9"
	case f <= 19:
		return "10-19"
	}
	return "20+"
}

// CheckKAnonymous reports the smallest class size of t over qis — an
// independent check of an output.
func CheckKAnonymous(t *table.Table, qis []string) (minClass int, err error) {
	r, err := Risk(t, qis, nil, 0)
	if err != nil {
		return 0, err
	}
	if r.Records == 0 {
		return 0, nil
	}
	return r.MinClass, nil
}
