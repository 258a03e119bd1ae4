// Package app is configuration and wiring: open the store, build the
// services, start the server and stop it gracefully.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/gate"
	"shuqiao/internal/httpapi"
	"shuqiao/internal/identity"
	"shuqiao/internal/ingest"
	"shuqiao/internal/ledger"
	"shuqiao/internal/open"
	"shuqiao/internal/share"
	"shuqiao/internal/store"
)

// Version is set at build time with -ldflags "-X shuqiao/internal/app.Version=…".
var Version = "dev"

// Config is everything an operator can set, by flag or SHUQIAO_* variable.
type Config struct {
	// DataDir holds the embedded database and local keys (default ./shuqiao-data).
	DataDir string
	// DB is a postgres:// DSN; empty means the embedded SQLite store in DataDir.
	DB string
	// Listen is the HTTP address (default 127.0.0.1:8080).
	Listen string
	// Secret keys the hashes of personal identifiers. Replicas sharing one
	// PostgreSQL must share it. Empty: read or create DataDir/secret.key.
	Secret string
	// SecureCookies marks cookies Secure; set it when served over HTTPS.
	SecureCookies bool
	// LogLevel is debug, info, warn or error; LogFormat text or json.
	LogLevel  string
	LogFormat string
	// CalendarDir holds the authority's working-day calendar files
	// (<year>.json, docs/calendar.md); empty uses the embedded years.
	CalendarDir string
	// Cases configures case notifications (SMTP, webhook) and limits.
	Cases casework.Options
	// LedgerOrigin names the ledger's checkpoints and signing key (default
	// ledger.DefaultOrigin, "shuqiao.local/ledger").
	LedgerOrigin string
	// LedgerAlgorithm signs checkpoints: "ed25519" (default) or "sm2".
	LedgerAlgorithm string
	// LedgerKeyFile holds the checkpoint signer's private note key
	// ("PRIVATE+KEY+<origin>+…"), kept outside the store; empty: a key is
	// generated on first start and kept in the store.
	LedgerKeyFile string
	// OpenRiskScanEvery is how often the server re-scans opened datasets for
	// re-identification risk (R-OPN-6); entries opened, republished or given
	// new data are scanned at the next check. Default 7 days.
	OpenRiskScanEvery time.Duration
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.DataDir == "" {
		c.DataDir = "shuqiao-data"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.OpenRiskScanEvery <= 0 {
		c.OpenRiskScanEvery = 7 * 24 * time.Hour
	}
}

// App is the running platform's services over one store.
type App struct {
	Config   Config
	Log      *slog.Logger
	Clock    clock.Clock
	DB       *store.DB
	Ledger   *ledger.Ledger
	Identity *identity.Service
	Cases    *casework.Engine
	Catalog  *catalog.Service
	// Gate is the only exit for record-level data (DESIGN.md rule 1).
	// Hosted rows come from ingest: a.Gate.UseRows(…) once it is wired.
	Gate *gate.Service
	// Share is sharing between orgs (share_request, share_dispute and
	// share_suspension case kinds, the demand list, usage monitoring).
	Share *share.Service
	// Open is open data (open_application, open_review and open_risk case kinds).
	Open *open.Service
	// Ingest is aggregation: hosted datasets, loads, lineage, quality, objections.
	Ingest *ingest.Service
}

// NewLogger builds the structured logger cfg asks for, writing to w.
func NewLogger(cfg Config, w *os.File) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch cfg.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", cfg.LogFormat)
}

// Open opens the store, migrates every package's tables and builds the services.
func Open(ctx context.Context, cfg Config, log *slog.Logger, clk clock.Clock) (*App, error) {
	cfg.Defaults()
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if cfg.DB != "" && !store.IsPostgresDSN(cfg.DB) {
		return nil, fmt.Errorf("--db %q: want a postgres:// or postgresql:// URL (leave it empty for the embedded store)", cfg.DB)
	}
	db, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir, DSN: cfg.DB})
	if err != nil {
		return nil, err
	}
	a, err := New(ctx, db, cfg, log, clk)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// New builds the platform over an open store (tests pass their own).
func New(ctx context.Context, db *store.DB, cfg Config, log *slog.Logger, clk clock.Clock) (*App, error) {
	cfg.Defaults()
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if clk == nil {
		clk = clock.Real{}
	}
	a := &App{Config: cfg, Log: log, Clock: clk, DB: db}
	if err := a.build(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context) error {
	secret, err := loadSecret(a.Config)
	if err != nil {
		return err
	}
	lopts, err := ledgerOptions(a.Config, a.Log)
	if err != nil {
		return err
	}
	if a.Ledger, err = ledger.New(ctx, a.DB, a.Clock, lopts); err != nil {
		return err
	}
	if a.Identity, err = identity.New(ctx, a.DB, a.Ledger, a.Clock, identity.Options{Secret: secret}); err != nil {
		return err
	}
	cal, err := casework.LoadCalendar(a.Config.CalendarDir)
	if err != nil {
		return err
	}
	caseOpts := a.Config.Cases
	if caseOpts.Log == nil {
		caseOpts.Log = a.Log
	}
	if a.Cases, err = casework.New(ctx, a.DB, a.Ledger, a.Clock, cal, caseOpts); err != nil {
		return err
	}
	if a.Catalog, err = catalog.New(ctx, a.DB, a.Ledger, a.Clock, catalog.Options{Orgs: catalog.IdentityOrgs(a.Identity), Cases: a.Cases}); err != nil {
		return err
	}
	if a.Gate, err = gate.New(ctx, a.DB, a.Ledger, a.Clock, gate.CatalogResources(a.Catalog, a.Clock, 0), nil, gate.Options{Secret: secret, Log: a.Log}); err != nil {
		return err
	}
	if a.Ingest, err = ingest.New(ctx, a.DB, a.Ledger, a.Clock, ingest.Options{Catalog: a.Catalog, Cases: a.Cases, Secret: secret, Log: a.Log}); err != nil {
		return err
	}
	a.Gate.UseRows(a.Ingest.RowSource())
	if a.Share, err = share.New(ctx, a.DB, a.Ledger, a.Clock, a.Cases, a.Catalog, a.Gate, share.Options{Orgs: catalog.IdentityOrgs(a.Identity)}); err != nil {
		return err
	}
	authorityOrg := ""
	if o, err := a.Identity.Authority(ctx); err == nil {
		authorityOrg = o.ID
	}
	if a.Open, err = open.New(ctx, a.DB, a.Ledger, a.Clock, a.Cases, a.Catalog, a.Gate, open.Options{Secret: secret,
		Verify: open.IdentityVerifier(a.Identity), AuthorityOrgID: authorityOrg, RiskScanEvery: a.Config.OpenRiskScanEvery,
		Authority: func(ctx context.Context) (string, error) {
			o, err := a.Identity.Authority(ctx)
			if err != nil {
				return "", err
			}
			return o.ID, nil
		}}); err != nil {
		return err
	}
	return nil
}

// loadSecret returns the platform secret: from configuration, or from
// DataDir/secret.key, created on first start.
// ledgerOptions turns the ledger settings of cfg into ledger.Options,
// reading the signer key file if one is named.
func ledgerOptions(cfg Config, log *slog.Logger) (ledger.Options, error) {
	o := ledger.Options{Origin: cfg.LedgerOrigin, Algorithm: ledger.Algorithm(strings.ToLower(cfg.LedgerAlgorithm)), Log: log}
	if cfg.LedgerKeyFile != "" {
		b, err := os.ReadFile(cfg.LedgerKeyFile)
		if err != nil {
			return o, fmt.Errorf("--ledger-key-file: %w", err)
		}
		o.SignerKey = strings.TrimSpace(string(b))
		if o.SignerKey == "" {
			return o, fmt.Errorf("--ledger-key-file %s is empty", cfg.LedgerKeyFile)
		}
	}
	return o, nil
}

func loadSecret(cfg Config) ([]byte, error) {
	if cfg.Secret != "" {
		if len(cfg.Secret) < 32 {
			return nil, errors.New("secret: SHUQIAO_SECRET must be at least 32 characters")
		}
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("secret: %s is shorter than 32 characters", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if cfg.DB != "" {
		// Replicas on one PostgreSQL must agree; a per-machine file would split them.
		return nil, errors.New("secret: with --db set SHUQIAO_SECRET (the same on every replica, at least 32 characters)")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return []byte(s), nil
}

// Handler is the platform's HTTP handler.
func (a *App) Handler() http.Handler {
	return a.API().Handler()
}

// SeedHandler is the HTTP handler for requests the platform makes of itself
// while seeding (the demo's own calls): warnings and errors are logged, the
// access line of each call is not.
func (a *App) SeedHandler() http.Handler {
	return a.api(slog.New(warnOnly{a.Log.Handler()})).Handler()
}

// warnOnly passes on only records of level warn and above.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(as)} }
func (h warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{h.Handler.WithGroup(name)} }

// API builds the HTTP API over the app's services.
func (a *App) API() *httpapi.Server { return a.api(a.Log) }

func (a *App) api(log *slog.Logger) *httpapi.Server {
	return httpapi.New(httpapi.Deps{
		Identity: a.Identity,
		Ledger:   a.Ledger,
		Cases:    a.Cases,
		Catalog:  a.Catalog,
		Gate:     a.Gate,
		Share:    a.Share,
		Open:     a.Open,
		Ingest:   a.Ingest,
		Clock:    a.Clock,
		Log:      log,
		Ready:    a.DB.PingContext,
		Version:  Version,
	}, httpapi.Options{SecureCookies: a.Config.SecureCookies})
}

// Serve listens on ln (or Config.Listen when ln is nil) until ctx ends, runs
// the background workers, and then shuts down gracefully: in-flight requests
// get up to 15 seconds to finish.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", a.Config.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a.Config.Listen, err)
		}
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if p, ok := TuneGC(os.Getenv); ok {
		a.Log.Info("garbage collector target set for serving (set GOGC to choose another)", "gogc", p)
	}
	if n, ok := TuneProcs(os.Getenv); ok {
		a.Log.Info("Go processors set for serving (set GOMAXPROCS to choose another)", "gomaxprocs", n)
	}
	workers, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	a.startWorkers(workers)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Log.Info("shuqiao listening", "addr", "http://"+ln.Addr().String(), "store", a.DB.Where, "version", Version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	stopWorkers()
	return err
}

// startWorkers runs the platform's background loops until ctx ends.
func (a *App) startWorkers(ctx context.Context) {
	// Casework: escalate overdue cases every minute; deliver notifications
	// after each commit and retry failed ones.
	go a.Cases.Run(ctx, time.Minute)
	// Ledger: integrate appended events into the Merkle tree and sign checkpoints.
	go func() {
		if err := a.Ledger.Run(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("ledger integrator stopped", "err", err)
		}
	}()
	go a.every(ctx, time.Hour, "prune expired sessions", a.Identity.Prune)
	go a.every(ctx, 5*time.Minute, "ingest maintenance", a.Ingest.Maintain)
	go a.every(ctx, time.Hour, "end public grants of entries no longer open", func(ctx context.Context) error { _, err := a.Open.Sync(ctx); return err })
	go a.every(ctx, 24*time.Hour, "file open-data reviews", func(ctx context.Context) error { _, err := a.Open.RunReviews(ctx); return err })
	// Open data: re-identification risk scan of opened datasets (R-OPN-6).
	// RunRiskScans decides by the clock what is due (OpenRiskScanEvery, or
	// changed); the check runs a twelfth of the period apart, 1 min to 1 h.
	go a.every(ctx, min(max(a.Config.OpenRiskScanEvery/12, time.Minute), time.Hour), "scan open data for re-identification risk",
		func(ctx context.Context) error { _, err := a.Open.RunRiskScans(ctx); return err })
}

// every runs fn now and then every period until ctx ends, logging failures.
func (a *App) every(ctx context.Context, period time.Duration, what string, fn func(context.Context) error) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Flush integrates the events appended so far into the ledger's tree and
// signs a checkpoint. Short-lived commands call it before they exit, so what
// they did is verifiable without a server having run.
func (a *App) Flush(ctx context.Context) error {
	if _, err := a.Ledger.Integrate(ctx); err != nil {
		return err
	}
	_, err := a.Ledger.SignCheckpoint(ctx)
	return err
}

// Close releases the store.
func (a *App) Close() error {
	if a.Gate != nil {
		a.Gate.Close()
	}
	return a.DB.Close()
}
