// Package ingest aggregates orgs' data to the platform (汇聚, R-AGG-1..4): a
// hosted catalog resource gets a dataset, a typed table whose schema follows
// the resource's fields; full-volume snapshots replace it atomically and
// incremental upserts and deletes change it by key; every record carries its
// lineage (org, batch, source row, load time) and every batch is a ledger
// collect event followed by a store event with counts and a content hash.
// Each load is checked against types, code lists and rules, profiled for
// quality (R-QLT-1) and scanned for personal identifiers in fields the
// catalog does not mark personal (R-SEC-1). Objections to records are a
// casework kind whose correction is an incremental update linked to the case
// (R-QLT-2). Service-interface resources register their upstream (R-AGG-2).
//
// Readers of hosted data go through the gate; Scan is the seam the gate
// reads with.
package ingest

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure the service.
type Options struct {
	// Catalog resolves resources (required).
	Catalog *catalog.Service
	// Cases, when set, gets the objection kind (see UseCasework).
	Cases *casework.Engine
	// Secret keys the encryption of upstream credentials (at least 32 bytes).
	Secret []byte
	// ChunkRows is how many rows each staging transaction holds; a resumed
	// load continues after the last committed chunk (default 50,000).
	ChunkRows int
	// MaxErrors bounds the rows of one batch's error report (default 10,000);
	// rejected rows beyond it are counted but not itemised.
	MaxErrors int
	// HTTPClient calls upstream services for health checks.
	HTTPClient *http.Client
	// ObjectionDays is the org's time to answer an objection, in working
	// days (default 15).
	ObjectionDays int
	Log           *slog.Logger
}

// Service is hosted datasets, loads, quality and objections.
type Service struct {
	db      *store.DB
	led     *ledger.Ledger
	clock   clock.Clock
	catalog *catalog.Service
	cw      *casework.Engine
	opts    Options
	key     []byte // AES-256 key for upstream secrets
	log     *slog.Logger
	tables  tableCache // the gate's view of dataset tables
}

// New migrates the package's tables and returns the service.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, opts Options) (*Service, error) {
	if opts.Catalog == nil {
		return nil, errors.New("ingest: Options.Catalog is required")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = 50_000
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 10_000
	}
	if opts.ObjectionDays <= 0 {
		opts.ObjectionDays = 15
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := db.Migrate(ctx, "ingest", migrations, "migrations"); err != nil {
		return nil, err
	}
	s := &Service{db: db, led: led, clock: clk, catalog: opts.Catalog, opts: opts, log: opts.Log}
	s.key = deriveKey(opts.Secret)
	if err := s.seedCodeLists(ctx); err != nil {
		return nil, err
	}
	if opts.Cases != nil {
		if err := s.UseCasework(opts.Cases); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Errors every caller may meet.
var (
	ErrNotHosted       = apperr.New(apperr.Conflict, "ingest.not_hosted", "该目录条目不是平台托管方式，不能汇聚数据", "this catalog entry is not hosted on the platform")
	ErrNotService      = apperr.New(apperr.Conflict, "ingest.not_service", "该目录条目不是服务接口方式", "this catalog entry is not delivered through a service interface")
	ErrNotPublished    = apperr.New(apperr.Conflict, "ingest.not_published", "目录条目尚未发布，不能建立数据集", "the catalog entry has no published version yet")
	ErrNoDataset       = apperr.New(apperr.NotFound, "ingest.no_dataset", "该目录条目尚未建立托管数据集", "this catalog entry has no hosted dataset")
	ErrDatasetExists   = apperr.New(apperr.Conflict, "ingest.dataset_exists", "该目录条目已建立托管数据集", "this catalog entry already has a hosted dataset")
	ErrBadKey          = apperr.New(apperr.Invalid, "ingest.bad_key", "主键数据项须为目录中已有的数据项", "key fields must be fields of the catalog entry")
	ErrSchemaRefused   = apperr.New(apperr.Conflict, "ingest.schema_refused", "目录新版本的数据项变更无法迁移到托管数据集", "the data items of the new catalog version cannot be migrated onto the hosted dataset")
	ErrSchemaChanged   = apperr.New(apperr.Conflict, "ingest.schema_changed", "加载期间数据集结构已变更，请重新加载", "the dataset's schema changed during the load; load again")
	ErrBatchNotFound   = apperr.New(apperr.NotFound, "ingest.batch_not_found", "未找到该批次", "batch not found")
	ErrBatchDone       = apperr.New(apperr.Conflict, "ingest.batch_done", "该批次已结束，不能继续", "this batch has finished and cannot continue")
	ErrBadMode         = apperr.New(apperr.Invalid, "ingest.bad_mode", "加载方式须为 replace、upsert 或 delete", "mode must be replace, upsert or delete")
	ErrBadPolicy       = apperr.New(apperr.Invalid, "ingest.bad_policy", "批次策略须为 reject_all 或 accept_valid", "policy must be reject_all or accept_valid")
	ErrBadFormat       = apperr.New(apperr.Unsupported, "ingest.bad_format", "文件格式须为 CSV、XLSX、JSON 或 NDJSON", "the format must be CSV, XLSX, JSON or NDJSON")
	ErrNoRecord        = apperr.New(apperr.NotFound, "ingest.no_record", "未找到该记录", "record not found")
	ErrResumeMismatch  = apperr.New(apperr.Conflict, "ingest.resume_mismatch", "续传的文件与该批次最初的文件不一致", "the file does not match the one this batch started with")
	ErrDatasetNotReady = apperr.New(apperr.Conflict, "ingest.dataset_not_ready", "数据集结构迁移被拒绝，须先处理", "the dataset's schema migration was refused; resolve it first")
)

// Mode is how a load changes a dataset.
type Mode string

const (
	// Replace loads a full-volume snapshot and swaps it in atomically.
	Replace Mode = "replace"
	// Upsert inserts or updates records by key.
	Upsert Mode = "upsert"
	// Delete deletes records by key.
	Delete Mode = "delete"
)

// Policy is what a load does with invalid rows.
type Policy string

const (
	// RejectAll refuses the whole batch if any row is invalid.
	RejectAll Policy = "reject_all"
	// AcceptValid applies the valid rows and reports the rest.
	AcceptValid Policy = "accept_valid"
)

// Format is an input format.
type Format string

const (
	CSV    Format = "csv"
	XLSX   Format = "xlsx"
	JSON   Format = "json"
	NDJSON Format = "ndjson"
)

func actorOf(p identity.Principal) (ledger.ActorKind, string) {
	switch {
	case p.UserID != "":
		return ledger.ActorUser, p.UserID
	case p.ClientID != "":
		return ledger.ActorClient, p.ClientID
	}
	return ledger.ActorSystem, ""
}

func (s *Service) event(p identity.Principal, action ledger.Action, resourceID string, detail any) ledger.Event {
	kind, id := actorOf(p)
	ev := ledger.Event{ActorKind: kind, ActorID: id, OrgID: p.OrgID, Action: action, ResourceID: resourceID}
	if detail != nil {
		ev.Detail = ledger.DetailOf(detail)
	}
	return ev
}

// System is the principal the platform acts as for an org: the CLI, demo
// seeding and casework effects.
func System(orgID string) identity.Principal { return catalog.System(orgID) }

func isAuthority(p identity.Principal) bool {
	return p.Has(identity.RoleAuthorityAdmin)
}

// canManage: the org's data stewards and admins manage its datasets; the
// authority's admins manage any.
func canManage(p identity.Principal, orgID string) bool {
	if isAuthority(p) {
		return true
	}
	return p.Authenticated() && p.OrgID == orgID && p.HasAny(identity.RoleDataSteward, identity.RoleAdmin)
}

// canSee: anyone of the org, and the authority's people.
func canSee(p identity.Principal, orgID string) bool {
	if isAuthority(p) {
		return true
	}
	if !p.Authenticated() {
		return false
	}
	return p.OrgID == orgID || p.OrgKind == identity.KindAuthority
}

// resource reads a catalog entry as the platform: ingest decides access itself.
func (s *Service) resource(ctx context.Context, idOrCode string) (*catalog.Resource, error) {
	r, err := s.catalog.GetByCode(ctx, System(""), idOrCode)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return fmt.Errorf("ingest: %s: %w", what, err)
}
