package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/store"
)

// Report is what Verify found.
type Report struct {
	// OK is true when every check passed.
	OK bool `json:"ok"`
	// Entries is how many entries were read; TreeSize the size the tree
	// state claims (Verify on a store) or the export header claims.
	Entries  uint64 `json:"entries"`
	TreeSize uint64 `json:"tree_size"`
	// Root is the root hash recomputed from the entries.
	Root []byte `json:"root"`
	// Checkpoints is how many signed checkpoints were checked.
	Checkpoints int `json:"checkpoints"`
	// FirstBadEntry is the seq of the first entry that does not match, if
	// any; FirstBadCheckpoint the size of the first bad checkpoint.
	FirstBadEntry      *uint64 `json:"first_bad_entry,omitempty"`
	FirstBadCheckpoint *uint64 `json:"first_bad_checkpoint,omitempty"`
	// Problems says what is wrong, in order found (at most 100).
	Problems []string `json:"problems,omitempty"`
}

const maxProblems = 100

func (r *Report) problem(format string, args ...any) {
	r.OK = false
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "… more problems not listed")
	}
}

func (r *Report) badEntry(seq uint64, format string, args ...any) {
	if r.FirstBadEntry == nil || seq < *r.FirstBadEntry {
		s := seq
		r.FirstBadEntry = &s
	}
	r.problem("entry %d: "+format, append([]any{seq}, args...)...)
}

func (r *Report) badCheckpoint(size uint64, format string, args ...any) {
	if r.FirstBadCheckpoint == nil || size < *r.FirstBadCheckpoint {
		s := size
		r.FirstBadCheckpoint = &s
	}
	r.problem("checkpoint at size %d: "+format, append([]any{size}, args...)...)
}

// Summary is one line for people: "ok …" or the first problem.
func (r Report) Summary() string {
	if r.OK {
		return fmt.Sprintf("ok: %d entries, %d checkpoints, root %s", r.Entries, r.Checkpoints, base64.StdEncoding.EncodeToString(r.Root))
	}
	var parts []string
	if r.FirstBadEntry != nil {
		parts = append(parts, fmt.Sprintf("first bad entry: seq %d", *r.FirstBadEntry))
	}
	if r.FirstBadCheckpoint != nil {
		parts = append(parts, fmt.Sprintf("first bad checkpoint: size %d", *r.FirstBadCheckpoint))
	}
	if len(r.Problems) > 0 {
		parts = append(parts, r.Problems[0])
	}
	return "MISMATCH: " + strings.Join(parts, "; ")
}

// storedCheckpoint is a checkpoint as stored or exported, not yet trusted.
type storedCheckpoint struct {
	size uint64 // the size column (store) or the claimed size (export)
	root []byte // the root column, nil in exports
	note []byte
}

// verifier recomputes the tree from entries streamed in order and checks the
// checkpoints against it.
type verifier struct {
	rep   *Report
	rng   *compact.Range
	next  uint64 // the seq expected next
	cps   []storedCheckpoint
	cpi   int
	vs    note.Verifiers
	roots map[uint64][]byte // recomputed root at each checkpoint size
}

func newVerifier(rep *Report, cps []storedCheckpoint, vkeys []string) (*verifier, error) {
	vs, err := verifierList(vkeys)
	if err != nil {
		return nil, err
	}
	if len(vkeys) == 0 {
		rep.problem("no checkpoint verifier key is known")
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].size < cps[j].size })
	v := &verifier{rep: rep, rng: rangeFactory.NewEmptyRange(0), cps: cps, vs: vs, roots: map[uint64][]byte{}}
	v.rootsUpTo()
	return v, nil
}

// rootsUpTo records the recomputed root for checkpoints at the current size.
func (v *verifier) rootsUpTo() {
	for v.cpi < len(v.cps) && v.cps[v.cpi].size <= v.next {
		if v.cps[v.cpi].size == v.next {
			root, _ := v.rng.GetRootHash(nil)
			if root == nil {
				root = hasher.EmptyRoot()
			}
			v.roots[v.next] = root
		}
		v.cpi++
	}
}

// entryCols are the indexed columns stored beside an entry's body.
type entryCols struct {
	time                                int64
	action                              string
	actorID, orgID, resourceID, grantID sql.NullString
	contentHash                         sql.NullString
	haveCols                            bool
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// entry checks one entry: its position, its body, its leaf hash, its columns.
func (v *verifier) entry(seq uint64, leaf, body []byte, cols *entryCols) {
	pos := v.next
	if seq != pos {
		v.rep.badEntry(pos, "expected seq %d, found %d (an entry is missing or out of order)", pos, seq)
	}
	e, err := DecodeEntry(body)
	switch {
	case err != nil:
		v.rep.badEntry(pos, "body does not parse: %v", err)
	case e.Seq != pos:
		v.rep.badEntry(pos, "body says seq %d (entries reordered or moved)", e.Seq)
	}
	recomputed := hasher.HashLeaf(body)
	if leaf != nil && !bytes.Equal(leaf, recomputed) {
		v.rep.badEntry(pos, "stored leaf hash does not match the body (entry changed)")
	}
	if err == nil && cols != nil && cols.haveCols {
		if cols.time != store.Micros(e.Time) || cols.action != string(e.Action) ||
			cols.actorID != nullStr(e.ActorID) || cols.orgID != nullStr(e.OrgID) ||
			cols.resourceID != nullStr(e.ResourceID) || cols.grantID != nullStr(e.GrantID) ||
			cols.contentHash != nullStr(e.ContentHash) {
			v.rep.badEntry(pos, "indexed columns do not match the body")
		}
	}
	// The tree is rebuilt from the bodies: whatever was stored as leaf hash,
	// the root must come out as the checkpoints signed it.
	_ = v.rng.Append(recomputed, nil)
	v.next++
	v.rep.Entries++
	v.rootsUpTo()
}

// finish checks the checkpoints against the recomputed roots.
func (v *verifier) finish() {
	root, _ := v.rng.GetRootHash(nil)
	if root == nil {
		root = hasher.EmptyRoot()
	}
	v.rep.Root = root
	lastGood := uint64(0)
	for _, sc := range v.cps {
		v.rep.Checkpoints++
		cp, err := OpenCheckpoint(sc.note, v.vs, "")
		if err != nil {
			v.rep.badCheckpoint(sc.size, "%v", err)
			continue
		}
		if cp.Size != sc.size {
			v.rep.badCheckpoint(sc.size, "signed size is %d", cp.Size)
			continue
		}
		if sc.root != nil && !bytes.Equal(sc.root, cp.Root) {
			v.rep.badCheckpoint(sc.size, "stored root differs from the signed root")
		}
		got, ok := v.roots[cp.Size]
		if !ok {
			v.rep.badCheckpoint(sc.size, "the log has only %d entries", v.next)
			continue
		}
		if !bytes.Equal(got, cp.Root) {
			v.rep.badCheckpoint(sc.size, "signed root does not match the entries: an entry with seq in [%d, %d) differs from what was signed", lastGood, cp.Size)
			continue
		}
		lastGood = cp.Size
	}
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// TrustedKeys, when set, are the only verifier keys accepted for
	// checkpoints. Without them Verify trusts the keys recorded in the store,
	// which catches accidents and tampering with entries or checkpoints, but
	// not someone who can also replace the stored keys; pin the key to catch
	// that too.
	TrustedKeys []string
	// Progress, if set, is told how many entries are checked, every few
	// thousand and at the end.
	Progress func(done, total uint64)
}

// Verify recomputes the Merkle tree from the stored entries and checks, in
// one pass: the sequence (0, 1, 2, … with no gap), each body against its
// leaf hash and its seq, the indexed columns against the body, the index
// (ledger_entry_index) against the entries, so that no entry is hidden
// from queries, the tree
// state against the recomputed root, and every stored checkpoint's signature
// and root against the recomputed tree (R-SEC-2, R-SEC-13, R-SHR-8). It
// returns an error only when the store cannot be read; mismatches are in the
// Report, which names the first bad entry and checkpoint.
func Verify(ctx context.Context, db *store.DB, opts ...VerifyOptions) (Report, error) {
	var o VerifyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	rep := Report{OK: true}
	vkeys := o.TrustedKeys
	if len(vkeys) == 0 {
		var err error
		if vkeys, err = VerifierKeys(ctx, db); err != nil {
			return rep, err
		}
	}
	cps, err := readCheckpoints(ctx, db)
	if err != nil {
		return rep, err
	}
	v, err := newVerifier(&rep, cps, vkeys)
	if err != nil {
		return rep, err
	}
	st, err := loadTree(ctx, db, false)
	if err != nil {
		rep.problem("tree state: %v", err)
	} else {
		rep.TreeSize = st.size
	}

	idx, err := openIndexReader(ctx, db)
	if err != nil {
		return rep, err
	}
	defer idx.close()
	rows, err := db.QueryContext(ctx, `SELECT seq, leaf_hash, body, time, action, actor_id, org_id, resource_id, grant_id, content_hash FROM ledger_entries ORDER BY seq`)
	if err != nil {
		return rep, fmt.Errorf("ledger: read entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq        int64
			leaf, body []byte
			c          = entryCols{haveCols: true}
		)
		if err := rows.Scan(&seq, &leaf, &body, &c.time, &c.action, &c.actorID, &c.orgID, &c.resourceID, &c.grantID, &c.contentHash); err != nil {
			return rep, fmt.Errorf("ledger: read entries: %w", err)
		}
		v.entry(uint64(seq), leaf, body, &c)
		idx.entry(&rep, seq, &c)
		if o.Progress != nil && rep.Entries%4096 == 0 {
			o.Progress(rep.Entries, rep.TreeSize)
		}
	}
	if o.Progress != nil {
		o.Progress(rep.Entries, rep.TreeSize)
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("ledger: read entries: %w", err)
	}
	if err := idx.finish(&rep); err != nil {
		return rep, err
	}
	v.finish()
	if st.rng != nil {
		if st.size != rep.Entries {
			rep.problem("tree state says %d entries, the log has %d", st.size, rep.Entries)
		} else if !bytes.Equal(st.root, rep.Root) {
			rep.problem("tree state root does not match the entries")
		}
	}
	return rep, nil
}

func readCheckpoints(ctx context.Context, q store.Queryer) ([]storedCheckpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT size, root, note FROM ledger_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("ledger: read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []storedCheckpoint
	for rows.Next() {
		var (
			size int64
			root []byte
			n    string
		)
		if err := rows.Scan(&size, &root, &n); err != nil {
			return nil, err
		}
		if root == nil {
			root = []byte{}
		}
		out = append(out, storedCheckpoint{size: uint64(size), root: root, note: []byte(n)})
	}
	return out, rows.Err()
}

// Err is nil when the report is OK and otherwise an error that names the
// first problem.
func (r Report) Err() error {
	if r.OK {
		return nil
	}
	return errors.New(r.Summary())
}

// indexReader walks ledger_entry_index beside the entries: every entry
// below upto must have its row, with the entry's columns, and no row may
// lack an entry. An entry missing from the index is one that queries by
// resource, org, grant, actor, action or time would never show.
type indexReader struct {
	upto int64
	rows *sql.Rows
	have bool
	seq  int64
	cols entryCols
	err  error
}

func openIndexReader(ctx context.Context, db *store.DB) (*indexReader, error) {
	upto, err := indexedUpTo(ctx, db)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, time, action, actor_id, org_id, resource_id, grant_id, content_hash FROM ledger_entry_index WHERE seq < $1 ORDER BY seq`, upto)
	if err != nil {
		return nil, fmt.Errorf("ledger: read index: %w", err)
	}
	x := &indexReader{upto: upto, rows: rows}
	x.next()
	return x, nil
}

func (x *indexReader) next() {
	x.have = x.err == nil && x.rows.Next()
	if x.have {
		x.cols = entryCols{haveCols: true}
		x.err = x.rows.Scan(&x.seq, &x.cols.time, &x.cols.action, &x.cols.actorID, &x.cols.orgID, &x.cols.resourceID, &x.cols.grantID, &x.cols.contentHash)
		x.have = x.err == nil
	}
}

// entry checks the index row of the entry seq, whose stored columns are c
// (Verify checks c against the body).
func (x *indexReader) entry(rep *Report, seq int64, c *entryCols) {
	for x.have && x.seq < seq {
		rep.badEntry(uint64(x.seq), "the index has a row for it but the log has no such entry")
		x.next()
	}
	if seq >= x.upto {
		return
	}
	if !x.have || x.seq != seq {
		rep.badEntry(uint64(seq), "missing from the index: queries by resource, org, grant, actor, action, time or content hash would not show it")
		return
	}
	if x.cols != *c {
		rep.badEntry(uint64(seq), "its index row does not match it: queries would show it under other values")
	}
	x.next()
}

func (x *indexReader) finish(rep *Report) error {
	for x.have {
		rep.badEntry(uint64(x.seq), "the index has a row for it but the log has no such entry")
		x.next()
	}
	if x.err == nil {
		x.err = x.rows.Err()
	}
	if x.err != nil {
		return fmt.Errorf("ledger: read index: %w", x.err)
	}
	return nil
}

func (x *indexReader) close() { _ = x.rows.Close() }
