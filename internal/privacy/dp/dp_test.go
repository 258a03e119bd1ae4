package dp

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

var authority = Actor{Kind: ledger.ActorUser, ID: "u-admin", OrgID: "org-authority"}
var operator = Actor{Kind: ledger.ActorClient, ID: "client-op", OrgID: "org-op"}

func setup(t *testing.T, db *store.DB) (*Budgets, *ledger.Ledger) {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, db, led, clk)
	if err != nil {
		t.Fatal(err)
	}
	return b, led
}

// R-DEV-2, R-SEC-3: the budget never goes below zero under concurrent
// spending, every successful spend is a ledger event, refused ones are not.
func TestConcurrentSpend(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b, led := setup(t, db)
		if _, err := b.Grant(ctx, authority, "org-op", "ds-1", 1.0); err != nil {
			t.Fatal(err)
		}
		const workers = 40
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		values := []float64{1, 2, 3, 4, 5}
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := b.Query(ctx, operator, "org-op", "ds-1", "test", Aggregate{Kind: Count, Epsilon: 0.1}, values)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
					if res.Remaining < -1e-12 {
						t.Errorf("remaining %v below zero", res.Remaining)
					}
				case errors.Is(err, ErrExhausted):
					refused++
				default:
					t.Errorf("query: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 10 || refused != workers-10 {
			t.Fatalf("ok %d refused %d, want 10 and %d", ok, refused, workers-10)
		}
		acc, err := b.Get(ctx, "org-op", "ds-1")
		if err != nil {
			t.Fatal(err)
		}
		if acc.Remaining != 0 || math.Abs(acc.Spent-1) > 1e-12 {
			t.Fatalf("account %+v", acc)
		}
		var spends int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM privacy_budget_spends`).Scan(&spends); err != nil || spends != 10 {
			t.Fatalf("spends %d %v", spends, err)
		}
		size, err := led.Integrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if size != 11 { // one grant + ten spends
			t.Fatalf("ledger has %d events, want 11", size)
		}
	})
}

func TestBudgetRules(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b, _ := setup(t, db)
		if _, err := b.Query(ctx, operator, "org-op", "none", "p", Aggregate{Kind: Count, Epsilon: 0.1}, nil); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("no account: %v", err)
		}
		if _, err := b.Grant(ctx, authority, "org-op", "ds", 0.5); err != nil {
			t.Fatal(err)
		}
		// A bad query spends nothing.
		if _, err := b.Query(ctx, operator, "org-op", "ds", "p", Aggregate{Kind: Mean, Epsilon: 0.2}, []float64{1}); err == nil {
			t.Fatal("mean without bounds must fail")
		}
		if acc, _ := b.Get(ctx, "org-op", "ds"); acc.Spent != 0 {
			t.Fatalf("failed query spent %v", acc.Spent)
		}
		if _, err := b.Query(ctx, operator, "org-op", "ds", "p", Aggregate{Kind: Sum, Epsilon: 0.4, Lower: 0, Upper: 10}, []float64{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Grant(ctx, authority, "org-op", "ds", 0.3); err == nil {
			t.Fatal("lowering below spent must fail")
		}
		if _, err := b.Query(ctx, operator, "org-op", "ds", "p", Aggregate{Kind: Count, Epsilon: 0.2}, nil); !errors.Is(err, ErrExhausted) {
			t.Fatalf("overspend: %v", err)
		}
		acc, err := b.Grant(ctx, authority, "org-op", "ds", 1)
		if err != nil || math.Abs(acc.Remaining-0.6) > 1e-9 {
			t.Fatalf("raise: %+v %v", acc, err)
		}
	})
}

// The aggregates are close to the truth at a generous epsilon.
func TestCompute(t *testing.T) {
	var vs []float64
	for i := 0; i < 10000; i++ {
		vs = append(vs, float64(i%100))
	}
	c, err := Compute(Aggregate{Kind: Count, Epsilon: 1}, vs)
	if err != nil || math.Abs(c.Value-10000) > 50 {
		t.Fatalf("count %v %v", c.Value, err)
	}
	m, err := Compute(Aggregate{Kind: Mean, Epsilon: 1, Lower: 0, Upper: 100}, vs)
	if err != nil || math.Abs(m.Value-49.5) > 2 {
		t.Fatalf("mean %v %v", m.Value, err)
	}
	s, err := Compute(Aggregate{Kind: Sum, Epsilon: 1, Lower: 0, Upper: 100}, vs)
	if err != nil || math.Abs(s.Value-495000) > 5000 {
		t.Fatalf("sum %v %v", s.Value, err)
	}
	q, err := Compute(Aggregate{Kind: Quantiles, Epsilon: 1, Lower: 0, Upper: 100, Ranks: []float64{0.5, 0.9}}, vs)
	if err != nil || len(q.Quant) != 2 || math.Abs(q.Quant[0]-50) > 5 || math.Abs(q.Quant[1]-90) > 5 {
		t.Fatalf("quantiles %v %v", q.Quant, err)
	}
	if _, err := Compute(Aggregate{Kind: Count, Epsilon: 0}, vs); err == nil {
		t.Fatal("epsilon 0 must fail")
	}
}
