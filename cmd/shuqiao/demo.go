package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"shuqiao/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the platform on a fresh data folder seeded with a demo city",
		Long: `Run the platform on a fresh data folder (default: a new folder under
./shuqiao-data/demo) seeded with a demo city: the big data authority, about
forty departments and public service orgs, an operator, an exchange and staff
accounts. The demo logins are printed and also written to <data>/demo-logins.txt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if !cmd.Flags().Changed("data") && os.Getenv("SHUQIAO_DATA") == "" {
				sf.cfg.DataDir = filepath.Join("shuqiao-data", "demo", time.Now().Format("20060102-150405"))
			}
			if sf.cfg.DB == "" {
				if entries, err := os.ReadDir(sf.cfg.DataDir); err == nil && len(entries) > 0 {
					return fmt.Errorf("demo: %s is not empty; the demo seeds a fresh folder (omit --data to get a new one)", sf.cfg.DataDir)
				}
			}
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintf(out, "数桥 Shuqiao demo: seeding %s\n", a.DB.Where)
			bar := newProgress(out, "seeding 初始化演示城市")
			logins, err := demo.Seed(cmd.Context(), a, bar.set)
			bar.done()
			if err != nil {
				return err
			}
			if err := a.Flush(cmd.Context()); err != nil {
				return err
			}
			table := demo.FormatLogins(logins)
			if err := os.WriteFile(filepath.Join(sf.cfg.DataDir, "demo-logins.txt"), []byte(table), 0o600); err != nil {
				return err
			}
			show := logins
			if len(show) > 12 {
				show = show[:12]
			}
			fmt.Fprintf(out, "\n演示账号 Demo logins (%d in all; full list in %s):\n%s\n",
				len(logins), filepath.Join(sf.cfg.DataDir, "demo-logins.txt"), demo.FormatLogins(show))
			fmt.Fprintf(out, "打开 Open http://%s  (Ctrl-C to stop)\n\n", sf.cfg.Listen)
			return a.Serve(cmd.Context(), nil)
		},
	}
	sf.register(cmd)
	sf.registerServer(cmd)
	return cmd
}
