package anon

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/privacy/table"
)

// The checkers below re-verify an anonymised table from scratch, without
// the engine's encodings or helpers: they group the table's own rows by the
// quasi-identifier strings and look at the sensitive values in each group.
// They verify the default output of Anonymize (suppressed records left out);
// an output written with KeepSuppressed has a "*" class that need not pass.

// ErrViolation is returned (wrapped, naming the class) when a table does not
// satisfy the model a checker verifies.
var ErrViolation = apperr.New(apperr.Invalid, "privacy.model_violated", "数据不满足隐私模型", "the table does not satisfy the privacy model")

// sensitiveGroups groups t's rows by their QI values and counts the
// sensitive values in each group. It also returns the whole table's counts.
func sensitiveGroups(t *table.Table, qis []string, sensitive string) (groups map[string]map[string]int, whole map[string]int, err error) {
	cols, err := t.Cols(qis)
	if err != nil {
		return nil, nil, err
	}
	sc, err := t.Cols([]string{sensitive})
	if err != nil {
		return nil, nil, err
	}
	groups = map[string]map[string]int{}
	whole = map[string]int{}
	var sb strings.Builder
	for _, r := range t.Rows {
		sb.Reset()
		for _, c := range cols {
			// Length-prefixed, so no value can imitate a separator.
			sb.WriteString(strconv.Itoa(len(r[c])))
			sb.WriteByte(':')
			sb.WriteString(r[c])
		}
		k := sb.String()
		g := groups[k]
		if g == nil {
			g = map[string]int{}
			groups[k] = g
		}
		v := r[sc[0]]
		g[v]++
		whole[v]++
	}
	return groups, whole, nil
}

// classLabel renders a group key readably for error messages.
func classLabel(key string) string {
	var parts []string
	for len(key) > 0 {
		i := strings.IndexByte(key, ':')
		n, _ := strconv.Atoi(key[:i])
		parts = append(parts, key[i+1:i+1+n])
		key = key[i+1+n:]
	}
	return strings.Join(parts, "|")
}

// CheckLDiversity verifies that every equivalence class of t over qis is
// l-diverse in sensitive: with variant DistinctL it has at least l distinct
// sensitive values; with RecursiveL it is recursive (c,l)-diverse — with the
// class's value counts sorted r1 >= r2 >= … >= rm, m >= l and
// r1 < c·(r_l + r_{l+1} + … + r_m) (Machanavajjhala et al. 2007). It returns
// nil when every class passes and an error wrapping ErrViolation naming the
// first failing class otherwise. R-PRS-6, R-OPN-4.
func CheckLDiversity(t *table.Table, qis []string, sensitive string, l int, variant Diversity, c float64) error {
	if l < 1 {
		return errConfig.At("l").Wrap(fmt.Errorf("l must be at least 1"))
	}
	if variant == "" {
		variant = DistinctL
	}
	if variant != DistinctL && variant != RecursiveL {
		return errConfig.At("diversity").Wrap(fmt.Errorf("unknown l-diversity variant %q", variant))
	}
	if variant == RecursiveL && !(c > 0) {
		return errConfig.At("c").Wrap(fmt.Errorf("recursive (c,l)-diversity needs c > 0"))
	}
	groups, _, err := sensitiveGroups(t, qis, sensitive)
	if err != nil {
		return err
	}
	keys := sortedKeys(groups)
	for _, k := range keys {
		g := groups[k]
		if len(g) < l {
			return ErrViolation.At(classLabel(k)).Wrap(fmt.Errorf("class has %d distinct values of %s, fewer than l = %d", len(g), sensitive, l))
		}
		if variant != RecursiveL {
			continue
		}
		counts := make([]int, 0, len(g))
		for _, n := range g {
			counts = append(counts, n)
		}
		slices.Sort(counts)
		slices.Reverse(counts)
		tail := 0
		for _, n := range counts[l-1:] {
			tail += n
		}
		if !(float64(counts[0]) < c*float64(tail)) {
			return ErrViolation.At(classLabel(k)).Wrap(fmt.Errorf("class is not recursive (%g,%d)-diverse in %s: r1 = %d, c·(r%d+…+rm) = %g", c, l, sensitive, counts[0], l, c*float64(tail)))
		}
	}
	return nil
}

// CheckTCloseness verifies that every equivalence class of t over qis has a
// distribution of sensitive within earth mover's distance T of the whole
// table's distribution (Li et al. 2007). The ground distance is equal (every
// two distinct values are 1 apart; the EMD is then half the L1 distance)
// unless every sensitive value in t is a number, when it is the ordered
// distance |i−j|/(m−1) over the m distinct values sorted by number (ties by
// string). It returns the largest distance found, and an error wrapping
// ErrViolation naming a class whose distance exceeds T. R-PRS-6, R-OPN-4.
func CheckTCloseness(t *table.Table, qis []string, sensitive string, T float64) (maxDist float64, err error) {
	if !(T >= 0) {
		return 0, errConfig.At("t").Wrap(fmt.Errorf("t must be at least 0"))
	}
	groups, whole, err := sensitiveGroups(t, qis, sensitive)
	if err != nil {
		return 0, err
	}
	// The domain, in ground-distance order.
	domain := make([]string, 0, len(whole))
	numeric := len(whole) > 1
	num := map[string]float64{}
	for v := range whole {
		domain = append(domain, v)
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) {
			numeric = false
		}
		num[v] = f
	}
	slices.SortFunc(domain, func(a, b string) int {
		if numeric {
			if num[a] != num[b] {
				if num[a] < num[b] {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(a, b)
	})
	n := float64(len(t.Rows))
	var worst error
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		size := 0
		for _, c := range g {
			size += c
		}
		var d float64
		if numeric {
			// Ordered distance: the sum of the absolute cumulative
			// differences, over m−1.
			cum := 0.0
			for _, v := range domain[:len(domain)-1] {
				cum += float64(g[v])/float64(size) - float64(whole[v])/n
				d += math.Abs(cum)
			}
			d /= float64(len(domain) - 1)
		} else {
			for _, v := range domain {
				d += math.Abs(float64(g[v])/float64(size) - float64(whole[v])/n)
			}
			d /= 2
		}
		if d > maxDist {
			maxDist = d
		}
		if d > T+1e-9 && worst == nil {
			worst = ErrViolation.At(classLabel(k)).Wrap(fmt.Errorf("class's distribution of %s is %.6f from the table's, more than t = %g", sensitive, d, T))
		}
	}
	return maxDist, worst
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
