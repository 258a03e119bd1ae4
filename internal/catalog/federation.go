package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Federation (R-CAT-4, FJ10): the published catalog leaves as DCAT-AP
// JSON-LD and through a CKAN-compatible read API, so a provincial platform
// or any open-data harvester can read it; Harvest reads another catalog.

var euFrequency = map[Frequency]string{
	RealTime: "CONT", Daily: "DAILY", Weekly: "WEEKLY", Monthly: "MONTHLY", Quarterly: "QUARTERLY", Yearly: "ANNUAL", Irregular: "IRREG",
}

var euAccess = map[Attr]string{Unconditional: "PUBLIC", Conditional: "RESTRICTED", None: "NON_PUBLIC"}

// dcatContext is the JSON-LD context of the export.
func dcatContext(base string) map[string]any {
	return map[string]any{
		"dcat":    "http://www.w3.org/ns/dcat#",
		"dct":     "http://purl.org/dc/terms/",
		"foaf":    "http://xmlns.com/foaf/0.1/",
		"vcard":   "http://www.w3.org/2006/vcard/ns#",
		"skos":    "http://www.w3.org/2004/02/skos/core#",
		"owl":     "http://www.w3.org/2002/07/owl#",
		"xsd":     "http://www.w3.org/2001/XMLSchema#",
		"shuqiao": base + "/ns#",
	}
}

func lit(s string) map[string]string { return map[string]string{"@value": s, "@language": "zh"} }

func dateLit(t *time.Time) any {
	if t == nil {
		return nil
	}
	return map[string]string{"@value": t.UTC().Format(time.RFC3339), "@type": "xsd:dateTime"}
}

// DCATDataset renders an entry as a DCAT-AP dcat:Dataset. base is the
// platform's public URL (no trailing slash).
func DCATDataset(base string, r *Resource, tx *Taxonomy) map[string]any {
	self := base + "/api/v1/catalog/resources/" + r.ID
	themes := make([]any, 0, len(r.Themes))
	for _, t := range r.Themes {
		themes = append(themes, map[string]any{"@id": base + "/ns/themes/" + t, "skos:prefLabel": lit(label(tx.Themes, t))})
	}
	dists := make([]any, 0, len(r.Formats))
	for _, f := range r.Formats {
		dists = append(dists, map[string]any{
			"@id": self + "#" + f, "@type": "dcat:Distribution",
			"dct:format":     map[string]string{"@id": "http://publications.europa.eu/resource/authority/file-type/" + strings.ToUpper(f)},
			"dcat:accessURL": map[string]string{"@id": self},
			"dct:title":      lit(r.Name + " (" + strings.ToUpper(f) + ")"),
		})
	}
	contact := map[string]any{"@type": "vcard:Organization", "vcard:fn": r.Contact.Name}
	if r.Contact.Email != "" {
		contact["vcard:hasEmail"] = map[string]string{"@id": "mailto:" + r.Contact.Email}
	}
	if r.Contact.Phone != "" {
		contact["vcard:hasTelephone"] = r.Contact.Phone
	}
	d := map[string]any{
		"@id": self, "@type": "dcat:Dataset",
		"dct:identifier":         r.Code,
		"dct:title":              lit(r.Name),
		"dct:description":        lit(r.Description),
		"dct:publisher":          map[string]any{"@id": base + "/api/v1/orgs/" + r.OrgID, "@type": "foaf:Organization", "foaf:name": lit(r.OrgName)},
		"dcat:theme":             themes,
		"dcat:keyword":           r.Tags,
		"dct:accrualPeriodicity": map[string]string{"@id": "http://publications.europa.eu/resource/authority/frequency/" + euFrequency[r.Frequency]},
		"dct:accessRights":       map[string]string{"@id": "http://publications.europa.eu/resource/authority/access-right/" + euAccess[r.Open.Attr]},
		"dcat:contactPoint":      contact,
		"dcat:distribution":      dists,
		"owl:versionInfo":        r.Version,
		"dct:issued":             dateLit(r.PublishedAt),
		"dct:modified":           dateLit(&r.UpdatedAt),
		"shuqiao:dataClass":      string(r.DataClass),
		"shuqiao:level":          string(r.Level),
		"shuqiao:share":          string(r.Share.Attr),
		"shuqiao:open":           string(r.Open.Attr),
		"shuqiao:delivery":       string(r.Delivery.Mode),
		"shuqiao:fieldCount":     len(r.Fields),
	}
	if r.LegalBasis != "" {
		d["dct:conformsTo"] = lit(r.LegalBasis)
	}
	return d
}

// WriteDCAT streams the whole published catalog as one DCAT-AP JSON-LD
// dcat:Catalog. title names the platform.
func (s *Service) WriteDCAT(ctx context.Context, w io.Writer, base, title string) error {
	cfg, err := s.Config(ctx)
	if err != nil {
		return err
	}
	base = strings.TrimRight(base, "/")
	head := map[string]any{
		"@context": dcatContext(base), "@id": base + "/api/v1/catalog/dcat.jsonld", "@type": "dcat:Catalog",
		"dct:title": lit(title), "dct:modified": dateLit(ptr(s.clock.Now())),
	}
	hb, _ := json.Marshal(head)
	// Write the head object without its closing brace, then the datasets.
	if _, err := w.Write(hb[:len(hb)-1]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, `,"dcat:dataset":[`); err != nil {
		return err
	}
	cursor, first := "", true
	for {
		page, next, err := s.List(ctx, System(""), ListFilter{}, cursor, 500)
		if err != nil {
			return err
		}
		for _, r := range page {
			b, err := json.Marshal(DCATDataset(base, r, &cfg.Taxonomy))
			if err != nil {
				return err
			}
			if !first {
				if _, err := io.WriteString(w, ","); err != nil {
					return err
				}
			}
			first = false
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	_, err = io.WriteString(w, "]}\n")
	return err
}

func ptr[T any](v T) *T { return &v }

// OrgCount is a providing org of published entries.
type OrgCount struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Orgs lists the orgs that have published entries.
func (s *Service) Orgs(ctx context.Context) ([]OrgCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT org_id, MAX(org_name), COUNT(*) FROM catalog_resources WHERE status = $1 GROUP BY org_id ORDER BY org_id`, StatusPublished)
	if err != nil {
		return nil, fmt.Errorf("catalog: orgs: %w", err)
	}
	defer rows.Close()
	out := []OrgCount{}
	for rows.Next() {
		var o OrgCount
		if err := rows.Scan(&o.ID, &o.Name, &o.Count); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
