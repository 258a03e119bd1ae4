package catalog

import (
	"context"
	"fmt"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// BulkPublish drafts and publishes many entries, batch entries per
// transaction (default 500), with the same checks and ledger events as one
// at a time. It serves demo seeding, benchmarks and migrations from other
// systems; progress, when set, is told after each batch. Either a batch
// lands whole or not at all; batches before a failure stay.
func (s *Service) BulkPublish(ctx context.Context, p identity.Principal, entries []Entry, reason string, batch int, progress func(done, total int)) ([]string, error) {
	if batch <= 0 {
		batch = 500
	}
	if reason == "" {
		reason = "批量发布"
	}
	ids := make([]string, 0, len(entries))
	for start := 0; start < len(entries); start += batch {
		end := min(start+batch, len(entries))
		var got []string
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			got = got[:0]
			for i := start; i < end; i++ {
				d, err := s.createDraftTx(ctx, tx, p, entries[i])
				if err != nil {
					return fmt.Errorf("entry %d (%s): %w", i, entries[i].Name, err)
				}
				if err := s.publishTx(ctx, tx, p, nil, d.ResourceID, PublishInput{Reason: reason}, ""); err != nil {
					return fmt.Errorf("entry %d (%s): %w", i, entries[i].Name, err)
				}
				got = append(got, d.ResourceID)
			}
			return nil
		})
		if err != nil {
			return ids, err
		}
		ids = append(ids, got...)
		if progress != nil {
			progress(end, len(entries))
		}
	}
	return ids, nil
}
