package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"shuqiao/internal/store"
)

// The entries' secondary indexes (resource, org, grant, actor, action,
// time, content hash) live on ledger_entry_index, which is filled in
// batches behind the log, not on ledger_entries (decision 0109); the
// tree's interior nodes (ledger_nodes) are stored in the same batches. Indexes on ledger_entries
// made every commit that appended an entry write a page for each index
// however few entries it carried: on SQLite, where the gate's deliveries
// sequence their events at commit, six of the fourteen pages a delivery's
// commit wrote. Entries from ledger_index_state.upto on are the log's
// unindexed tail; Query reads them from ledger_entries directly.
//
// The tail stays short: a commit that leaves indexBatch or more entries
// unindexed indexes them (on SQLite, the sequencer's; on PostgreSQL the
// integrator indexes every batch it sequences), and Run indexes what is
// left once appends pause.

// indexBatch is how many entries may wait behind the index before the
// commit that appends more indexes them. The ordered indexes then cost a
// page each per batch, where they cost a page each per commit; the
// content-hash index is random, and in a large log costs about a page an
// entry whatever the batch. Indexing takes about 25 µs an entry inside
// that commit, and every call queued behind it waits: 128 made a 3 ms
// commit every 128 entries at the gate's saturation; 32 keeps it under
// a millisecond.
const indexBatch = 32

// indexEntries copies the indexed columns of the entries [from, to) into
// ledger_entry_index, stores the tree's interior nodes that the leaves
// [from, nodesTo) completed (the integrator stores its own batch's), and
// moves ledger_index_state.upto from from to to, in tx, which must hold
// the right to append (SQLite's write lock, or the integrator's lock on
// PostgreSQL).
func indexEntries(ctx context.Context, tx *store.Tx, from, to, nodesTo int64) error {
	if to <= from {
		return nil
	}
	if err := storeNodes(ctx, tx, from, min(nodesTo, to)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entry_index (seq, time, action, actor_id, org_id, resource_id, grant_id, content_hash)
		SELECT seq, time, action, actor_id, org_id, resource_id, grant_id, content_hash FROM ledger_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq`, from, to); err != nil {
		return fmt.Errorf("ledger: index entries: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE ledger_index_state SET upto = $1 WHERE id = 1 AND upto = $2`, to, from)
	if err != nil {
		return fmt.Errorf("ledger: index entries: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return fmt.Errorf("ledger: index state moved under the indexer (%d rows, %v)", k, err)
	}
	return nil
}

// indexedUpTo reads ledger_index_state.upto: entries below it are in
// ledger_entry_index.
func indexedUpTo(ctx context.Context, q store.Queryer) (int64, error) {
	var upto int64
	if err := q.QueryRowContext(ctx, `SELECT upto FROM ledger_index_state WHERE id = 1`).Scan(&upto); err != nil {
		return 0, fmt.Errorf("ledger: read index state: %w", err)
	}
	return upto, nil
}

// lockIndexState reads upto in tx, locking the row on PostgreSQL so that
// two indexers in turn each see the other's work.
func lockIndexState(ctx context.Context, tx *store.Tx) (int64, error) {
	if tx.Dialect != store.Postgres {
		return indexedUpTo(ctx, tx)
	}
	var upto int64
	if err := tx.QueryRowContext(ctx, `SELECT upto FROM ledger_index_state WHERE id = 1 FOR UPDATE`).Scan(&upto); err != nil {
		return 0, fmt.Errorf("ledger: read index state: %w", err)
	}
	return upto, nil
}

// indexAll indexes every entry of the tree of size in tx; the nodes of
// the leaves from nodesTo on are stored already.
func indexAll(ctx context.Context, tx *store.Tx, size, nodesTo int64) error {
	upto, err := lockIndexState(ctx, tx)
	if err != nil {
		return err
	}
	return indexEntries(ctx, tx, upto, size, nodesTo)
}

// storeNodes stores the interior nodes that the leaves [from, to)
// completed: it rebuilds the compact range of the tree of size from out
// of stored nodes (every node its leaves completed is stored, since they
// are below upto) and appends the leaves to it.
func storeNodes(ctx context.Context, tx *store.Tx, from, to int64) error {
	if to <= from {
		return nil
	}
	hashes, err := fetchNodes(ctx, tx, tx.Dialect, compact.RangeNodes(0, uint64(from), nil))
	if err != nil {
		return err
	}
	rng, err := rangeFactory.NewRange(0, uint64(from), hashes)
	if err != nil {
		return fmt.Errorf("ledger: rebuild the tree at %d: %w", from, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT leaf_hash FROM ledger_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq`, from, to)
	if err != nil {
		return fmt.Errorf("ledger: read leaves: %w", err)
	}
	var nodes []any
	n := from
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			rows.Close()
			return fmt.Errorf("ledger: read leaves: %w", err)
		}
		if err := rng.Append(leaf, func(id compact.NodeID, hash []byte) {
			if id.Level > 0 {
				nodes = append(nodes, nodeKey(id.Level, id.Index), hash)
			}
		}); err != nil {
			rows.Close()
			return err
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: read leaves: %w", err)
	}
	if n != to {
		return fmt.Errorf("ledger: %d leaves in [%d, %d)", n-from, from, to)
	}
	const perStmt = maxParams / 2
	for len(nodes) > 0 {
		k := min(len(nodes), 2*perStmt)
		// A node's hash follows from its id and the leaves: one stored
		// already (by a version that wrote nodes at commit) is the same.
		q := stmtText(tx.Dialect, `INSERT INTO ledger_nodes (id, hash) VALUES `, 2, k/2, ",") + ` ON CONFLICT (id) DO NOTHING`
		if _, err := tx.ExecContext(ctx, q, nodes[:k]...); err != nil {
			return fmt.Errorf("ledger: insert tree nodes: %w", err)
		}
		nodes = nodes[k:]
	}
	return nil
}

// IndexTail indexes the log's unindexed tail now, and reports how many
// entries it indexed. Run does it once appends pause; tools and tests
// call it directly.
func (l *Ledger) IndexTail(ctx context.Context) (int, error) {
	size, err := l.TreeSize(ctx)
	if err != nil {
		return 0, err
	}
	upto, err := indexedUpTo(ctx, l.db)
	if err != nil || upto >= int64(size) {
		return 0, err
	}
	var n int64
	err = l.db.InTx(ctx, func(tx *store.Tx) error {
		upto, err := lockIndexState(ctx, tx)
		if err != nil {
			return err
		}
		var size int64
		if err := tx.QueryRowContext(ctx, `SELECT size FROM ledger_tree WHERE id = 1`).Scan(&size); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("ledger: read tree state: %w", err)
		}
		n = max(size-upto, 0)
		return indexEntries(ctx, tx, upto, size, size)
	})
	return int(n), err
}
