package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"shuqiao/internal/apperr"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
)

func newIngestCmd() *cobra.Command {
	var sf storeFlags
	var resource, mode, policy, format, encoding, delimiter, sheet, report string
	var key []string
	var restart bool
	cmd := &cobra.Command{
		Use:   "ingest FILE --resource CODE [--mode replace|upsert|delete]",
		Short: "Load a CSV, XLSX, JSON or NDJSON file into a hosted catalog entry's dataset",
		Long: `Load a file into the dataset of a hosted catalog entry (汇聚), as its providing org.

replace loads a full-volume snapshot and swaps it in at once; upsert inserts or
updates records by key; delete deletes records by key. CSV may be UTF-8 (with or
without a BOM), GBK or GB18030, with any common delimiter; headers map by field
name or Chinese label. Rows are checked against the field types, code lists and
quality rules; --policy reject_all refuses the whole file if any row is invalid,
accept_valid (the default) loads the valid rows and reports the rest.

The load commits in chunks and shows a progress bar. If it is interrupted (Ctrl-C,
a crash, a lost connection to PostgreSQL), run the same command again: it resumes
the unfinished batch after its last committed chunk, without duplicates. Nothing
of an unfinished batch is visible to readers. --restart abandons it instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			path := args[0]
			if resource == "" {
				return fmt.Errorf("--resource is required: the catalog code (or id) of a hosted entry")
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			a, err := sf.open(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			r, err := a.Catalog.GetByCode(ctx, catalog.System(""), resource)
			if err != nil {
				return err
			}
			p := ingest.System(r.OrgID)
			if _, err := a.Ingest.Dataset(ctx, p, r.ID); err != nil {
				if !apperrIs(err, ingest.ErrNoDataset) || len(key) == 0 {
					if apperrIs(err, ingest.ErrNoDataset) {
						return fmt.Errorf("%s has no dataset yet: give --key FIELD[,FIELD] to create it", r.Code)
					}
					return err
				}
				if _, err := a.Ingest.CreateDataset(ctx, p, r.ID, ingest.DatasetInput{Key: key}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created the dataset of %s %s, key %v\n", r.Code, r.Name, key)
			}
			if format == "" {
				format = string(ingest.FormatOf(path))
			}
			abs, _ := filepath.Abs(path)
			in := ingest.LoadInput{Mode: ingest.Mode(mode), Policy: ingest.Policy(policy), Format: ingest.Format(format), Source: filepath.Base(path),
				Encoding: encoding, Delimiter: delimiter, Sheet: sheet,
				Fingerprint: fmt.Sprintf("%s|%d|%d", abs, st.Size(), st.ModTime().UnixNano())}
			b, err := a.Ingest.OpenBatch(ctx, p, r.ID, in.Fingerprint)
			if err != nil {
				return err
			}
			if b != nil && restart {
				if err := a.Ingest.Abort(ctx, p, b.ID, "restarted from the command line"); err != nil {
					return err
				}
				b = nil
			}
			if b != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming batch %s after row %d\n", b.ID, b.RowsRead)
			} else if b, err = a.Ingest.Begin(ctx, p, r.ID, in); err != nil {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			bar := newProgress(cmd.ErrOrStderr(), "ingest "+filepath.Base(path))
			in.Progress = func(pr ingest.Progress) { bar.set(int(pr.Bytes), int(st.Size())) }
			done, err := a.Ingest.Continue(ctx, p, b.ID, f, in)
			bar.done()
			if err != nil {
				if _, ok := apperr.As(err); !ok {
					fmt.Fprintf(cmd.ErrOrStderr(), "the load stopped; run the same command again to resume batch %s\n", b.ID)
				}
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "batch %s: %s\n", done.ID, done.Status)
			if done.Reason != "" {
				fmt.Fprintf(out, "  %s\n", done.Reason)
			}
			fmt.Fprintf(out, "  read %d, valid %d, rejected %d, duplicate keys %d\n", done.RowsRead, done.RowsStaged, done.RowsRejected, done.RowsDuplicate)
			fmt.Fprintf(out, "  inserted %d, updated %d, deleted %d; the dataset now holds %d records\n", done.Inserted, done.Updated, done.Deleted, done.RowsTotal)
			fmt.Fprintf(out, "  content SHA-256 %s\n", done.ContentHash)
			if done.Profile != nil {
				fmt.Fprintf(out, "  quality %.1f (completeness %.2f, validity %.2f, uniqueness %.2f, timeliness %.2f)\n", done.Profile.Score,
					done.Profile.Completeness, done.Profile.Validity, done.Profile.Uniqueness, done.Profile.Timeliness)
			}
			for _, h := range done.PIIHints {
				fmt.Fprintf(out, "  personal data hint: field %s looks like %s in %d of %d sampled values; classify it in the catalog\n", h.Field, h.Entity, h.Matched, h.Sampled)
			}
			if done.RowsRejected+done.RowsDuplicate > 0 {
				if report == "" {
					report = "errors-" + done.ID + ".csv"
				}
				if err := writeReport(ctx, a.Ingest, p, done.ID, report); err != nil {
					return err
				}
				fmt.Fprintf(out, "  error report: %s\n", report)
			}
			return a.Flush(ctx)
		},
	}
	sf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&resource, "resource", "", "catalog code (or id) of the hosted entry to load")
	f.StringVar(&mode, "mode", "replace", "replace (full snapshot), upsert or delete (by key)")
	f.StringVar(&policy, "policy", "accept_valid", "reject_all or accept_valid")
	f.StringVar(&format, "format", "", "csv, xlsx, json or ndjson (default: from the file name)")
	f.StringVar(&encoding, "encoding", "auto", "CSV encoding: auto, utf-8, gbk or gb18030")
	f.StringVar(&delimiter, "delimiter", "auto", `CSV delimiter: auto, ",", ";", "|" or tab`)
	f.StringVar(&sheet, "sheet", "", "XLSX sheet (default: the active one)")
	f.StringVar(&report, "report", "", "where to write the error report CSV (default errors-<batch>.csv when rows are rejected)")
	f.StringSliceVar(&key, "key", nil, "key fields, to create the dataset if the entry has none yet")
	f.BoolVar(&restart, "restart", false, "abandon an unfinished batch of this file instead of resuming it")
	return cmd
}

func apperrIs(err error, target *apperr.Error) bool {
	ae, ok := apperr.As(err)
	return ok && ae.Code == target.Code
}

// writeReport writes a batch's error report as CSV (UTF-8 with a BOM).
func writeReport(ctx context.Context, s *ingest.Service, p identity.Principal, batchID, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _ = f.WriteString("\xEF\xBB\xBF")
	w := csv.NewWriter(f)
	_ = w.Write([]string{"行号 row", "列号 column", "数据项 field", "代码 code", "原因", "reason", "值 value"})
	err = s.ErrorReport(ctx, p, batchID, func(l ingest.ReportLine) error {
		return w.Write([]string{strconv.FormatInt(l.Row, 10), strconv.Itoa(l.Column), l.Field, l.Code, l.ZH, l.EN, l.Value})
	})
	if err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}
