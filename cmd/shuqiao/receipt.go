package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"shuqiao/internal/gate"
)

func newReceiptCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipt",
		Short: "Check delivery receipts: a file is exactly what the platform delivered, to whom, when and why",
	}
	cmd.AddCommand(newReceiptVerifyCmd())
	return cmd
}

func newReceiptVerifyCmd() *cobra.Command {
	var (
		key, ledgerKey string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "verify FILE RECEIPT",
		Short: "Verify offline that FILE is the delivery RECEIPT describes (R-SHR-8); exit 1 if not",
		Long: `Verify, with no database and no network, that FILE is byte for byte what the
platform delivered, and to whom, when, under which grant and for which purpose
(R-SHR-8: shared data has the force of paper documents).

RECEIPT is the JSON from GET /api/v1/receipts/{delivery}. The check covers:
  - the receipt's signature (the platform's receipt key);
  - the SHA-256 and size of FILE against the signed statement;
  - when the receipt carries a ledger proof: the entry's inclusion in the
    ledger under a signed checkpoint, and that this entry is the delivery's
    event (same content hash, grant and action).

--key and --ledger-key pin the keys to trust (inline or @FILE), as the platform
publishes them. Without them the keys the receipt carries are used, which
proves integrity but not who signed: the output says so.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rc, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			k, lk := "", ""
			if key != "" {
				if k, err = readKeyArg(key); err != nil {
					return err
				}
			}
			if ledgerKey != "" {
				if lk, err = readKeyArg(ledgerKey); err != nil {
					return err
				}
			}
			v, verr := gate.VerifyReceipt(file, rc, k, lk)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				res := map[string]any{"ok": verr == nil, "verification": v}
				if verr != nil {
					res["error"] = verr.Error()
				}
				_ = enc.Encode(res)
			} else if v != nil {
				st := v.Statement
				fmt.Fprintf(out, "delivery   %s (%s, %s)\n", st.DeliveryID, st.Action, st.Format)
				fmt.Fprintf(out, "time       %s\n", st.Time.Format("2006-01-02 15:04:05.000000 MST"))
				fmt.Fprintf(out, "recipient  org %s", st.Recipient.OrgID)
				if st.Recipient.ClientID != "" {
					fmt.Fprintf(out, ", client %s", st.Recipient.ClientID)
				}
				if st.Recipient.UserID != "" {
					fmt.Fprintf(out, ", user %s", st.Recipient.UserID)
				}
				fmt.Fprintln(out)
				fmt.Fprintf(out, "resource   %s %s (%s)\n", st.ResourceCode, st.ResourceName, st.ResourceID)
				fmt.Fprintf(out, "grant      %s (%s)\n", st.GrantID, st.GrantKind)
				fmt.Fprintf(out, "purpose    %s\n", st.Purpose)
				fmt.Fprintf(out, "fields     %s\n", strings.Join(st.Fields, ", "))
				fmt.Fprintf(out, "content    %d records, %d bytes, sha256 %s\n", st.Records, st.Bytes, st.ContentSHA256)
				if v.InLedger {
					fmt.Fprintf(out, "ledger     entry %d, included in the signed checkpoint of size %d\n", v.Seq, v.TreeSize)
				}
				if !v.KeyPinned {
					fmt.Fprintln(out, "note       receipt key taken from the receipt itself; pin the platform's key with --key")
				}
				if v.InLedger && !v.LedgerKeyPinned {
					fmt.Fprintln(out, "note       ledger key taken from the receipt itself; pin it with --ledger-key")
				}
				for _, n := range v.Notes {
					fmt.Fprintln(out, "note      ", n)
				}
			}
			if verr != nil {
				if !asJSON {
					fmt.Fprintln(out, "FAILED:", verr)
				}
				return errVerifyFailed
			}
			if !asJSON {
				fmt.Fprintln(out, "OK: the file is exactly what the receipt names")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "receipt verifier key to trust (inline or @FILE)")
	cmd.Flags().StringVar(&ledgerKey, "ledger-key", "", "ledger checkpoint verifier key to trust (inline or @FILE)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

var errVerifyFailed = errors.New("receipt verification failed")
