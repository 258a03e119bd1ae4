package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// HarvestOptions tune a harvest.
type HarvestOptions struct {
	// Client makes the requests (default: 60 s timeout).
	Client *http.Client
	// Progress, when set, is told how many packages were read of how many.
	Progress func(done, total int)
	// PageSize is the rows per package_search call (default 500).
	PageSize int
	// Max bounds the packages read (default 200,000).
	Max int
}

// HarvestResult reports a harvest.
type HarvestResult struct {
	Source    string `json:"source"`
	Read      int    `json:"read"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	// Withdrawn counts entries harvested before that the source no longer lists.
	Withdrawn int `json:"withdrawn"`
}

var errHarvest = apperr.New(apperr.Invalid, "catalog.harvest", "", "")

func harvestError(zh, en string) error {
	e := errHarvest.At("url")
	e.ZH, e.EN = "汇聚目录失败："+zh, "harvest failed: "+en
	return e
}

type ckanEnvelope struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

type ckanSearchResult struct {
	Count   int           `json:"count"`
	Results []CKANPackage `json:"results"`
}

// Harvest reads another Shuqiao's or a CKAN portal's catalog through the
// CKAN action API at rawURL and keeps its datasets here as linked,
// read-only remote entries (R-CAT-4, FJ10). Entries are matched by the
// source and the package name, so harvesting again updates them, and ones
// the source dropped are withdrawn. Only the authority harvests. All of it
// is one transaction.
func (s *Service) Harvest(ctx context.Context, p identity.Principal, rawURL string, opts HarvestOptions) (*HarvestResult, error) {
	if !isAuthority(p) {
		return nil, apperr.ErrForbidden
	}
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, harvestError("地址须为 http(s) URL", "the address must be an http(s) URL")
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api/3/action")
	u.RawQuery, u.Fragment = "", ""
	base := strings.TrimRight(u.String(), "/")
	source := u.Host + strings.TrimRight(u.Path, "/")
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.PageSize <= 0 || opts.PageSize > 1000 {
		opts.PageSize = 500
	}
	if opts.Max <= 0 {
		opts.Max = 200000
	}
	var pkgs []CKANPackage
	total := -1
	for start := 0; total < 0 || start < total; start += opts.PageSize {
		q := url.Values{"q": {"*:*"}, "rows": {fmt.Sprint(opts.PageSize)}, "start": {fmt.Sprint(start)}, "sort": {"name asc"}}
		var res ckanSearchResult
		if err := ckanGet(ctx, opts.Client, base+"/api/3/action/package_search?"+q.Encode(), &res); err != nil {
			return nil, err
		}
		if total < 0 {
			total = res.Count
			if total > opts.Max {
				return nil, harvestError(fmt.Sprintf("来源有 %d 个数据集，超过上限 %d", total, opts.Max), fmt.Sprintf("the source has %d datasets, over the limit of %d", total, opts.Max))
			}
		}
		pkgs = append(pkgs, res.Results...)
		if opts.Progress != nil {
			opts.Progress(len(pkgs), total)
		}
		if len(res.Results) == 0 {
			break
		}
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	out := &HarvestResult{Source: source, Read: len(pkgs)}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		seen := map[string]bool{}
		for _, pk := range pkgs {
			if pk.Private || (pk.State != "" && pk.State != "active") || pk.Name == "" {
				continue
			}
			code := source + "/" + pk.Name
			if seen[code] {
				continue
			}
			seen[code] = true
			e := fromCKAN(pk, &cfg.Taxonomy)
			orgKey, orgTitle := "unknown", source
			if pk.Organization != nil {
				orgKey, orgTitle = pk.Organization.Name, pk.Organization.Title
				if orgTitle == "" {
					orgTitle = orgKey
				}
			}
			orgID := "remote:" + source + ":" + orgKey
			orgName := orgTitle + " @ " + u.Host
			e.Code, e.OrgID = code, orgID
			link := pk.URL
			if link == "" {
				link = base + "/dataset/" + pk.Name
			}
			var id string
			var doc sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT id, doc FROM catalog_resources WHERE code = $1`, code).Scan(&id, &doc)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				seq, err := nextSeq(ctx, tx, orgID)
				if err != nil {
					return err
				}
				id = store.NewID()
				if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_resources (id, code, org_id, org_name, seq, status, remote_source, remote_url, remote_at, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)`, id, code, orgID, orgName, seq, StatusDraft, source, link, store.Micros(now)); err != nil {
					return fmt.Errorf("catalog: harvest insert: %w", err)
				}
				r := &row{ID: id, OrgID: orgID, OrgName: orgName, Status: StatusDraft}
				if err := s.index(ctx, tx, r, &e, 1, 0, now); err != nil {
					return err
				}
				out.Created++
			case err != nil:
				return fmt.Errorf("catalog: harvest lookup: %w", err)
			default:
				prev, _ := decodeEntry(doc)
				if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET org_name = $1, remote_url = $2, remote_at = $3 WHERE id = $4`, orgName, link, store.Micros(now), id); err != nil {
					return fmt.Errorf("catalog: harvest update: %w", err)
				}
				r, err := s.loadRow(ctx, tx, tx.Dialect, id, true)
				if err != nil {
					return err
				}
				if prev != nil {
					prev.Code, prev.OrgID = e.Code, e.OrgID
				}
				if prev != nil && r.Status == StatusPublished && encodeEntry(prev) == encodeEntry(&e) {
					out.Unchanged++
					continue
				}
				if err := s.index(ctx, tx, r, &e, max(r.Major, 1), r.Minor+1, now); err != nil {
					return err
				}
				out.Updated++
			}
		}
		// Withdraw what the source no longer lists.
		rows, err := tx.QueryContext(ctx, `SELECT id, code FROM catalog_resources WHERE remote_source = $1 AND status = $2`, source, StatusPublished)
		if err != nil {
			return fmt.Errorf("catalog: harvest sweep: %w", err)
		}
		var gone []string
		for rows.Next() {
			var id, code string
			if err := rows.Scan(&id, &code); err != nil {
				rows.Close()
				return err
			}
			if !seen[code] {
				gone = append(gone, id)
			}
		}
		rows.Close()
		for _, id := range gone {
			if err := s.unindex(ctx, tx, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE catalog_resources SET status = $1, fts_rowid = 0, updated_at = $2 WHERE id = $3`, StatusWithdrawn, store.Micros(now), id); err != nil {
				return err
			}
			out.Withdrawn++
		}
		if err := bumpGeneration(ctx, tx); err != nil {
			return err
		}
		ev := s.event(p, ledger.Admin, "", "catalog.harvest", out)
		ev.Object = "catalog/" + source
		return s.led.Append(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func ckanGet(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return harvestError(err.Error(), err.Error())
	}
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return harvestError("无法连接："+err.Error(), "cannot connect: "+err.Error())
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return harvestError("读取失败："+err.Error(), "read: "+err.Error())
	}
	if res.StatusCode != http.StatusOK {
		return harvestError(fmt.Sprintf("%s 返回 HTTP %d", u, res.StatusCode), fmt.Sprintf("%s answered HTTP %d", u, res.StatusCode))
	}
	var env ckanEnvelope
	if err := json.Unmarshal(body, &env); err != nil || !env.Success {
		return harvestError(u+" 不是 CKAN 接口的应答", u+" did not answer as the CKAN action API")
	}
	if err := json.Unmarshal(env.Result, v); err != nil {
		return harvestError("应答格式错误："+err.Error(), "malformed answer: "+err.Error())
	}
	return nil
}
