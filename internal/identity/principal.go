// Package identity holds who is who on the platform: orgs, people, accounts,
// roles, API clients with their tokens, and browser sessions.
package identity

// OrgKind is the kind of an organisation as the regulations name them.
type OrgKind string

const (
	KindAuthority       OrgKind = "authority"        // 大数据主管部门
	KindDepartment      OrgKind = "department"       // 政务部门
	KindPublicService   OrgKind = "public_service"   // 公共服务组织
	KindEnterprise      OrgKind = "enterprise"       // 企业
	KindOperator        OrgKind = "operator"         // 被授权运营主体
	KindExchangeService OrgKind = "exchange_service" // 数据交易服务机构
)

// OrgKinds lists every org kind.
var OrgKinds = []OrgKind{KindAuthority, KindDepartment, KindPublicService, KindEnterprise, KindOperator, KindExchangeService}

// Role is a role a person holds, within their org or across the platform.
type Role string

const (
	// Roles within an org.
	RoleAdmin            Role = "admin"
	RoleDataSteward      Role = "data_steward"
	RoleReviewer         Role = "reviewer"
	RoleChiefDataOfficer Role = "chief_data_officer"
	RoleDeveloper        Role = "developer"
	// Platform roles.
	RoleAuthorityAdmin  Role = "authority_admin"
	RoleSecurityOfficer Role = "security_officer"
	RoleExpert          Role = "expert"
	RoleCityGovernment  Role = "city_government"
)

// OrgRoles and PlatformRoles list the roles of each scope.
var (
	OrgRoles      = []Role{RoleAdmin, RoleDataSteward, RoleReviewer, RoleChiefDataOfficer, RoleDeveloper}
	PlatformRoles = []Role{RoleAuthorityAdmin, RoleSecurityOfficer, RoleExpert, RoleCityGovernment}
)

// IsPlatform reports whether r is a platform role.
func (r Role) IsPlatform() bool {
	for _, p := range PlatformRoles {
		if r == p {
			return true
		}
	}
	return false
}

// Principal is who is making a request: a person signed in through a browser
// session or a token, or an org's API client. Handlers pass it to services,
// which decide what it may do.
type Principal struct {
	// UserID is set for a person; ClientID for an API client.
	UserID   string
	ClientID string
	OrgID    string
	OrgKind  OrgKind
	Name     string
	// Roles are the person's roles (org roles within OrgID, and platform roles).
	// An API client acts with the roles it was given when created.
	Roles []Role
	// Scopes limit what a token may do; empty for browser sessions (no limit
	// beyond roles).
	Scopes []string
	// Username is the person's sign-in name; empty for API clients.
	Username string
	// MustChangePassword is set for a person whose password was set by
	// someone else (bootstrap's one-time password); the API should let them
	// do little but change it.
	MustChangePassword bool
}

// Has reports whether p holds role r.
func (p Principal) Has(r Role) bool {
	for _, x := range p.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// HasAny reports whether p holds any of roles.
func (p Principal) HasAny(roles ...Role) bool {
	for _, r := range roles {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// Authenticated reports whether p is anyone at all.
func (p Principal) Authenticated() bool { return p.UserID != "" || p.ClientID != "" }
