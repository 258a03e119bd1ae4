package identity

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// User is a person's account. The resident ID number is never returned, only
// its masked form.
type User struct {
	ID                 string    `json:"id"`
	OrgID              string    `json:"org_id"`
	Username           string    `json:"username"`
	DisplayName        string    `json:"display_name"`
	IDNumberMasked     string    `json:"id_number_masked,omitempty"`
	Phone              string    `json:"phone,omitempty"`
	Roles              []Role    `json:"roles"`
	Disabled           bool      `json:"disabled"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

// NewUser is what CreateUser needs.
type NewUser struct {
	OrgID       string `json:"org_id,omitempty"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	// IDNumber is an optional resident ID number (GB 11643), checked, then
	// stored only as a keyed hash and a masked form.
	IDNumber string `json:"id_number,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Password string `json:"password"`
	Roles    []Role `json:"roles"`
	// MustChangePassword makes the user choose a new password at first
	// sign-in (as for an administrator-set initial password).
	MustChangePassword bool `json:"must_change_password,omitempty"`
}

var (
	usernameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)
	phoneRe    = regexp.MustCompile(`^\+?[0-9][0-9 -]{4,23}$`)
)

func usernameKey(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// checkUsername enforces 3 to 64 characters of letters, digits, '.', '_'
// and '-', starting with a letter or digit.
func checkUsername(u string) error {
	if !usernameRe.MatchString(u) {
		return apperr.Invalidf("identity.username_invalid", "username",
			"用户名须为 3 到 64 个字符，只含字母、数字、点、下划线和连字符，并以字母或数字开头",
			"a username has 3 to 64 characters: letters, digits, '.', '_' and '-', starting with a letter or digit")
	}
	return nil
}

// CreateUser creates an account. An authority_admin may create accounts in
// any org; an org admin only in their own org. Only an authority_admin may
// grant platform roles.
func (s *Service) CreateUser(ctx context.Context, actor Principal, in NewUser) (User, error) {
	in.OrgID = strings.TrimSpace(in.OrgID)
	if in.OrgID == "" {
		return User{}, apperr.Invalidf("identity.org_required", "org_id", "须指定机构", "an org_id is required")
	}
	if err := canAdminOrg(actor, in.OrgID); err != nil {
		return User{}, err
	}
	roles, err := normalizeRoles(in.Roles, "roles")
	if err != nil {
		return User{}, err
	}
	if !actor.Has(RoleAuthorityAdmin) && slices.ContainsFunc(roles, Role.IsPlatform) {
		return User{}, ErrForbiddenPlatformRole.At("roles")
	}
	prep, err := s.prepareUser(in)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := getOrg(ctx, tx, in.OrgID); err != nil {
			if errors.Is(err, ErrOrgNotFound) {
				return ErrOrgNotFound.At("org_id")
			}
			return err
		}
		u, err = s.insertUser(ctx, tx, prep, roles)
		if err != nil {
			return err
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "user/"+u.ID, map[string]any{
			"op": "user.create", "org_id": u.OrgID, "username": u.Username, "roles": u.Roles,
		}))
	})
	return u, err
}

// preparedUser is a NewUser checked, canonicalised and with its password
// hashed, ready to insert (hashing happens outside the transaction).
type preparedUser struct {
	NewUser
	idHash, idMasked, pwHash string
}

func (s *Service) prepareUser(in NewUser) (preparedUser, error) {
	in.Username = strings.TrimSpace(in.Username)
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Phone = strings.TrimSpace(in.Phone)
	if err := checkUsername(in.Username); err != nil {
		return preparedUser{}, err
	}
	if err := checkName(in.DisplayName, "display_name"); err != nil {
		return preparedUser{}, err
	}
	if in.Phone != "" && !phoneRe.MatchString(in.Phone) {
		return preparedUser{}, apperr.Invalidf("identity.phone_invalid", "phone", "电话号码格式不正确", "the phone number is not valid")
	}
	p := preparedUser{NewUser: in}
	if strings.TrimSpace(in.IDNumber) != "" {
		id, err := CanonicalResidentID(in.IDNumber, s.clk.Now())
		if err != nil {
			return preparedUser{}, err
		}
		p.idHash, p.idMasked = s.ResidentIDHash(id), MaskResidentID(id)
	}
	p.IDNumber = ""
	if err := CheckPasswordPolicy(in.Password, in.Username); err != nil {
		return preparedUser{}, err
	}
	var err error
	if p.pwHash, err = hashPassword(in.Password, s.argon); err != nil {
		return preparedUser{}, err
	}
	p.Password = ""
	return p, nil
}

func (s *Service) insertUser(ctx context.Context, tx *store.Tx, p preparedUser, roles []Role) (User, error) {
	key := usernameKey(p.Username)
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identity_users WHERE username_key = $1`, key).Scan(&n); err != nil {
		return User{}, internal("check username", err)
	}
	if n > 0 {
		return User{}, ErrUsernameTaken
	}
	now := store.FromMicros(store.Micros(s.clk.Now()))
	u := User{ID: store.NewID(), OrgID: p.OrgID, Username: p.Username, DisplayName: p.DisplayName,
		IDNumberMasked: p.idMasked, Phone: p.Phone, Roles: roles, MustChangePassword: p.MustChangePassword, CreatedAt: now}
	var idHash sql.NullString
	if p.idHash != "" {
		idHash = sql.NullString{String: p.idHash, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_users (id, org_id, username, username_key, display_name,
		id_number_hash, id_number_masked, phone, password_hash, must_change_password, disabled, password_changed_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)`,
		u.ID, u.OrgID, u.Username, key, u.DisplayName, idHash, u.IDNumberMasked, u.Phone, p.pwHash,
		boolInt(u.MustChangePassword), store.Micros(now), store.Micros(now))
	if err != nil {
		if store.IsUniqueViolation(err) {
			return User{}, ErrUsernameTaken
		}
		return User{}, internal("insert user", err)
	}
	if err := writeRoles(ctx, tx, u.ID, roles); err != nil {
		return User{}, err
	}
	return u, nil
}

func writeRoles(ctx context.Context, tx *store.Tx, userID string, roles []Role) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM identity_user_roles WHERE user_id = $1`, userID); err != nil {
		return internal("clear roles", err)
	}
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_user_roles (user_id, role) VALUES ($1, $2)`, userID, string(r)); err != nil {
			return internal("insert role", err)
		}
	}
	return nil
}

const userColumns = `id, org_id, username, display_name, id_number_masked, phone, disabled, must_change_password, created_at`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var disabled, must int64
	var created int64
	dest := append([]any{&u.ID, &u.OrgID, &u.Username, &u.DisplayName, &u.IDNumberMasked, &u.Phone, &disabled, &must, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return User{}, err
	}
	u.Disabled, u.MustChangePassword = disabled != 0, must != 0
	u.CreatedAt = store.FromMicros(created)
	u.Roles = []Role{}
	return u, nil
}

func loadRoles(ctx context.Context, q store.Queryer, userID string) ([]Role, error) {
	rows, err := q.QueryContext(ctx, `SELECT role FROM identity_user_roles WHERE user_id = $1`, userID)
	if err != nil {
		return nil, internal("load roles", err)
	}
	defer rows.Close()
	var roles []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, internal("load roles", err)
		}
		roles = append(roles, Role(r))
	}
	if err := rows.Err(); err != nil {
		return nil, internal("load roles", err)
	}
	// Stored roles were checked on the way in; normalising only sorts them.
	return normalizeRoles(roles, "roles")
}

func getUser(ctx context.Context, q store.Queryer, id string) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM identity_users WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, internal("get user", err)
	}
	if u.Roles, err = loadRoles(ctx, q, u.ID); err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUser returns an account by id.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	return getUser(ctx, s.db, id)
}

// ListUsers lists the accounts of an org in id order. An authority_admin or
// security_officer may list any org; an org admin their own.
func (s *Service) ListUsers(ctx context.Context, actor Principal, orgID, after string, limit int) ([]User, string, error) {
	if !actor.Has(RoleSecurityOfficer) {
		if err := canAdminOrg(actor, orgID); err != nil {
			return nil, "", err
		}
	}
	if _, err := s.GetOrg(ctx, orgID); err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM identity_users
		WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`, orgID, after, limit+1)
	if err != nil {
		return nil, "", internal("list users", err)
	}
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, "", internal("list users", err)
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", internal("list users", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	if len(out) > 0 {
		if err := s.fillRoles(ctx, orgID, out); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// fillRoles loads the roles of a page of users of one org in one query.
func (s *Service) fillRoles(ctx context.Context, orgID string, users []User) error {
	idx := make(map[string]int, len(users))
	for i, u := range users {
		idx[u.ID] = i
	}
	rows, err := s.db.QueryContext(ctx, `SELECT r.user_id, r.role FROM identity_user_roles r
		JOIN identity_users u ON u.id = r.user_id
		WHERE u.org_id = $1 AND u.id >= $2 AND u.id <= $3`, orgID, users[0].ID, users[len(users)-1].ID)
	if err != nil {
		return internal("load roles", err)
	}
	defer rows.Close()
	raw := make([][]Role, len(users))
	for rows.Next() {
		var id, r string
		if err := rows.Scan(&id, &r); err != nil {
			return internal("load roles", err)
		}
		if i, ok := idx[id]; ok {
			raw[i] = append(raw[i], Role(r))
		}
	}
	if err := rows.Err(); err != nil {
		return internal("load roles", err)
	}
	for i := range users {
		if users[i].Roles, err = normalizeRoles(raw[i], "roles"); err != nil {
			return err
		}
	}
	return nil
}

// SetRoles replaces a user's roles. An authority_admin may set any roles; an
// org admin may set the org roles of their own org's users but neither grant
// nor revoke platform roles: a platform role the user already holds is kept,
// one they do not hold is refused. The last active authority_admin cannot
// lose that role.
func (s *Service) SetRoles(ctx context.Context, actor Principal, userID string, roles []Role) (User, error) {
	roles, err := normalizeRoles(roles, "roles")
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = getUser(ctx, tx, userID); err != nil {
			return err
		}
		if err := canAdminOrg(actor, u.OrgID); err != nil {
			return err
		}
		if !actor.Has(RoleAuthorityAdmin) {
			for _, r := range roles {
				if r.IsPlatform() && !slices.Contains(u.Roles, r) {
					return ErrForbiddenPlatformRole.At("roles")
				}
			}
			for _, r := range u.Roles {
				if r.IsPlatform() && !slices.Contains(roles, r) {
					roles = append(roles, r)
				}
			}
			if roles, err = normalizeRoles(roles, "roles"); err != nil {
				return err
			}
		}
		if slices.Contains(u.Roles, RoleAuthorityAdmin) && !slices.Contains(roles, RoleAuthorityAdmin) {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identity_user_roles r JOIN identity_users u ON u.id = r.user_id
				WHERE r.role = $1 AND u.disabled = 0 AND u.id <> $2`, string(RoleAuthorityAdmin), u.ID).Scan(&others); err != nil {
				return internal("count authority admins", err)
			}
			if others == 0 {
				return ErrLastAuthorityAdmin
			}
		}
		before := u.Roles
		if err := writeRoles(ctx, tx, u.ID, roles); err != nil {
			return err
		}
		u.Roles = roles
		return s.led.Append(ctx, tx, actorEvent(actor, "user/"+u.ID, map[string]any{
			"op": "user.set_roles", "org_id": u.OrgID, "before": before, "after": roles,
		}))
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// SetDisabled disables or re-enables an account, under the same rules as
// SetRoles. Disabling ends the user's sessions at once.
func (s *Service) SetDisabled(ctx context.Context, actor Principal, userID string, disabled bool) (User, error) {
	var u User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = getUser(ctx, tx, userID); err != nil {
			return err
		}
		if err := canAdminOrg(actor, u.OrgID); err != nil {
			return err
		}
		if disabled && slices.Contains(u.Roles, RoleAuthorityAdmin) && !actor.Has(RoleAuthorityAdmin) {
			return ErrForbiddenPlatformRole
		}
		if disabled && actor.UserID == u.ID {
			return apperr.New(apperr.Conflict, "identity.disable_self", "不能停用自己的账号", "you cannot disable your own account")
		}
		if u.Disabled == disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET disabled = $1 WHERE id = $2`, boolInt(disabled), u.ID); err != nil {
			return internal("disable user", err)
		}
		if disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = $1`, u.ID); err != nil {
				return internal("end sessions", err)
			}
		}
		u.Disabled = disabled
		return s.led.Append(ctx, tx, actorEvent(actor, "user/"+u.ID, map[string]any{
			"op": "user.set_disabled", "org_id": u.OrgID, "disabled": disabled,
		}))
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// ChangePassword sets the signed-in person's password after checking the
// current one. A wrong current password counts as a failed sign-in.
func (s *Service) ChangePassword(ctx context.Context, actor Principal, old, new string) error {
	if actor.UserID == "" {
		return apperr.ErrAuth
	}
	var username, hash string
	var disabled int64
	err := s.db.QueryRowContext(ctx, `SELECT username, password_hash, disabled FROM identity_users WHERE id = $1`, actor.UserID).
		Scan(&username, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrUserNotFound
	}
	if err != nil {
		return internal("get user", err)
	}
	if disabled != 0 {
		return ErrAccountDisabled
	}
	if err := s.checkLock(ctx, usernameKey(username)); err != nil {
		return err
	}
	ok, err := verifyPassword(hash, old)
	if err != nil {
		return internal("verify password", err)
	}
	if !ok {
		if err := s.recordFailure(ctx, usernameKey(username)); err != nil {
			return err
		}
		return ErrWrongPassword
	}
	if old == new {
		return ErrSamePassword
	}
	if err := CheckPasswordPolicy(new, username); err != nil {
		return err.(*apperr.Error).At("new_password")
	}
	newHash, err := hashPassword(new, s.argon)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		now := store.Micros(s.clk.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET password_hash = $1, must_change_password = 0,
			password_changed_at = $2 WHERE id = $3`, newHash, now, actor.UserID); err != nil {
			return internal("set password", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_login_failures WHERE username_key = $1`, usernameKey(username)); err != nil {
			return internal("clear failures", err)
		}
		return s.led.Append(ctx, tx, actorEvent(actor, "user/"+actor.UserID, map[string]any{"op": "user.change_password"}))
	})
}
