package catalog

import (
	"context"

	"shuqiao/internal/identity"
)

// IdentityOrgs resolves providing orgs through the identity service; an
// org's code is its unified social credit code.
func IdentityOrgs(s *identity.Service) OrgLookup {
	return func(ctx context.Context, id string) (Org, error) {
		o, err := s.GetOrg(ctx, id)
		if err != nil {
			return Org{}, err
		}
		return Org{ID: o.ID, Name: o.Name, Code: o.CreditCode, Kind: o.Kind}, nil
	}
}
