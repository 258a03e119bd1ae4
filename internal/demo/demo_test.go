package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"shuqiao/internal/app"
	"shuqiao/internal/demo"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// The demo city seeds on both stores: the authority, about forty orgs of every
// kind with valid credit codes, and staff who can sign in.
func TestSeed(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := app.New(ctx, db, app.Config{DataDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var last int
		logins, err := demo.Seed(ctx, a, func(done, total int) { last = done })
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			t.Fatal("no progress reported")
		}
		orgs, _, err := a.Identity.ListOrgs(ctx, identity.OrgFilter{}, "", 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) < 40 {
			t.Fatalf("want about 40 orgs, got %d", len(orgs))
		}
		kinds := map[identity.OrgKind]bool{}
		for _, o := range orgs {
			kinds[o.Kind] = true
			if err := identity.ValidCreditCode(o.CreditCode); err != nil {
				t.Fatalf("%s: %v", o.Name, err)
			}
		}
		for _, k := range identity.OrgKinds {
			if !kinds[k] {
				t.Fatalf("no demo org of kind %s", k)
			}
		}
		for _, l := range []demo.Login{logins[0], logins[len(logins)-1]} {
			if _, err := a.Identity.Authenticate(ctx, l.Username, demo.Password, "test"); err != nil {
				t.Fatalf("demo login %s: %v", l.Username, err)
			}
		}
	})
}
