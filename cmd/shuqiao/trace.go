package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newTraceCmd() *cobra.Command {
	var (
		sf     storeFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "trace FILE",
		Short: "Name the grant and recipient a leaked file was delivered to (R-SHR-5)",
		Long: `Trace a file (CSV, XLSX, JSON or NDJSON, as delivered or after re-ordering
columns or rows, re-encoding between CSV and XLSX, or keeping only some rows)
back to the grant and the recipient it was delivered to.

Two signals are used: the exact content hash of every recorded delivery, and
the fingerprint tags that the gate puts in pseudonymised fields (each such
cell names its grant under the platform's secret). A file with no
pseudonymised cell can only be traced if it is byte for byte a delivery.
Needs the store and the platform secret the server uses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			tr, err := a.Gate.Trace(cmd.Context(), file)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(tr)
			}
			for _, d := range tr.Exact {
				fmt.Fprintf(out, "exact copy of delivery %s at %s: grant %s, recipient org %s client %s user %s\n",
					d.ID, d.Time.Format("2006-01-02 15:04:05"), d.GrantID, d.Recipient.OrgID, d.Recipient.ClientID, d.Recipient.UserID)
			}
			fmt.Fprintf(out, "%d pseudonym cells examined\n", tr.Tokens)
			for _, m := range tr.Matches {
				g := m.Grant
				fmt.Fprintf(out, "grant %s (%s, %s): recipient org %s", g.ID, g.Kind, g.State, g.GranteeOrgID)
				if g.GranteeClientID != "" {
					fmt.Fprintf(out, " client %s", g.GranteeClientID)
				}
				fmt.Fprintf(out, ", purpose %q, resource %s — %d of %d cells carry its tag\n", g.Purpose, g.ResourceID, m.Tagged, tr.Tokens)
				for _, d := range m.Deliveries {
					fmt.Fprintf(out, "  delivery %s at %s: %d records as %s to org %s client %s user %s\n",
						d.ID, d.Time.Format("2006-01-02 15:04:05"), d.Records, d.Format, d.Recipient.OrgID, d.Recipient.ClientID, d.Recipient.UserID)
				}
			}
			if len(tr.Exact) == 0 && len(tr.Matches) == 0 {
				return errors.New("no delivery matches this file")
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
