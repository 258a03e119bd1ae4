package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"shuqiao/internal/ledger"
)

func newLedgerEventsCmd() *cobra.Command {
	var (
		sf           storeFlags
		f            ledger.Filter
		action, file string
		since, until string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List ledger events, newest first, by resource, org, grant, actor, action, period or content",
		Long: `List the ledger's events, newest first, one page at a time (--after the
cursor printed at the end for the next page).

--file FILE (or --content-hash, its SHA-256 in hex) finds every event about
exactly that content: each delivery of that file, to whom and under which
grant, and where it was stored. Times are RFC 3339, e.g. 2026-11-01T00:00:00+08:00.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				if f.ContentHash != "" {
					return errors.New("--file and --content-hash name the same thing: give one")
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				f.ContentHash = hex.EncodeToString(sum[:])
			}
			f.Action = ledger.Action(action)
			for _, t := range []struct {
				name, v string
				to      *time.Time
			}{{"--since", since, &f.Since}, {"--until", until, &f.Until}} {
				if t.v == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return fmt.Errorf("%s %q: want an RFC 3339 time, e.g. 2026-11-01T00:00:00+08:00", t.name, t.v)
				}
				*t.to = v
			}
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			// Events recorded a moment ago may still be queued.
			if _, err := a.Ledger.Integrate(cmd.Context()); err != nil {
				return err
			}
			es, next, err := a.Ledger.Query(cmd.Context(), f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Items []ledger.Entry `json:"items"`
					Next  string         `json:"next_cursor,omitempty"`
				}{es, next})
			}
			if len(es) == 0 {
				fmt.Fprintln(out, "no events / 无事件")
				return nil
			}
			for _, e := range es {
				fmt.Fprintf(out, "%d\t%s\t%s\t%s:%s\torg %s", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Action, e.ActorKind, e.ActorID, dash(e.OrgID))
				if e.ResourceID != "" {
					fmt.Fprintf(out, "\tresource %s", e.ResourceID)
				}
				if e.GrantID != "" {
					fmt.Fprintf(out, "\tgrant %s", e.GrantID)
				}
				if e.RecordCount > 0 {
					fmt.Fprintf(out, "\t%d records", e.RecordCount)
				}
				fmt.Fprintln(out)
			}
			if next != "" {
				fmt.Fprintf(out, "more: --after %s\n", next)
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.ResourceID, "resource", "", "catalog resource id")
	fl.StringVar(&f.OrgID, "org", "", "org id")
	fl.StringVar(&f.GrantID, "grant", "", "grant id")
	fl.StringVar(&f.ActorID, "actor", "", "actor id (user or client)")
	fl.StringVar(&action, "action", "", "processing action: collect, store, use, process, transmit, provide, disclose, delete, destroy, decide, admin")
	fl.StringVar(&f.ContentHash, "content-hash", "", "SHA-256 (64 hex digits) of what the events delivered or stored")
	fl.StringVar(&file, "file", "", "a file: its SHA-256 is the content hash")
	fl.StringVar(&since, "since", "", "from this time (inclusive, RFC 3339)")
	fl.StringVar(&until, "until", "", "before this time (exclusive, RFC 3339)")
	fl.StringVar(&f.After, "after", "", "cursor of the next page, as printed")
	fl.IntVar(&f.Limit, "limit", 50, "events a page (at most 1000)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
