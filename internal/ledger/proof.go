package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// InclusionProof proves that the entry at Seq is in the tree of TreeSize
// leaves (RFC 6962 audit path, leaf to root).
type InclusionProof struct {
	Seq      uint64   `json:"seq"`
	TreeSize uint64   `json:"tree_size"`
	LeafHash []byte   `json:"leaf_hash"`
	Hashes   [][]byte `json:"hashes"`
}

// ConsistencyProof proves that the tree of size From is a prefix of the tree
// of size To (RFC 6962).
type ConsistencyProof struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

var (
	errNoEntry  = apperr.New(apperr.NotFound, "ledger.no_entry", "账本中没有该序号的记录", "no ledger entry has this sequence number")
	errBadRange = apperr.New(apperr.Invalid, "ledger.bad_tree_size", "树大小超出范围", "tree size is out of range")
)

// Entry returns the integrated entry at seq.
func (l *Ledger) Entry(ctx context.Context, seq uint64) (Entry, error) {
	if seq >= 1<<maxIndexBits {
		return Entry{}, errNoEntry.At("seq")
	}
	var leaf, body []byte
	err := l.db.QueryRowContext(ctx, `SELECT leaf_hash, body FROM ledger_entries WHERE seq = $1`, int64(seq)).Scan(&leaf, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, errNoEntry.At("seq")
	}
	if err != nil {
		return Entry{}, fmt.Errorf("ledger: read entry: %w", err)
	}
	e, err := DecodeEntry(body)
	if err != nil {
		return Entry{}, err
	}
	e.LeafHash = leaf
	return e, nil
}

// sizeFor resolves a requested tree size: 0 means the latest checkpoint's.
// A size beyond the integrated tree is refused.
func (l *Ledger) sizeFor(ctx context.Context, size uint64) (uint64, error) {
	if size == 0 {
		cp, err := l.LatestCheckpoint(ctx)
		if err != nil {
			return 0, err
		}
		return cp.Size, nil
	}
	cur, err := l.TreeSize(ctx)
	if err != nil {
		return 0, err
	}
	if size > cur {
		return 0, errBadRange.At("size")
	}
	return size, nil
}

// InclusionProof proves entry seq in the tree of treeSize leaves; treeSize 0
// means the size of the latest checkpoint. It reads O(log n) stored nodes.
func (l *Ledger) InclusionProof(ctx context.Context, seq, treeSize uint64) (InclusionProof, error) {
	size, err := l.sizeFor(ctx, treeSize)
	if err != nil {
		return InclusionProof{}, err
	}
	if seq >= size {
		return InclusionProof{}, errBadRange.At("seq")
	}
	nodes, err := proof.Inclusion(seq, size)
	if err != nil {
		return InclusionProof{}, errBadRange.Wrap(err)
	}
	ids := append([]compact.NodeID{compact.NewNodeID(0, seq)}, nodes.IDs...)
	hashes, err := fetchNodes(ctx, l.db, l.db.Dialect, ids)
	if err != nil {
		return InclusionProof{}, err
	}
	path, err := nodes.Rehash(hashes[1:], hasher.HashChildren)
	if err != nil {
		return InclusionProof{}, err
	}
	return InclusionProof{Seq: seq, TreeSize: size, LeafHash: hashes[0], Hashes: path}, nil
}

// ConsistencyProof proves the tree of size from is a prefix of the tree of
// size to; to 0 means the size of the latest checkpoint.
func (l *Ledger) ConsistencyProof(ctx context.Context, from, to uint64) (ConsistencyProof, error) {
	size, err := l.sizeFor(ctx, to)
	if err != nil {
		return ConsistencyProof{}, err
	}
	if from > size {
		return ConsistencyProof{}, errBadRange.At("from")
	}
	nodes, err := proof.Consistency(from, size)
	if err != nil {
		return ConsistencyProof{}, errBadRange.Wrap(err)
	}
	hashes, err := fetchNodes(ctx, l.db, l.db.Dialect, nodes.IDs)
	if err != nil {
		return ConsistencyProof{}, err
	}
	path, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return ConsistencyProof{}, err
	}
	if path == nil {
		path = [][]byte{}
	}
	return ConsistencyProof{From: from, To: size, Hashes: path}, nil
}

// fetchNodes reads the hashes of ids: leaves from ledger_entries, interior
// nodes from ledger_nodes, in one query (a leaf's key, its index, never
// collides with an interior node's, which has its level in the top bits).
// An interior node that the log's unindexed tail completed is not stored
// yet (decision 0109): it is computed from its children.
func fetchNodes(ctx context.Context, q store.Queryer, d store.Dialect, ids []compact.NodeID) ([][]byte, error) {
	got, err := readNodes(ctx, q, d, ids)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if out[i], err = nodeHash(ctx, q, d, id, got, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nodeHash is id's hash from got, else read, else (an interior node not
// stored yet) computed from its children.
func nodeHash(ctx context.Context, q store.Queryer, d store.Dialect, id compact.NodeID, got map[int64][]byte, depth int) ([]byte, error) {
	k := nodeKey(id.Level, id.Index)
	if h, ok := got[k]; ok {
		return h, nil
	}
	if depth > 0 {
		more, err := readNodes(ctx, q, d, []compact.NodeID{id})
		if err != nil {
			return nil, err
		}
		if h, ok := more[k]; ok {
			got[k] = h
			return h, nil
		}
	}
	if id.Level == 0 || depth > maxIndexBits {
		return nil, fmt.Errorf("ledger: tree node %d/%d is missing", id.Level, id.Index)
	}
	left, err := nodeHash(ctx, q, d, compact.NewNodeID(id.Level-1, 2*id.Index), got, depth+1)
	if err != nil {
		return nil, err
	}
	right, err := nodeHash(ctx, q, d, compact.NewNodeID(id.Level-1, 2*id.Index+1), got, depth+1)
	if err != nil {
		return nil, err
	}
	h := hasher.HashChildren(left, right)
	got[k] = h
	return h, nil
}

// readNodes reads the stored hashes of ids, by node key.
func readNodes(ctx context.Context, db store.Queryer, d store.Dialect, ids []compact.NodeID) (map[int64][]byte, error) {
	var leafArgs, nodeArgs []any
	for _, id := range ids {
		if id.Level == 0 {
			leafArgs = append(leafArgs, int64(id.Index))
		} else {
			nodeArgs = append(nodeArgs, nodeKey(id.Level, id.Index))
		}
	}
	var parts []string
	if len(leafArgs) > 0 {
		parts = append(parts, stmtText(d, `SELECT seq, leaf_hash FROM ledger_entries WHERE seq IN `, 1, len(leafArgs), ""))
	}
	if len(nodeArgs) > 0 {
		parts = append(parts, stmtText(d, `SELECT id, hash FROM ledger_nodes WHERE id IN `, 1, len(nodeArgs), ""))
	}
	got := make(map[int64][]byte, len(ids))
	if len(parts) == 0 {
		return got, nil
	}
	query := strings.Join(parts, " UNION ALL ")
	args := append(leafArgs, nodeArgs...)
	if d == store.Postgres && len(parts) == 2 {
		// Numbered placeholders continue across the two halves.
		query = parts[0] + " UNION ALL " + renumber(parts[1], len(leafArgs))
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: read tree nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			return nil, fmt.Errorf("ledger: read tree nodes: %w", err)
		}
		got[k] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: read tree nodes: %w", err)
	}
	return got, nil
}

// renumber shifts the numbered placeholders of q ($1, $2, …) by off.
func renumber(q string, off int) string {
	var sb strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '$' {
			sb.WriteByte(q[i])
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(q[i+1 : j])
		sb.WriteByte('$')
		sb.WriteString(strconv.Itoa(n + off))
		i = j - 1
	}
	return sb.String()
}

// VerifyInclusion checks an inclusion proof of entry body against a root.
func VerifyInclusion(body []byte, p InclusionProof, root []byte) error {
	return proof.VerifyInclusion(hasher, p.Seq, p.TreeSize, hasher.HashLeaf(body), p.Hashes, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(p ConsistencyProof, root1, root2 []byte) error {
	return proof.VerifyConsistency(hasher, p.From, p.To, p.Hashes, root1, root2)
}
