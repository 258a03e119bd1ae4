import { Button, Checkbox, Collapse, Empty, Input, Pagination, Space, Switch, Tag, Typography } from "antd";
import { Link, useSearchParams } from "react-router-dom";
import { api, type FacetCount, type SearchResult } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { termLabel, useConfig, useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { fmtDate } from "../lib/format";

export const FACETS = ["theme", "org", "open", "share", "level", "format", "frequency"] as const;
const PAGE = 10;

export function levelColor(l?: string) {
  return l === "core" ? "red" : l === "important" ? "orange" : "green";
}

export function Search() {
  const { t, lang } = useLang();
  const en = lang === "en";
  const label = useEnum();
  const config = useConfig();
  const orgName = useOrgNames(en);
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const page = Math.max(1, Number(params.get("page") ?? 1) || 1);
  const openList = params.get("open_list") === "true";
  const key = params.toString();

  const state = useAsync(
    (signal) => {
      const query: Record<string, string | string[] | number> = { q, limit: PAGE, offset: (page - 1) * PAGE };
      if (openList) query.open_list = "true";
      for (const f of FACETS) {
        const vs = params.getAll(f);
        if (vs.length) query[f] = vs;
      }
      return api<SearchResult>("/api/v1/catalog/search", { query, signal });
    },
    [key],
  );

  const update = (fn: (p: URLSearchParams) => void) => {
    const p = new URLSearchParams(params);
    fn(p);
    p.delete("page");
    setParams(p);
  };

  const facetLabel = (facet: string, f: FacetCount) => {
    switch (facet) {
      case "theme":
        return termLabel(config?.taxonomy.themes, f.value, en) || f.label;
      case "format":
        return termLabel(config?.taxonomy.formats, f.value, en) || f.label;
      case "org":
        return en ? orgName(f.value) : f.label;
      default:
        return label(facet === "share" ? "share" : facet === "open" ? "open" : facet, f.value);
    }
  };

  const facets = (r?: SearchResult) => (
    <div className="facet" role="group" aria-label={t("search.filters")}>
      <Space>
        <Switch
          checked={openList}
          onChange={(v) => update((p) => (v ? p.set("open_list", "true") : p.delete("open_list")))}
          aria-label={t("search.openListOnly")}
          id="open-list-switch"
        />
        <label htmlFor="open-list-switch">{t("search.openListOnly")}</label>
      </Space>
      {FACETS.map((facet) => {
        const selected = params.getAll(facet);
        const counts = r?.facets[facet] ?? [];
        const values = [...counts];
        selected.forEach((v) => {
          if (!values.some((x) => x.value === v)) values.push({ value: v, label: v, count: 0 });
        });
        if (values.length === 0) return null;
        const headingId = `facet-${facet}`;
        return (
          <section key={facet} aria-labelledby={headingId}>
            <h3 id={headingId}>{t(`facet.${facet}`)}</h3>
            {values.slice(0, 12).map((f) => (
              <Checkbox
                key={f.value}
                checked={selected.includes(f.value)}
                data-testid={`facet-${facet}-${f.value}`}
                onChange={(e) =>
                  update((p) => {
                    const cur = p.getAll(facet).filter((v) => v !== f.value);
                    p.delete(facet);
                    (e.target.checked ? [...cur, f.value] : cur).forEach((v) => p.append(facet, v));
                  })
                }
              >
                {facetLabel(facet, f)}
                <span className="facet-count">({f.count})</span>
              </Checkbox>
            ))}
          </section>
        );
      })}
      {FACETS.some((f) => params.has(f)) && (
        <Button type="link" style={{ padding: 0, marginTop: 8 }} onClick={() => update((p) => FACETS.forEach((f) => p.delete(f)))}>
          {t("search.clearFilters")}
        </Button>
      )}
    </div>
  );

  return (
    <>
      <div className="page-title">
        <h1>{openList ? t("nav.openList") : t("nav.catalog")}</h1>
      </div>
      <Input.Search
        key={q}
        defaultValue={q}
        size="large"
        enterButton={t("action.search")}
        placeholder={t("search.placeholder")}
        aria-label={t("search.label")}
        allowClear
        onSearch={(v) => update((p) => (v.trim() ? p.set("q", v.trim()) : p.delete("q")))}
        style={{ marginBottom: 16 }}
        data-testid="search-input"
      />
      <Typography.Paragraph type="secondary" style={{ fontSize: 13 }}>
        {t("search.syntax")}
      </Typography.Paragraph>
      <div className="search-layout">
        <aside>
          <div className="hide-narrow">{facets(state.data)}</div>
          <Collapse className="show-narrow" style={{ width: "100%", marginBottom: 12 }} items={[{ key: "f", label: t("search.filters"), children: facets(state.data) }]} />
        </aside>
        <section aria-label={t("search.results")} aria-busy={state.loading}>
          <Async
            state={state}
            isEmpty={(r) => r.items.length === 0}
            empty={<Empty description={q ? t("search.noMatch", { q }) : t("search.noEntries")} />}
          >
            {(r) => (
              <>
                <Typography.Text type="secondary" role="status" data-testid="search-total">
                  {t("search.total", { n: r.total })}
                </Typography.Text>
                <ol style={{ listStyle: "none", padding: 0, margin: 0 }}>
                  {r.items.map((it) => (
                    <li className="result-item" key={it.id}>
                      <h2>
                        <Link to={`/catalog/${it.id}`} data-testid="result-link">
                          {it.name}
                        </Link>
                      </h2>
                      <Space wrap size={4} style={{ marginBottom: 6 }}>
                        <Tag color={it.open.attr === "unconditional" ? "blue" : it.open.attr === "conditional" ? "gold" : "default"}>
                          {t("resource.open")}: {label("open", it.open.attr)}
                        </Tag>
                        <Tag>
                          {t("resource.share")}: {label("share", it.share.attr)}
                        </Tag>
                        <Tag color={levelColor(it.level)}>{label("level", it.level)}</Tag>
                        {it.themes.map((th) => (
                          <Tag key={th} bordered={false}>
                            {termLabel(config?.taxonomy.themes, th, en)}
                          </Tag>
                        ))}
                      </Space>
                      {it.description && (
                        <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ marginBottom: 4 }}>
                          {it.description}
                        </Typography.Paragraph>
                      )}
                      <div className="result-meta">
                        {en ? orgName(it.org_id) : it.org_name} · {t("resource.frequency")}: {label("frequency", it.frequency)} · {t("resource.updated")}:{" "}
                        {fmtDate(it.data_updated_at ?? it.published_at)} · {it.code}
                      </div>
                    </li>
                  ))}
                </ol>
                <Pagination
                  style={{ marginTop: 16 }}
                  current={page}
                  pageSize={PAGE}
                  total={Math.min(r.total, 10000)}
                  showSizeChanger={false}
                  onChange={(n) => {
                    const p = new URLSearchParams(params);
                    p.set("page", String(n));
                    setParams(p);
                    window.scrollTo(0, 0);
                  }}
                />
              </>
            )}
          </Async>
        </section>
      </div>
    </>
  );
}
