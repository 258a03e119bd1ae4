package catalog

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// CKAN's action API shapes (CKAN 2.9+), as far as harvesters read them.

// CKANTag is a dataset tag.
type CKANTag struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// CKANGroup is a group (Shuqiao's themes).
type CKANGroup struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	DisplayName string `json:"display_name"`
}

// CKANOrg is an organization.
type CKANOrg struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Title          string `json:"title"`
	DisplayName    string `json:"display_name,omitempty"`
	Type           string `json:"type"`
	IsOrganization bool   `json:"is_organization"`
	State          string `json:"state"`
	PackageCount   int    `json:"package_count,omitempty"`
}

// CKANResource is a distribution.
type CKANResource struct {
	ID          string `json:"id"`
	PackageID   string `json:"package_id"`
	Name        string `json:"name"`
	Format      string `json:"format"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// CKANExtra is a key/value extra.
type CKANExtra struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CKANPackage is a dataset.
type CKANPackage struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Title            string         `json:"title"`
	Notes            string         `json:"notes"`
	URL              string         `json:"url,omitempty"`
	Version          string         `json:"version,omitempty"`
	State            string         `json:"state"`
	Type             string         `json:"type"`
	Private          bool           `json:"private"`
	LicenseID        string         `json:"license_id,omitempty"`
	Maintainer       string         `json:"maintainer,omitempty"`
	MaintainerEmail  string         `json:"maintainer_email,omitempty"`
	MetadataCreated  string         `json:"metadata_created,omitempty"`
	MetadataModified string         `json:"metadata_modified,omitempty"`
	OwnerOrg         string         `json:"owner_org,omitempty"`
	Organization     *CKANOrg       `json:"organization"`
	Tags             []CKANTag      `json:"tags"`
	Groups           []CKANGroup    `json:"groups"`
	Resources        []CKANResource `json:"resources"`
	NumResources     int            `json:"num_resources"`
	NumTags          int            `json:"num_tags"`
	Extras           []CKANExtra    `json:"extras"`
}

const ckanTime = "2006-01-02T15:04:05.000000"

// CKANName is an entry's CKAN name: its code in lower case.
func CKANName(r *Resource) string { return strings.ToLower(r.Code) }

// ExtraEntry is the extra that carries a Shuqiao entry in full, so that one
// Shuqiao harvesting another keeps every attribute.
const ExtraEntry = "shuqiao_entry"

// ToCKAN renders an entry as a CKAN package. base is the platform's URL.
func ToCKAN(base string, r *Resource, tx *Taxonomy) CKANPackage {
	base = strings.TrimRight(base, "/")
	p := CKANPackage{
		ID: r.ID, Name: CKANName(r), Title: r.Name, Notes: r.Description, Version: r.Version,
		URL:   base + "/api/v1/catalog/resources/" + r.ID,
		State: "active", Type: "dataset", Maintainer: r.Contact.Name, MaintainerEmail: r.Contact.Email,
		MetadataModified: r.UpdatedAt.UTC().Format(ckanTime), MetadataCreated: r.CreatedAt.UTC().Format(ckanTime),
		OwnerOrg:     r.OrgID,
		Organization: &CKANOrg{ID: r.OrgID, Name: r.OrgID, Title: r.OrgName, Type: "organization", IsOrganization: true, State: "active"},
		Tags:         []CKANTag{}, Groups: []CKANGroup{}, Resources: []CKANResource{},
	}
	if r.PublishedAt != nil {
		p.MetadataCreated = r.PublishedAt.UTC().Format(ckanTime)
	}
	for _, t := range r.Tags {
		p.Tags = append(p.Tags, CKANTag{Name: t, DisplayName: t})
	}
	for _, t := range r.Themes {
		l := label(tx.Themes, t)
		p.Groups = append(p.Groups, CKANGroup{Name: t, Title: l, DisplayName: l})
	}
	for _, f := range r.Formats {
		p.Resources = append(p.Resources, CKANResource{ID: r.ID + "-" + f, PackageID: r.ID, Name: r.Name + " (" + strings.ToUpper(f) + ")",
			Format: strings.ToUpper(f), URL: p.URL})
	}
	p.NumResources, p.NumTags = len(p.Resources), len(p.Tags)
	entry, _ := json.Marshal(r.Entry)
	p.Extras = []CKANExtra{
		{"shuqiao_code", r.Code}, {"data_class", string(r.DataClass)}, {"frequency", string(r.Frequency)},
		{"level", string(r.Level)}, {"share", string(r.Share.Attr)}, {"open", string(r.Open.Attr)},
		{"delivery", string(r.Delivery.Mode)}, {ExtraEntry, string(entry)},
	}
	return p
}

// ckanFacets maps CKAN's facet names to Shuqiao's.
var ckanFacets = map[string]string{
	"organization": "org", "owner_org": "org", "groups": "theme", "tags": "tag", "res_format": "format",
	"level": "level", "share": "share", "open": "open", "frequency": "frequency", "data_class": "class",
}

// CKANSearch translates package_search's q and fq into a search: fq holds
// field:value pairs (organization, groups, tags, res_format and Shuqiao's
// own facets), optionally quoted, joined by spaces or AND.
func CKANSearch(q, fq string) SearchInput {
	in := SearchInput{Filters: map[string][]string{}}
	if q = strings.TrimSpace(q); q != "*:*" {
		in.Q = q
	}
	for _, part := range splitFQ(fq) {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		facet, known := ckanFacets[strings.TrimPrefix(k, "+")]
		v = strings.Trim(v, `"`)
		if !known || v == "" {
			continue
		}
		if facet == "format" {
			v = strings.ToLower(v)
		}
		in.Filters[facet] = appendUnique(in.Filters[facet], v)
	}
	return in
}

func splitFQ(fq string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for _, r := range fq {
		switch {
		case r == '"':
			inQuote = !inQuote
			cur.WriteRune(r)
		case (r == ' ' || r == '\t') && !inQuote:
			if s := cur.String(); s != "" && s != "AND" {
				out = append(out, s)
			}
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if s := cur.String(); s != "" && s != "AND" {
		out = append(out, s)
	}
	return out
}

// CKANNames lists the CKAN names of published entries, paged by offset.
func (s *Service) CKANNames(ctx context.Context, offset, limit int) ([]string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT code FROM catalog_resources WHERE status = $1 ORDER BY code LIMIT $2 OFFSET $3`, StatusPublished, limit, max(offset, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, strings.ToLower(c))
	}
	return out, rows.Err()
}

// fromCKAN turns a harvested package into an entry. A Shuqiao package
// carries its entry in full; any other CKAN package is mapped as far as it
// goes: open data, shared and open unconditionally, level general.
func fromCKAN(p CKANPackage, tx *Taxonomy) Entry {
	for _, x := range p.Extras {
		if x.Key == ExtraEntry {
			var e Entry
			if json.Unmarshal([]byte(x.Value), &e) == nil && e.Name != "" {
				normalize(&e)
				return e
			}
		}
	}
	e := Entry{Name: p.Title, Description: p.Notes, DataClass: ClassPublicService, Frequency: Irregular, Level: LevelGeneral,
		Share: Sharing{Attr: Unconditional}, Open: Sharing{Attr: Unconditional}, Delivery: Delivery{Mode: ServiceAPI, Endpoint: p.URL},
		Contact: Contact{Name: p.Maintainer, Email: p.MaintainerEmail}}
	if e.Name == "" {
		e.Name = p.Name
	}
	for _, x := range p.Extras {
		switch x.Key {
		case "frequency", "accrual_periodicity":
			f := Frequency(strings.ToLower(x.Value))
			if oneOf(f, Frequencies) {
				e.Frequency = f
			}
		}
	}
	for _, t := range p.Tags {
		e.Tags = append(e.Tags, t.Name)
	}
	for _, g := range p.Groups {
		if has(tx.Themes, g.Name) {
			e.Themes = append(e.Themes, g.Name)
		}
	}
	for _, r := range p.Resources {
		f := strings.ToLower(strings.TrimSpace(r.Format))
		if f != "" {
			e.Formats = append(e.Formats, f)
		}
	}
	normalize(&e)
	return e
}

func parseCKANTime(s string) time.Time {
	for _, layout := range []string{ckanTime, "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
