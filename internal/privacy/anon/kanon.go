package anon

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	// class's sensitive distribution and the whole table's is at most T.
	// Equal ground distance for categorical values; ordered distance when
	// every sensitive value is a number.
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
	// sensitive attribute: S distinct values, global distribution.
	S       int
	global  []float64
	ordered bool
	maxSupp int
	radix   []int
	cache   []*classes
	cached  int // ints held by cache
	slots   []int32
	checked int
}

// classes are the equivalence classes at one lattice node.
type classes struct {
	node  []int
	codes []int32 // nc*m
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
		// Order numeric values numerically for the ordered distance.
		nums := make([]float64, len(sVals))
		e.ordered = len(sVals) > 1
		for i, v := range sVals {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				e.ordered = false
				break
			}
			nums[i] = f
		}
		if e.ordered {
			sort.Slice(sVals, func(i, j int) bool {
				a, _ := strconv.ParseFloat(strings.TrimSpace(sVals[i]), 64)
				b, _ := strconv.ParseFloat(strings.TrimSpace(sVals[j]), 64)
				return a < b
			})
		}
		for i, v := range sVals {
			sIdx[v] = int32(i)
		}
		e.S = len(sVals)
		e.global = make([]float64, e.S)
	}
	// Group records into distinct level-0 tuples.
	base := &classes{node: make([]int, e.m)}
	e.rowClass = make([]int32, e.n)
	tuple := make([]int32, e.m)
	var keyU map[uint64]int32
	var keyS map[string]int32
	if e.packed {
		keyU = make(map[uint64]int32, e.n/2)
	} else {
		keyS = make(map[string]int32, e.n/2)
	}
	kb := make([]byte, 4*e.m)
	for i, row := range t.Rows {
		for j, c := range cols {
			li, ok := leafIdx[j][row[c]]
			if !ok {
				return nil, errNoValue.At(fmt.Sprintf("%s:%d:%d", t.Name, i+2, c+1)).Wrap(fmt.Errorf("%q is not in the hierarchy of %s", row[c], cfg.QIs[j]))
			}
			tuple[j] = e.attrs[j].code[0][li]
		}
		var id int32
		var ok bool
		if e.packed {
			var k uint64
			for j, a := range e.attrs {
				k |= uint64(tuple[j]) << a.shift
			}
			if id, ok = keyU[k]; !ok {
				id = int32(base.n())
				keyU[k] = id
			}
		} else {
			for j := range tuple {
				putInt32(kb[4*j:], tuple[j])
			}
			if id, ok = keyS[string(kb)]; !ok {
				id = int32(base.n())
				keyS[string(kb)] = id
			}
		}
		if !ok {
			base.codes = append(base.codes, tuple...)
			base.count = append(base.count, 0)
			if e.S > 0 {
				base.hist = append(base.hist, make([]int32, e.S)...)
			}
		}
		base.count[id]++
		if e.S > 0 {
			s := sIdx[row[sCol]]
			base.hist[int(id)*e.S+int(s)]++
			e.global[s]++
		}
		e.rowClass[i] = id
	}
	for s := range e.global {
		e.global[s] /= float64(e.n)
	}
	// Per-level loss sums (for the lower bound).
	for c := 0; c < base.n(); c++ {
		cnt := float64(base.count[c])
		for j := range e.attrs {
			a := &e.attrs[j]
			code := base.codes[c*e.m+j]
			for lvl := 0; lvl < a.height; lvl++ {
				a.sumLoss[lvl] += cnt * a.loss[lvl][a.up[0][lvl][code]]
			}
		}
	}
	e.base = base
	e.cache = []*classes{base}
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

// rollup computes the classes at node from src (src <= node componentwise).
func (e *engine) rollup(src *classes, node []int) *classes {
	m := e.m
	out := &classes{node: slices.Clone(node)}
	nc := src.n()
	maps := make([][]int32, m)
	for j := range e.attrs {
		maps[j] = e.attrs[j].up[src.node[j]][node[j]]
	}
	tuple := make([]int32, m)
	zeros := make([]int32, e.S)
	add := func(id int32, fresh bool, c int) {
		if fresh {
			out.codes = append(out.codes, tuple...)
			out.count = append(out.count, 0)
			if e.S > 0 {
				out.hist = append(out.hist, zeros...)
			}
		}
		out.count[id] += src.count[c]
		if e.S > 0 {
			dst := out.hist[int(id)*e.S : int(id+1)*e.S]
			for s, v := range src.hist[c*e.S : (c+1)*e.S] {
				dst[s] += v
			}
		}
	}
	// When the node's code space is small, index classes by their
	// mixed-radix code in a reused array instead of hashing.
	dense := 1
	strides := make([]int, m)
	for j := m - 1; j >= 0; j-- {
		strides[j] = dense
		dense *= len(e.attrs[j].names[node[j]])
		if dense > 1<<20 {
			break
		}
	}
	if dense <= 1<<20 {
		est := min(nc, dense)
		out.codes = make([]int32, 0, est*m)
		out.count = make([]int32, 0, est)
		if cap(e.slots) < dense {
			e.slots = make([]int32, dense)
			for i := range e.slots {
				e.slots[i] = -1
			}
		}
		slots := e.slots[:dense]
		touched := make([]int, 0, 256)
		for c := 0; c < nc; c++ {
			row := src.codes[c*m : (c+1)*m]
			k := 0
			for j := range m {
				v := maps[j][row[j]]
				tuple[j] = v
				k += int(v) * strides[j]
			}
			id := slots[k]
			fresh := id < 0
			if fresh {
				id = int32(len(out.count))
				slots[k] = id
				touched = append(touched, k)
			}
			add(id, fresh, c)
		}
		for _, k := range touched {
			slots[k] = -1
		}
	} else if e.packed {
		idx := make(map[uint64]int32, min(nc, 1<<16))
		for c := 0; c < nc; c++ {
			var k uint64
			row := src.codes[c*m : (c+1)*m]
			for j, a := range e.attrs {
				v := maps[j][row[j]]
				tuple[j] = v
				k |= uint64(v) << a.shift
			}
			id, ok := idx[k]
			if !ok {
				id = int32(len(out.count))
				idx[k] = id
			}
			add(id, !ok, c)
		}
	} else {
		idx := make(map[string]int32, min(nc, 1<<16))
		kb := make([]byte, 4*m)
		for c := 0; c < nc; c++ {
			row := src.codes[c*m : (c+1)*m]
			for j := range e.attrs {
				v := maps[j][row[j]]
				tuple[j] = v
				putInt32(kb[4*j:], v)
			}
			id, ok := idx[string(kb)]
			if !ok {
				id = int32(len(out.count))
				idx[string(kb)] = id
			}
			add(id, !ok, c)
		}
	}
	return out
}

// classesAt returns the classes at node, rolled up from the smallest cached
// node below it, and caches the result within a memory budget.
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
	out := e.rollup(src, node)
	const budget = 32 << 20 // int32s kept in the cache
	size := len(out.codes) + len(out.count) + len(out.hist)
	if e.cached+size <= budget && out.n() < src.n() {
		e.cache = append(e.cache, out)
		e.cached += size
	}
	return out
}

// classOK reports whether class i satisfies the core models (k-anonymity
// and distinct l-diversity, whose failures are inherited downwards even with
// suppression) and all models.
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
		if emd(h, cnt, e.global, e.ordered) > e.cfg.T+1e-12 {
			return true, false
		}
	}
	return true, true
}

// recursive reports recursive (c,l)-diversity: with the value counts sorted
// r1 >= r2 >= … >= rm, r1 < c·(r_l + … + r_m).
func recursive(h []int32, l int, c float64) bool {
	r := make([]int, 0, len(h))
	for _, v := range h {
		if v > 0 {
			r = append(r, int(v))
		}
	}
	if len(r) < l {
		return false
	}
	sort.Sort(sort.Reverse(sort.IntSlice(r)))
	tail := 0
	for _, v := range r[l-1:] {
		tail += v
	}
	return float64(r[0]) < c*float64(tail)
}

// emd is the earth mover's distance between a class's distribution (h/cnt)
// and the global one: half the L1 distance under equal ground distance, or
// the ordered distance of Li et al. (2007) for numeric values.
func emd(h []int32, cnt int, global []float64, ordered bool) float64 {
	d := 0.0
	if !ordered {
		for s, q := range global {
			d += math.Abs(float64(h[s])/float64(cnt) - q)
		}
		return d / 2
	}
	acc := 0.0
	for s, q := range global {
		acc += float64(h[s])/float64(cnt) - q
		d += math.Abs(acc)
	}
	return d / float64(len(global)-1)
}

// evaluate checks node: whether it satisfies all models within the
// suppression limit (ok), whether it satisfies the core models within it
// (coreOK; when it does not, no node below does either), and its exact loss.
func (e *engine) evaluate(node []int) (ok, coreOK bool, loss float64) {
	e.checked++
	c := e.classesAt(node)
	extra := 0.0
	suppCore, suppAll := 0, 0
	for i := 0; i < c.n(); i++ {
		core, all := e.classOK(c, i)
		if all {
			continue
		}
		suppAll += int(c.count[i])
		if !core {
			suppCore += int(c.count[i])
			if suppCore > e.maxSupp {
				return false, false, math.Inf(1)
			}
		}
		if suppAll > e.maxSupp {
			continue // keep counting core failures only
		}
		row := c.codes[i*e.m : (i+1)*e.m]
		s := 0.0
		for j, a := range e.attrs {
			s += 1 - a.loss[node[j]][row[j]]
		}
		extra += float64(c.count[i]) * s
	}
	if suppAll > e.maxSupp {
		return false, true, math.Inf(1)
	}
	return true, true, e.lowerBound(node) + extra/float64(e.n*e.m)
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
	lb := make([]float64, total)
	sum := make([]int, total)
	node := make([]int, e.m)
	order := make([]int, total)
	for id := 0; id < total; id++ {
		e.decode(id, node)
		lb[id] = e.lowerBound(node)
		for _, v := range node {
			sum[id] += v
		}
		order[id] = id
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if lb[x] != lb[y] {
			return lb[x] < lb[y]
		}
		if sum[x] != sum[y] {
			return sum[x] < sum[y]
		}
		return x < y
	})
	state := make([]uint8, total)
	mono := e.monotone() && !e.cfg.Exhaustive
	var best []int
	bestLoss := math.Inf(1)
	const eps = 1e-12
	for step, id := range order {
		if step&63 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		if !e.cfg.Exhaustive && lb[id] >= bestLoss-eps {
			break
		}
		if state[id] == coreFail {
			continue
		}
		e.decode(id, node)
		ok, coreOK, loss := e.evaluate(node)
		if ok {
			state[id] = anonTag
			if loss < bestLoss-eps {
				best, bestLoss = slices.Clone(node), loss
			}
			if mono && e.maxSupp == 0 && !e.cfg.Exhaustive {
				break
			}
			continue
		}
		if mono || !coreOK {
			state[id] = coreFail
			if !e.cfg.Exhaustive {
				e.climb(node, state, mono)
			}
		} else {
			state[id] = failed
		}
	}
	if best == nil {
		return nil, 0, nil
	}
	return best, bestLoss, nil
}

// climb binary-searches a path from the failing node n to the top for the
// highest failing node on it and tags everything below that node failing.
// When the models are not monotone (full == false), only failures of the
// core models count, since only those are inherited downwards.
func (e *engine) climb(n []int, state []uint8, full bool) {
	// The path raises, at each step, the attribute whose next level adds the
	// least to the bound: the cheapest generalisations first.
	path := [][]int{slices.Clone(n)}
	cur := slices.Clone(n)
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
	lo, hi := 0, len(path)-1 // path[lo] fails
	for lo < hi {
		mid := (lo + hi + 1) / 2
		id := e.encode(path[mid])
		var fails bool
		switch state[id] {
		case coreFail:
			fails = true
		case anonTag, failed:
			fails = false
		default:
			ok, coreOK, _ := e.evaluate(path[mid])
			switch {
			case ok:
				state[id] = anonTag
			case full || !coreOK:
				state[id], fails = coreFail, true
			default:
				state[id] = failed
			}
		}
		if fails {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	e.tagBelow(path[lo], state)
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
	final := e.rollup(e.base, node)
	// Map each base class to its final class: roll up again, recording ids.
	baseTo := make([]int32, e.base.n())
	idx := map[string]int32{}
	kb := make([]byte, 4*e.m)
	for c := 0; c < e.base.n(); c++ {
		for j, a := range e.attrs {
			putInt32(kb[4*j:], a.up[0][node[j]][e.base.codes[c*e.m+j]])
		}
		id, ok := idx[string(kb)]
		if !ok {
			id = int32(len(idx))
			idx[string(kb)] = id
		}
		baseTo[c] = id
	}
	cols, _ := t.Cols(e.cfg.QIs)
	okClass := make([]bool, final.n())
	res.MinClass = 0
	for i := range okClass {
		_, okClass[i] = e.classOK(final, i)
		if okClass[i] {
			res.Classes++
			if cnt := int(final.count[i]); res.MinClass == 0 || cnt < res.MinClass {
				res.MinClass = cnt
			}
		}
	}
	out := &table.Table{Name: t.Name, Header: slices.Clone(t.Header), Encoding: "utf-8", Delimiter: t.Delimiter}
	out.Rows = make([][]string, 0, e.n)
	for i, row := range t.Rows {
		fc := baseTo[e.rowClass[i]]
		nr := slices.Clone(row)
		if !okClass[fc] {
			res.Suppressed++
			if !e.cfg.KeepSuppressed {
				continue
			}
			for _, c := range cols {
				nr[c] = "*"
			}
		} else {
			for j, c := range cols {
				a := &e.attrs[j]
				nr[c] = a.names[node[j]][final.codes[int(fc)*e.m+j]]
			}
		}
		out.Rows = append(out.Rows, nr)
	}
	res.Output = out
}
