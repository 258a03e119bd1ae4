package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Verify, query, export and check proofs of the tamper-evident ledger",
		Long: `The ledger records every data processing step as an entry of an RFC 6962
Merkle tree with signed checkpoints (C2SP tlog-checkpoint, signed notes).

  verify       recompute the tree from the stored entries and check every checkpoint
  events       list events by resource, org, grant, actor, action, period or a file's content
  export       write entries, checkpoints and public keys for offline verification
  check-proof  check an entry, its inclusion proof and a checkpoint with no database
  keygen       make a checkpoint signing key to keep outside the store (--ledger-key-file)`,
	}
	cmd.AddCommand(newLedgerVerifyCmd(), newLedgerEventsCmd(), newLedgerExportCmd(), newLedgerCheckProofCmd(), newLedgerKeygenCmd())
	return cmd
}

// openLedgerStore opens the store for reading the ledger. It needs neither
// the platform secret nor migrations: verification must work on a copy.
func openLedgerStore(cmd *cobra.Command, sf *storeFlags) (*store.DB, error) {
	if sf.cfg.DB != "" && !store.IsPostgresDSN(sf.cfg.DB) {
		return nil, fmt.Errorf("--db %q: want a postgres:// or postgresql:// URL", sf.cfg.DB)
	}
	if sf.cfg.DB == "" {
		if _, err := os.Stat(sf.cfg.DataDir); err != nil {
			return nil, fmt.Errorf("--data %s: %w", sf.cfg.DataDir, err)
		}
	}
	return store.Open(cmd.Context(), store.Options{DataDir: sf.cfg.DataDir, DSN: sf.cfg.DB})
}

// readKeyArg reads a verifier key given inline or as @FILE.
func readKeyArg(s string) (string, error) {
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		s = string(b)
	}
	return strings.TrimSpace(s), nil
}

func newLedgerVerifyCmd() *cobra.Command {
	var (
		sf       storeFlags
		keys     []string
		export   string
		asJSON   bool
		noProgrs bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the Merkle tree and check every entry and checkpoint; exit 1 on any mismatch",
		Long: `Recompute the Merkle tree from the stored entries (or from an export with
--export FILE) and check: the sequence has no gap and no reordering, each
entry's body matches its leaf hash, the tree state matches, and every signed
checkpoint verifies and matches the recomputed tree. It names the first entry
and the first checkpoint that do not match, and exits with status 1 if any
check fails.

--key pins the verifier key(s) to trust (inline or @FILE). Without it the keys
recorded in the store (or the export) are used: that catches tampering with
entries and checkpoints, but not someone who can also replace the stored key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var trusted []string
			for _, k := range keys {
				v, err := readKeyArg(k)
				if err != nil {
					return err
				}
				trusted = append(trusted, v)
			}
			var (
				rep ledger.Report
				err error
			)
			if export != "" {
				f, ferr := os.Open(export)
				if ferr != nil {
					return ferr
				}
				defer f.Close()
				rep, err = ledger.VerifyExport(f, trusted)
			} else {
				db, oerr := openLedgerStore(cmd, &sf)
				if oerr != nil {
					return oerr
				}
				defer db.Close()
				opts := ledger.VerifyOptions{TrustedKeys: trusted}
				if !noProgrs {
					p := newProgress(cmd.ErrOrStderr(), "verify")
					opts.Progress = func(done, total uint64) { p.set(int(done), int(total)) }
					defer p.done()
				}
				rep, err = ledger.Verify(cmd.Context(), db, opts)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(out, rep.Summary())
				if !rep.OK {
					for _, p := range rep.Problems {
						fmt.Fprintln(out, "  -", p)
					}
				}
			}
			if !rep.OK {
				return errors.New("ledger verification failed")
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trusted checkpoint verifier key, inline or @FILE (repeatable)")
	cmd.Flags().StringVar(&export, "export", "", "verify this export file instead of the store")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&noProgrs, "no-progress", false, "do not draw a progress bar")
	return cmd
}

func newLedgerExportCmd() *cobra.Command {
	var (
		sf  storeFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the ledger (entries, checkpoints, public keys) as JSON lines for offline verification",
		Long: `Write the whole ledger as JSON lines: a header, the checkpoint verifier keys,
every signed checkpoint and every entry (canonical bytes, base64). A third
party checks it with 'shuqiao ledger verify --export FILE --key VKEY', using
the key they got from the operator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openLedgerStore(cmd, &sf)
			if err != nil {
				return err
			}
			defer db.Close()
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			p := newProgress(cmd.ErrOrStderr(), "export")
			n, err := ledger.Export(cmd.Context(), db, w, func(done, total uint64) { p.set(int(done), int(total)) })
			p.done()
			if err != nil {
				return err
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d entries to %s\n", n, out)
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "-", "output file (- for standard output)")
	return cmd
}

func newLedgerCheckProofCmd() *cobra.Command {
	var entry, proofFile, checkpoint, key string
	cmd := &cobra.Command{
		Use:   "check-proof",
		Short: "Check an entry's inclusion proof against a signed checkpoint, offline; prints true or false",
		Long: `Check, with no database, that an entry is in the ledger a signed checkpoint
commits to. Inputs are files as the API serves them:

  --entry       GET /api/v1/ledger/entries/{seq}        (the canonical entry bytes)
  --proof       GET /api/v1/ledger/proofs/inclusion?seq=&size=
  --checkpoint  GET /api/v1/ledger/checkpoint           (the signed note)
  --key         the operator's published verifier key, inline or @FILE

It prints "true" and exits 0, or "false: <reason>" and exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if entry == "" || proofFile == "" || checkpoint == "" || key == "" {
				return errors.New("--entry, --proof, --checkpoint and --key are all required")
			}
			read := func(path string) ([]byte, error) {
				if path == "-" {
					return io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				}
				return os.ReadFile(path)
			}
			e, err := read(entry)
			if err != nil {
				return err
			}
			p, err := read(proofFile)
			if err != nil {
				return err
			}
			c, err := read(checkpoint)
			if err != nil {
				return err
			}
			k, err := readKeyArg(key)
			if err != nil {
				return err
			}
			ok, err := ledger.CheckProof(e, p, c, k)
			if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "false: %v\n", err)
				return errors.New("the proof does not check out")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "true")
			return nil
		},
	}
	cmd.Flags().StringVar(&entry, "entry", "", "file with the entry's canonical bytes (- for standard input)")
	cmd.Flags().StringVar(&proofFile, "proof", "", "file with the inclusion proof (JSON)")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "file with the signed checkpoint note")
	cmd.Flags().StringVar(&key, "key", "", "checkpoint verifier key, inline or @FILE")
	return cmd
}

func newLedgerKeygenCmd() *cobra.Command {
	var algo, origin, out string
	cmd := &cobra.Command{
		Use:   "keygen -o FILE",
		Short: "Make a checkpoint signing key for --ledger-key-file and print its public verifier key",
		Long: `Make a private checkpoint signing key (a signed-note key, Ed25519 or SM2 with SM3)
and write it to FILE, readable by its owner only. Start the server with
--ledger-key-file FILE and the same --ledger-origin, and publish the printed
verifier key so that anyone can check the platform's checkpoints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var skey, vkey string
			var err error
			switch ledger.Algorithm(algo) {
			case ledger.Ed25519:
				skey, vkey, err = note.GenerateKey(rand.Reader, origin)
			case ledger.SM2:
				skey, vkey, err = ledger.GenerateSM2Key(rand.Reader, origin)
			default:
				return fmt.Errorf("--algorithm %q: want ed25519 or sm2", algo)
			}
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("-o %s: %w (an existing key is never overwritten)", out, err)
			}
			if _, err := fmt.Fprintln(f, skey); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key 私钥: %s\nverifier key 公钥 (publish it): %s\n", out, vkey)
			return nil
		},
	}
	cmd.Flags().StringVar(&algo, "algorithm", string(ledger.Ed25519), "ed25519 or sm2")
	cmd.Flags().StringVar(&origin, "origin", ledger.DefaultOrigin, "the checkpoint origin, the same as the server's --ledger-origin")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write the private key to")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}
