package identity

import (
	"context"

	"shuqiao/internal/store"
)

// BootstrapInput names the authority and its first administrator.
type BootstrapInput struct {
	AuthorityName    string
	NameEN           string
	CreditCode       string
	AdminUsername    string
	AdminDisplayName string
}

// Bootstrap creates the platform's authority org and its first
// administrator, who holds authority_admin, admin and security_officer and
// must change the returned one-time password at first sign-in. It fails with
// ErrAuthorityExists (Conflict) once an authority exists. Both creations are
// recorded in the ledger as done by the system.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput) (Org, User, string, error) {
	orgIn := NewOrg{Name: in.AuthorityName, NameEN: in.NameEN, Kind: KindAuthority, CreditCode: in.CreditCode}
	if err := checkNewOrg(&orgIn); err != nil {
		return Org{}, User{}, "", err
	}
	if in.AdminDisplayName == "" {
		in.AdminDisplayName = in.AdminUsername
	}
	password := NewOneTimePassword()
	prep, err := s.prepareUser(NewUser{Username: in.AdminUsername, DisplayName: in.AdminDisplayName,
		Password: password, MustChangePassword: true})
	if err != nil {
		return Org{}, User{}, "", err
	}
	roles := []Role{RoleAdmin, RoleAuthorityAdmin, RoleSecurityOfficer}
	var org Org
	var user User
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if org, err = s.insertOrg(ctx, tx, orgIn); err != nil {
			return err
		}
		prep.OrgID = org.ID
		if user, err = s.insertUser(ctx, tx, prep, roles); err != nil {
			return err
		}
		system := Principal{OrgID: org.ID}
		return s.led.Append(ctx, tx,
			actorEvent(system, "org/"+org.ID, map[string]any{
				"op": "bootstrap.org", "name": org.Name, "kind": org.Kind, "credit_code": org.CreditCode,
			}),
			actorEvent(system, "user/"+user.ID, map[string]any{
				"op": "bootstrap.admin", "org_id": org.ID, "username": user.Username, "roles": user.Roles,
			}))
	})
	if err != nil {
		return Org{}, User{}, "", err
	}
	return org, user, password, nil
}
