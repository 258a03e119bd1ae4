import { Card, Col, Empty, Input, List, Row, Space, Statistic, Tag, Typography } from "antd";
import { Link, useNavigate } from "react-router-dom";
import { useMemo } from "react";
import { api, request, type OrgCount, type Page, type SearchResult } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { loadConfig, loadOrgs, termLabel, useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { Chart } from "../components/Chart";
import { fmtDate } from "../lib/format";

interface HomeData {
  search: SearchResult;
  orgs: OrgCount[];
  platformOrgs: number;
  ledgerSize: number | null;
}

async function loadHome(signal: AbortSignal): Promise<HomeData> {
  const [search, orgs, all, cp] = await Promise.all([
    api<SearchResult>("/api/v1/catalog/search", { query: { limit: 6 }, signal }),
    api<Page<OrgCount>>("/api/v1/catalog/orgs", { signal }),
    loadOrgs(),
    request("/api/v1/ledger/checkpoint", { signal })
      .then((r) => r.text())
      .then((t) => Number(t.split("\n")[1]))
      .catch(() => null),
  ]);
  return { search, orgs: orgs.items, platformOrgs: all.length, ledgerSize: cp };
}

export function Home() {
  const { t, lang } = useLang();
  const en = lang === "en";
  const label = useEnum();
  const nav = useNavigate();
  const orgName = useOrgNames(en);
  const state = useAsync(loadHome, []);
  const config = useAsync(() => loadConfig(), []);
  const themes = config.data?.taxonomy.themes ?? [];

  const themeCounts = useMemo(() => {
    const m = new Map<string, number>();
    state.data?.search.facets.theme?.forEach((f) => m.set(f.value, f.count));
    return m;
  }, [state.data]);

  const chartOption = useMemo(() => {
    const top = [...themeCounts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: top.map(([c]) => termLabel(themes, c, en)) },
      series: [{ type: "bar", data: top.map(([, n]) => n), itemStyle: { color: "#1458d6" }, barMaxWidth: 18 }],
    };
  }, [themeCounts, themes, en]);

  const openOption = useMemo(() => {
    const f = state.data?.search.facets.open ?? [];
    return {
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [
        {
          type: "pie",
          radius: ["40%", "68%"],
          center: ["50%", "45%"],
          data: f.map((x) => ({
            name: label("open", x.value),
            value: x.count,
            itemStyle: { color: x.value === "unconditional" ? "#1458d6" : x.value === "conditional" ? "#f59e0b" : "#94a3b8" },
          })),
        },
      ],
    };
  }, [state.data, label]);

  return (
    <>
      <section className="hero" aria-labelledby="hero-title">
        <h1 id="hero-title">{t("home.title")}</h1>
        <p>{t("home.subtitle")}</p>
        <Input.Search
          size="large"
          enterButton={t("action.search")}
          placeholder={t("search.placeholder")}
          aria-label={t("search.label")}
          onSearch={(q) => nav(`/catalog${q.trim() ? `?q=${encodeURIComponent(q.trim())}` : ""}`)}
          data-testid="home-search"
        />
      </section>

      <Async state={state} rows={3}>
        {(d) => (
          <Row gutter={[16, 16]} style={{ marginBottom: 24 }}>
            {[
              { k: "home.statEntries", v: d.search.total },
              { k: "home.statPublishers", v: d.orgs.length },
              { k: "home.statOrgs", v: d.platformOrgs },
              { k: "home.statLedger", v: d.ledgerSize ?? "—" },
            ].map((s) => (
              <Col xs={12} md={6} key={s.k}>
                <Card className="stat-card" size="small">
                  <Statistic title={t(s.k)} value={s.v} />
                </Card>
              </Col>
            ))}
          </Row>
        )}
      </Async>

      <Row gutter={[16, 16]}>
        <Col xs={24} lg={14}>
          <Card title={<h2 className="card-h">{t("home.themes")}</h2>}>
            <Async state={config} isEmpty={(c) => c.taxonomy.themes.length === 0}>
              {(c) => (
                <ul className="theme-grid" style={{ listStyle: "none", padding: 0, margin: 0 }}>
                  {c.taxonomy.themes.map((th) => (
                    <li key={th.code}>
                      <Link to={`/catalog?theme=${encodeURIComponent(th.code)}`}>
                        <span>{en ? th.en : th.zh}</span>
                        <span className="facet-count" aria-label={t("home.entriesCount", { n: themeCounts.get(th.code) ?? 0 })}>
                          {themeCounts.get(th.code) ?? 0}
                        </span>
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </Async>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-h">{t("home.byTheme")}</h2>}>
            {themeCounts.size === 0 ? (
              <Empty description={t("home.noEntries")} />
            ) : (
              <Chart option={chartOption} label={t("home.byTheme")} height={260} />
            )}
          </Card>
        </Col>
        <Col xs={24} lg={14}>
          <Card title={<h2 className="card-h">{t("home.latest")}</h2>} extra={<Link to="/catalog">{t("home.all")}</Link>}>
            <Async state={state} isEmpty={(d) => d.search.items.length === 0} empty={<Empty description={t("home.noEntries")} />}>
              {(d) => (
                <List
                  dataSource={d.search.items}
                  renderItem={(r) => (
                    <List.Item>
                      <List.Item.Meta
                        title={<Link to={`/catalog/${r.id}`}>{r.name}</Link>}
                        description={
                          <Space wrap size={4}>
                            <span>{en ? orgName(r.org_id) : r.org_name}</span>
                            <Tag color={r.open.attr === "unconditional" ? "blue" : r.open.attr === "conditional" ? "gold" : "default"}>
                              {t("resource.open")}: {label("open", r.open.attr)}
                            </Tag>
                            <span>{fmtDate(r.published_at)}</span>
                          </Space>
                        }
                      />
                    </List.Item>
                  )}
                />
              )}
            </Async>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-h">{t("home.openShare")}</h2>} style={{ marginBottom: 16 }}>
            {(state.data?.search.total ?? 0) === 0 ? (
              <Empty description={t("home.noEntries")} />
            ) : (
              <Chart option={openOption} label={t("home.openShare")} height={220} />
            )}
          </Card>
          <Card title={<h2 className="card-h">{t("home.orgs")}</h2>}>
            <Async state={state} isEmpty={(d) => d.orgs.length === 0} empty={<Empty description={t("home.noPublishers")} />}>
              {(d) => (
                <List
                  size="small"
                  dataSource={[...d.orgs].sort((a, b) => b.count - a.count).slice(0, 10)}
                  renderItem={(o) => (
                    <List.Item extra={<Typography.Text type="secondary">{t("home.entriesCount", { n: o.count })}</Typography.Text>}>
                      <Link to={`/catalog?org=${encodeURIComponent(o.id)}`}>{en ? orgName(o.id) : o.name}</Link>
                    </List.Item>
                  )}
                />
              )}
            </Async>
          </Card>
        </Col>
      </Row>
    </>
  );
}
