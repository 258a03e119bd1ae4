package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"shuqiao/internal/ledger"
	"shuqiao/internal/privacy/anon"
	"shuqiao/internal/privacy/classify"
	"shuqiao/internal/privacy/dp"
	"shuqiao/internal/privacy/table"
)

func newPrivacyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Privacy toolkit: scan files for personal data, k-anonymise, measure risk, DP budgets",
		Long: `隐私工具 / privacy toolkit (R-PRS-6, R-OPN-4, R-OPN-6, R-DEV-7, R-SEC-3).

  scan   classify the columns of a CSV (UTF-8 or GBK) or XLSX file
  kanon  k-anonymise a file over ARX generalisation hierarchies
  risk   re-identification risk of a file over its quasi-identifiers
  budget grant or show differential-privacy budgets (needs the store)

See docs/privacy.md.`,
	}
	cmd.AddCommand(newPrivacyScanCmd(), newPrivacyKanonCmd(), newPrivacyRiskCmd(), newPrivacyBudgetCmd())
	return cmd
}

func readTable(path string, w io.Writer) (*table.Table, error) {
	fmt.Fprintf(w, "reading %s …\n", path)
	return table.ReadFile(path)
}

func newPrivacyScanCmd() *cobra.Command {
	var asJSON bool
	var sample, importantScale int
	var core []string
	cmd := &cobra.Command{
		Use:   "scan FILE",
		Short: "Suggest category, GB/T 43697 level and personal-data flags per column",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := classify.CheckCategories(core); err != nil {
				return fmt.Errorf("--core-categories: %w", err)
			}
			errw := cmd.ErrOrStderr()
			t, err := readTable(args[0], errw)
			if err != nil {
				return err
			}
			p := newProgress(errw, "scan")
			rep := classify.Classify(t, classify.Options{Sample: sample, Progress: p.set, CoreCategories: core, ImportantScale: importantScale})
			p.done()
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(out, "%s: %d rows, %s\n", rep.File, rep.Rows, rep.Encoding)
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COLUMN\tCATEGORY\t类别\tLEVEL\tPERSONAL\tSENSITIVE\tCONF\tEVIDENCE (masked)")
			for _, c := range rep.Columns {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%.2f\t%s\n", c.Name, c.Category, c.CategoryZH, c.Level, c.Personal, c.Sensitive,
					c.Confidence, strings.Join(c.Evidence, " | "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().IntVar(&sample, "sample", 2000, "rows to inspect")
	cmd.Flags().StringSliceVar(&core, "core-categories", nil, "category codes the authority designates core data (核心数据), comma-separated; none by default")
	cmd.Flags().IntVar(&importantScale, "important-scale", 0, "records of sensitive personal information from which a column is suggested important (0: the platform default)")
	return cmd
}

func newPrivacyKanonCmd() *cobra.Command {
	var cfg anon.Config
	var qi, hdir, out, diversity string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "kanon FILE --k K --qi a,b,c --hierarchies DIR -o OUT.csv",
		Short: "k-anonymise a file (l-diversity and t-closeness optional) with the least information loss",
		Long: `Generalises the quasi-identifiers over ARX hierarchies (DIR/*_hierarchy_<attr>.csv or DIR/<attr>.csv,
';'-separated) and suppresses records, finding the full-domain generalisation with the least
information loss (ARX's "Loss" metric, see docs/privacy.md) that satisfies k-anonymity and,
if asked, l-diversity and t-closeness of --sensitive within --max-suppression.
Suppressed records are left out of the output unless --keep-suppressed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			errw := cmd.ErrOrStderr()
			start := time.Now()
			t, err := readTable(args[0], errw)
			if err != nil {
				return err
			}
			cfg.QIs = splitList(qi)
			if cfg.Hierarchies, err = anon.LoadHierarchies(hdir); err != nil {
				return err
			}
			cfg.Diversity = anon.Diversity(diversity)
			res, err := anon.Anonymize(cmd.Context(), t, cfg)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("name the output file with -o")
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := table.WriteCSV(f, res.Output, t.Delimiter); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"result": res, "transformation": res.Transformation(), "output": out,
					"search_ms": float64(res.Elapsed.Microseconds()) / 1000, "total_ms": float64(time.Since(start).Microseconds()) / 1000})
			}
			fmt.Fprintf(w, "transformation 泛化方案: %s\n", res.Transformation())
			fmt.Fprintf(w, "suppressed 抑制:        %d of %d records (%.2f%%, limit %.2f%%)\n", res.Suppressed, res.Records,
				100*float64(res.Suppressed)/float64(max(res.Records, 1)), 100*cfg.MaxSuppression)
			fmt.Fprintf(w, "classes 等价类:         %d, smallest %d (k=%d)\n", res.Classes, res.MinClass, cfg.K)
			fmt.Fprintf(w, "information loss 信息损失: %.4f (ARX Loss metric)\n", res.Loss)
			fmt.Fprintf(w, "lattice 格:             %d of %d nodes checked\n", res.NodesChecked, res.NodesTotal)
			fmt.Fprintf(w, "time 用时:              %v search, %v total\n", res.Elapsed.Round(time.Microsecond), time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(w, "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.K, "k", 5, "least equivalence-class size")
	f.StringVar(&qi, "qi", "", "quasi-identifier columns, comma-separated")
	f.StringVar(&hdir, "hierarchies", "", "folder of ARX hierarchy files")
	f.StringVar(&cfg.Sensitive, "sensitive", "", "sensitive attribute for l-diversity / t-closeness")
	f.IntVar(&cfg.L, "l", 0, "l-diversity: least distinct sensitive values per class (0: off)")
	f.StringVar(&diversity, "diversity", "distinct", "l-diversity variant: distinct or recursive")
	f.Float64Var(&cfg.C, "c", 0, "c of recursive (c,l)-diversity")
	f.Float64Var(&cfg.T, "t", 0, "t-closeness: largest earth mover's distance (0: off)")
	f.Float64Var(&cfg.MaxSuppression, "max-suppression", 0, "largest share of records that may be suppressed, 0..1")
	f.BoolVar(&cfg.KeepSuppressed, "keep-suppressed", false, "write suppressed records with * in every quasi-identifier")
	f.StringVarP(&out, "output", "o", "", "output CSV file")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("qi")
	_ = cmd.MarkFlagRequired("hierarchies")
	return cmd
}

func newPrivacyRiskCmd() *cobra.Command {
	var qi, population string
	var threshold float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "risk FILE --qi a,b,c",
		Short: "Re-identification risk (prosecutor, journalist, marketer, uniques; GB/T 42460-2023)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			errw := cmd.ErrOrStderr()
			t, err := readTable(args[0], errw)
			if err != nil {
				return err
			}
			var pop *table.Table
			if population != "" {
				if pop, err = readTable(population, errw); err != nil {
					return err
				}
			}
			rep, err := anon.Risk(t, splitList(qi), pop, threshold)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "records 记录数\t%d\n", rep.Records)
			fmt.Fprintf(tw, "classes 等价类\t%d (smallest %d, average %.2f)\n", rep.Classes, rep.MinClass, rep.AvgClass)
			fmt.Fprintf(tw, "unique records 唯一记录\t%d (%.2f%%)\n", rep.Uniques, 100*rep.UniqueShare)
			fmt.Fprintf(tw, "prosecutor 检察官攻击\tmax %.4f  avg %.4f  records at risk (>%.2f) %.2f%%\n", rep.ProsecutorMax, rep.ProsecutorAvg, rep.Threshold, 100*rep.ProsecutorAtRisk)
			note := ""
			if pop == nil {
				note = "  (no --population: equals prosecutor)"
			}
			fmt.Fprintf(tw, "journalist 记者攻击\tmax %.4f  avg %.4f  records at risk %.2f%%%s\n", rep.JournalistMax, rep.JournalistAvg, 100*rep.JournalistAtRisk, note)
			fmt.Fprintf(tw, "marketer 营销者攻击\t%.4f\n", rep.Marketer)
			for _, b := range []string{"1", "2", "3-4", "5-9", "10-19", "20+"} {
				fmt.Fprintf(tw, "  records in classes of size %s\t%d\n", b, rep.Histogram[b])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&qi, "qi", "", "quasi-identifier columns, comma-separated")
	cmd.Flags().StringVar(&population, "population", "", "population file for the journalist model (default: the file is the population)")
	cmd.Flags().Float64Var(&threshold, "threshold", 0.2, "per-record risk above which a record is at risk")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("qi")
	return cmd
}

func newPrivacyBudgetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "budget",
		Short: "Differential-privacy budgets per operator and dataset",
	}
	var sf storeFlags
	var operator, dataset, by string
	var epsilon float64
	grant := &cobra.Command{
		Use:   "grant --operator ORG --dataset ID --epsilon E",
		Short: "Set an operator's total epsilon on a dataset (recorded in the ledger)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			b, err := dp.New(cmd.Context(), a.DB, a.Ledger, a.Clock)
			if err != nil {
				return err
			}
			actor := dp.Actor{Kind: ledger.ActorSystem}
			if by != "" {
				actor = dp.Actor{Kind: ledger.ActorUser, ID: by}
			}
			acc, err := b.Grant(cmd.Context(), actor, operator, dataset, epsilon)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "operator %s dataset %s: epsilon %.4f, spent %.4f, remaining %.4f\n", acc.Operator, acc.Dataset, acc.Epsilon, acc.Spent, acc.Remaining)
			return nil
		},
	}
	sf.register(grant)
	grant.Flags().StringVar(&operator, "operator", "", "operator org id")
	grant.Flags().StringVar(&dataset, "dataset", "", "dataset (resource) id")
	grant.Flags().Float64Var(&epsilon, "epsilon", 1, "total epsilon")
	grant.Flags().StringVar(&by, "by", "", "user id granting (default: the system)")
	var sf2 storeFlags
	var op2, ds2 string
	show := &cobra.Command{
		Use:   "show --operator ORG --dataset ID",
		Short: "Show an operator's budget on a dataset",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := sf2.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			b, err := dp.New(cmd.Context(), a.DB, a.Ledger, a.Clock)
			if err != nil {
				return err
			}
			acc, err := b.Get(cmd.Context(), op2, ds2)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "operator %s dataset %s: epsilon %.4f, spent %.4f, remaining %.4f\n", acc.Operator, acc.Dataset, acc.Epsilon, acc.Spent, acc.Remaining)
			return nil
		},
	}
	sf2.register(show)
	show.Flags().StringVar(&op2, "operator", "", "operator org id")
	show.Flags().StringVar(&ds2, "dataset", "", "dataset (resource) id")
	cmd.AddCommand(grant, show)
	return cmd
}
