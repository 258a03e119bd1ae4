package casework

import (
	"context"
	"fmt"
	"time"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// EscalateOverdue escalates every overdue case one level up the chain its
// kind names (for example the authority, then the city government), as the
// system, each in its own transaction with its ledger event and
// notifications. A case escalated gets a new deadline, so it climbs one level
// per missed deadline; a case at the top of its chain stays overdue. It
// returns how many cases it escalated.
func (e *Engine) EscalateOverdue(ctx context.Context) (int, error) {
	n := 0
	after := ""
	for {
		now := store.Micros(e.clock.Now())
		rows, err := e.db.QueryContext(ctx, `SELECT id FROM cases WHERE phase = 'active' AND deadline > 0 AND deadline <= $1
			AND level < max_level AND id > $2 ORDER BY id LIMIT 100`, now, after)
		if err != nil {
			return n, fmt.Errorf("casework: overdue: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return n, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return n, err
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			after = id
			done, err := e.escalateOne(ctx, id)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
	}
	if n > 0 {
		e.wake()
	}
	return n, nil
}

func (e *Engine) escalateOne(ctx context.Context, id string) (bool, error) {
	done := false
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := e.loadCase(ctx, tx, id, true)
		if err != nil {
			return err
		}
		k, ok := e.kind(c.Kind)
		// Check again under the lock: another replica may have got here first.
		if !ok || !c.Overdue || c.Level >= len(k.Escalation) {
			return nil
		}
		r := e.escalation(k, c, record{p: identity.Principal{}, reason: "逾期未办结，自动督办升级 / overdue: escalated automatically", notify: true})
		r.detail["overdue_since"] = c.Deadline
		if err := e.apply(ctx, tx, k, c, r); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done, err
}

// Run escalates overdue cases every interval and delivers the notification
// outbox whenever a case changes (and at every interval, for retries), until
// ctx ends. Errors are logged, not returned: the loop keeps going.
func (e *Engine) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	tick := func(escalate bool) {
		if escalate {
			if n, err := e.EscalateOverdue(ctx); err != nil {
				e.log.ErrorContext(ctx, "casework: escalate overdue cases", "err", err)
			} else if n > 0 {
				e.log.InfoContext(ctx, "casework: escalated overdue cases", "count", n)
			}
		}
		if _, err := e.DeliverOutbox(ctx); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "casework: deliver notifications", "err", err)
		}
	}
	tick(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tick(true)
		case <-e.kick:
			tick(false)
		}
	}
}
