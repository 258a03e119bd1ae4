// Command shuqiao runs Shuqiao (数桥), the public data resource platform.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"shuqiao/internal/app"
	"shuqiao/internal/apperr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shuqiao:", describe(err))
		os.Exit(1)
	}
}

// describe renders an error for a person at a terminal: a platform error in
// Chinese and English with where it is, anything else as it is.
func describe(err error) string {
	ae, ok := apperr.As(err)
	if !ok {
		return err.Error()
	}
	s := ae.ZH
	if ae.EN != "" && ae.EN != ae.ZH {
		s += " / " + ae.EN
	}
	if ae.Field != "" {
		s += " [" + ae.Field + "]"
	}
	return s + " (" + ae.Code + ")"
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "shuqiao",
		Short: "Shuqiao 数桥: the public data resource platform and data market",
		Long: `Shuqiao 数桥 is the public data resource platform (公共数据资源平台) and data market
a city's big data authority runs: catalog, aggregation, sharing, open data,
authorised operation, trading and a tamper-evident ledger, in one binary.

Every flag can also be set by an environment variable: SHUQIAO_ and the flag's
name in capitals with - as _ (for example --listen is SHUQIAO_LISTEN).
A flag given on the command line wins over the variable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd)
		},
	}
	root.AddCommand(newServeCmd(), newDemoCmd(), newMigrateCmd(), newAdminCmd(), newLedgerCmd(), newVersionCmd(), newPrivacyCmd(), newCatalogCmd(), newReceiptCmd(), newTraceCmd(), newIngestCmd())
	return root
}

// applyEnv sets every flag the user did not give from its SHUQIAO_* variable.
func applyEnv(cmd *cobra.Command) error {
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || firstErr != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				firstErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	return firstErr
}

func envName(flag string) string {
	return "SHUQIAO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// storeFlags are the flags of every command that reads the store.
type storeFlags struct {
	cfg app.Config
}

func (s *storeFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.cfg.DataDir, "data", "shuqiao-data", "data folder for the embedded store and local keys (env SHUQIAO_DATA)")
	f.StringVar(&s.cfg.DB, "db", "", "PostgreSQL URL, e.g. postgres://user@host:5432/shuqiao; empty uses the embedded store in --data (env SHUQIAO_DB)")
	f.StringVar(&s.cfg.Secret, "secret", "", "platform secret (>=32 chars) keying hashes of personal identifiers; default: <data>/secret.key (env SHUQIAO_SECRET)")
	f.StringVar(&s.cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error (env SHUQIAO_LOG_LEVEL)")
	f.StringVar(&s.cfg.LogFormat, "log-format", "text", "log format: text or json (env SHUQIAO_LOG_FORMAT)")
	f.StringVar(&s.cfg.CalendarDir, "calendar-dir", "", "folder of working-day calendar files (YYYY.json) overriding the built-in ones; see docs/calendar.md (env SHUQIAO_CALENDAR_DIR)")
	f.StringVar(&s.cfg.LedgerOrigin, "ledger-origin", "shuqiao.local/ledger", "origin line of ledger checkpoints and name of their signing key, e.g. shuqiao.xiamen/ledger (env SHUQIAO_LEDGER_ORIGIN)")
	f.StringVar(&s.cfg.LedgerAlgorithm, "ledger-algorithm", "", "checkpoint signature: ed25519 (default) or sm2; with --ledger-key-file, the key's own (env SHUQIAO_LEDGER_ALGORITHM)")
	f.StringVar(&s.cfg.LedgerKeyFile, "ledger-key-file", "", "file holding the checkpoint signer's private note key (PRIVATE+KEY+<origin>+…), kept outside the store; default: a key generated and kept in the store (env SHUQIAO_LEDGER_KEY_FILE)")
}

// registerServer adds the flags of commands that run the server.
func (s *storeFlags) registerServer(cmd *cobra.Command) {
	f := cmd.Flags()
	c := &s.cfg.Cases
	f.StringVar(&s.cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address (env SHUQIAO_LISTEN)")
	f.BoolVar(&s.cfg.SecureCookies, "secure-cookies", false, "mark session cookies Secure; set when served over HTTPS (env SHUQIAO_SECURE_COOKIES)")
	f.StringVar(&c.Webhook.URL, "webhook-url", "", "POST every case notification as signed JSON to this URL (env SHUQIAO_WEBHOOK_URL)")
	f.StringVar(&c.Webhook.Secret, "webhook-secret", "", "HMAC-SHA256 key signing webhook bodies (env SHUQIAO_WEBHOOK_SECRET)")
	f.StringVar(&c.SMTP.Addr, "smtp-addr", "", "mail server host:port for case notifications (env SHUQIAO_SMTP_ADDR)")
	f.StringVar(&c.SMTP.From, "smtp-from", "", "sender address of notification mail (env SHUQIAO_SMTP_FROM)")
	f.StringVar(&c.SMTP.Username, "smtp-username", "", "SMTP user (env SHUQIAO_SMTP_USERNAME)")
	f.StringVar(&c.SMTP.Password, "smtp-password", "", "SMTP password (env SHUQIAO_SMTP_PASSWORD)")
	f.StringSliceVar(&c.SMTP.To, "smtp-to", nil, "comma-separated addresses receiving notification mail (env SHUQIAO_SMTP_TO)")
	f.StringVar(&c.SMTP.BaseURL, "base-url", "", "public address of the platform, used in links in mail, e.g. https://data.example.gov.cn (env SHUQIAO_BASE_URL)")
	f.DurationVar(&s.cfg.OpenRiskScanEvery, "open-risk-scan-every", 7*24*time.Hour, "how often opened datasets are re-scanned for re-identification risk (R-OPN-6); opened, republished or reloaded ones are scanned at the next check (env SHUQIAO_OPEN_RISK_SCAN_EVERY)")
}

// open opens the platform over the configured store, migrating it.
func (s *storeFlags) open(ctx context.Context) (*app.App, error) {
	log, err := app.NewLogger(s.cfg, os.Stderr)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, s.cfg, log, nil)
}

func newServeCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform (HTTP API and web app)",
		Long:  "Run the platform. With no flags it keeps everything in ./shuqiao-data/ (SQLite, WAL) and listens on 127.0.0.1:8080.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Serve(cmd.Context(), nil)
		},
	}
	sf.register(cmd)
	sf.registerServer(cmd)
	return cmd
}

func newMigrateCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database tables, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "migrated %s\n", a.DB.Where)
			return nil
		},
	}
	sf.register(cmd)
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "shuqiao", app.Version)
		},
	}
}
