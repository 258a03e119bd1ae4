package anon

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/privacy/table"
)

// Diversity selects the l-diversity variant.
type Diversity string

const (
	DistinctL  Diversity = "distinct"  // at least L distinct sensitive values per class
	RecursiveL Diversity = "recursive" // recursive (c,l): r1 < c·(r_l + … + r_m)
)

// Config says what privacy to reach.
type Config struct {
	// K is the least equivalence-class size (k-anonymity). Required, >= 1.
	K int
	// QIs are the quasi-identifier columns; each needs a hierarchy.
	QIs         []string
	Hierarchies map[string]*Hierarchy
	// MaxSuppression is the largest share of records (0..1) that may be
	// suppressed (removed) to reach the privacy models.
	MaxSuppression float64
	// Sensitive names the sensitive attribute for l-diversity and
	// t-closeness.
	Sensitive string
	// L > 0 asks for l-diversity of the sensitive attribute, Diversity says
	// which (default distinct); C is recursive (c,l)-diversity's c.
	L         int
	Diversity Diversity
	C         float64
	// T > 0 asks for t-closeness: the earth mover's distance between each
	// class's sensitive distribution and that of all released (not
	// suppressed) records is at most T, so the output verifies on its own
	// with CheckTCloseness; without suppression that is the whole table.
	// Equal ground distance for categorical values; ordered distance (by
	// number, ties by string) when every sensitive value is a number.
	T float64
	// KeepSuppressed writes suppressed records with "*" in every
	// quasi-identifier instead of leaving them out of the output. Left out,
	// the output is k-anonymous on its own; kept, the "*" rows form one more
	// class that may be smaller than K.
	KeepSuppressed bool
	// Exhaustive checks every lattice node (for tests and comparison).
	Exhaustive bool
}

// Result is an anonymisation's outcome.
type Result struct {
	// Levels is the chosen generalisation level per QI (same order as QIs).
	Levels []int `json:"levels"`
	// Heights is the number of levels of each QI's hierarchy.
	Heights []int    `json:"heights"`
	QIs     []string `json:"qis"`
	// Records is the input size; Suppressed how many were suppressed.
	Records    int `json:"records"`
	Suppressed int `json:"suppressed"`
	// Classes is the number of equivalence classes in the output.
	Classes int `json:"classes"`
	// MinClass is the smallest output class size.
	MinClass int `json:"min_class"`
	// Loss is the information loss of the result under ARX's "Loss" metric
	// (see docs/privacy.md): 0 = original data, 1 = everything suppressed.
	Loss float64 `json:"loss"`
	// NodesChecked is how many lattice nodes were evaluated; NodesTotal the
	// lattice size.
	NodesChecked int           `json:"nodes_checked"`
	NodesTotal   int           `json:"nodes_total"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	// Output is the anonymised table (nil when no node satisfies the models).
	Output *table.Table `json:"-"`
}

// Transformation renders Levels as "age:2 sex:0 …".
func (r *Result) Transformation() string {
	parts := make([]string, len(r.QIs))
	for i, q := range r.QIs {
		parts[i] = fmt.Sprintf("%s:%d/%d", q, r.Levels[i], r.Heights[i]-1)
	}
	return strings.Join(parts, " ")
}

var (
	errConfig   = apperr.New(apperr.Invalid, "privacy.kanon_config", "匿名化参数无效", "invalid anonymisation parameters")
	errNoValue  = apperr.New(apperr.Invalid, "privacy.value_not_in_hierarchy", "数据中的值不在泛化层次中", "a value in the data is not in the attribute's hierarchy")
	ErrNoResult = apperr.New(apperr.Conflict, "privacy.no_anonymous_transformation", "在给定的隐私模型与抑制上限下不存在可行的泛化方案", "no generalisation satisfies the privacy models within the suppression limit")
)

// attr is one QI, encoded.
type attr struct {
	h      *Hierarchy
	height int
	// code[h][leaf] is leaf's code at level h; names[h][code] the string.
	code  [][]int32
	names [][]string
	// up[a][b][codeA] = code at level b (a <= b).
	up [][][]int32
	// loss[h][code] = (leaves under code - 1) / (leaves - 1).
	loss [][]float64
	// sumLoss[h] = sum over records of the record's loss at level h.
	sumLoss []float64
	shift   uint
	mask    uint64
}

// engine holds the encoded table and the search state.
type engine struct {
	cfg     Config
	n, m    int
	attrs   []attr
	packed  bool // keys fit in uint64
	keyBits uint
	// base classes: distinct level-0 tuples.
	base *classes
	// rowClass[i] is record i's base class.
	rowClass []int32
	// sensitive attribute: S distinct values in ground-distance order (the
	// first numeric of them numbers in numeric order), global distribution.
	S       int
	numeric int
	global  []float64
	ordered bool
	maxSupp int
	radix   []int
	cache   []*classes
	cached  int // ints held by cache
	checked int
	// Scratch reused across node checks.
	work    classes   // the classes of the node being checked
	verdict []uint8   // per class of work: classOK, failAll, failCore
	maps    [][]int32 // per QI: code at src level -> code at node level
	tuple   []int32
	htab    []int32 // open-addressing hash: slot -> class+1 (0: empty)
	chg     []int   // QIs whose level a rollup changes
	pathBuf [][]int
	refCnt  []int64 // t-closeness reference counts over released classes
	ref     []float64
}

// Class verdicts.
const (
	classOK  uint8 = iota
	failAll        // passes k-anonymity and distinct l-diversity, fails another model
	failCore       // fails k-anonymity or distinct l-diversity
)

// classes are the equivalence classes at one lattice node.
type classes struct {
	node  []int
	keys  []uint64 // packed QI codes per class (when the engine is packed)
	codes []int32  // nc*m QI codes (otherwise)
	count []int32
	hist  []int32 // nc*S
}

func (c *classes) n() int { return len(c.count) }

// Anonymize finds the generalisation of t's QIs that satisfies cfg with the
// least information loss and returns the anonymised table.
func Anonymize(ctx context.Context, t *table.Table, cfg Config) (*Result, error) {
	start := time.Now()
	e, err := newEngine(t, cfg)
	if err != nil {
		return nil, err
	}
	node, loss, err := e.search(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{QIs: cfg.QIs, Records: e.n, NodesChecked: e.checked, NodesTotal: e.total()}
	for _, a := range e.attrs {
		res.Heights = append(res.Heights, a.height)
	}
	if node == nil {
		res.Elapsed = time.Since(start)
		return res, ErrNoResult
	}
	res.Levels, res.Loss = node, loss
	e.output(t, res)
	res.Elapsed = time.Since(start)
	return res, nil
}

func newEngine(t *table.Table, cfg Config) (*engine, error) {
	if cfg.K < 1 {
		return nil, errConfig.At("k").Wrap(fmt.Errorf("k must be at least 1"))
	}
	if len(cfg.QIs) == 0 {
		return nil, errConfig.At("qi").Wrap(fmt.Errorf("name at least one quasi-identifier"))
	}
	if cfg.MaxSuppression < 0 || cfg.MaxSuppression > 1 {
		return nil, errConfig.At("max-suppression").Wrap(fmt.Errorf("must be between 0 and 1"))
	}
	if (cfg.L > 0 || cfg.T > 0) && cfg.Sensitive == "" {
		return nil, errConfig.At("sensitive").Wrap(fmt.Errorf("l-diversity and t-closeness need a sensitive attribute"))
	}
	if cfg.Diversity == "" {
		cfg.Diversity = DistinctL
	}
	if cfg.Diversity == RecursiveL && cfg.L > 0 && cfg.C <= 0 {
		return nil, errConfig.At("c").Wrap(fmt.Errorf("recursive (c,l)-diversity needs c > 0"))
	}
	cols, err := t.Cols(cfg.QIs)
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, n: len(t.Rows), m: len(cols)}
	e.maxSupp = int(math.Floor(cfg.MaxSuppression*float64(e.n) + 1e-9))
	// Encode each QI against its hierarchy.
	leafIdx := make([]map[string]int32, e.m)
	var shift uint
	for j, name := range cfg.QIs {
		h := cfg.Hierarchies[name]
		if h == nil {
			return nil, errConfig.At("hierarchies").Wrap(fmt.Errorf("no hierarchy for quasi-identifier %q", name))
		}
		a := attr{h: h, height: h.Height}
		leafIdx[j] = make(map[string]int32, len(h.Values))
		for i, v := range h.Values {
			leafIdx[j][v] = int32(i)
		}
		a.code = make([][]int32, h.Height)
		a.names = make([][]string, h.Height)
		leaves := make([][]int, h.Height)
		for lvl := 0; lvl < h.Height; lvl++ {
			dict := map[string]int32{}
			a.code[lvl] = make([]int32, len(h.Values))
			for i, v := range h.Values {
				g := h.Gen[v][lvl]
				c, ok := dict[g]
				if !ok {
					c = int32(len(a.names[lvl]))
					dict[g] = c
					a.names[lvl] = append(a.names[lvl], g)
					leaves[lvl] = append(leaves[lvl], 0)
				}
				a.code[lvl][i] = c
				leaves[lvl][c]++
			}
		}
		a.up = make([][][]int32, h.Height)
		for lo := 0; lo < h.Height; lo++ {
			a.up[lo] = make([][]int32, h.Height)
			for hi := lo; hi < h.Height; hi++ {
				m := make([]int32, len(a.names[lo]))
				for i := range h.Values {
					m[a.code[lo][i]] = a.code[hi][i]
				}
				a.up[lo][hi] = m
			}
		}
		D := len(h.Values)
		a.loss = make([][]float64, h.Height)
		for lvl := range a.loss {
			a.loss[lvl] = make([]float64, len(a.names[lvl]))
			for c, nl := range leaves[lvl] {
				if D > 1 {
					a.loss[lvl][c] = float64(nl-1) / float64(D-1)
				}
			}
		}
		nb := uint(bits.Len(uint(len(a.names[0]))))
		if nb == 0 {
			nb = 1
		}
		a.shift, a.mask = shift, (uint64(1)<<nb)-1
		shift += nb
		a.sumLoss = make([]float64, h.Height)
		e.attrs = append(e.attrs, a)
	}
	e.packed = shift <= 64
	e.keyBits = shift
	// Sensitive attribute.
	sCol := -1
	var sIdx map[string]int32
	var sVals []string
	if cfg.Sensitive != "" && (cfg.L > 0 || cfg.T > 0) {
		c, err := t.Cols([]string{cfg.Sensitive})
		if err != nil {
			return nil, err
		}
		sCol = c[0]
		sIdx = map[string]int32{}
		for _, r := range t.Rows {
			if _, ok := sIdx[r[sCol]]; !ok {
				sIdx[r[sCol]] = 0
				sVals = append(sVals, r[sCol])
			}
		}
		// Ground-distance order: numbers first, by value and then by
		// string, then the other values by string. The ordered distance
		// applies when every value in play is a number.
		num := make(map[string]float64, len(sVals))
		for _, v := range sVals {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) {
				num[v] = f
			}
		}
		slices.SortFunc(sVals, func(a, b string) int {
			fa, na := num[a]
			fb, nb := num[b]
			switch {
			case na && !nb:
				return -1
			case nb && !na:
				return 1
			case na && fa != fb:
				if fa < fb {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		for i, v := range sVals {
			sIdx[v] = int32(i)
		}
		e.S = len(sVals)
		e.numeric = len(num)
		e.ordered = e.numeric == e.S && e.S > 1
		e.global = make([]float64, e.S)
		e.refCnt = make([]int64, e.S)
		e.ref = make([]float64, e.S)
	}
	// Encode the records' QIs (level-0 codes) and sensitive values, in
	// parallel over row ranges: a string lookup per cell is most of the
	// setup's cost.
	rowCodes := make([]int32, e.n*e.m)
	var rowSens []int32
	if e.S > 0 {
		rowSens = make([]int32, e.n)
	}
	leafCode := make([]map[string]int32, e.m)
	for j := range leafCode {
		leafCode[j] = make(map[string]int32, len(leafIdx[j]))
		for v, li := range leafIdx[j] {
			leafCode[j][v] = e.attrs[j].code[0][li]
		}
	}
	badRow := parallelRows(e.n, func(lo, hi int) int {
		for i := lo; i < hi; i++ {
			row := t.Rows[i]
			dst := rowCodes[i*e.m : (i+1)*e.m]
			for j, c := range cols {
				code, ok := leafCode[j][row[c]]
				if !ok {
					return i
				}
				dst[j] = code
			}
			if rowSens != nil {
				rowSens[i] = sIdx[row[sCol]]
			}
		}
		return -1
	})
	if badRow >= 0 {
		row := t.Rows[badRow]
		for j, c := range cols {
			if _, ok := leafCode[j][row[c]]; !ok {
				return nil, errNoValue.At(fmt.Sprintf("%s:%d:%d", t.Name, badRow+2, c+1)).Wrap(fmt.Errorf("%q is not in the hierarchy of %s", row[c], cfg.QIs[j]))
			}
		}
	}
	// Group records into distinct level-0 tuples.
	base := &classes{node: make([]int, e.m), count: make([]int32, 0, e.n/2)}
	e.rowClass = make([]int32, e.n)
	newClass := func() int32 {
		base.count = append(base.count, 0)
		if e.S > 0 {
			base.hist = slices.Grow(base.hist, e.S)[:len(base.hist)+e.S]
			clear(base.hist[len(base.hist)-e.S:])
		}
		return int32(len(base.count) - 1)
	}
	if e.packed {
		size := 256
		for size < 2*e.n {
			size <<= 1
		}
		tab := make([]int32, size)
		mask := uint64(size - 1)
		shift := uint(64 - bits.Len(uint(size-1)))
		base.keys = make([]uint64, 0, e.n/2)
		for i := 0; i < e.n; i++ {
			var k uint64
			for j, a := range e.attrs {
				k |= uint64(rowCodes[i*e.m+j]) << a.shift
			}
			p := (k * 0x9e3779b97f4a7c15) >> shift
			var id int32
			for {
				id = tab[p] - 1
				if id < 0 {
					id = newClass()
					tab[p] = id + 1
					base.keys = append(base.keys, k)
					break
				}
				if base.keys[id] == k {
					break
				}
				p = (p + 1) & mask
			}
			e.rowClass[i] = id
		}
	} else {
		keyS := make(map[string]int32, e.n/2)
		kb := make([]byte, 4*e.m)
		for i := 0; i < e.n; i++ {
			tuple := rowCodes[i*e.m : (i+1)*e.m]
			for j := range tuple {
				putInt32(kb[4*j:], tuple[j])
			}
			id, ok := keyS[string(kb)]
			if !ok {
				id = newClass()
				keyS[string(kb)] = id
				base.codes = append(base.codes, tuple...)
			}
			e.rowClass[i] = id
		}
	}
	for i, id := range e.rowClass {
		base.count[id]++
		if e.S > 0 {
			s := rowSens[i]
			base.hist[int(id)*e.S+int(s)]++
			e.global[s]++
		}
	}
	for s := range e.global {
		e.global[s] /= float64(e.n)
	}
	// Per-level loss sums (for the lower bound).
	for c := 0; c < base.n(); c++ {
		cnt := float64(base.count[c])
		for j := range e.attrs {
			a := &e.attrs[j]
			code := e.code(base, c, j)
			for lvl := 0; lvl < a.height; lvl++ {
				a.sumLoss[lvl] += cnt * a.loss[lvl][a.up[0][lvl][code]]
			}
		}
	}
	e.base = base
	e.cache = []*classes{base}
	e.maps = make([][]int32, e.m)
	e.tuple = make([]int32, e.m)
	e.radix = make([]int, e.m)
	for j, a := range e.attrs {
		e.radix[j] = a.height
	}
	return e, nil
}

func putInt32(b []byte, v int32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func (e *engine) total() int {
	t := 1
	for _, r := range e.radix {
		t *= r
	}
	return t
}

func (e *engine) decode(id int, node []int) {
	for j := e.m - 1; j >= 0; j-- {
		node[j] = id % e.radix[j]
		id /= e.radix[j]
	}
}

func (e *engine) encode(node []int) int {
	id := 0
	for j := 0; j < e.m; j++ {
		id = id*e.radix[j] + node[j]
	}
	return id
}

// lowerBound is the loss of node if nothing were suppressed; the true loss
// is never lower, and the bound grows with every generalisation step.
func (e *engine) lowerBound(node []int) float64 {
	s := 0.0
	for j, a := range e.attrs {
		s += a.sumLoss[node[j]]
	}
	return s / float64(e.n*e.m)
}

// rollup computes the classes at node from src (src <= node componentwise)
// into out, reusing out's slices. When mapTo is not nil, mapTo[c] is set to
// the class of out that src's class c falls in.
//
// With packed keys (the usual case) a class is one uint64 holding every
// QI's code; only the attributes whose level changes are rewritten, and
// classes are found in a reused open-addressing table of class numbers (4
// bytes a slot, so it stays in the cache), the keys compared in out.keys.
func (e *engine) rollup(src *classes, node []int, out *classes, mapTo []int32) {
	m, S := e.m, e.S
	out.node = append(out.node[:0], node...)
	out.keys, out.codes, out.count, out.hist = out.keys[:0], out.codes[:0], out.count[:0], out.hist[:0]
	nc := src.n()
	chg := e.chg[:0]
	for j := range e.attrs {
		e.maps[j] = e.attrs[j].up[src.node[j]][node[j]]
		if src.node[j] != node[j] {
			chg = append(chg, j)
		}
	}
	e.chg = chg
	maps := e.maps
	// newClass appends a class and returns its id.
	newClass := func() int32 {
		id := int32(len(out.count))
		out.count = append(out.count, 0)
		if S > 0 {
			out.hist = slices.Grow(out.hist, S)[:len(out.hist)+S]
			clear(out.hist[len(out.hist)-S:])
		}
		return id
	}
	if !e.packed {
		idx := make(map[string]int32, min(nc, 1<<16))
		kb := make([]byte, 4*m)
		tuple := e.tuple
		for c := 0; c < nc; c++ {
			row := src.codes[c*m : (c+1)*m]
			for j := range e.attrs {
				v := maps[j][row[j]]
				tuple[j] = v
				putInt32(kb[4*j:], v)
			}
			id, ok := idx[string(kb)]
			if !ok {
				id = newClass()
				idx[string(kb)] = id
				out.codes = append(out.codes, tuple...)
			}
			e.addClass(out, id, src, c, mapTo)
		}
		return
	}
	size := 256
	for size < 2*nc {
		size <<= 1
	}
	if len(e.htab) < size {
		e.htab = make([]int32, size)
	}
	tab := e.htab[:size]
	clear(tab)
	mask := uint64(size - 1)
	shift := uint(64 - bits.Len(uint(size-1)))
	if cap(out.keys) < nc/2 {
		out.keys = make([]uint64, 0, nc/2)
		out.count = make([]int32, 0, nc/2)
	}
	for c, k := range src.keys[:nc] {
		for _, j := range chg {
			a := &e.attrs[j]
			v := (k >> a.shift) & a.mask
			k = k&^(a.mask<<a.shift) | uint64(maps[j][v])<<a.shift
		}
		p := (k * 0x9e3779b97f4a7c15) >> shift
		var id int32
		for {
			id = tab[p] - 1
			if id < 0 {
				id = newClass()
				tab[p] = id + 1
				out.keys = append(out.keys, k)
				break
			}
			if out.keys[id] == k {
				break
			}
			p = (p + 1) & mask
		}
		out.count[id] += src.count[c]
		if S > 0 {
			dst := out.hist[int(id)*S : int(id+1)*S]
			for s, v := range src.hist[c*S : (c+1)*S] {
				dst[s] += v
			}
		}
		if mapTo != nil {
			mapTo[c] = id
		}
	}
}

// addClass adds src's class c to out's class id.
func (e *engine) addClass(out *classes, id int32, src *classes, c int, mapTo []int32) {
	S := e.S
	out.count[id] += src.count[c]
	if S > 0 {
		dst := out.hist[int(id)*S : int(id+1)*S]
		for s, v := range src.hist[c*S : (c+1)*S] {
			dst[s] += v
		}
	}
	if mapTo != nil {
		mapTo[c] = id
	}
}

// code is QI j's code in class i of c.
func (e *engine) code(c *classes, i, j int) int32 {
	if e.packed {
		a := &e.attrs[j]
		return int32((c.keys[i] >> a.shift) & a.mask)
	}
	return c.codes[i*e.m+j]
}

// cacheBudget is how many int32s the class cache may hold.
const cacheBudget = 8 << 20

// classesAt returns the classes at node, rolled up from the smallest cached
// node below it. The result is e.work (valid until the next call) unless it
// is worth caching, when it is a copy kept in the cache.
func (e *engine) classesAt(node []int) *classes {
	var src *classes
	for _, c := range e.cache {
		le := true
		for j := range node {
			if c.node[j] > node[j] {
				le = false
				break
			}
		}
		if le && (src == nil || c.n() < src.n()) {
			src = c
		}
	}
	out := &e.work
	e.rollup(src, node, out, nil)
	size := 2*len(out.keys) + len(out.codes) + len(out.count) + len(out.hist)
	// Keep class tables that are markedly smaller than their source: later
	// nodes above this one start from it.
	if e.cached+size <= cacheBudget && out.n()*4 < src.n()*3 {
		kept := &classes{node: slices.Clone(out.node), keys: slices.Clone(out.keys), codes: slices.Clone(out.codes), count: slices.Clone(out.count), hist: slices.Clone(out.hist)}
		e.cache = append(e.cache, kept)
		e.cached += size
		return kept
	}
	return out
}

// classOK reports whether class i satisfies the core models (k-anonymity
// and distinct l-diversity, whose failures are inherited downwards even with
// suppression) and all models, t-closeness measured against the whole
// input's distribution.
func (e *engine) classOK(c *classes, i int) (core, all bool) {
	cnt := int(c.count[i])
	if cnt < e.cfg.K {
		return false, false
	}
	if e.S == 0 {
		return true, true
	}
	h := c.hist[i*e.S : (i+1)*e.S]
	if e.cfg.L > 0 {
		distinct := 0
		for _, v := range h {
			if v > 0 {
				distinct++
			}
		}
		if distinct < e.cfg.L {
			return false, false
		}
		if e.cfg.Diversity == RecursiveL && !recursive(h, e.cfg.L, e.cfg.C) {
			return true, false
		}
	}
	if e.cfg.T > 0 {
		if emd(h, cnt, e.global, e.ordered, e.S) > e.cfg.T+1e-12 {
			return true, false
		}
	}
	return true, true
}

// recursive reports recursive (c,l)-diversity: with the value counts sorted
// r1 >= r2 >= … >= rm, r1 < c·(r_l + … + r_m).
func recursive(h []int32, l int, c float64) bool {
	var buf [16]int
	r := buf[:0]
	for _, v := range h {
		if v > 0 {
			r = append(r, int(v))
		}
	}
	if len(r) < l {
		return false
	}
	slices.Sort(r)
	slices.Reverse(r)
	tail := 0
	for _, v := range r[l-1:] {
		tail += v
	}
	return float64(r[0]) < c*float64(tail)
}

// emd is the earth mover's distance between a class's distribution (h/cnt)
// and the reference ref over the m values with ref > 0 (a class of the
// reference has no other values): half the L1 distance under equal ground
// distance, or the ordered distance of Li et al. (2007) for numeric values.
func emd(h []int32, cnt int, ref []float64, ordered bool, m int) float64 {
	d := 0.0
	if !ordered {
		for s, q := range ref {
			d += math.Abs(float64(h[s])/float64(cnt) - q)
		}
		return d / 2
	}
	acc := 0.0
	for s, q := range ref {
		if q == 0 {
			continue
		}
		acc += float64(h[s])/float64(cnt) - q
		d += math.Abs(acc)
	}
	return d / float64(m-1)
}

// judge sets e.verdict for c's classes and returns how many records fail
// the core models and how many fail any. It stops early once the core
// failures exceed the suppression limit. t-closeness is measured against
// the distribution of the records released (not suppressed), so that the
// output verifies on its own: after suppression the remaining classes are
// re-checked against the remaining records until nothing changes.
func (e *engine) judge(c *classes) (suppCore, suppAll int) {
	nc := c.n()
	if cap(e.verdict) < nc {
		e.verdict = make([]uint8, nc, 2*nc)
	}
	v := e.verdict[:nc]
	for i := 0; i < nc; i++ {
		core, all := e.classOK(c, i)
		switch {
		case all:
			v[i] = classOK
		case core:
			v[i] = failAll
			suppAll += int(c.count[i])
		default:
			v[i] = failCore
			suppAll += int(c.count[i])
			suppCore += int(c.count[i])
			if suppCore > e.maxSupp {
				return suppCore, suppAll
			}
		}
	}
	if e.cfg.T == 0 || suppAll == 0 || suppAll > e.maxSupp {
		return suppCore, suppAll
	}
	S := e.S
	clear(e.refCnt)
	released := int64(0)
	for i := 0; i < nc; i++ {
		if v[i] == classOK {
			released += int64(c.count[i])
			for s, x := range c.hist[i*S : (i+1)*S] {
				e.refCnt[s] += int64(x)
			}
		}
	}
	for released > 0 {
		m, ordered := 0, true
		for s, x := range e.refCnt {
			e.ref[s] = float64(x) / float64(released)
			if x > 0 {
				m++
				ordered = ordered && s < e.numeric
			}
		}
		ordered = ordered && m > 1
		changed := false
		for i := 0; i < nc; i++ {
			if v[i] != classOK {
				continue
			}
			h := c.hist[i*S : (i+1)*S]
			if emd(h, int(c.count[i]), e.ref, ordered, m) > e.cfg.T+1e-12 {
				v[i] = failAll
				suppAll += int(c.count[i])
				released -= int64(c.count[i])
				for s, x := range h {
					e.refCnt[s] -= int64(x)
				}
				changed = true
			}
		}
		if !changed || suppAll > e.maxSupp {
			break
		}
	}
	return suppCore, suppAll
}

// evaluate checks node: whether it satisfies all models within the
// suppression limit (ok), whether it satisfies the core models within it
// (coreOK; when it does not, no node below does either), and its exact loss.
//
// coreLoss is the loss that the records failing the core models add at
// node: they fail them at every node below too, and are suppressed there at
// no less cost, so every node below loses at least its bound plus coreLoss.
func (e *engine) evaluate(node []int) (ok, coreOK bool, loss, coreLoss float64) {
	e.checked++
	c := e.classesAt(node)
	suppCore, suppAll := e.judge(c)
	if suppCore > e.maxSupp {
		return false, false, math.Inf(1), math.Inf(1)
	}
	extra, extraCore := 0.0, 0.0
	if suppAll > 0 {
		for i, v := range e.verdict[:c.n()] {
			if v == classOK {
				continue
			}
			s := 0.0
			for j, a := range e.attrs {
				s += 1 - a.loss[node[j]][e.code(c, i, j)]
			}
			extra += float64(c.count[i]) * s
			if v == failCore {
				extraCore += float64(c.count[i]) * s
			}
		}
	}
	nm := float64(e.n * e.m)
	if suppAll > e.maxSupp {
		return false, true, math.Inf(1), extraCore / nm
	}
	return true, true, e.lowerBound(node) + extra/nm, extraCore / nm
}

// monotone reports whether "satisfies the models within the limit" is
// inherited by every generalisation of a node. It is for k-anonymity and
// distinct l-diversity with suppression (a record in a failing class of a
// coarser node was in a failing class of the finer one), and for recursive
// (c,l)-diversity and t-closeness without suppression (Machanavajjhala et
// al. 2007; Li et al. 2007).
func (e *engine) monotone() bool {
	if e.maxSupp == 0 {
		return true
	}
	return e.cfg.T == 0 && (e.cfg.L == 0 || e.cfg.Diversity != RecursiveL)
}

// Node states in the search.
const (
	unknown  uint8 = iota
	coreFail       // fails, and so does every node below it
	failed         // fails, but nodes below it may not (non-monotone models)
	anonTag        // satisfies the models
)

// search walks the lattice in order of the loss lower bound. A node whose
// bound is at least the best loss found cannot be better, and neither can
// any node after it, so the walk stops there; the answer is optimal. When
// the models are monotone, a node found failing is used to find a higher
// failing node by binary search along a path to the top (as Flash does),
// and all nodes below that one are tagged failing without being checked.
// Without suppression the loss equals the bound for every satisfying node,
// so the first satisfying node is the answer.
func (e *engine) search(ctx context.Context) ([]int, float64, error) {
	total := e.total()
	s := &searcher{e: e, lb: make([]float64, total), state: make([]uint8, total), bestLoss: math.Inf(1)}
	s.mono = e.monotone()
	sum := make([]uint16, total)
	node := make([]int, e.m)
	order := make([]int32, total)
	for id := 0; id < total; id++ {
		e.decode(id, node)
		s.lb[id] = e.lowerBound(node)
		for _, v := range node {
			sum[id] += uint16(v)
		}
		order[id] = int32(id)
	}
	slices.SortFunc(order, func(x, y int32) int {
		if s.lb[x] != s.lb[y] {
			if s.lb[x] < s.lb[y] {
				return -1
			}
			return 1
		}
		if sum[x] != sum[y] {
			return int(sum[x]) - int(sum[y])
		}
		return int(x - y)
	})
	for step, id32 := range order {
		id := int(id32)
		if step&15 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		if !e.cfg.Exhaustive && s.lb[id] >= s.bestLoss-lossEps {
			break
		}
		if s.state[id] != unknown {
			continue // failing, or satisfying and already weighed
		}
		if s.pen != nil && s.lb[id]+s.pen[id] >= s.bestLoss-lossEps {
			continue // cannot beat the best: see penalise
		}
		e.decode(id, node)
		if e.cfg.Exhaustive {
			s.check(node, id)
			continue
		}
		if s.check(node, id) {
			if s.mono && e.maxSupp == 0 {
				break // the first satisfying node in bound order is optimal
			}
			continue
		}
		// Look for a higher failing node to tag more at once.
		if s.state[id] == coreFail && !s.probe(node) {
			e.tagBelow(node, s.state)
		}
	}
	if s.best == nil {
		return nil, 0, nil
	}
	return s.best, s.bestLoss, nil
}

const lossEps = 1e-12

// searcher is the state of one lattice search.
type searcher struct {
	e        *engine
	lb       []float64
	state    []uint8
	mono     bool
	best     []int
	bestLoss float64
	// pen[id] is a loss that node id adds to its bound at least: the
	// records failing the core models at a checked node above it.
	pen []float64
	// oks are the satisfying nodes checked, kept when the models are
	// monotone: every node above one of them satisfies them too.
	oks [][]int
}

// aboveOK reports whether node is at or above a satisfying node checked
// (only when the models are monotone).
func (s *searcher) aboveOK(node []int) bool {
next:
	for _, ok := range s.oks {
		for j, v := range ok {
			if node[j] < v {
				continue next
			}
		}
		return true
	}
	return false
}

// check evaluates node (whose id is id), records its state and keeps it as
// the best so far when it satisfies the models with less loss. When the
// models are monotone every failure is inherited downwards (coreFail);
// otherwise only failures of the core models are.
func (s *searcher) check(node []int, id int) bool {
	ok, coreOK, loss, coreLoss := s.e.evaluate(node)
	if coreOK && coreLoss > 0 && !s.e.cfg.Exhaustive {
		s.penalise(node, coreLoss)
	}
	switch {
	case ok:
		s.state[id] = anonTag
		if s.mono {
			s.oks = append(s.oks, slices.Clone(node))
		}
		if loss < s.bestLoss-lossEps {
			s.best, s.bestLoss = slices.Clone(node), loss
		}
	case s.mono || !coreOK:
		s.state[id] = coreFail
	default:
		s.state[id] = failed
	}
	return ok
}

// penalise raises the loss penalty of every node <= top to at least p.
func (s *searcher) penalise(top []int, p float64) {
	if s.pen == nil {
		s.pen = make([]float64, len(s.state))
	}
	e := s.e
	node := make([]int, e.m)
	for {
		id := e.encode(node)
		s.pen[id] = max(s.pen[id], p)
		j := e.m - 1
		for j >= 0 {
			node[j]++
			if node[j] <= top[j] {
				break
			}
			node[j] = 0
			j--
		}
		if j < 0 {
			return
		}
	}
}

// probe binary-searches a path from node to the top for the highest node
// on it that fails in a way inherited downwards, as Flash does, and tags
// everything below that node failing. It reports whether such a node was
// found above node (node is then failing too and is tagged).
func (s *searcher) probe(node []int) bool {
	e := s.e
	// The path raises, at each step, the attribute whose next level adds the
	// least to the bound: the cheapest generalisations first. Nodes whose
	// bound reaches the best loss found are never visited, so the path ends
	// below that bound.
	path := e.pathBuf[:0]
	cur := slices.Clone(node)
	for {
		bj, bd := -1, math.Inf(1)
		for j, a := range e.attrs {
			if cur[j]+1 < a.height {
				d := a.sumLoss[cur[j]+1] - a.sumLoss[cur[j]]
				if d < bd {
					bj, bd = j, d
				}
			}
		}
		if bj < 0 {
			break
		}
		cur[bj]++
		path = append(path, slices.Clone(cur))
	}
	e.pathBuf = path
	lo, hi := -1, len(path)-1 // path[lo] fails (lo == -1: node, assumed)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		id := e.encode(path[mid])
		if s.state[id] == unknown && s.aboveOK(path[mid]) {
			hi = mid - 1 // satisfies: monotone models and a satisfying node below
			continue
		}
		if s.state[id] == unknown {
			s.check(path[mid], id)
		}
		if s.state[id] == coreFail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo < 0 {
		return false
	}
	e.tagBelow(path[lo], s.state)
	return true
}

// tagBelow marks every node <= top as failing.
func (e *engine) tagBelow(top []int, state []uint8) {
	node := make([]int, e.m)
	for {
		state[e.encode(node)] = coreFail
		j := e.m - 1
		for j >= 0 {
			node[j]++
			if node[j] <= top[j] {
				break
			}
			node[j] = 0
			j--
		}
		if j < 0 {
			return
		}
	}
}

// output builds the anonymised table for the chosen node.
func (e *engine) output(t *table.Table, res *Result) {
	node := res.Levels
	final := &classes{}
	baseTo := make([]int32, e.base.n())
	e.rollup(e.base, node, final, baseTo)
	_, suppAll := e.judge(final)
	okClass := e.verdict[:final.n()]
	res.MinClass = 0
	for i, v := range okClass {
		if v == classOK {
			res.Classes++
			if cnt := int(final.count[i]); res.MinClass == 0 || cnt < res.MinClass {
				res.MinClass = cnt
			}
		}
	}
	cols, _ := t.Cols(e.cfg.QIs)
	out := &table.Table{Name: t.Name, Header: slices.Clone(t.Header), Encoding: "utf-8", Delimiter: t.Delimiter}
	kept := e.n
	if !e.cfg.KeepSuppressed {
		kept -= suppAll
	}
	// Where each record goes (-1: left out), then the copies in parallel.
	dst := make([]int32, e.n)
	next := int32(0)
	for i := range t.Rows {
		if okClass[baseTo[e.rowClass[i]]] != classOK {
			res.Suppressed++
			if !e.cfg.KeepSuppressed {
				dst[i] = -1
				continue
			}
		}
		dst[i] = next
		next++
	}
	w := len(t.Header)
	cells := make([]string, kept*w)
	out.Rows = make([][]string, kept)
	names := make([][]string, e.m)
	for j := range names {
		names[j] = e.attrs[j].names[node[j]]
	}
	parallelRows(e.n, func(lo, hi int) int {
		for i := lo; i < hi; i++ {
			d := int(dst[i])
			if d < 0 {
				continue
			}
			nr := cells[d*w : (d+1)*w : (d+1)*w]
			copy(nr, t.Rows[i])
			fc := int(baseTo[e.rowClass[i]])
			if okClass[fc] != classOK {
				for _, c := range cols {
					nr[c] = "*"
				}
			} else {
				for j, c := range cols {
					nr[c] = names[j][e.code(final, fc, j)]
				}
			}
			out.Rows[d] = nr
		}
		return -1
	})
	res.Output = out
}

// parallelRows runs f over [0, n) split into a range per core (ranges of at
// least 4,096 rows) and returns the smallest non-negative result, or -1.
func parallelRows(n int, f func(lo, hi int) int) int {
	parts := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	if parts <= 1 {
		return f(0, n)
	}
	res := make([]int, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[p] = f(lo, hi)
		}()
	}
	wg.Wait()
	first := -1
	for _, r := range res {
		if r >= 0 && (first < 0 || r < first) {
			first = r
		}
	}
	return first
}
