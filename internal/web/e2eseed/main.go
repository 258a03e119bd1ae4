// Command e2eseed prepares a data folder for the browser tests (web/e2e): the
// demo city, seeded as `shuqiao demo` seeds it, but on a clock set back 60
// days, so that a rectification order the authority filed then is overdue
// today after climbing its whole escalation chain — the same services and
// the same injected clock the unit tests use, no database edits. A second
// order filed "today" stays within its deadline. The tests then start the
// real binary with `shuqiao serve --data <folder>`.
//
//	go run ./internal/web/e2eseed --data /tmp/e2e
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"shuqiao/internal/app"
	"shuqiao/internal/casework"
	"shuqiao/internal/clock"
	"shuqiao/internal/demo"
)

func main() {
	data := flag.String("data", "", "empty data folder to seed")
	flag.Parse()
	if *data == "" {
		fmt.Fprintln(os.Stderr, "usage: e2eseed --data FOLDER")
		os.Exit(2)
	}
	if err := run(context.Background(), *data); err != nil {
		fmt.Fprintln(os.Stderr, "e2eseed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	now := time.Now().UTC()
	clk := clock.NewFake(now.AddDate(0, 0, -60))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Open(ctx, app.Config{DataDir: dir}, log, clk)
	if err != nil {
		return err
	}
	defer a.Close()
	logins, err := demo.Seed(ctx, a, nil)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "demo-logins.txt"), []byte(demo.FormatLogins(logins)), 0o600); err != nil {
		return err
	}
	admin, err := a.Identity.Authenticate(ctx, "admin", demo.Password, "e2eseed")
	if err != nil {
		return err
	}
	order := func(username, title string, days int) (*casework.Case, error) {
		target, err := a.Identity.Authenticate(ctx, username, demo.Password, "e2eseed")
		if err != nil {
			return nil, err
		}
		payload, _ := json.Marshal(casework.RectificationPayload{
			Failing:     "catalog",
			Description: "目录编制不完整，部分数据项未标注分级 / catalog incomplete: some data items have no level",
			WorkingDays: days,
		})
		return a.Cases.File(ctx, admin, casework.Filing{
			Kind: casework.KindRectification, Title: title,
			Target: casework.Target{Type: "org", ID: target.OrgID}, Payload: payload,
		})
	}
	late, err := order("gaj.admin", "市公安局目录整改（逾期）", 3)
	if err != nil {
		return err
	}
	// Miss each deadline in turn: the order climbs to the authority, then to
	// the city government, where it stays overdue.
	for c := late; c.Level < c.MaxLevel; {
		clk.Set(c.Deadline.Add(time.Hour))
		if _, err := a.Cases.EscalateOverdue(ctx); err != nil {
			return err
		}
		if c, err = a.Cases.Get(ctx, admin, late.ID); err != nil {
			return err
		}
	}
	clk.Set(now)
	if _, err := order("water.admin", "市自来水有限公司目录整改", 20); err != nil {
		return err
	}
	c, err := a.Cases.Get(ctx, admin, late.ID)
	if err != nil {
		return err
	}
	if !c.Overdue {
		return fmt.Errorf("case %s is not overdue (deadline %v)", c.ID, c.Deadline)
	}
	if err := a.Flush(ctx); err != nil {
		return err
	}
	fmt.Printf("seeded %s: overdue case %s (level %d, deadline %s)\n", dir, c.ID, c.Level, c.Deadline.Format(time.RFC3339))
	return nil
}
