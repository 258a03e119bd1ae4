// Package catalog is the public data resource catalog (公共数据资源目录,
// SZ10, XM16, FJ10): entries (Resource) with their data items (Field),
// attribute rules, drafts and published versions, authority review, the
// public catalog and open list, Chinese full-text search with facets, the
// duplicate-collection check, purchase requests, XLSX import and export,
// DCAT-AP export, a CKAN-compatible read API and harvesting of other
// catalogs. Every change lands in the ledger in its own transaction.
package catalog

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"shuqiao/internal/apperr"
	"shuqiao/internal/casework"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

//go:embed migrations/*.sql migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Org is what the catalog needs to know about a providing org.
type Org struct {
	ID   string
	Name string
	// Code is the org's code that prefixes its entries' codes: the unified
	// social credit code.
	Code string
	Kind identity.OrgKind
}

// OrgLookup finds an org by id; it returns an error for an unknown org.
type OrgLookup func(ctx context.Context, id string) (Org, error)

// Options configure the service.
type Options struct {
	// Orgs resolves providing orgs (required; see IdentityOrgs).
	Orgs OrgLookup
	// Cases, when set, gets the catalog's case kinds (see UseCasework).
	Cases *casework.Engine
	// Config is the configuration used until the authority stores its own.
	// Zero means DefaultConfig().
	Config *Config
}

// Config is what the authority configures: the taxonomy, which attribute
// rules apply, and whether publishing needs its review.
type Config struct {
	Taxonomy Taxonomy `json:"taxonomy"`
	// Rules turns rules off by id (false); a missing id is on.
	Rules map[string]bool `json:"rules"`
	// RequireReview sends an org's publication to the authority for review
	// (casework kind catalog_review) instead of publishing at once.
	RequireReview bool `json:"require_review"`
}

// DefaultConfig is the default taxonomy, every rule on, no review.
func DefaultConfig() Config {
	return Config{Taxonomy: DefaultTaxonomy(), Rules: map[string]bool{}}
}

// Service is the catalog.
type Service struct {
	db    *store.DB
	led   *ledger.Ledger
	clock clock.Clock
	orgs  OrgLookup
	def   Config

	cw *casework.Engine

	// exactFacets is how many matches a search counts facets of exactly;
	// beyond it they are estimated from the newest exactFacets matches.
	exactFacets int

	// combos caches facet combinations (catalog_search_combos), which
	// never change once written.
	comboMu  sync.Mutex
	combos   map[int64][][2]string
	comboMax int64
}

// New migrates the catalog's tables and returns the service.
func New(ctx context.Context, db *store.DB, led *ledger.Ledger, clk clock.Clock, opts Options) (*Service, error) {
	if opts.Orgs == nil {
		return nil, errors.New("catalog: Options.Orgs is required")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if err := db.Migrate(ctx, "catalog", migrations, "migrations"); err != nil {
		return nil, err
	}
	if db.Dialect == store.SQLite {
		if err := db.Migrate(ctx, "catalog_sqlite", migrations, "migrations/sqlite"); err != nil {
			return nil, err
		}
	} else if err := db.Migrate(ctx, "catalog_postgres", migrations, "migrations/postgres"); err != nil {
		return nil, err
	}
	def := DefaultConfig()
	if opts.Config != nil {
		def = *opts.Config
	}
	s := &Service{db: db, led: led, clock: clk, orgs: opts.Orgs, def: def, exactFacets: ExactFacetLimit}
	if _, err := db.ExecContext(ctx, `INSERT INTO catalog_settings (key, value, updated_at) VALUES ('generation', '0', 0) ON CONFLICT (key) DO NOTHING`); err != nil {
		return nil, fmt.Errorf("catalog: init settings: %w", err)
	}
	if err := s.ensureSearchIndex(ctx); err != nil {
		return nil, err
	}
	if opts.Cases != nil {
		if err := s.UseCasework(opts.Cases); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Errors callers may test with errors.Is.
var (
	ErrNotFound      = apperr.New(apperr.NotFound, "catalog.not_found", "目录条目不存在", "no such catalog entry")
	ErrNoDraft       = apperr.New(apperr.Conflict, "catalog.no_draft", "该条目没有待发布的草稿", "the entry has no draft to publish")
	ErrRemote        = apperr.New(apperr.Conflict, "catalog.remote_read_only", "该条目从其他目录汇聚而来，只读", "the entry is harvested from another catalog and is read-only")
	ErrDuplicateCode = apperr.New(apperr.Conflict, "catalog.duplicate_code", "目录代码已被占用", "the catalog code is already taken")
	ErrUnknownOrg    = apperr.New(apperr.Invalid, "catalog.unknown_org", "提供机构不存在", "the providing org does not exist")
	ErrOrgKind       = apperr.New(apperr.Invalid, "catalog.org_kind", "只有政务部门、公共服务组织和主管部门编制公共数据目录", "only departments, public service orgs and the authority compile catalog entries")
	ErrStaleDraft    = apperr.New(apperr.Conflict, "catalog.stale_draft", "草稿已被他人修改，请刷新后重试", "the draft changed since you read it; reload and try again")
	ErrReviewPending = apperr.New(apperr.Conflict, "catalog.review_pending", "该条目的草稿正在审核中", "the entry's draft is under review")
	ErrNoCasework    = apperr.New(apperr.Internal, "catalog.no_casework", "审核流程未启用", "the review workflow is not configured")
)

// Config returns the configuration in force.
func (s *Service) Config(ctx context.Context) (Config, error) {
	return s.config(ctx, s.db)
}

func (s *Service) config(ctx context.Context, q store.Queryer) (Config, error) {
	var raw string
	err := q.QueryRowContext(ctx, `SELECT value FROM catalog_settings WHERE key = 'config'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		c := s.def
		if c.Rules == nil {
			c.Rules = map[string]bool{}
		}
		return c, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("catalog: read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Config{}, fmt.Errorf("catalog: config: %w", err)
	}
	if c.Rules == nil {
		c.Rules = map[string]bool{}
	}
	return c, nil
}

// SetConfig stores the authority's configuration. Only an authority admin
// may; an empty taxonomy list keeps the default list.
func (s *Service) SetConfig(ctx context.Context, p identity.Principal, c Config) (Config, error) {
	if !p.Has(identity.RoleAuthorityAdmin) {
		return Config{}, apperr.ErrForbidden
	}
	d := DefaultTaxonomy()
	for _, pair := range []struct{ dst, def *[]Term }{
		{&c.Taxonomy.Themes, &d.Themes}, {&c.Taxonomy.Industries, &d.Industries},
		{&c.Taxonomy.BaseLibraries, &d.BaseLibraries}, {&c.Taxonomy.ThemeLibraries, &d.ThemeLibraries},
		{&c.Taxonomy.Formats, &d.Formats},
	} {
		if len(*pair.dst) == 0 {
			*pair.dst = *pair.def
		}
		seen := map[string]bool{}
		for i, t := range *pair.dst {
			if strings.TrimSpace(t.Code) == "" || seen[t.Code] || strings.TrimSpace(t.ZH) == "" {
				return Config{}, invalid(fmt.Sprintf("taxonomy[%d]", i), "分类代码 %q 为空、重复或缺少中文名称", "taxonomy code %q is empty, repeated or has no Chinese label", t.Code)
			}
			seen[t.Code] = true
		}
	}
	for id := range c.Rules {
		if !knownRule(id) {
			return Config{}, invalid("rules."+id, "规则 %q 不存在", "no rule %q", id)
		}
	}
	if c.Rules == nil {
		c.Rules = map[string]bool{}
	}
	b, _ := json.Marshal(c)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_settings (key, value, updated_at) VALUES ('config', $1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(b), store.Micros(now)); err != nil {
			return fmt.Errorf("catalog: store config: %w", err)
		}
		return s.led.Append(ctx, tx, s.event(p, ledger.Admin, "", "catalog.config", map[string]any{"require_review": c.RequireReview, "rules": c.Rules}))
	})
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

func knownRule(id string) bool {
	for _, r := range Rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (s *Service) event(p identity.Principal, action ledger.Action, resourceID, what string, detail any) ledger.Event {
	ev := ledger.Event{ActorKind: ledger.ActorSystem, OrgID: p.OrgID, Action: action, ResourceID: resourceID}
	switch {
	case p.UserID != "":
		ev.ActorKind, ev.ActorID = ledger.ActorUser, p.UserID
	case p.ClientID != "":
		ev.ActorKind, ev.ActorID = ledger.ActorClient, p.ClientID
	}
	d := map[string]any{"what": what}
	if detail != nil {
		d["detail"] = detail
	}
	ev.Detail = ledger.DetailOf(d)
	return ev
}

func actorOf(p identity.Principal) (kind, id string) {
	switch {
	case p.UserID != "":
		return "user", p.UserID
	case p.ClientID != "":
		return "client", p.ClientID
	}
	return "system", ""
}

// System is the principal the platform acts as in seeding, harvesting and
// casework effects: it holds the authority admin role.
func System(orgID string) identity.Principal {
	return identity.Principal{OrgID: orgID, OrgKind: identity.KindAuthority, Name: "system", Roles: []identity.Role{identity.RoleAuthorityAdmin}}
}

func isAuthority(p identity.Principal) bool {
	return p.Has(identity.RoleAuthorityAdmin)
}

// canEdit: the org's data stewards (and admins) edit its entries; the
// authority's admins edit any.
func canEdit(p identity.Principal, orgID string) bool {
	if isAuthority(p) {
		return true
	}
	return p.Authenticated() && p.OrgID == orgID && p.HasAny(identity.RoleDataSteward, identity.RoleAdmin)
}

// canSeeDrafts: anyone of the org, and the authority's reviewers and admins.
func canSeeDrafts(p identity.Principal, orgID string) bool {
	if !p.Authenticated() {
		return false
	}
	if p.OrgID == orgID || isAuthority(p) {
		return true
	}
	return p.OrgKind == identity.KindAuthority && p.Has(identity.RoleReviewer)
}

func versionString(major, minor int) string {
	if major == 0 {
		return ""
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor)
}
