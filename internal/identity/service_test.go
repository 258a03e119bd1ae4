package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/clock"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

var ctx = context.Background()

const testPassword = "Shuqiao2026pw"

type fixture struct {
	t     *testing.T
	db    *store.DB
	clk   *clock.Fake
	svc   *Service
	auth  Org       // the authority
	root  Principal // its bootstrap admin, signed in
	n     int
	codes int
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	led, err := ledger.New(ctx, db, clk)
	if err != nil {
		t.Fatal(err)
	}
	// Light argon2 parameters keep the suite fast; TestPasswordHashRoundTrip
	// covers the defaults.
	svc, err := New(ctx, db, led, clk, Options{Secret: []byte(strings.Repeat("s", 32)), Argon2: Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, clk: clk, svc: svc}
}

// bootstrap creates the authority and signs its admin in with a permanent
// password.
func (f *fixture) bootstrap() {
	f.t.Helper()
	org, admin, pw, err := f.svc.Bootstrap(ctx, BootstrapInput{AuthorityName: "市大数据管理局", NameEN: "Municipal Big Data Administration",
		CreditCode: MakeCreditCode("11350200MA2600000"), AdminUsername: "admin", AdminDisplayName: "平台管理员"})
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, admin.Username, pw, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.ChangePassword(ctx, p, pw, testPassword); err != nil {
		f.t.Fatal(err)
	}
	f.auth = org
	f.root = f.login("admin")
}

func (f *fixture) login(username string) Principal {
	f.t.Helper()
	p, err := f.svc.Authenticate(ctx, username, testPassword, "test")
	if err != nil {
		f.t.Fatalf("sign in as %s: %v", username, err)
	}
	return p
}

func (f *fixture) org(name string, kind OrgKind) Org {
	f.t.Helper()
	f.n++
	o, err := f.svc.CreateOrg(ctx, f.root, NewOrg{Name: name, Kind: kind, CreditCode: MakeCreditCode(fmt.Sprintf("12350200MA%07d", 2600000+f.n))})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

func (f *fixture) user(actor Principal, orgID, username string, roles ...Role) User {
	f.t.Helper()
	u, err := f.svc.CreateUser(ctx, actor, NewUser{OrgID: orgID, Username: username, DisplayName: username, Password: testPassword, Roles: roles})
	if err != nil {
		f.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// ledgerCount counts the events recorded so far: on SQLite they are
// sequenced at commit, on PostgreSQL queued for the integrator.
func (f *fixture) ledgerCount() int { return f.count("ledger_pending") + f.count("ledger_entries") }

// wantCode fails unless err is an apperr with code and kind.
func wantCode(t *testing.T, err error, code string, kind apperr.Kind) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("want %s, got %v", code, err)
	}
	if e.Code != code || e.Kind != kind {
		t.Fatalf("want %s (kind %d), got %s (kind %d): %v", code, kind, e.Code, e.Kind, err)
	}
	if e.ZH == "" || e.EN == "" {
		t.Fatalf("%s lacks a message", code)
	}
}

// Bootstrap creates the one authority and its admin with a one-time
// password that must be changed (issue 2, item 5; R-SEC-3).
func TestBootstrap(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		// Bad input writes nothing.
		_, _, _, err := f.svc.Bootstrap(ctx, BootstrapInput{AuthorityName: "局", CreditCode: "11350200MA26000001", AdminUsername: "admin"})
		wantCode(t, err, "identity.credit_code_checksum", apperr.Invalid)
		if f.count("identity_orgs")+f.count("identity_users")+f.ledgerCount() != 0 {
			t.Fatal("a failed bootstrap wrote rows")
		}
		org, admin, pw, err := f.svc.Bootstrap(ctx, BootstrapInput{AuthorityName: "市大数据管理局", CreditCode: MakeCreditCode("11350200MA2600000"), AdminUsername: "Admin"})
		if err != nil {
			t.Fatal(err)
		}
		if org.Kind != KindAuthority || admin.OrgID != org.ID || !admin.MustChangePassword || admin.DisplayName != "Admin" {
			t.Fatalf("bootstrap made %+v %+v", org, admin)
		}
		if fmt.Sprint(admin.Roles) != "[admin authority_admin security_officer]" {
			t.Fatalf("admin roles %v", admin.Roles)
		}
		if CheckPasswordPolicy(pw, "") != nil {
			t.Fatalf("one-time password %q breaks the policy", pw)
		}
		if n := f.ledgerCount(); n != 2 {
			t.Fatalf("bootstrap wrote %d ledger events, want 2 (org, admin)", n)
		}
		// Only once.
		_, _, _, err = f.svc.Bootstrap(ctx, BootstrapInput{AuthorityName: "另一个局", CreditCode: MakeCreditCode("11350200MA2600009"), AdminUsername: "admin2"})
		wantCode(t, err, "identity.authority_exists", apperr.Conflict)
		if f.count("identity_orgs") != 1 || f.ledgerCount() != 2 {
			t.Fatal("a refused bootstrap wrote rows")
		}
		// The one-time password signs in and flags a change.
		p, err := f.svc.Authenticate(ctx, "admin", pw, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if !p.MustChangePassword || p.OrgKind != KindAuthority || !p.Has(RoleAuthorityAdmin) || p.Username != "Admin" {
			t.Fatalf("principal %+v", p)
		}
		wantCode(t, f.svc.ChangePassword(ctx, p, "wrong-old-1", testPassword), "identity.wrong_password", apperr.Invalid)
		wantCode(t, f.svc.ChangePassword(ctx, p, pw, "short1"), "identity.password_policy", apperr.Invalid)
		wantCode(t, f.svc.ChangePassword(ctx, p, pw, pw), "identity.same_password", apperr.Invalid)
		if f.ledgerCount() != 2 {
			t.Fatal("refused password changes wrote ledger events")
		}
		if err := f.svc.ChangePassword(ctx, p, pw, testPassword); err != nil {
			t.Fatal(err)
		}
		if f.ledgerCount() != 3 {
			t.Fatal("a password change must write one ledger event")
		}
		if _, err := f.svc.Authenticate(ctx, "admin", pw, ""); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		p = f.login("ADMIN")
		if p.MustChangePassword {
			t.Fatal("must-change flag survived the change")
		}
		a, err := f.svc.Authority(ctx)
		if err != nil || a.ID != org.ID {
			t.Fatalf("Authority = %+v, %v", a, err)
		}
	})
}

// Orgs: only authority admins register them; credit codes are checked and
// unique; listing pages by cursor and filters (issue 2, item 3).
func TestOrgs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap()
		base := f.ledgerCount()
		gaj, err := f.svc.CreateOrg(ctx, f.root, NewOrg{Name: "市公安局", NameEN: "Public Security Bureau", Kind: KindDepartment,
			CreditCode: strings.ToLower(MakeCreditCode("11350200MA2600001")), ParentID: f.auth.ID})
		if err != nil {
			t.Fatal(err)
		}
		if gaj.CreditCode != MakeCreditCode("11350200MA2600001") || gaj.ParentID != f.auth.ID {
			t.Fatalf("org %+v: credit code not canonicalised or parent lost", gaj)
		}
		if f.ledgerCount() != base+1 {
			t.Fatal("CreateOrg must write one ledger event")
		}
		got, err := f.svc.GetOrg(ctx, gaj.ID)
		if err != nil || got != gaj {
			t.Fatalf("GetOrg = %+v, %v; want %+v", got, err, gaj)
		}
		_, err = f.svc.GetOrg(ctx, "nope")
		wantCode(t, err, "identity.org_not_found", apperr.NotFound)

		orgAdmin := f.user(f.root, gaj.ID, "gaj.admin", RoleAdmin)
		p := f.login(orgAdmin.Username)
		base = f.ledgerCount()
		bad := []struct {
			actor Principal
			in    NewOrg
			code  string
			kind  apperr.Kind
		}{
			{p, NewOrg{Name: "x", Kind: KindDepartment, CreditCode: MakeCreditCode("11350200MA2600002")}, "identity.forbidden_role", apperr.Forbidden},
			{f.root, NewOrg{Name: "民政局", Kind: KindDepartment, CreditCode: gaj.CreditCode}, "identity.credit_code_taken", apperr.Conflict},
			{f.root, NewOrg{Name: "第二个主管部门", Kind: KindAuthority, CreditCode: MakeCreditCode("11350200MA2600003")}, "identity.authority_exists", apperr.Conflict},
			{f.root, NewOrg{Name: "民政局", Kind: "ministry", CreditCode: MakeCreditCode("11350200MA2600004")}, "identity.org_kind_invalid", apperr.Invalid},
			{f.root, NewOrg{Name: " ", Kind: KindDepartment, CreditCode: MakeCreditCode("11350200MA2600004")}, "identity.name_required", apperr.Invalid},
			{f.root, NewOrg{Name: "民政局", Kind: KindDepartment, CreditCode: "11350200MA2600004"}, "identity.credit_code_length", apperr.Invalid},
			{f.root, NewOrg{Name: "民政局", Kind: KindDepartment, CreditCode: MakeCreditCode("11350200MA2600004"), ParentID: "nope"}, "identity.org_not_found", apperr.NotFound},
		}
		for _, b := range bad {
			_, err := f.svc.CreateOrg(ctx, b.actor, b.in)
			wantCode(t, err, b.code, b.kind)
		}
		if f.ledgerCount() != base || f.count("identity_orgs") != 2 {
			t.Fatal("refused CreateOrg calls wrote rows")
		}

		// Listing: 2 orgs so far, add 5 more.
		for i := range 5 {
			kind := KindPublicService
			if i%2 == 0 {
				kind = KindEnterprise
			}
			f.org(fmt.Sprintf("测试机构%d_%%", i), kind)
		}
		var all []Org
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := f.svc.ListOrgs(ctx, OrgFilter{}, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if next == "" {
				if pages != 2 {
					t.Fatalf("7 orgs in pages of 3 took %d pages", pages+1)
				}
				break
			}
			cursor = next
		}
		if len(all) != 7 || all[0].ID != f.auth.ID {
			t.Fatalf("listed %d orgs starting with %s", len(all), all[0].Name)
		}
		check := func(flt OrgFilter, want int) {
			t.Helper()
			got, next, err := f.svc.ListOrgs(ctx, flt, "", 0)
			if err != nil || len(got) != want || next != "" {
				t.Fatalf("ListOrgs(%+v) = %d orgs, next %q, %v; want %d", flt, len(got), next, err, want)
			}
		}
		check(OrgFilter{Kind: KindEnterprise}, 3)
		check(OrgFilter{Query: "公安"}, 1)
		check(OrgFilter{Query: "public SECURITY"}, 1)
		check(OrgFilter{Query: strings.ToLower(gaj.CreditCode)}, 1)
		check(OrgFilter{Query: "测试机构"}, 5)
		check(OrgFilter{Query: "3_%"}, 1) // LIKE wildcards are literal
		check(OrgFilter{Query: "_"}, 5)
		check(OrgFilter{Kind: KindPublicService, Query: "测试"}, 2)
		_, _, err = f.svc.ListOrgs(ctx, OrgFilter{Kind: "ministry"}, "", 0)
		wantCode(t, err, "identity.org_kind_invalid", apperr.Invalid)
	})
}

// Role checks (issue 2, item 3; R-SEC-3 access control): org admins manage
// only their own org and never platform roles.
func TestUsersAndRoles(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap()
		gaj := f.org("市公安局", KindDepartment)
		mzj := f.org("市民政局", KindDepartment)
		f.user(f.root, gaj.ID, "gaj.admin", RoleAdmin)
		admin := f.login("gaj.admin")
		f.user(f.root, gaj.ID, "gaj.steward", RoleDataSteward)
		steward := f.login("gaj.steward")
		base := f.ledgerCount()

		u := f.user(admin, gaj.ID, "gaj.reviewer", RoleReviewer, RoleReviewer, RoleDataSteward)
		if fmt.Sprint(u.Roles) != "[data_steward reviewer]" {
			t.Fatalf("roles %v: want deduplicated, canonical order", u.Roles)
		}
		if f.ledgerCount() != base+1 {
			t.Fatal("CreateUser must write one ledger event")
		}
		base++
		refused := []struct {
			actor Principal
			in    NewUser
			code  string
			kind  apperr.Kind
		}{
			{admin, NewUser{OrgID: mzj.ID, Username: "mzj.x", DisplayName: "x", Password: testPassword}, "identity.forbidden_org", apperr.Forbidden},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, Roles: []Role{RoleExpert}}, "identity.forbidden_platform_role", apperr.Forbidden},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, Roles: []Role{RoleAuthorityAdmin}}, "identity.forbidden_platform_role", apperr.Forbidden},
			{steward, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword}, "identity.forbidden_role", apperr.Forbidden},
			{admin, NewUser{OrgID: gaj.ID, Username: "GAJ.Reviewer", DisplayName: "x", Password: testPassword}, "identity.username_taken", apperr.Conflict},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: "short1"}, "identity.password_policy", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: "onlyletters"}, "identity.password_policy", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: "12345678901"}, "identity.password_policy", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "a b", DisplayName: "x", Password: testPassword}, "identity.username_invalid", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, Roles: []Role{"root"}}, "identity.role_invalid", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, IDNumber: "110105194912310021"}, "identity.id_number_checksum", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, IDNumber: MakeResidentID("35020320270101123")}, "identity.id_number_birth_date", apperr.Invalid},
			{admin, NewUser{OrgID: gaj.ID, Username: "gaj.x", DisplayName: "x", Password: testPassword, Phone: "call me"}, "identity.phone_invalid", apperr.Invalid},
			{f.root, NewUser{OrgID: "nope", Username: "gaj.x", DisplayName: "x", Password: testPassword}, "identity.org_not_found", apperr.NotFound},
		}
		for _, r := range refused {
			_, err := f.svc.CreateUser(ctx, r.actor, r.in)
			wantCode(t, err, r.code, r.kind)
		}
		if f.ledgerCount() != base || f.count("identity_users") != 4 {
			t.Fatal("refused CreateUser calls wrote rows")
		}

		// Resident ID numbers: stored as a keyed hash and a mask, never in
		// clear; a typed lower-case x is canonicalised.
		u, err := f.svc.CreateUser(ctx, admin, NewUser{OrgID: gaj.ID, Username: "zhang.san", DisplayName: "张三",
			Password: testPassword, IDNumber: "11010519491231002x", Phone: "+86 138-0000-0000"})
		if err != nil {
			t.Fatal(err)
		}
		if u.IDNumberMasked != "110105********002X" {
			t.Fatalf("masked %q", u.IDNumberMasked)
		}
		var hash string
		if err := db.QueryRowContext(ctx, `SELECT id_number_hash FROM identity_users WHERE id = $1`, u.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if hash != f.svc.ResidentIDHash("11010519491231002X") || strings.Contains(hash, "19491231") {
			t.Fatalf("stored hash %q", hash)
		}
		var clear int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM identity_users WHERE id_number_hash LIKE '%19491231%'
			OR id_number_masked LIKE '%19491231%' OR display_name LIKE '%19491231%'`).Scan(&clear); err != nil || clear != 0 {
			t.Fatalf("the ID number is stored in clear (%d, %v)", clear, err)
		}
		base++

		// SetRoles.
		_, err = f.svc.SetRoles(ctx, admin, u.ID, []Role{RoleReviewer, RoleExpert})
		wantCode(t, err, "identity.forbidden_platform_role", apperr.Forbidden)
		mzjUser := f.user(f.root, mzj.ID, "mzj.someone", RoleReviewer)
		base++
		_, err = f.svc.SetRoles(ctx, admin, mzjUser.ID, []Role{RoleAdmin})
		wantCode(t, err, "identity.forbidden_org", apperr.Forbidden)
		_, err = f.svc.SetRoles(ctx, steward, u.ID, []Role{RoleAdmin})
		wantCode(t, err, "identity.forbidden_role", apperr.Forbidden)
		_, err = f.svc.SetRoles(ctx, admin, "nope", nil)
		wantCode(t, err, "identity.user_not_found", apperr.NotFound)
		if f.ledgerCount() != base {
			t.Fatal("refused SetRoles calls wrote ledger events")
		}
		// The authority admin grants a platform role; the org admin then
		// changes org roles and the platform role stays.
		if u, err = f.svc.SetRoles(ctx, f.root, u.ID, []Role{RoleExpert}); err != nil || fmt.Sprint(u.Roles) != "[expert]" {
			t.Fatalf("SetRoles by authority admin = %v, %v", u.Roles, err)
		}
		if u, err = f.svc.SetRoles(ctx, admin, u.ID, []Role{RoleReviewer}); err != nil || fmt.Sprint(u.Roles) != "[reviewer expert]" {
			t.Fatalf("SetRoles by org admin = %v, %v", u.Roles, err)
		}
		if got, _ := f.svc.GetUser(ctx, u.ID); fmt.Sprint(got.Roles) != "[reviewer expert]" {
			t.Fatalf("stored roles %v", got.Roles)
		}
		if f.ledgerCount() != base+2 {
			t.Fatal("each SetRoles must write one ledger event")
		}
		// The last authority admin keeps the role.
		_, err = f.svc.SetRoles(ctx, f.root, f.root.UserID, []Role{RoleAdmin})
		wantCode(t, err, "identity.last_authority_admin", apperr.Conflict)

		// ListUsers.
		_, _, err = f.svc.ListUsers(ctx, admin, mzj.ID, "", 0)
		wantCode(t, err, "identity.forbidden_org", apperr.Forbidden)
		_, _, err = f.svc.ListUsers(ctx, steward, gaj.ID, "", 0)
		wantCode(t, err, "identity.forbidden_role", apperr.Forbidden)
		var listed []User
		cursor := ""
		for {
			page, next, err := f.svc.ListUsers(ctx, admin, gaj.ID, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(listed) != 4 {
			t.Fatalf("listed %d users of gaj, want 4", len(listed))
		}
		for _, l := range listed {
			if l.Username == "zhang.san" && fmt.Sprint(l.Roles) != "[reviewer expert]" {
				t.Fatalf("listed roles %v", l.Roles)
			}
			if l.Username == "gaj.admin" && fmt.Sprint(l.Roles) != "[admin]" {
				t.Fatalf("listed roles %v", l.Roles)
			}
		}
	})
}

// Login throttling (issue 2, item 3; R-SEC-3): five failures lock a username
// for 15 minutes, whether or not it exists, and the lock is in the database.
func TestLoginThrottling(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap()
		f.user(f.root, f.auth.ID, "li.si", RoleReviewer)

		// Wrong password and unknown user answer alike.
		_, errWrong := f.svc.Authenticate(ctx, "li.si", "wrong", "")
		_, errUnknown := f.svc.Authenticate(ctx, "wang.wu", testPassword, "")
		wantCode(t, errWrong, "identity.bad_credentials", apperr.Unauthenticated)
		if errWrong.Error() != errUnknown.Error() {
			t.Fatalf("errors differ: %v / %v", errWrong, errUnknown)
		}
		for i := 2; i <= 4; i++ {
			_, err := f.svc.Authenticate(ctx, "LI.SI", "wrong", "")
			wantCode(t, err, "identity.bad_credentials", apperr.Unauthenticated)
		}
		_, err := f.svc.Authenticate(ctx, "li.si", "wrong", "")
		wantCode(t, err, "identity.login_locked", apperr.TooMany)
		// Locked: even the right password is refused.
		_, err = f.svc.Authenticate(ctx, "li.si", testPassword, "")
		wantCode(t, err, "identity.login_locked", apperr.TooMany)
		// Another service on the same database (a second replica) agrees.
		led, _ := ledger.New(ctx, db, f.clk)
		replica, err := New(ctx, db, led, f.clk, Options{Secret: []byte(strings.Repeat("s", 32))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = replica.Authenticate(ctx, "li.si", testPassword, "")
		wantCode(t, err, "identity.login_locked", apperr.TooMany)
		f.clk.Advance(14 * time.Minute)
		_, err = f.svc.Authenticate(ctx, "li.si", testPassword, "")
		wantCode(t, err, "identity.login_locked", apperr.TooMany)
		f.clk.Advance(time.Minute)
		f.login("li.si")

		// Unknown usernames lock the same way.
		for range 4 {
			_, err := f.svc.Authenticate(ctx, "zhou.qi", "x", "")
			wantCode(t, err, "identity.bad_credentials", apperr.Unauthenticated)
		}
		_, err = f.svc.Authenticate(ctx, "zhou.qi", "x", "")
		wantCode(t, err, "identity.login_locked", apperr.TooMany)

		// A success resets the count; failures far apart do not add up.
		for range 4 {
			_, _ = f.svc.Authenticate(ctx, "li.si", "wrong", "")
		}
		f.login("li.si")
		for range 4 {
			_, _ = f.svc.Authenticate(ctx, "li.si", "wrong", "")
		}
		f.clk.Advance(16 * time.Minute)
		_, err = f.svc.Authenticate(ctx, "li.si", "wrong", "")
		wantCode(t, err, "identity.bad_credentials", apperr.Unauthenticated)
		f.login("li.si")

		// Sign-ins write nothing to the ledger; Prune clears stale counts.
		f.clk.Advance(time.Hour)
		if err := f.svc.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if n := f.count("identity_login_failures"); n != 0 {
			t.Fatalf("%d stale failure rows after Prune", n)
		}

		// A disabled account cannot sign in.
		u, _ := f.svc.GetUser(ctx, f.login("li.si").UserID)
		if _, err := f.svc.SetDisabled(ctx, f.root, u.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(ctx, "li.si", testPassword, "")
		wantCode(t, err, "identity.account_disabled", apperr.Forbidden)
		_, err = f.svc.Authenticate(ctx, "li.si", "wrong", "")
		wantCode(t, err, "identity.bad_credentials", apperr.Unauthenticated)
	})
}

// Browser sessions: the store keeps only a hash; sessions expire, end, and
// follow role changes (issue 2, item 3; R-SEC-3).
func TestSessions(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap()
		u := f.user(f.root, f.auth.ID, "zhao.liu", RoleReviewer)
		p := f.login("zhao.liu")
		sess, err := f.svc.CreateSession(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(sess.Token) < 40 || len(sess.CSRF) < 40 || !sess.ExpiresAt.Equal(f.clk.Now().Add(12*time.Hour)) {
			t.Fatalf("session %+v", sess)
		}
		var stored string
		if err := db.QueryRowContext(ctx, `SELECT token_hash FROM identity_sessions WHERE user_id = $1`, u.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != sha256Hex(sess.Token) {
			t.Fatal("the store must keep the SHA-256 of the token, not the token")
		}
		got, csrf, err := f.svc.SessionPrincipal(ctx, sess.Token)
		if err != nil || got.UserID != u.ID || csrf != sess.CSRF {
			t.Fatalf("SessionPrincipal = %+v, %q, %v", got, csrf, err)
		}
		// A role change shows at once.
		if _, err := f.svc.SetRoles(ctx, f.root, u.ID, []Role{RoleDataSteward}); err != nil {
			t.Fatal(err)
		}
		got, _, _ = f.svc.SessionPrincipal(ctx, sess.Token)
		if fmt.Sprint(got.Roles) != "[data_steward]" {
			t.Fatalf("session roles %v after SetRoles", got.Roles)
		}
		_, _, err = f.svc.SessionPrincipal(ctx, sess.Token+"x")
		wantCode(t, err, "identity.session_invalid", apperr.Unauthenticated)
		_, _, err = f.svc.SessionPrincipal(ctx, "")
		wantCode(t, err, "identity.session_invalid", apperr.Unauthenticated)

		// Expiry.
		f.clk.Advance(12*time.Hour - time.Second)
		if _, _, err := f.svc.SessionPrincipal(ctx, sess.Token); err != nil {
			t.Fatalf("session ended early: %v", err)
		}
		f.clk.Advance(time.Second)
		_, _, err = f.svc.SessionPrincipal(ctx, sess.Token)
		wantCode(t, err, "identity.session_expired", apperr.Unauthenticated)

		// Sign-out.
		s2, _ := f.svc.CreateSession(ctx, p)
		s3, _ := f.svc.CreateSession(ctx, p)
		if s2.CSRF == s3.CSRF || s2.Token == s3.Token {
			t.Fatal("sessions share secrets")
		}
		if err := f.svc.EndSession(ctx, s2.Token); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.SessionPrincipal(ctx, s2.Token)
		wantCode(t, err, "identity.session_invalid", apperr.Unauthenticated)
		if _, _, err := f.svc.SessionPrincipal(ctx, s3.Token); err != nil {
			t.Fatal(err)
		}
		// Disabling the account ends its sessions.
		if _, err := f.svc.SetDisabled(ctx, f.root, u.ID, true); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.SessionPrincipal(ctx, s3.Token)
		wantCode(t, err, "identity.session_invalid", apperr.Unauthenticated)
		_, err = f.svc.CreateSession(ctx, Principal{ClientID: "c"})
		wantCode(t, err, "identity.session_invalid", apperr.Unauthenticated)
		// EndOtherSessions keeps only the named one.
		a, _ := f.svc.CreateSession(ctx, f.root)
		b, _ := f.svc.CreateSession(ctx, f.root)
		if err := f.svc.EndOtherSessions(ctx, f.root, a.Token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.SessionPrincipal(ctx, a.Token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.SessionPrincipal(ctx, b.Token); err == nil {
			t.Fatal("EndOtherSessions left another session")
		}
	})
}

// API clients and bearer tokens: hashes only, scopes within the client's,
// expiry and revocation with distinct errors (issue 2, item 3; R-SEC-3).
func TestClientsAndTokens(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap()
		gaj := f.org("市公安局", KindDepartment)
		mzj := f.org("市民政局", KindDepartment)
		f.user(f.root, gaj.ID, "gaj.admin", RoleAdmin)
		admin := f.login("gaj.admin")
		f.user(f.root, mzj.ID, "mzj.admin", RoleAdmin)
		other := f.login("mzj.admin")
		base := f.ledgerCount()

		c, err := f.svc.CreateClient(ctx, admin, NewClient{OrgID: gaj.ID, Name: "人口库同步", Roles: []Role{RoleDataSteward},
			Scopes: []string{ScopeWrite, ScopeRead, ScopeRead}})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(c.Scopes) != "[api:read api:write]" || fmt.Sprint(c.Roles) != "[data_steward]" {
			t.Fatalf("client %+v", c)
		}
		ro, err := f.svc.CreateClient(ctx, f.root, NewClient{OrgID: gaj.ID, Name: "只读看板"})
		if err != nil || fmt.Sprint(ro.Scopes) != "[api:read]" {
			t.Fatalf("default scopes %v, %v", ro.Scopes, err)
		}
		if f.ledgerCount() != base+2 {
			t.Fatal("each CreateClient must write one ledger event")
		}
		base += 2
		for _, r := range []struct {
			actor Principal
			in    NewClient
			code  string
			kind  apperr.Kind
		}{
			{other, NewClient{OrgID: gaj.ID, Name: "x"}, "identity.forbidden_org", apperr.Forbidden},
			{admin, NewClient{OrgID: gaj.ID, Name: "x", Roles: []Role{RoleSecurityOfficer}}, "identity.forbidden_role", apperr.Forbidden},
			{f.root, NewClient{OrgID: gaj.ID, Name: "x", Roles: []Role{RoleAuthorityAdmin}}, "identity.forbidden_role", apperr.Forbidden},
			{admin, NewClient{OrgID: gaj.ID, Name: "人口库同步"}, "identity.client_name_taken", apperr.Conflict},
			{admin, NewClient{OrgID: gaj.ID, Name: "x", Scopes: []string{"API READ"}}, "identity.scope_invalid", apperr.Invalid},
			{admin, NewClient{OrgID: gaj.ID, Name: ""}, "identity.name_required", apperr.Invalid},
		} {
			_, err := f.svc.CreateClient(ctx, r.actor, r.in)
			wantCode(t, err, r.code, r.kind)
		}
		if cs, err := f.svc.ListClients(ctx, admin, gaj.ID); err != nil || len(cs) != 2 {
			t.Fatalf("ListClients = %d, %v", len(cs), err)
		}
		_, err = f.svc.ListClients(ctx, other, gaj.ID)
		wantCode(t, err, "identity.forbidden_org", apperr.Forbidden)

		// Tokens.
		_, err = f.svc.IssueToken(ctx, admin, ro.ID, []string{ScopeWrite}, 0)
		wantCode(t, err, "identity.scope_not_allowed", apperr.Forbidden)
		_, err = f.svc.IssueToken(ctx, admin, c.ID, nil, 367*24*time.Hour)
		wantCode(t, err, "identity.token_ttl", apperr.Invalid)
		_, err = f.svc.IssueToken(ctx, other, c.ID, nil, 0)
		wantCode(t, err, "identity.forbidden_org", apperr.Forbidden)
		_, err = f.svc.IssueToken(ctx, admin, "nope", nil, 0)
		wantCode(t, err, "identity.client_not_found", apperr.NotFound)
		if f.ledgerCount() != base || f.count("identity_tokens") != 0 {
			t.Fatal("refused calls wrote rows")
		}
		tok, err := f.svc.IssueToken(ctx, admin, c.ID, []string{ScopeRead}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.Token, "sq_") || len(tok.Token) != 46 || !tok.ExpiresAt.Equal(f.clk.Now().Add(90*24*time.Hour)) || fmt.Sprint(tok.Scopes) != "[api:read]" {
			t.Fatalf("token %+v", tok)
		}
		if f.ledgerCount() != base+1 {
			t.Fatal("IssueToken must write one ledger event")
		}
		var hits int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM identity_tokens WHERE token_hash = $1`, sha256Hex(tok.Token)).Scan(&hits); err != nil || hits != 1 {
			t.Fatal("the token's hash is not stored")
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM identity_tokens WHERE token_hash = $1 OR scopes LIKE $2`, tok.Token, "%"+tok.Token[3:13]+"%").Scan(&hits); err != nil || hits != 0 {
			t.Fatal("the token is stored in clear")
		}
		p, err := f.svc.TokenPrincipal(ctx, tok.Token)
		if err != nil {
			t.Fatal(err)
		}
		if p.ClientID != c.ID || p.OrgID != gaj.ID || p.OrgKind != KindDepartment || p.UserID != "" ||
			fmt.Sprint(p.Roles) != "[data_steward]" || fmt.Sprint(p.Scopes) != "[api:read]" {
			t.Fatalf("token principal %+v", p)
		}
		for _, bad := range []string{"", "sq_", "sq_" + strings.Repeat("A", 43), "Bearer " + tok.Token, tok.Token[:45], strings.Repeat("x", 5000)} {
			_, err := f.svc.TokenPrincipal(ctx, bad)
			wantCode(t, err, "identity.token_unknown", apperr.Unauthenticated)
		}

		// Expiry, with a short token.
		short, err := f.svc.IssueToken(ctx, f.root, c.ID, nil, time.Hour)
		if err != nil || fmt.Sprint(short.Scopes) != "[api:read api:write]" {
			t.Fatalf("short token %v, %v", short.Scopes, err)
		}
		f.clk.Advance(time.Hour - time.Microsecond)
		if _, err := f.svc.TokenPrincipal(ctx, short.Token); err != nil {
			t.Fatalf("token expired early: %v", err)
		}
		f.clk.Advance(time.Microsecond)
		_, err = f.svc.TokenPrincipal(ctx, short.Token)
		wantCode(t, err, "identity.token_expired", apperr.Unauthenticated)
		if _, err := f.svc.TokenPrincipal(ctx, tok.Token); err != nil {
			t.Fatalf("the long token should still work: %v", err)
		}

		// Revocation.
		base = f.ledgerCount()
		wantCode(t, f.svc.RevokeToken(ctx, other, tok.ID), "identity.forbidden_org", apperr.Forbidden)
		wantCode(t, f.svc.RevokeToken(ctx, admin, "nope"), "identity.token_not_found", apperr.NotFound)
		if err := f.svc.RevokeToken(ctx, admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeToken(ctx, admin, tok.ID); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		if f.ledgerCount() != base+1 {
			t.Fatalf("revocation wrote %d events, want 1", f.ledgerCount()-base)
		}
		_, err = f.svc.TokenPrincipal(ctx, tok.Token)
		wantCode(t, err, "identity.token_revoked", apperr.Unauthenticated)
		ts, err := f.svc.ListTokens(ctx, admin, c.ID)
		if err != nil || len(ts) != 2 || ts[0].ID != tok.ID || ts[0].RevokedAt.IsZero() || !ts[1].RevokedAt.IsZero() {
			t.Fatalf("ListTokens = %+v, %v", ts, err)
		}
		_, err = f.svc.ListTokens(ctx, other, c.ID)
		wantCode(t, err, "identity.forbidden_org", apperr.Forbidden)
	})
}

// Every change writes its ledger event in the same transaction; a tally over
// one run of each kind of change (R-SEC-2).
func TestLedgerEventsPerChange(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.bootstrap() // 2 (org, admin) + 1 (password change)
		if n := f.ledgerCount(); n != 3 {
			t.Fatalf("after bootstrap: %d events", n)
		}
		o := f.org("市卫健委", KindDepartment)                                                 // 4
		u := f.user(f.root, o.ID, "wjw.admin", RoleAdmin)                                  // 5
		_, _ = f.svc.SetRoles(ctx, f.root, u.ID, []Role{RoleAdmin, RoleChiefDataOfficer})  // 6
		c, _ := f.svc.CreateClient(ctx, f.root, NewClient{OrgID: o.ID, Name: "app"})       // 7
		tok, _ := f.svc.IssueToken(ctx, f.root, c.ID, nil, 0)                              // 8
		_ = f.svc.RevokeToken(ctx, f.root, tok.ID)                                         // 9
		_ = f.svc.ChangePassword(ctx, f.login("wjw.admin"), testPassword, "Another2026pw") // 10
		_, _ = f.svc.SetDisabled(ctx, f.root, u.ID, true)                                  // 11
		if n := f.ledgerCount(); n != 11 {
			t.Fatalf("%d ledger events, want 11", n)
		}
		// The events name the actor and the object.
		rows, err := db.QueryContext(ctx, `SELECT body FROM (SELECT 0 AS q, seq AS n, body FROM ledger_entries UNION ALL SELECT 1, id, body FROM ledger_pending) AS ev ORDER BY q, n`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var bodies []string
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, string(b))
		}
		for i, want := range map[int][]string{
			0: {`"actor_kind":"system"`, `"object":"org/` + f.auth.ID, `"op":"bootstrap.org"`},
			3: {`"actor_kind":"user"`, `"actor_id":"` + f.root.UserID, `"object":"org/` + o.ID, `"action":"admin"`},
			6: {`"object":"client/` + c.ID, `"op":"client.create"`},
			8: {`"object":"token/` + tok.ID, `"op":"token.revoke"`},
		} {
			for _, w := range want {
				if !strings.Contains(bodies[i], w) {
					t.Errorf("event %d %s lacks %s", i, bodies[i], w)
				}
			}
		}
		for _, b := range bodies {
			if strings.Contains(b, tok.Token) || strings.Contains(b, testPassword) || strings.Contains(b, "argon2") {
				t.Fatalf("a secret reached the ledger: %s", b)
			}
		}
	})
}
