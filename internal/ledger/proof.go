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
	hashes, err := fetchNodes(ctx, l.db, ids)
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
	hashes, err := fetchNodes(ctx, l.db, nodes.IDs)
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
func fetchNodes(ctx context.Context, db *store.DB, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
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
		parts = append(parts, stmtText(db.Dialect, `SELECT seq, leaf_hash FROM ledger_entries WHERE seq IN `, 1, len(leafArgs), ""))
	}
	if len(nodeArgs) > 0 {
		parts = append(parts, stmtText(db.Dialect, `SELECT id, hash FROM ledger_nodes WHERE id IN `, 1, len(nodeArgs), ""))
	}
	if len(parts) == 0 {
		return out, nil
	}
	query := strings.Join(parts, " UNION ALL ")
	args := append(leafArgs, nodeArgs...)
	if db.Dialect == store.Postgres && len(parts) == 2 {
		// Numbered placeholders continue across the two halves.
		query = parts[0] + " UNION ALL " + renumber(parts[1], len(leafArgs))
	}
	got := make(map[int64][]byte, len(ids))
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
	for i, id := range ids {
		h, ok := got[nodeKey(id.Level, id.Index)]
		if !ok {
			return nil, fmt.Errorf("ledger: tree node %d/%d is missing", id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
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
