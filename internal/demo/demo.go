// Package demo seeds a realistic demo city: the big data authority, about
// forty departments, public service orgs, an operator and an exchange, each
// with staff accounts. Each capability extends the seed with its own data.
package demo

import (
	"context"
	"fmt"
	"strings"

	"shuqiao/internal/app"
	"shuqiao/internal/identity"
)

// Password is every demo account's password. It is printed, on purpose:
// the demo is for trying the platform, never for real data.
const Password = "shuqiao-demo-2026"

// divisionCode is the administrative division code of the demo city
// (厦门市, 350200), positions 3–8 of every credit code.
const divisionCode = "350200"

type seedOrg struct {
	slug   string
	name   string
	nameEN string
	kind   identity.OrgKind
	// reg is the first two characters of the credit code: 11 government
	// organ, 12 public institution, 91 enterprise, 52 social organisation.
	reg string
}

var orgs = []seedOrg{
	{"gaj", "市公安局", "Municipal Public Security Bureau", identity.KindDepartment, "11"},
	{"mzj", "市民政局", "Municipal Civil Affairs Bureau", identity.KindDepartment, "11"},
	{"wjw", "市卫生健康委员会", "Municipal Health Commission", identity.KindDepartment, "11"},
	{"jtj", "市交通运输局", "Municipal Transport Bureau", identity.KindDepartment, "11"},
	{"scjg", "市市场监督管理局", "Municipal Market Regulation Administration", identity.KindDepartment, "11"},
	{"rsj", "市人力资源和社会保障局", "Municipal Human Resources and Social Security Bureau", identity.KindDepartment, "11"},
	{"zrzy", "市自然资源和规划局", "Municipal Natural Resources and Planning Bureau", identity.KindDepartment, "11"},
	{"sthj", "市生态环境局", "Municipal Ecology and Environment Bureau", identity.KindDepartment, "11"},
	{"jyj", "市教育局", "Municipal Education Bureau", identity.KindDepartment, "11"},
	{"zjj", "市住房和建设局", "Municipal Housing and Construction Bureau", identity.KindDepartment, "11"},
	{"czj", "市财政局", "Municipal Finance Bureau", identity.KindDepartment, "11"},
	{"fgw", "市发展和改革委员会", "Municipal Development and Reform Commission", identity.KindDepartment, "11"},
	{"sfj", "市司法局", "Municipal Justice Bureau", identity.KindDepartment, "11"},
	{"nyj", "市农业农村局", "Municipal Agriculture and Rural Affairs Bureau", identity.KindDepartment, "11"},
	{"swj", "市商务局", "Municipal Commerce Bureau", identity.KindDepartment, "11"},
	{"wlj", "市文化和旅游局", "Municipal Culture and Tourism Bureau", identity.KindDepartment, "11"},
	{"yjj", "市应急管理局", "Municipal Emergency Management Bureau", identity.KindDepartment, "11"},
	{"cgj", "市城市管理行政执法局", "Municipal Urban Management Bureau", identity.KindDepartment, "11"},
	{"ybj", "市医疗保障局", "Municipal Healthcare Security Bureau", identity.KindDepartment, "11"},
	{"tjj", "市统计局", "Municipal Statistics Bureau", identity.KindDepartment, "11"},
	{"slj", "市水利局", "Municipal Water Resources Bureau", identity.KindDepartment, "11"},
	{"tyjr", "市退役军人事务局", "Municipal Veterans Affairs Bureau", identity.KindDepartment, "11"},
	{"gzw", "市人民政府国有资产监督管理委员会", "Municipal State-owned Assets Commission", identity.KindDepartment, "11"},
	{"xzsp", "市行政审批服务局", "Municipal Administrative Approval Bureau", identity.KindDepartment, "11"},
	{"bdcdj", "市不动产登记中心", "Municipal Real Estate Registration Centre", identity.KindDepartment, "12"},
	{"gjj", "市住房公积金管理中心", "Municipal Housing Provident Fund Centre", identity.KindDepartment, "12"},
	{"zsw", "市政府办公厅", "Municipal Government General Office", identity.KindDepartment, "11"},
	{"water", "市自来水有限公司", "City Water Supply Co., Ltd.", identity.KindPublicService, "91"},
	{"power", "国网市供电公司", "State Grid City Power Supply Company", identity.KindPublicService, "91"},
	{"gas", "市燃气集团有限公司", "City Gas Group Co., Ltd.", identity.KindPublicService, "91"},
	{"bus", "市公交集团有限公司", "City Bus Group Co., Ltd.", identity.KindPublicService, "91"},
	{"metro", "市轨道交通集团有限公司", "City Metro Group Co., Ltd.", identity.KindPublicService, "91"},
	{"hosp1", "市第一医院", "City First Hospital", identity.KindPublicService, "12"},
	{"blood", "市中心血站", "City Central Blood Station", identity.KindPublicService, "12"},
	{"telecom", "市通信服务有限公司", "City Telecom Services Co., Ltd.", identity.KindPublicService, "91"},
	{"heat", "市环卫集团有限公司", "City Sanitation Group Co., Ltd.", identity.KindPublicService, "91"},
	{"bigdata", "市大数据有限公司", "City Big Data Co., Ltd. (authorised operator)", identity.KindOperator, "91"},
	{"exchange", "数据交易所有限公司", "Data Exchange Co., Ltd.", identity.KindExchangeService, "91"},
	{"fintech", "海峡征信科技有限公司", "Strait Credit Technology Co., Ltd.", identity.KindEnterprise, "91"},
	{"mapco", "鹭岛空间信息科技有限公司", "Ludao Geospatial Technology Co., Ltd.", identity.KindEnterprise, "91"},
}

// Login is a demo account to print: a person (Username) or an org's
// business application (Token, a bearer token).
type Login struct {
	Org      string
	Username string
	Token    string
	Roles    []identity.Role
}

// Seed fills a fresh platform with the demo city and returns its logins.
// Every step goes through the services, so each lands in the ledger.
func Seed(ctx context.Context, a *app.App, progress func(done, total int)) ([]Login, error) {
	total := len(orgs) + 1
	if progress == nil {
		progress = func(int, int) {}
	}
	authority, admin, oneTime, err := a.Identity.Bootstrap(ctx, identity.BootstrapInput{
		AuthorityName:    "市大数据管理局",
		NameEN:           "Municipal Big Data Administration",
		CreditCode:       creditCode("11", 0),
		AdminUsername:    "admin",
		AdminDisplayName: "平台管理员",
	})
	if err != nil {
		return nil, fmt.Errorf("demo: bootstrap authority: %w", err)
	}
	// The demo admin uses the shared demo password instead of the one-time one.
	authP, err := a.Identity.Authenticate(ctx, admin.Username, oneTime, "demo")
	if err != nil {
		return nil, fmt.Errorf("demo: sign in as bootstrap admin: %w", err)
	}
	if err := a.Identity.ChangePassword(ctx, authP, oneTime, Password); err != nil {
		return nil, fmt.Errorf("demo: set admin password: %w", err)
	}
	logins := []Login{{Org: authority.Name, Username: admin.Username, Roles: admin.Roles}}
	for _, u := range []struct {
		name, display string
		roles         []identity.Role
	}{
		{"security", "安全管理员", []identity.Role{identity.RoleSecurityOfficer, identity.RoleReviewer}},
		{"reviewer", "目录审核员", []identity.Role{identity.RoleReviewer, identity.RoleDataSteward}},
		{"expert", "专家委员会委员", []identity.Role{identity.RoleExpert}},
		{"cityhall", "市政府督办员", []identity.Role{identity.RoleCityGovernment}},
	} {
		l, err := addUser(ctx, a, authP, authority.ID, authority.Name, u.name, u.display, u.roles)
		if err != nil {
			return nil, err
		}
		logins = append(logins, l)
	}
	progress(1, total)
	for i, o := range orgs {
		org, err := a.Identity.CreateOrg(ctx, authP, identity.NewOrg{
			Name: o.name, NameEN: o.nameEN, Kind: o.kind, CreditCode: creditCode(o.reg, i+1),
		})
		if err != nil {
			return nil, fmt.Errorf("demo: create org %s: %w", o.name, err)
		}
		staff := []struct {
			suffix, display string
			roles           []identity.Role
		}{
			{"admin", "管理员", []identity.Role{identity.RoleAdmin, identity.RoleChiefDataOfficer}},
			{"steward", "数据专员", []identity.Role{identity.RoleDataSteward, identity.RoleReviewer}},
		}
		if o.kind == identity.KindOperator || o.kind == identity.KindEnterprise {
			staff[1].roles = []identity.Role{identity.RoleDeveloper, identity.RoleDataSteward}
		}
		for _, st := range staff {
			l, err := addUser(ctx, a, authP, org.ID, org.Name, o.slug+"."+st.suffix, o.name+st.display, st.roles)
			if err != nil {
				return nil, err
			}
			logins = append(logins, l)
		}
		progress(i+2, total)
	}
	if err := seedCatalog(ctx, a, authority.ID); err != nil {
		return nil, err
	}
	// Datasets first: they give some entries new data items, and sharing
	// grants must name the items the entries end up with.
	if err := seedDatasets(ctx, a); err != nil {
		return nil, err
	}
	shareLogins, err := seedShare(ctx, a, authP)
	if err != nil {
		return nil, err
	}
	if err := seedOpen(ctx, a, authP); err != nil {
		return nil, err
	}
	// The business application's token comes right after the admin, so
	// the demo prints it.
	logins = append(logins[:1], append(shareLogins, logins[1:]...)...)
	return logins, nil
}

func addUser(ctx context.Context, a *app.App, actor identity.Principal, orgID, orgName, username, display string, roles []identity.Role) (Login, error) {
	_, err := a.Identity.CreateUser(ctx, actor, identity.NewUser{
		OrgID: orgID, Username: username, DisplayName: display, Password: Password, Roles: roles,
	})
	if err != nil {
		return Login{}, fmt.Errorf("demo: create user %s: %w", username, err)
	}
	return Login{Org: orgName, Username: username, Roles: roles}, nil
}

// creditCode makes a valid unified social credit code for the n-th demo org:
// registration type, the city's division code, a nine-character org code and
// the GB 32100 check character.
func creditCode(reg string, n int) string {
	return identity.MakeCreditCode(fmt.Sprintf("%s%s%s", reg, divisionCode, fmt.Sprintf("MA%07d", 2600000+n)))
}

// FormatLogins renders logins as a table for the terminal: people first,
// then business applications with their bearer tokens.
func FormatLogins(logins []Login) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %-28s %s\n", "用户名 username", "角色 roles", "机构 org")
	var apps []Login
	for _, l := range logins {
		if l.Token != "" {
			apps = append(apps, l)
			continue
		}
		rs := make([]string, len(l.Roles))
		for i, r := range l.Roles {
			rs[i] = string(r)
		}
		fmt.Fprintf(&b, "%-18s %-28s %s\n", l.Username, strings.Join(rs, ","), l.Org)
	}
	fmt.Fprintf(&b, "\n密码 password (all demo accounts): %s\n", Password)
	for _, l := range apps {
		fmt.Fprintf(&b, "\n业务应用 business application: %s\n  Authorization: Bearer %s\n", l.Org, l.Token)
	}
	return b.String()
}
