package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"shuqiao/internal/app"
	"shuqiao/internal/identity"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer orgs, users, API clients and tokens from the command line",
		Long: `Administer the platform directly on its store. Start with 'shuqiao admin
bootstrap' on a new installation: it creates the big data authority and its first
administrator and prints a one-time password. Every change is written to the ledger
as an action of the authority's platform administrator.`,
	}
	cmd.AddCommand(newBootstrapCmd(), newOrgCmd(), newUserCmd(), newClientCmd(), newTokenCmd())
	return cmd
}

// withAdmin opens the platform and runs fn as the authority's administrator.
func withAdmin(ctx context.Context, sf *storeFlags, fn func(a *app.App, p identity.Principal) error) error {
	a, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	authority, err := a.Identity.Authority(ctx)
	if err != nil {
		return fmt.Errorf("%w (run 'shuqiao admin bootstrap' first on a new installation)", err)
	}
	// The command line is the platform operator's own console: it acts as the
	// authority's administrator, and the ledger records it as the system.
	err = fn(a, identity.Principal{
		Name: "shuqiao admin (CLI)", OrgID: authority.ID, OrgKind: identity.KindAuthority,
		Roles: []identity.Role{identity.RoleAuthorityAdmin},
	})
	if err != nil {
		return err
	}
	return a.Flush(ctx)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func roles(s string) []identity.Role {
	var out []identity.Role
	for _, r := range splitList(s) {
		out = append(out, identity.Role(r))
	}
	return out
}

func newBootstrapCmd() *cobra.Command {
	var sf storeFlags
	var in identity.BootstrapInput
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the big data authority and its first administrator (prints a one-time password)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			org, user, pw, err := a.Identity.Bootstrap(cmd.Context(), in)
			if err != nil {
				return err
			}
			if err := a.Flush(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "authority 主管部门: %s (%s)\nadmin 管理员: %s\none-time password 一次性密码: %s\nChange it at first sign-in. 请首次登录后修改密码。\n",
				org.Name, org.ID, user.Username, pw)
			return nil
		},
	}
	sf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&in.AuthorityName, "name", "市大数据管理局", "the authority's name")
	f.StringVar(&in.NameEN, "name-en", "Municipal Big Data Administration", "the authority's English name")
	f.StringVar(&in.CreditCode, "credit-code", "", "the authority's unified social credit code (18 characters, GB 32100)")
	f.StringVar(&in.AdminUsername, "admin-username", "admin", "the first administrator's username")
	f.StringVar(&in.AdminDisplayName, "admin-name", "平台管理员", "the first administrator's display name")
	_ = cmd.MarkFlagRequired("credit-code")
	return cmd
}

func newOrgCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Create and list organisations"}
	var sf storeFlags
	var in identity.NewOrg
	var kind string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an organisation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Kind = identity.OrgKind(kind)
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				org, err := a.Identity.CreateOrg(cmd.Context(), p, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", org.ID, org.Kind, org.CreditCode, org.Name)
				return nil
			})
		},
	}
	sf.register(create)
	create.Flags().StringVar(&in.Name, "name", "", "name (Chinese)")
	create.Flags().StringVar(&in.NameEN, "name-en", "", "name (English)")
	create.Flags().StringVar(&kind, "kind", "department", "kind: authority, department, public_service, enterprise, operator, exchange_service")
	create.Flags().StringVar(&in.CreditCode, "credit-code", "", "unified social credit code (18 characters, GB 32100)")
	create.Flags().StringVar(&in.ParentID, "parent", "", "parent org id")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("credit-code")

	var lsf storeFlags
	var lkind string
	list := &cobra.Command{
		Use:   "list",
		Short: "List organisations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := lsf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			cursor := ""
			for {
				orgs, next, err := a.Identity.ListOrgs(cmd.Context(), identity.OrgFilter{Kind: identity.OrgKind(lkind)}, cursor, 500)
				if err != nil {
					return err
				}
				for _, o := range orgs {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%-16s\t%s\t%s\n", o.ID, o.Kind, o.CreditCode, o.Name)
				}
				if next == "" {
					return nil
				}
				cursor = next
			}
		},
	}
	lsf.register(list)
	list.Flags().StringVar(&lkind, "kind", "", "only orgs of this kind")
	cmd.AddCommand(create, list)
	return cmd
}

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Create users"}
	var sf storeFlags
	var in identity.NewUser
	var roleList string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user with a generated one-time password",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Roles = roles(roleList)
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				pw := identity.NewOneTimePassword()
				in.Password = pw
				in.MustChangePassword = true
				u, err := a.Identity.CreateUser(cmd.Context(), p, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user 用户: %s (%s)\none-time password 一次性密码: %s\n", u.Username, u.ID, pw)
				return nil
			})
		},
	}
	sf.register(create)
	f := create.Flags()
	f.StringVar(&in.OrgID, "org", "", "org id")
	f.StringVar(&in.Username, "username", "", "username (letters, digits, . _ -)")
	f.StringVar(&in.DisplayName, "name", "", "display name")
	f.StringVar(&in.IDNumber, "id-number", "", "resident ID number (optional; stored only as a keyed hash and a masked form)")
	f.StringVar(&in.Phone, "phone", "", "phone (optional)")
	f.StringVar(&roleList, "roles", "", "comma-separated roles: admin, data_steward, reviewer, chief_data_officer, developer; platform: authority_admin, security_officer, expert, city_government")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("username")
	cmd.AddCommand(create)
	return cmd
}

func newClientCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Create API clients (an org's business applications)"}
	var sf storeFlags
	var in identity.NewClient
	var roleList, scopeList string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API client",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Roles = roles(roleList)
			in.Scopes = splitList(scopeList)
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				c, err := a.Identity.CreateClient(cmd.Context(), p, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client 应用: %s (%s)\n", c.Name, c.ID)
				return nil
			})
		},
	}
	sf.register(create)
	create.Flags().StringVar(&in.OrgID, "org", "", "org id")
	create.Flags().StringVar(&in.Name, "name", "", "the application's name")
	create.Flags().StringVar(&roleList, "roles", "data_steward", "comma-separated org roles the client acts with")
	create.Flags().StringVar(&scopeList, "scopes", "api:read,api:write", "comma-separated scopes its tokens may carry")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Issue and revoke API tokens"}
	var sf storeFlags
	var clientID, scopeList string
	var days int
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Issue a bearer token for an API client (printed once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				t, err := a.Identity.IssueToken(cmd.Context(), p, clientID, splitList(scopeList), time.Duration(days)*24*time.Hour)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token id: %s\nexpires 到期: %s\ntoken 令牌 (shown once 仅显示一次): %s\n", t.ID, t.ExpiresAt.Format(time.RFC3339), t.Token)
				return nil
			})
		},
	}
	sf.register(issue)
	issue.Flags().StringVar(&clientID, "client", "", "client id")
	issue.Flags().StringVar(&scopeList, "scopes", "api:read,api:write", "comma-separated scopes")
	issue.Flags().IntVar(&days, "ttl-days", 90, "days until the token expires")
	_ = issue.MarkFlagRequired("client")

	var rsf storeFlags
	var tokenID string
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), &rsf, func(a *app.App, p identity.Principal) error {
				if err := a.Identity.RevokeToken(cmd.Context(), p, tokenID); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked 已吊销 %s\n", tokenID)
				return nil
			})
		},
	}
	rsf.register(revoke)
	revoke.Flags().StringVar(&tokenID, "id", "", "token id")
	_ = revoke.MarkFlagRequired("id")
	cmd.AddCommand(issue, revoke)
	return cmd
}
