package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"shuqiao/internal/app"
	"shuqiao/internal/catalog"
	"shuqiao/internal/identity"
)

func newCatalogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Work with the public data resource catalog (harvest, export)",
	}
	cmd.AddCommand(newHarvestCmd(), newCatalogExportCmd())
	return cmd
}

func newHarvestCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "harvest URL",
		Short: "Import another Shuqiao's or a CKAN portal's catalog as linked, read-only remote entries",
		Long: `Read the catalog at URL through the CKAN action API (/api/3/action/package_search),
which every Shuqiao and every CKAN portal offers, and keep its datasets as linked,
read-only remote entries (R-CAT-4). A Shuqiao source keeps every attribute and data item;
a plain CKAN dataset is mapped as far as it goes. Harvesting the same URL again updates
its entries and withdraws the ones the source no longer lists. It runs in one
transaction and is recorded in the ledger as the authority's action.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				bar := newProgress(cmd.ErrOrStderr(), "harvest 汇聚目录")
				res, err := a.Catalog.Harvest(cmd.Context(), p, args[0], catalog.HarvestOptions{Progress: bar.set})
				bar.done()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: read %d, created %d, updated %d, unchanged %d, withdrawn %d\n",
					res.Source, res.Read, res.Created, res.Updated, res.Unchanged, res.Withdrawn)
				return nil
			})
		},
	}
	sf.register(cmd)
	return cmd
}

func newCatalogExportCmd() *cobra.Command {
	var sf storeFlags
	var format, out, base string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the published catalog as DCAT-AP JSON-LD or XLSX",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), &sf, func(a *app.App, p identity.Principal) error {
				w := cmd.OutOrStdout()
				if out != "" && out != "-" {
					f, err := os.Create(out)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				switch format {
				case "dcat":
					return a.Catalog.WriteDCAT(cmd.Context(), w, base, "数桥 Shuqiao 公共数据资源目录")
				case "xlsx":
					var items []*catalog.Resource
					cursor := ""
					for {
						page, next, err := a.Catalog.List(cmd.Context(), p, catalog.ListFilter{}, cursor, 500)
						if err != nil {
							return err
						}
						items = append(items, page...)
						if next == "" {
							break
						}
						cursor = next
					}
					return a.Catalog.ExportXLSX(cmd.Context(), w, items)
				}
				return fmt.Errorf("--format %q: want dcat or xlsx", format)
			})
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "dcat", "dcat (DCAT-AP JSON-LD) or xlsx")
	cmd.Flags().StringVarP(&out, "output", "o", "-", "file to write; - for standard output")
	cmd.Flags().StringVar(&base, "base-url", "http://127.0.0.1:8080", "the platform's public URL, for dataset identifiers")
	return cmd
}
