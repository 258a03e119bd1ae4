import { useEffect, useState } from "react";
import { api, type CatalogConfig, type Org, type Page, type Term } from "../api";

// Small, rarely changing lists, fetched once per page load.

let configP: Promise<CatalogConfig> | null = null;
let orgsP: Promise<Org[]> | null = null;

export function loadConfig(): Promise<CatalogConfig> {
  configP ??= api<CatalogConfig>("/api/v1/catalog/config").catch((e) => {
    configP = null;
    throw e;
  });
  return configP;
}

export function loadOrgs(): Promise<Org[]> {
  orgsP ??= (async () => {
    const out: Org[] = [];
    let cursor = "";
    for (let i = 0; i < 20; i++) {
      const p = await api<Page<Org>>("/api/v1/orgs", { query: { limit: 500, cursor } });
      out.push(...p.items);
      if (!p.next_cursor) break;
      cursor = p.next_cursor;
    }
    return out;
  })().catch((e) => {
    orgsP = null;
    throw e;
  });
  return orgsP;
}

export function useConfig(): CatalogConfig | undefined {
  const [c, setC] = useState<CatalogConfig>();
  useEffect(() => {
    loadConfig().then(setC, () => undefined);
  }, []);
  return c;
}

/** useOrgNames maps org ids to names (Chinese, or English when asked and known). */
export function useOrgNames(en: boolean): (id?: string) => string {
  const [orgs, setOrgs] = useState<Org[]>([]);
  useEffect(() => {
    loadOrgs().then(setOrgs, () => undefined);
  }, []);
  return (id?: string) => {
    if (!id) return "—";
    const o = orgs.find((x) => x.id === id);
    if (!o) return id.slice(0, 8) + "…";
    return en && o.name_en ? o.name_en : o.name;
  };
}

export function termLabel(terms: Term[] | undefined, code: string | undefined, en: boolean): string {
  if (!code) return "";
  const t = terms?.find((x) => x.code === code);
  if (!t) return code;
  return en ? t.en || t.zh : t.zh;
}
